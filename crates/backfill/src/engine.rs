//! Runs a backfill: batch after batch, each read by keyset, handed to the plugin, written
//! set-based and checkpointed in one transaction. A crash at any moment loses nothing committed
//! and redoes nothing committed; running a completed backfill again does nothing.
//!
//! The rows to do are split into key ranges (chunks) when the backfill starts. Workers — tasks
//! of one process, or processes on several machines — claim chunks through the state table, so
//! they share one backfill with no coordinator of their own. SQLite has one chunk (one writer).

use crate::batch::{Ahead, reborrow, statements};
use crate::convert::to_json;
use crate::manifest::Manifest;
use crate::progress::{ChunkProgress, Progress};
use crate::sql::Statements;
use runner_db::{DbError, DbValue, Driver};
use runner_sandbox::{Plugin, SandboxError};
use runner_state::{BackfillStatus, ChunkStatus, Owner, StateError, StateTable};
use std::time::{Duration, Instant};

/// Why a backfill run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackfillError {
    /// A statement or query failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The state table could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The plugin could not be loaded or set up.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// A batch failed every attempt.
    #[error(
        "backfill `{name}` failed at the batch after key {after} ({attempts} attempt{}): {error}\nfix the cause, then `runner backfill retry {name}`",
        if *attempts == 1 { "" } else { "s" }
    )]
    BatchFailed {
        /// The backfill.
        name: String,
        /// The last key done before the failing batch.
        after: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        error: String,
    },
    /// SIGINT/SIGTERM while a batch was in flight: it was rolled back, nothing is failed.
    #[error("stopped by a signal")]
    Interrupted,
    /// A worker task ended without a result (it panicked).
    #[error("a backfill worker stopped unexpectedly: {0}")]
    WorkerStopped(String),
    /// A data migration (a plugin run inside a revision) failed.
    #[error("data migration `{name}`: {message}")]
    DataMigration {
        /// The backfill.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The manifest names a table or column the database does not have.
    #[error("backfill `{name}` ({}): {message}", file.display())]
    Schema {
        /// The backfill.
        name: String,
        /// Its manifest.
        file: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Rows it should have done are left after every range, and another pass does not help.
    #[error("backfill `{name}` is not complete: {message}")]
    Incomplete {
        /// The backfill.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The backfill's state does not let this command run it.
    #[error("backfill `{name}` has {status}; {hint}")]
    NotRunnable {
        /// The backfill.
        name: String,
        /// Its recorded status.
        status: BackfillStatus,
        /// What to run instead.
        hint: String,
    },
}

impl BackfillError {
    /// Whether the database connection went away (the work itself may be fine).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            BackfillError::Db(e) | BackfillError::State(StateError::Db(e)) => e.is_connection_lost(),
            _ => false,
        }
    }

    /// Whether the same work may succeed if tried again later ([`DbError::may_succeed_later`]);
    /// a plugin's own failure or a schema mismatch fails the same way every time.
    pub fn may_succeed_later(&self) -> bool {
        match self {
            BackfillError::Db(e) | BackfillError::State(StateError::Db(e)) => e.may_succeed_later(),
            _ => false,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every row done.
    Completed,
    /// It had completed before; nothing was done.
    AlreadyComplete,
    /// An operator paused it (before or during this run).
    Paused,
    /// This run stopped with work left: its batch budget ran out, or other workers still hold
    /// chunks.
    Stopped,
    /// SIGINT/SIGTERM: the batch in flight was cancelled or finished, the worker's ranges were
    /// handed back; the next run continues from the checkpoints.
    Interrupted,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// The backfill.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Where it got to.
    pub progress: Progress,
    /// Batches this run committed.
    pub batches: u64,
    /// Rows this run did.
    pub rows: u64,
    /// How long the run took, in milliseconds.
    pub elapsed_ms: u64,
}

/// What a run may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop after this many batches (the backfill stays running and resumes next time).
    pub max_batches: Option<u64>,
}

/// What [`Backfill::finish`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Finished: how.
    Done(Outcome),
    /// Rows were left to do after every range; a new range covers them, so run workers again.
    Swept,
}

/// Sweeps over rows left to do, each of which must leave fewer than the one before.
const MAX_SWEEPS: u32 = 5;

/// What one worker carries from chunk to chunk.
struct Worker<'r, 'm> {
    stmts: Statements<'m>,
    /// The progress this worker reports to its observer.
    seen: Progress,
    /// A second connection to read from while the first writes (PostgreSQL).
    reader: Option<&'r mut dyn Driver>,
    /// The batch size this worker has adapted to.
    size: usize,
    /// Work prepared while a batch was being written: the next batch, the next chunk.
    ahead: Ahead,
    /// Whether the throttle has said that replica positions could not be read (said once).
    warned: bool,
}

/// How a worker left a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkEnd {
    /// Completed, or taken over by another worker: claim the next.
    Done,
    /// Interrupted, paused or out of batches: the chunk is handed back and the worker stops.
    Stopped,
}

/// What one worker did.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkReport {
    /// Batches this run committed.
    pub batches: u64,
    /// Rows this run did.
    pub rows: u64,
    /// Whether an operator paused it.
    pub paused: bool,
    /// Stopped by SIGINT/SIGTERM.
    pub interrupted: bool,
}

/// One backfill, with its plugin loaded, over one state table.
pub struct Backfill<'a> {
    /// The backfill's manifest.
    pub manifest: &'a Manifest,
    /// Its plugin, loaded.
    pub plugin: &'a Plugin,
    /// The state table.
    pub state: &'a StateTable,
}

/// How long a worker that lost its connection waits for the database to come back (a restart
/// or failover) before it gives up.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(60);

impl Backfill<'_> {
    async fn statements(&self, db: &mut dyn Driver) -> Result<Statements<'_>, BackfillError> {
        statements(db, self.manifest).await
    }

    /// The report of a run that ended with `outcome`, read from the state table.
    pub async fn report(
        &self,
        db: &mut dyn Driver,
        outcome: Outcome,
        work: WorkReport,
        started: Instant,
    ) -> Result<RunReport, BackfillError> {
        Ok(RunReport {
            name: self.manifest.name.clone(),
            outcome,
            progress: self.progress(db).await?,
            batches: work.batches,
            rows: work.rows,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The backfill's progress as recorded: its row plus its chunks.
    pub async fn progress(&self, db: &mut dyn Driver) -> Result<Progress, BackfillError> {
        let parent = self.state.load_backfill(db, &self.manifest.name).await?.map(|r| r.progress).unwrap_or_default();
        let chunks: Vec<serde_json::Value> =
            self.state.load_chunks(db, &self.manifest.name).await?.into_iter().map(|c| c.progress).collect();
        Ok(Progress::combine(&parent, &chunks))
    }

    /// Checks the backfill can run and, the first time, starts it: fixes the upper bound,
    /// counts the rows and splits them into chunks. Run it under the backfill's lock so only one
    /// process starts it. `Some(outcome)`: there is nothing to do.
    pub async fn prepare(&self, db: &mut dyn Driver, workers: usize) -> Result<Option<Outcome>, BackfillError> {
        let m = self.manifest;
        self.state.ensure(db).await?;
        let row = self.state.load_backfill(db, &m.name).await?;
        match row.as_ref().map(|r| r.status) {
            Some(BackfillStatus::Completed) => return Ok(Some(Outcome::AlreadyComplete)),
            Some(BackfillStatus::Paused) => return Ok(Some(Outcome::Paused)),
            Some(BackfillStatus::Failed) => {
                return Err(BackfillError::NotRunnable {
                    name: m.name.clone(),
                    status: BackfillStatus::Failed,
                    hint: format!(
                        "{}; fix the cause, then `runner backfill retry {}`",
                        row.and_then(|r| r.error).unwrap_or_default(),
                        m.name
                    ),
                });
            }
            _ => {}
        }
        if row.is_some_and(|r| Progress::from_json(&r.progress).started) {
            return Ok(None);
        }
        self.start(db, workers).await?;
        Ok(None)
    }

    async fn start(&self, db: &mut dyn Driver, workers: usize) -> Result<(), BackfillError> {
        let m = self.manifest;
        let stmts = self.statements(db).await?;
        let upper = db.fetch(&stmts.upper_bound(), &[]).await?.rows.into_iter().next();
        let mut p = Progress { started: true, batch_size: m.batch_size, ..Progress::default() };
        let Some(upper) = upper else {
            // Nothing to do when it started.
            let w = self.state.backfill_write(&m.name, BackfillStatus::Completed, &p.to_json(), None, Some(0));
            db.transaction_with(&[w]).await?;
            return Ok(());
        };
        let (sql, params) = stmts.count(&upper);
        p.rows_total = match db.fetch(&sql, &params).await?.rows.first().and_then(|r| r.first()) {
            Some(DbValue::Int(n)) => *n as u64,
            _ => 0,
        };
        p.upper = Some(upper.iter().map(to_json).collect());
        // Enough chunks for every worker that may join, not so many that claims dominate.
        // Chunks of a few full-size batches: fewer claims, and batches can grow to their time
        // target inside a chunk. With one writer (SQLite), one chunk: a second would never run
        // beside the first.
        let wanted = match db.dialect().max_writers() {
            Some(1) => 1,
            _ => {
                let by_size = (p.rows_total as usize / (m.max_size * 2)).clamp(1, 64);
                by_size.max((workers * 2).min(p.rows_total as usize)).max(1)
            }
        };
        // Boundaries every `step` rows; the last chunk ends at the upper bound.
        let step = (p.rows_total as usize).div_ceil(wanted.max(1)).max(1);
        let mut bounds: Vec<Vec<DbValue>> = Vec::with_capacity(wanted);
        while bounds.len() + 1 < wanted {
            let (sql, params) = stmts.skip(bounds.last().map(Vec::as_slice), &upper, step);
            match db.fetch(&sql, &params).await?.rows.into_iter().next() {
                Some(key) if key != upper => bounds.push(key),
                _ => break,
            }
        }
        bounds.push(upper.clone());
        p.chunks = bounds.len();
        let mut writes = vec![self.state.backfill_write(&m.name, BackfillStatus::Running, &p.to_json(), None, None)];
        let mut lower: Option<Vec<serde_json::Value>> = None;
        let chunks = bounds.len() as u64;
        for (i, b) in bounds.iter().enumerate() {
            let upper: Vec<serde_json::Value> = b.iter().map(to_json).collect();
            let c = ChunkProgress {
                lower: lower.clone(),
                upper: upper.clone(),
                batch_size: m.batch_size,
                // `step` rows each, the rest in the last (from the skip walk above).
                rows_expected: if (i as u64) + 1 < chunks {
                    step as u64
                } else {
                    p.rows_total.saturating_sub(step as u64 * (chunks - 1))
                },
                ..Default::default()
            };
            writes.push(self.state.chunk_write(
                &StateTable::chunk_name(&m.name, i + 1),
                ChunkStatus::Pending,
                &c.to_json(),
                None,
            ));
            lower = Some(upper);
        }
        db.transaction_with(&writes).await?;
        tracing::info!(backfill = %m.name, rows = p.rows_total, chunks = p.chunks, "started");
        Ok(())
    }

    /// One worker: claims chunks and works through them until none is left, the budget runs
    /// out, or the backfill is paused. `owner` names the worker in the state table.
    ///
    /// With a `reader` connection the worker pipelines: it reads the next batch and runs the
    /// plugin on it while the current batch's write commits on `db`.
    ///
    /// A worker rides through a lost connection (a server restart or failover): the batch in
    /// flight was rolled back by the server, so it reconnects, hands its chunks back and carries
    /// on from the checkpoints. It holds no lock, so a new connection loses nothing.
    pub async fn work(
        &self,
        db: &mut dyn Driver,
        mut reader: Option<&mut dyn Driver>,
        owner: &str,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<WorkReport, BackfillError> {
        let mut report = WorkReport::default();
        loop {
            match self.work_connected(db, reborrow(&mut reader), owner, options, observer, &mut report).await {
                // Stopping: a statement cancelled anywhere in the worker (a claim, a status
                // read) is the stop, not a failure. Hand the ranges back and report it.
                Err(_) if runner_db::interrupt::requested().is_some() => {
                    self.release_mine(db, owner).await;
                    report.interrupted = true;
                    return Ok(report);
                }
                Err(lost) if lost.is_connection_lost() => {
                    tracing::warn!(backfill = %self.manifest.name, error = %lost, "reconnecting");
                    let back = self.reconnect(db).await
                        && match reborrow(&mut reader) {
                            Some(r) => self.reconnect(r).await,
                            None => true,
                        };
                    if !back {
                        return Err(lost);
                    }
                    for c in self.state.load_chunks(db, &self.manifest.name).await? {
                        let mine = ChunkProgress::from_json(&c.progress).owner.as_deref() == Some(owner);
                        if c.status == ChunkStatus::Claimed && mine {
                            db.execute(&self.state.chunk_release(&c.name)).await?;
                        }
                    }
                }
                other => return other.map(|()| report),
            }
        }
    }

    /// Hands back the ranges `owner` holds (best effort: on failure they are taken over later).
    async fn release_mine(&self, db: &mut dyn Driver, owner: &str) {
        let Ok(chunks) = self.state.load_chunks(db, &self.manifest.name).await else { return };
        for c in chunks {
            if c.status == ChunkStatus::Claimed && ChunkProgress::from_json(&c.progress).owner.as_deref() == Some(owner)
            {
                let _ = db.execute(&self.state.chunk_release(&c.name)).await;
            }
        }
    }

    /// Waits up to [`RECONNECT_PATIENCE`] for the database to take connections again; false if
    /// it does not.
    async fn reconnect(&self, db: &mut dyn Driver) -> bool {
        let deadline = Instant::now() + RECONNECT_PATIENCE;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match db.reconnect().await {
                Ok(()) => {
                    tracing::info!(backfill = %self.manifest.name, "reconnected");
                    return true;
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(backfill = %self.manifest.name, error = %e, "database not back yet");
                }
                Err(_) => return false,
            }
        }
    }

    async fn work_connected(
        &self,
        db: &mut dyn Driver,
        reader: Option<&mut dyn Driver>,
        owner: &str,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
        report: &mut WorkReport,
    ) -> Result<(), BackfillError> {
        let m = self.manifest;
        let mut w = Worker {
            stmts: self.statements(db).await?,
            seen: self.progress(db).await?,
            reader,
            size: 0,
            ahead: Ahead::default(),
            warned: false,
        };
        loop {
            if runner_db::interrupt::requested().is_some() {
                self.release_ahead(db, &mut w.ahead).await?;
                report.interrupted = true;
                return Ok(());
            }
            if self.stopped(db).await? {
                self.release_ahead(db, &mut w.ahead).await?;
                report.paused = true;
                return Ok(());
            }
            let (chunk, c) = match w.ahead.chunk.take() {
                Some(claimed) => claimed,
                None => {
                    self.release_dead_owners(db).await?;
                    let Some((chunk, progress)) =
                        self.state.claim_chunk(db, &m.name, owner, crate::claims::STALE_CLAIM.as_secs()).await?
                    else {
                        return Ok(());
                    };
                    let c = self.start_chunk(&progress, owner, w.size);
                    (chunk, c)
                }
            };
            let end = self.work_chunk(db, &mut w, (&chunk, c), owner, options, observer, report).await?;
            if end == ChunkEnd::Stopped {
                return Ok(());
            }
        }
    }

    /// Runs batches of one claimed chunk until it is completed, taken over, or the worker must stop
    /// (interrupted, paused, out of batches), in which case the chunk goes back with its cursor.
    #[allow(clippy::too_many_arguments)]
    async fn work_chunk(
        &self,
        db: &mut dyn Driver,
        w: &mut Worker<'_, '_>,
        (chunk, mut c): (&str, ChunkProgress),
        owner: &str,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
        report: &mut WorkReport,
    ) -> Result<ChunkEnd, BackfillError> {
        loop {
            let budget_left = options.max_batches.is_none_or(|n| report.batches < n);
            if budget_left && self.throttle(db, report.batches > 0, &mut w.warned).await? {
                w.ahead.batch = None;
            }
            let interrupted = runner_db::interrupt::requested().is_some();
            if interrupted || !budget_left || self.stopped(db).await? {
                // Hand the chunks back with their cursors, for whoever continues.
                db.execute(&self.state.chunk_release(chunk)).await?;
                self.release_ahead(db, &mut w.ahead).await?;
                report.interrupted = interrupted;
                report.paused = !interrupted && budget_left;
                return Ok(ChunkEnd::Stopped);
            }
            let t0 = Instant::now();
            let batch = self.batch(db, reborrow(&mut w.reader), &w.stmts, chunk, owner, &mut c, &mut w.ahead).await;
            if matches!(batch, Err(BackfillError::Interrupted)) {
                // The batch in flight was cancelled and rolled back; its checkpoint stands.
                db.execute(&self.state.chunk_release(chunk)).await?;
                self.release_ahead(db, &mut w.ahead).await?;
                report.interrupted = true;
                return Ok(ChunkEnd::Stopped);
            }
            let Some(n) = batch? else {
                // Another worker took the chunk over; it carries on from the last checkpoint.
                return Ok(ChunkEnd::Done);
            };
            if n == 0 {
                c.done_by = c.owner.take();
                db.transaction_with(&[self.state.chunk_write(chunk, ChunkStatus::Completed, &c.to_json(), None)])
                    .await?;
                return Ok(ChunkEnd::Done);
            }
            report.batches += 1;
            report.rows += n as u64;
            self.adapt(&mut c, t0.elapsed(), n);
            w.size = c.batch_size;
            w.seen.rows_done += n as u64;
            w.seen.rate = c.rate;
            w.seen.batch_size = c.batch_size;
            observer(&w.seen);
            if c.done_by.is_some() {
                return Ok(ChunkEnd::Done); // that batch was the chunk's last, and completed it
            }
        }
    }

    /// A claimed chunk's progress, owned by `owner`, with the batch size to start from.
    pub(crate) fn start_chunk(&self, progress: &serde_json::Value, owner: &str, size: usize) -> ChunkProgress {
        let mut c = ChunkProgress::from_json(progress);
        c.owner = Some(owner.to_string());
        c.batch_size = if size > 0 {
            size
        } else if c.batch_size > 0 {
            c.batch_size
        } else {
            self.manifest.batch_size
        };
        c
    }

    /// Hands back a chunk claimed ahead and not started.
    async fn release_ahead(&self, db: &mut dyn Driver, ahead: &mut Ahead) -> Result<(), BackfillError> {
        if let Some((chunk, _)) = ahead.chunk.take() {
            db.execute(&self.state.chunk_release(&chunk)).await?;
        }
        Ok(())
    }

    /// Whether an operator paused it or another worker recorded a failure.
    pub(crate) async fn stopped(&self, db: &mut dyn Driver) -> Result<bool, BackfillError> {
        Ok(self
            .state
            .load_backfill(db, &self.manifest.name)
            .await?
            .is_some_and(|r| matches!(r.status, BackfillStatus::Paused | BackfillStatus::Failed)))
    }

    /// Claims held by processes on this host that no longer run are released at once rather
    /// than after the stale-claim timeout.
    async fn release_dead_owners(&self, db: &mut dyn Driver) -> Result<(), BackfillError> {
        for c in self.state.load_chunks(db, &self.manifest.name).await? {
            if crate::claims::held_by_the_dead(&c) {
                db.execute(&self.state.chunk_release(&c.name)).await?;
            }
        }
        Ok(())
    }

    /// Marks the backfill completed when every chunk is and no row it should have done is left;
    /// [`Finish::Swept`] when a sweep over rows still to do was added and workers must run again.
    pub async fn finish(&self, db: &mut dyn Driver, work: WorkReport) -> Result<Finish, BackfillError> {
        let m = self.manifest;
        if work.interrupted {
            return Ok(Finish::Done(Outcome::Interrupted));
        }
        if work.paused {
            let failed =
                self.state.load_backfill(db, &m.name).await?.is_some_and(|r| r.status == BackfillStatus::Failed);
            return if failed {
                Err(self.failure_of_other_worker(db).await?)
            } else {
                Ok(Finish::Done(Outcome::Paused))
            };
        }
        let chunks = self.state.load_chunks(db, &m.name).await?;
        if !chunks.iter().all(|c| c.status == ChunkStatus::Completed) {
            return Ok(Finish::Done(Outcome::Stopped));
        }
        let parent = self.state.load_backfill(db, &m.name).await?;
        if parent.as_ref().is_some_and(|r| r.status == BackfillStatus::Completed) {
            return Ok(Finish::Done(Outcome::Completed));
        }
        let mut started = Progress::from_json(&parent.map(|r| r.progress).unwrap_or_default());
        if let Some(left) = self.rows_left(db, &started).await? {
            return self.sweep(db, &mut started, chunks.len(), left).await;
        }
        let p = self.progress(db).await?;
        started.swept_left = None;
        let w = self.state.backfill_write(
            &m.name,
            BackfillStatus::Completed,
            &started.to_json(),
            None,
            Some(p.batch_ms as i64),
        );
        db.transaction_with(&[w]).await?;
        tracing::info!(backfill = %m.name, rows = p.rows_done, "completed");
        Ok(Finish::Done(Outcome::Completed))
    }

    /// Rows up to the upper bound that still match the filter once every range is done (none
    /// without a filter: then every row up to the bound was read). Such rows were changed back
    /// by the application, or the plugin leaves them as they are, or were skipped: the backfill
    /// is not complete while there are any, since a revision gated on it would run on them.
    async fn rows_left(&self, db: &mut dyn Driver, p: &Progress) -> Result<Option<(u64, String)>, BackfillError> {
        let (Some(_), Some(upper)) = (&self.manifest.filter, &p.upper) else { return Ok(None) };
        if self.manifest.filter_is == crate::manifest::FilterIs::Scope {
            return Ok(None);
        }
        let stmts = self.statements(db).await?;
        let upper: Vec<DbValue> = upper.iter().map(crate::convert::from_json).collect();
        let (sql, params) = stmts.count(&upper);
        let left = match db.fetch(&sql, &params).await?.rows.first().and_then(|r| r.first()) {
            Some(DbValue::Int(n)) => *n as u64,
            _ => 0,
        };
        if left == 0 {
            return Ok(None);
        }
        let (sql, params) = stmts.skip(None, &upper, 1);
        let key = match db.fetch(&sql, &params).await?.rows.into_iter().next() {
            Some(k) => serde_json::to_string(&k.iter().map(to_json).collect::<Vec<_>>()).unwrap_or_default(),
            None => "?".into(),
        };
        Ok(Some((left, key)))
    }

    /// Adds a range over the whole key space for the rows still to do, as long as the previous
    /// sweep made headway; otherwise fails the backfill, saying what is left.
    async fn sweep(
        &self,
        db: &mut dyn Driver,
        p: &mut Progress,
        chunks: usize,
        (left, first_key): (u64, String),
    ) -> Result<Finish, BackfillError> {
        let m = self.manifest;
        let headway = p.swept_left.is_none_or(|before| left < before);
        if !headway || p.sweeps >= MAX_SWEEPS {
            let error = format!(
                "{left} rows up to the backfill's upper bound still match its filter after every range was done (the first has key {first_key}): the plugin leaves them as they are, or something writes them back. The backfill is not complete; fix the plugin or the filter (or, if the filter selects rows to look at rather than rows still to do, set `filter_is = \"scope\"`), then `runner backfill retry {}`",
                m.name
            );
            p.swept_left = None;
            let w = self.state.backfill_write(&m.name, BackfillStatus::Failed, &p.to_json(), Some(&error), None);
            db.transaction_with(&[w]).await?;
            return Err(BackfillError::Incomplete { name: m.name.clone(), message: error });
        }
        p.sweeps += 1;
        p.swept_left = Some(left);
        p.rows_total += left;
        p.chunks = chunks + 1;
        let sweep = ChunkProgress {
            lower: None,
            upper: p.upper.clone().unwrap_or_default(),
            batch_size: m.batch_size,
            rows_expected: left,
            ..Default::default()
        };
        tracing::warn!(backfill = %m.name, rows = left, first_key = %first_key, "rows still match the filter after every range was done; going over them again");
        db.transaction_with(&[
            self.state.backfill_write(&m.name, BackfillStatus::Running, &p.to_json(), None, None),
            self.state.chunk_write(
                &StateTable::chunk_name(&m.name, chunks + 1),
                ChunkStatus::Pending,
                &sweep.to_json(),
                None,
            ),
        ])
        .await?;
        Ok(Finish::Swept)
    }

    async fn failure_of_other_worker(&self, db: &mut dyn Driver) -> Result<BackfillError, BackfillError> {
        let row = self.state.load_backfill(db, &self.manifest.name).await?;
        Ok(BackfillError::NotRunnable {
            name: self.manifest.name.clone(),
            status: BackfillStatus::Failed,
            hint: format!(
                "{}; fix the cause, then `runner backfill retry {}`",
                row.and_then(|r| r.error).unwrap_or_default(),
                self.manifest.name
            ),
        })
    }
}

/// `pid N on HOST #k`: the owner name of worker `k` of this process.
pub fn worker_name(k: usize) -> String {
    Owner::this_process(Some(k)).encode()
}
