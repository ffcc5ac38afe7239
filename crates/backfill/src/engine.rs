//! Runs a backfill: batch after batch, each read by keyset, handed to the plugin, written
//! set-based and checkpointed in one transaction. A crash at any moment loses nothing committed
//! and redoes nothing committed; running a completed backfill again does nothing.
//!
//! The rows to do are split into key ranges (chunks) when the backfill starts. Workers — tasks
//! of one process, or processes on several machines — claim chunks through the state table, so
//! they share one backfill with no coordinator of their own. SQLite has one chunk (one writer).

use crate::convert::{KeyRepr, from_json, key_repr, to_json, to_plugin};
use crate::manifest::Manifest;
use crate::progress::{ChunkProgress, Progress};
use crate::sql::{Statements, column_types_sql};
use runner_db::{DbError, DbValue, Dialect, Driver};
use runner_sandbox::{Batch, Change, Plugin, SandboxError, Value};
use runner_state::{StateError, StateTable};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackfillError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(
        "backfill `{name}` failed at the batch after key {after} ({attempts} attempts): {error}\nfix the cause, then `runner backfill retry {name}`"
    )]
    BatchFailed { name: String, after: String, attempts: u32, error: String },
    #[error("data migration `{name}`: {message}")]
    DataMigration { name: String, message: String },
    #[error("backfill `{name}` is {status}; {hint}")]
    NotRunnable { name: String, status: String, hint: String },
}

impl BackfillError {
    /// Whether the database connection went away (the work itself may be fine).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            BackfillError::Db(e) | BackfillError::State(StateError::Db(e)) => e.is_connection_lost(),
            _ => false,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// It had completed before; nothing was done.
    AlreadyComplete,
    /// An operator paused it (before or during this run).
    Paused,
    /// This run stopped with work left: its batch budget ran out, or other workers still hold
    /// chunks.
    Stopped,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub name: String,
    pub outcome: Outcome,
    pub progress: Progress,
    pub batches: u64,
    pub rows: u64,
    pub elapsed_ms: u64,
}

/// What a run may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop after this many batches (the backfill stays running and resumes next time).
    pub max_batches: Option<u64>,
}

/// What one worker did.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkReport {
    pub batches: u64,
    pub rows: u64,
    pub paused: bool,
}

pub struct Backfill<'a> {
    pub manifest: &'a Manifest,
    pub plugin: &'a Plugin,
    pub state: &'a StateTable,
}

/// A claim not checkpointed for this long is taken over (its worker is gone or stuck).
const STALE_CLAIM: Duration = Duration::from_secs(120);

/// How long a worker that lost its connection waits for the database to come back (a restart
/// or failover) before it gives up.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(60);

impl Backfill<'_> {
    async fn statements(&self, db: &mut dyn Driver) -> Result<Statements<'_>, BackfillError> {
        statements(db, self.manifest).await
    }

    /// A single worker: prepare, work, finish.
    pub async fn run(
        &self,
        db: &mut dyn Driver,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<RunReport, BackfillError> {
        let started = Instant::now();
        if let Some(outcome) = self.prepare(db, 1).await? {
            return self.report(db, outcome, WorkReport::default(), started).await;
        }
        let owner = worker_name(0);
        let work = self.work(db, None, &owner, options, observer).await?;
        let outcome = self.finish(db, work).await?;
        self.report(db, outcome, work, started).await
    }

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
        match row.as_ref().map(|r| r.status.as_str()) {
            Some("completed") => return Ok(Some(Outcome::AlreadyComplete)),
            Some("paused") => return Ok(Some(Outcome::Paused)),
            Some("failed") => {
                return Err(BackfillError::NotRunnable {
                    name: m.name.clone(),
                    status: "failed".into(),
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
            let w = self.state.backfill_write(&m.name, "completed", &p.to_json(), None, Some(0));
            db.transaction_with(&[w]).await?;
            return Ok(());
        };
        let params = stmts.key_params(&upper);
        p.rows_total = match db.fetch(&stmts.count(true), &params).await?.rows.first().and_then(|r| r.first()) {
            Some(DbValue::Int(n)) => *n as u64,
            _ => 0,
        };
        p.upper = Some(upper.iter().map(to_json).collect());
        // Enough chunks for every worker that may join, not so many that claims dominate.
        let wanted = match db.dialect() {
            Dialect::Sqlite => 1,
            Dialect::Postgres => {
                // Chunks of a few full-size batches: fewer claims, and batches can grow to their
                // time target inside a chunk.
                let by_size = (p.rows_total as usize / (m.max_size * 2)).clamp(1, 64);
                by_size.max((workers * 2).min(p.rows_total as usize)).max(1)
            }
        };
        // Boundaries every `step` rows; the last chunk ends at the upper bound.
        let step = (p.rows_total as usize).div_ceil(wanted.max(1)).max(1);
        let mut bounds: Vec<Vec<DbValue>> = Vec::with_capacity(wanted);
        while bounds.len() + 1 < wanted {
            let mut params = bounds.last().map(|k| stmts.key_params(k)).unwrap_or_default();
            params.extend(stmts.key_params(&upper));
            match db.fetch(&stmts.skip(!bounds.is_empty(), step), &params).await?.rows.into_iter().next() {
                Some(key) if key != upper => bounds.push(key),
                _ => break,
            }
        }
        bounds.push(upper.clone());
        p.chunks = bounds.len();
        let mut writes = vec![self.state.backfill_write(&m.name, "running", &p.to_json(), None, None)];
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
            writes.push(self.state.chunk_write(&StateTable::chunk_name(&m.name, i + 1), "pending", &c.to_json(), None));
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
                        if c.status == "claimed" && mine {
                            db.execute(&self.state.chunk_release(&c.name)).await?;
                        }
                    }
                }
                other => return other.map(|()| report),
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
        mut reader: Option<&mut dyn Driver>,
        owner: &str,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
        report: &mut WorkReport,
    ) -> Result<(), BackfillError> {
        let m = self.manifest;
        let stmts = self.statements(db).await?;
        let mut seen = self.progress(db).await?;
        // The batch size this worker has adapted to, carried from chunk to chunk.
        let mut size = 0;
        // Work prepared while a batch was being written: the next batch, the next chunk.
        let mut ahead = Ahead::default();
        loop {
            if self.stopped(db).await? {
                self.release_ahead(db, &mut ahead).await?;
                report.paused = true;
                return Ok(());
            }
            let (chunk, mut c) = match ahead.chunk.take() {
                Some(claimed) => claimed,
                None => {
                    self.release_dead_owners(db).await?;
                    let Some((chunk, progress)) =
                        self.state.claim_chunk(db, &m.name, owner, STALE_CLAIM.as_secs()).await?
                    else {
                        return Ok(());
                    };
                    let c = self.start_chunk(&progress, owner, size);
                    (chunk, c)
                }
            };
            loop {
                if options.max_batches.is_some_and(|n| report.batches >= n) || self.stopped(db).await? {
                    // Hand the chunks back with their cursors, for whoever continues.
                    db.execute(&self.state.chunk_release(&chunk)).await?;
                    self.release_ahead(db, &mut ahead).await?;
                    report.paused = options.max_batches.is_none_or(|n| report.batches < n);
                    return Ok(());
                }
                let t0 = Instant::now();
                let Some(n) = self.batch(db, reborrow(&mut reader), &stmts, &chunk, owner, &mut c, &mut ahead).await?
                else {
                    // Another worker took the chunk over; it carries on from the last checkpoint.
                    break;
                };
                if n == 0 {
                    c.done_by = c.owner.take();
                    db.transaction_with(&[self.state.chunk_write(&chunk, "completed", &c.to_json(), None)]).await?;
                    break;
                }
                report.batches += 1;
                report.rows += n as u64;
                self.adapt(&mut c, t0.elapsed(), n);
                size = c.batch_size;
                seen.rows_done += n as u64;
                seen.rate = c.rate;
                seen.batch_size = c.batch_size;
                observer(&seen);
                if c.done_by.is_some() {
                    break; // that batch was the chunk's last, and completed it
                }
            }
        }
    }

    /// A claimed chunk's progress, owned by `owner`, with the batch size to start from.
    fn start_chunk(&self, progress: &serde_json::Value, owner: &str, size: usize) -> ChunkProgress {
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

    /// Claims the next chunk and prepares its first batch (on the reader connection, while the
    /// current chunk's last batch commits). A failed read leaves the batch to be read later.
    async fn claim_ahead(
        &self,
        reader: &mut dyn Driver,
        stmts: &Statements<'_>,
        owner: &str,
        size: usize,
    ) -> Result<Option<(String, ChunkProgress, Option<Prepared>)>, BackfillError> {
        let Some((chunk, progress)) =
            self.state.claim_chunk(reader, &self.manifest.name, owner, STALE_CLAIM.as_secs()).await?
        else {
            return Ok(None);
        };
        let c = self.start_chunk(&progress, owner, size);
        let upper: Vec<DbValue> = c.upper.iter().map(from_json).collect();
        let after = c.cursor.clone().or(c.lower.clone());
        let limit = c.batch_limit(c.rows_done, c.batch_size);
        let batch = self.prepare_batch(reader, stmts, &chunk, after, &upper, limit).await.ok().flatten();
        Ok(Some((chunk, c, batch)))
    }

    /// Whether an operator paused it or another worker recorded a failure.
    async fn stopped(&self, db: &mut dyn Driver) -> Result<bool, BackfillError> {
        Ok(self
            .state
            .load_backfill(db, &self.manifest.name)
            .await?
            .is_some_and(|r| r.status == "paused" || r.status == "failed"))
    }

    /// Claims held by processes on this host that no longer run are released at once rather
    /// than after the stale-claim timeout.
    async fn release_dead_owners(&self, db: &mut dyn Driver) -> Result<(), BackfillError> {
        let host = host_name();
        for c in self.state.load_chunks(db, &self.manifest.name).await? {
            if c.status != "claimed" {
                continue;
            }
            let owner = ChunkProgress::from_json(&c.progress).owner.unwrap_or_default();
            let dead = parse_owner(&owner).is_some_and(|(pid, h)| {
                h == host
                    && std::path::Path::new("/proc/self").exists()
                    && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
            if dead {
                db.execute(&self.state.chunk_release(&c.name)).await?;
            }
        }
        Ok(())
    }

    /// Marks the backfill completed when every chunk is.
    pub async fn finish(&self, db: &mut dyn Driver, work: WorkReport) -> Result<Outcome, BackfillError> {
        let m = self.manifest;
        if work.paused {
            let failed = self.state.load_backfill(db, &m.name).await?.is_some_and(|r| r.status == "failed");
            return if failed { Err(self.failure_of_other_worker(db).await?) } else { Ok(Outcome::Paused) };
        }
        let chunks = self.state.load_chunks(db, &m.name).await?;
        if chunks.iter().all(|c| c.status == "completed") {
            let parent = self.state.load_backfill(db, &m.name).await?;
            if parent.as_ref().is_some_and(|r| r.status == "completed") {
                return Ok(Outcome::Completed);
            }
            let p = self.progress(db).await?;
            let w = self.state.backfill_write(
                &m.name,
                "completed",
                &Progress::from_json(&parent.map(|r| r.progress).unwrap_or_default()).to_json(),
                None,
                Some(p.batch_ms as i64),
            );
            db.transaction_with(&[w]).await?;
            tracing::info!(backfill = %m.name, rows = p.rows_done, "completed");
            return Ok(Outcome::Completed);
        }
        Ok(Outcome::Stopped)
    }

    async fn failure_of_other_worker(&self, db: &mut dyn Driver) -> Result<BackfillError, BackfillError> {
        let row = self.state.load_backfill(db, &self.manifest.name).await?;
        Ok(BackfillError::NotRunnable {
            name: self.manifest.name.clone(),
            status: "failed".into(),
            hint: format!(
                "{}; fix the cause, then `runner backfill retry {}`",
                row.and_then(|r| r.error).unwrap_or_default(),
                self.manifest.name
            ),
        })
    }

    /// One batch of a chunk, retried with backoff; returns how many rows it covered (0: the
    /// chunk is done; `None`: the claim was lost). `ahead` carries a batch prepared during the
    /// previous write, and receives the one prepared during this write.
    #[allow(clippy::too_many_arguments)]
    async fn batch(
        &self,
        db: &mut dyn Driver,
        mut reader: Option<&mut dyn Driver>,
        stmts: &Statements<'_>,
        chunk: &str,
        owner: &str,
        c: &mut ChunkProgress,
        ahead: &mut Ahead,
    ) -> Result<Option<usize>, BackfillError> {
        let m = self.manifest;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_batch(db, reborrow(&mut reader), stmts, chunk, owner, c, ahead).await {
                Ok(n) => return Ok(Some(n)),
                Err(BatchError::ClaimLost) => return Ok(None),
                // Retrying on a dead connection cannot help: the worker reconnects instead.
                Err(BatchError::Db(e)) if e.is_connection_lost() => return Err(e.into()),
                Err(e) if attempt < m.max_attempts => {
                    // Timeouts and lock waits mean the batch is too big for now: halve it.
                    if matches!(&e, BatchError::Db(DbError::Statement { failure }) if matches!(failure.code.as_deref(), Some("57014" | "55P03")))
                    {
                        c.batch_size = (c.batch_size / 2).max(m.min_size);
                    }
                    let wait = Duration::from_millis(200 * (1 << (attempt - 1).min(5)));
                    tracing::warn!(backfill = %m.name, attempt, error = %e, wait_ms = wait.as_millis() as u64, "batch failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    let after = c
                        .cursor
                        .as_ref()
                        .or(c.lower.as_ref())
                        .map_or("(start)".to_string(), |k| serde_json::to_string(k).unwrap_or_default());
                    let error = e.to_string();
                    let parent = self.state.load_backfill(db, &m.name).await?.map(|r| r.progress).unwrap_or_default();
                    db.transaction_with(&[
                        self.state.chunk_write(chunk, "failed", &c.to_json(), Some(&error)),
                        self.state.backfill_write(&m.name, "failed", &parent, Some(&error), None),
                    ])
                    .await?;
                    return Err(BackfillError::BatchFailed { name: m.name.clone(), after, attempts: attempt, error });
                }
            }
        }
    }

    /// Reads the batch after `after` and runs the plugin on it; `None` when no row is left.
    async fn prepare_batch(
        &self,
        db: &mut dyn Driver,
        stmts: &Statements<'_>,
        chunk: &str,
        after: Option<Vec<serde_json::Value>>,
        upper: &[DbValue],
        size: usize,
    ) -> Result<Option<Prepared>, BatchError> {
        let started = Instant::now();
        let from: Option<Vec<DbValue>> = after.as_ref().map(|k| k.iter().map(from_json).collect());
        let Some((batch, last)) = read_batch(db, stmts, self.manifest, from.as_deref(), upper, size).await? else {
            return Ok(None);
        };
        let read_ms = started.elapsed().as_millis() as u64;
        let tp = Instant::now();
        let changes: Vec<Change> = self.plugin.process(&batch).await?;
        let plugin_ms = tp.elapsed().as_millis() as u64;
        // The next batch may be read before this one commits only if this one's writes cannot
        // touch it: changes to another table, or to this batch's own rows.
        let confined = self.manifest.target_table != self.manifest.source_table
            || (self.manifest.target_key == self.manifest.key && confined_to(&batch, &last, &changes));
        // Built here, so that a pipelined worker encodes the batch while the previous one commits.
        let statements = stmts
            .writes(&changes)
            .map_err(|message| BatchError::Output { plugin: self.manifest.name.clone(), message })?;
        Ok(Some(Prepared {
            chunk: chunk.to_string(),
            after,
            rows: batch.rows.len(),
            limit: size,
            last,
            changes: changes.len(),
            statements,
            read_ms,
            plugin_ms,
            confined,
            started,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_batch(
        &self,
        db: &mut dyn Driver,
        reader: Option<&mut dyn Driver>,
        stmts: &Statements<'_>,
        chunk: &str,
        owner: &str,
        c: &mut ChunkProgress,
        ahead: &mut Ahead,
    ) -> Result<usize, BatchError> {
        let after = c.cursor.clone().or(c.lower.clone());
        let upper: Vec<DbValue> = c.upper.iter().map(from_json).collect();
        // A batch prepared ahead is good only if it starts where this chunk's checkpoint is.
        let current = match ahead.batch.take() {
            Some(p) if p.chunk == chunk && p.after == after => p,
            _ => match self
                .prepare_batch(db, stmts, chunk, after, &upper, c.batch_limit(c.rows_done, c.batch_size))
                .await?
            {
                Some(p) => p,
                None => return Ok(0),
            },
        };
        let n = current.rows;
        let Some(reader) = reader.filter(|_| current.confined) else {
            self.write_batch(db, chunk, owner, c, current).await?;
            return Ok(n);
        };
        let size = c.batch_size;
        let failed_ahead = if current.rows == current.limit {
            // More of this chunk: read its next batch meanwhile.
            let next_after = Some(current.last.iter().map(to_json).collect::<Vec<_>>());
            let next_limit = c.batch_limit(c.rows_done + current.rows as u64, size);
            let (written, next) = tokio::join!(
                self.write_batch(db, chunk, owner, c, current),
                self.prepare_batch(reader, stmts, chunk, next_after, &upper, next_limit)
            );
            written?;
            match next {
                Ok(next) => {
                    ahead.batch = next;
                    None
                }
                Err(e) => Some((e.to_string(), matches!(&e, BatchError::Db(d) if d.is_connection_lost()))),
            }
        } else {
            // The chunk's last batch: claim the next chunk and read its first batch meanwhile.
            let (written, next) = tokio::join!(
                self.write_batch(db, chunk, owner, c, current),
                self.claim_ahead(reader, stmts, owner, size)
            );
            if let Ok(Some((chunk, progress, batch))) = next {
                ahead.chunk = Some((chunk, progress));
                ahead.batch = batch;
                written?;
                None
            } else {
                written?;
                next.err().map(|e| (e.to_string(), e.is_connection_lost()))
            }
        };
        if let Some((error, lost)) = failed_ahead {
            // Reading ahead is an optimisation: the work is done again on the write connection.
            // A lost reader connects again for next time.
            tracing::debug!(backfill = %self.manifest.name, %error, "reading ahead failed");
            if lost {
                let _ = reader.reconnect().await;
            }
        }
        Ok(n)
    }

    /// Writes a prepared batch and its checkpoint in one transaction.
    async fn write_batch(
        &self,
        db: &mut dyn Driver,
        chunk: &str,
        owner: &str,
        c: &mut ChunkProgress,
        p: Prepared,
    ) -> Result<(), BatchError> {
        let mut writes = Vec::new();
        if db.dialect() == Dialect::Postgres {
            // Settings local to the batch's transaction (nothing leaks into the session), in one
            // round trip. A batch touches a few thousand rows by key: look each up in the index.
            // Left alone, the planner hash-joins the batch against a scan of the whole table,
            // every batch (measured: 273 ms instead of 73 ms for 20,000 of 1,000,000 rows).
            writes.push((
                format!(
                    "SELECT set_config('lock_timeout', '{}ms', true), set_config('statement_timeout', '{}ms', true), \
                     set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('synchronous_commit', 'off', true)",
                    self.manifest.lock_timeout.as_millis(),
                    self.manifest.statement_timeout.as_millis()
                ),
                vec![],
            ));
        }
        writes.extend(self.state.chunk_guard(chunk, owner));
        writes.extend(p.statements);
        let mut next = c.clone();
        next.cursor = Some(p.last.iter().map(to_json).collect());
        next.rows_done += p.rows as u64;
        next.changes += p.changes as u64;
        next.batches += 1;
        next.plugin_ms += p.plugin_ms;
        next.batch_ms += p.started.elapsed().as_millis() as u64;
        // A short batch was the chunk's last: it completes the chunk in the same transaction,
        // saving a read that would find nothing.
        let status = if p.rows < p.limit {
            next.done_by = next.owner.take();
            "completed"
        } else {
            "claimed"
        };
        writes.push(self.state.chunk_write(chunk, status, &next.to_json(), None));
        let tw = Instant::now();
        let written = db.transaction_with(&writes).await;
        tracing::debug!(
            backfill = %self.manifest.name,
            rows = p.rows,
            read_ms = p.read_ms,
            plugin_ms = p.plugin_ms,
            write_ms = tw.elapsed().as_millis() as u64,
            batch_ms = p.started.elapsed().as_millis() as u64,
            "batch"
        );
        match written {
            Ok(()) => {}
            // The guard divided by zero: another worker took this chunk over.
            Err(DbError::Statement { failure }) if failure.code.as_deref() == Some("22012") => {
                return Err(BatchError::ClaimLost);
            }
            Err(e) => return Err(e.into()),
        }
        *c = next;
        Ok(())
    }

    /// Sizes the next batch to take about the manifest's time target: double while a batch
    /// takes under a quarter of the target (the next then takes at most about half of it),
    /// then grow at most ×1.2 a step (GitLab's optimiser); shrink at once; within the
    /// manifest's bounds. Doubling matters: from 5,000 to 50,000 rows at ×1.2 takes 13 batches,
    /// a quarter of a million rows at small-batch speed.
    fn adapt(&self, c: &mut ChunkProgress, took: Duration, rows: usize) {
        let m = self.manifest;
        let secs = took.as_secs_f64().max(1e-6);
        let rate = rows as f64 / secs;
        c.rate = if c.rate == 0.0 { rate } else { 0.6 * c.rate + 0.4 * rate };
        if rows < c.batch_size {
            return; // a short last batch says nothing about speed
        }
        let ratio = m.time_target.as_secs_f64() / secs;
        let factor = if ratio >= 4.0 { 2.0 } else { ratio.clamp(0.5, 1.2) };
        c.batch_size = ((c.batch_size as f64 * factor) as usize).clamp(m.min_size, m.max_size);
    }
}

/// The statements of `m` for this database (PostgreSQL: with the tables' column types).
pub(crate) async fn statements<'m>(db: &mut dyn Driver, m: &'m Manifest) -> Result<Statements<'m>, BackfillError> {
    let (source_types, target_types) = match db.dialect() {
        Dialect::Postgres => (types(db, &m.source_table).await?, types(db, &m.target_table).await?),
        Dialect::Sqlite => (HashMap::new(), HashMap::new()),
    };
    Ok(Statements {
        dialect: db.dialect(),
        source: &m.source_table,
        key: &m.key,
        columns: &m.columns,
        filter: m.filter.as_deref(),
        target: &m.target_table,
        target_key: &m.target_key,
        source_types,
        target_types,
    })
}

/// The next batch of `m`'s rows after key `after` (exclusive) up to `upper` (inclusive), as the
/// plugin receives it, and the key of its last row; `None` when no row is left.
pub(crate) async fn read_batch(
    db: &mut dyn Driver,
    stmts: &Statements<'_>,
    m: &Manifest,
    after: Option<&[DbValue]>,
    upper: &[DbValue],
    limit: usize,
) -> Result<Option<(Batch, Vec<DbValue>)>, DbError> {
    let mut params = after.map(|k| stmts.key_params(k)).unwrap_or_default();
    params.extend(stmts.key_params(upper));
    let read = db.fetch(&stmts.read(after.is_some(), limit), &params).await?;
    let Some(last) = read.rows.last().map(|r| r[..m.key.len()].to_vec()) else { return Ok(None) };
    let batch = Batch {
        columns: m.columns.clone(),
        key: m.key.clone(),
        rows: read.rows.into_iter().map(|r| r.into_iter().map(to_plugin).collect()).collect(),
    };
    Ok(Some((batch, last)))
}

/// `pid N on HOST #k`: the owner name of worker `k` of this process.
pub fn worker_name(k: usize) -> String {
    format!("pid {} on {} #{k}", std::process::id(), host_name())
}

fn parse_owner(owner: &str) -> Option<(u32, String)> {
    let rest = owner.strip_prefix("pid ")?;
    let (pid, rest) = rest.split_once(" on ")?;
    let host = rest.rsplit_once(" #").map_or(rest, |(h, _)| h);
    Some((pid.parse().ok()?, host.to_string()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

async fn types(db: &mut dyn Driver, table: &str) -> Result<HashMap<String, String>, BackfillError> {
    let rows = db.query(&column_types_sql(table)).await?;
    Ok(rows.into_iter().filter_map(|r| Some((r.first().cloned().flatten()?, r.get(1).cloned().flatten()?))).collect())
}

/// Whether every change of a batch targets a key the next batch (keys after `last`) cannot
/// hold: an integer key up to `last`, or else a key of one of the batch's own rows.
fn confined_to(batch: &Batch, last: &[DbValue], changes: &[Change]) -> bool {
    if let [DbValue::Int(last)] = last {
        return changes.iter().all(|ch| match ch {
            Change::Update(u) => matches!(u.key.as_slice(), [Value::Integer(k)] if k <= last),
            Change::Delete(k) => matches!(k.as_slice(), [Value::Integer(k)] if k <= last),
            // Rows that did not exist may land anywhere in the key order.
            Change::Insert(_) | Change::Upsert(_) => false,
        });
    }
    let own: std::collections::HashSet<KeyRepr> = batch.rows.iter().map(|r| key_repr(&r[..last.len()])).collect();
    changes.iter().all(|ch| match ch {
        Change::Update(u) => own.contains(&key_repr(&u.key)),
        Change::Delete(k) => own.contains(&key_repr(k)),
        Change::Insert(_) | Change::Upsert(_) => false,
    })
}

/// Lends an optional connection for one call (a plain `as_deref_mut` would lend it for as long
/// as the trait object lives).
fn reborrow<'b>(r: &'b mut Option<&mut dyn Driver>) -> Option<&'b mut dyn Driver> {
    match r {
        Some(r) => Some(&mut **r),
        None => None,
    }
}

/// Work a worker prepared while writing a batch.
#[derive(Default)]
struct Ahead {
    batch: Option<Prepared>,
    /// The next chunk, claimed during the previous chunk's last write.
    chunk: Option<(String, ChunkProgress)>,
}

/// A batch read and transformed by the plugin, ready to write.
struct Prepared {
    /// The chunk and checkpoint it was read after; it is written only if the chunk's
    /// checkpoint is still there.
    chunk: String,
    after: Option<Vec<serde_json::Value>>,
    rows: usize,
    /// The batch size it was read with: fewer rows means the chunk has no more.
    limit: usize,
    last: Vec<DbValue>,
    /// How many changes the plugin returned, and the statements that write them.
    changes: usize,
    statements: Vec<(String, Vec<DbValue>)>,
    read_ms: u64,
    plugin_ms: u64,
    /// Its changes touch only its own rows or another table (see `prepare_batch`).
    confined: bool,
    started: Instant,
}

/// Why one attempt at a batch failed.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("plugin {plugin}: returned changes the target cannot take: {message}")]
    Output { plugin: String, message: String },
    #[error("the chunk was taken over by another worker")]
    ClaimLost,
}
