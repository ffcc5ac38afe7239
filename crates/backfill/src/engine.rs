//! Runs one backfill: batch after batch, each read by keyset, handed to the plugin, written
//! set-based and checkpointed in one transaction. A crash at any moment loses nothing committed
//! and redoes nothing committed; running a completed backfill again does nothing.

use crate::convert::{from_json, to_json, to_plugin};
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::sql::{Statements, column_types_sql};
use runner_db::{DbError, DbValue, Dialect, Driver};
use runner_sandbox::{Batch, Change, Plugin, SandboxError};
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
    #[error("backfill `{name}` is {status}; {hint}")]
    NotRunnable { name: String, status: String, hint: String },
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
    /// The caller's batch budget ran out (tests, `--max-batches`).
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

pub struct Backfill<'a> {
    pub manifest: &'a Manifest,
    pub plugin: &'a Plugin,
    pub state: &'a StateTable,
}

const STATUS_RUNNING: &str = "running";

impl Backfill<'_> {
    async fn statements(&self, db: &mut dyn Driver) -> Result<Statements<'_>, BackfillError> {
        let m = self.manifest;
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

    pub async fn run(
        &self,
        db: &mut dyn Driver,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<RunReport, BackfillError> {
        let m = self.manifest;
        let started = Instant::now();
        let report = |outcome, progress: Progress, batches, rows| RunReport {
            name: m.name.clone(),
            outcome,
            progress,
            batches,
            rows,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        self.state.ensure(db).await?;
        let row = self.state.load_backfill(db, &m.name).await?;
        match row.as_ref().map(|r| r.status.as_str()) {
            Some("completed") => {
                return Ok(report(Outcome::AlreadyComplete, Progress::from_json(&row.unwrap().progress), 0, 0));
            }
            Some("paused") => return Ok(report(Outcome::Paused, Progress::from_json(&row.unwrap().progress), 0, 0)),
            Some("failed") => {
                return Err(BackfillError::NotRunnable {
                    name: m.name.clone(),
                    status: "failed".into(),
                    hint: format!(
                        "{}; fix the cause, then `runner backfill retry {}`",
                        row.unwrap().error.unwrap_or_default(),
                        m.name
                    ),
                });
            }
            _ => {}
        }
        let stmts = self.statements(db).await?;
        let mut progress = match row.as_ref().map(|r| Progress::from_json(&r.progress)) {
            Some(p) if p.started => p,
            _ => self.start(db, &stmts).await?,
        };
        if progress.batch_size == 0 {
            progress.batch_size = m.batch_size;
        }
        let Some(upper) = progress.upper.clone() else {
            // Nothing to do when it started.
            self.write_status(db, "completed", &progress, None, Some(0)).await?;
            return Ok(report(Outcome::Completed, progress, 0, 0));
        };
        let upper: Vec<DbValue> = upper.iter().map(from_json).collect();
        let (mut batches, mut rows) = (0u64, 0u64);
        loop {
            if options.max_batches.is_some_and(|n| batches >= n) {
                return Ok(report(Outcome::Stopped, progress, batches, rows));
            }
            // An operator may pause from another process; look between batches.
            if self.state.load_backfill(db, &m.name).await?.is_some_and(|r| r.status == "paused") {
                return Ok(report(Outcome::Paused, progress, batches, rows));
            }
            let t0 = Instant::now();
            let done = self.batch(db, &stmts, &mut progress, &upper).await?;
            if done == 0 {
                let total_ms = progress.batch_ms as i64;
                self.write_status(db, "completed", &progress, None, Some(total_ms)).await?;
                tracing::info!(backfill = %m.name, rows = progress.rows_done, "completed");
                return Ok(report(Outcome::Completed, progress, batches, rows));
            }
            batches += 1;
            rows += done as u64;
            self.adapt(&mut progress, t0.elapsed(), done);
            observer(&progress);
        }
    }

    /// First run: fix the upper bound and count the rows to do.
    async fn start(&self, db: &mut dyn Driver, stmts: &Statements<'_>) -> Result<Progress, BackfillError> {
        let upper = db.fetch(&stmts.upper_bound(), &[]).await?.rows.into_iter().next();
        let mut p = Progress { started: true, batch_size: self.manifest.batch_size, ..Progress::default() };
        if let Some(u) = upper {
            let params = stmts.key_params(&u);
            let count = db.fetch(&stmts.count(true), &params).await?;
            p.rows_total = match count.rows.first().and_then(|r| r.first()) {
                Some(DbValue::Int(n)) => *n as u64,
                _ => 0,
            };
            p.upper = Some(u.iter().map(to_json).collect());
        }
        self.write_status(db, STATUS_RUNNING, &p, None, None).await?;
        tracing::info!(backfill = %self.manifest.name, rows = p.rows_total, "started");
        Ok(p)
    }

    async fn write_status(
        &self,
        db: &mut dyn Driver,
        status: &str,
        p: &Progress,
        error: Option<&str>,
        duration_ms: Option<i64>,
    ) -> Result<(), BackfillError> {
        let w = self.state.backfill_write(&self.manifest.name, status, &p.to_json(), error, duration_ms);
        db.transaction_with(&[w]).await?;
        Ok(())
    }

    /// One batch, retried with backoff; returns how many rows it covered (0: nothing left).
    async fn batch(
        &self,
        db: &mut dyn Driver,
        stmts: &Statements<'_>,
        progress: &mut Progress,
        upper: &[DbValue],
    ) -> Result<usize, BackfillError> {
        let m = self.manifest;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_batch(db, stmts, progress, upper).await {
                Ok(n) => return Ok(n),
                Err(e) if attempt < m.max_attempts => {
                    // Timeouts and lock waits mean the batch is too big for now: halve it.
                    if matches!(&e, BatchError::Db(DbError::Statement { failure }) if matches!(failure.code.as_deref(), Some("57014" | "55P03")))
                    {
                        progress.batch_size = (progress.batch_size / 2).max(m.min_size);
                    }
                    let wait = Duration::from_millis(200 * (1 << (attempt - 1).min(5)));
                    tracing::warn!(backfill = %m.name, attempt, error = %e, wait_ms = wait.as_millis() as u64, "batch failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    let after = progress
                        .cursor
                        .as_ref()
                        .map_or("(start)".to_string(), |c| serde_json::to_string(c).unwrap_or_default());
                    let error = e.to_string();
                    self.write_status(db, "failed", progress, Some(&error), None).await?;
                    return Err(BackfillError::BatchFailed { name: m.name.clone(), after, attempts: attempt, error });
                }
            }
        }
    }

    async fn try_batch(
        &self,
        db: &mut dyn Driver,
        stmts: &Statements<'_>,
        progress: &mut Progress,
        upper: &[DbValue],
    ) -> Result<usize, BatchError> {
        let t0 = Instant::now();
        let cursor: Option<Vec<DbValue>> = progress.cursor.as_ref().map(|c| c.iter().map(from_json).collect());
        let mut params = cursor.as_deref().map(|c| stmts.key_params(c)).unwrap_or_default();
        params.extend(stmts.key_params(upper));
        let read = db.fetch(&stmts.read(cursor.is_some(), progress.batch_size), &params).await?;
        let n = read.rows.len();
        if n == 0 {
            return Ok(0);
        }
        let key_len = self.manifest.key.len();
        let last: Vec<DbValue> = read.rows[n - 1][..key_len].to_vec();
        let batch = Batch {
            columns: self.manifest.columns.clone(),
            key: self.manifest.key.clone(),
            rows: read.rows.into_iter().map(|r| r.into_iter().map(to_plugin).collect()).collect(),
        };
        let tp = Instant::now();
        let changes: Vec<Change> = self.plugin.process(&batch).await?;
        let plugin_ms = tp.elapsed().as_millis() as u64;
        let mut writes = Vec::new();
        if db.dialect() == Dialect::Postgres {
            // SET LOCAL ends with the batch's transaction: nothing leaks into the session.
            writes.push((format!("SET LOCAL lock_timeout = '{}ms'", self.manifest.lock_timeout.as_millis()), vec![]));
            writes.push((
                format!("SET LOCAL statement_timeout = '{}ms'", self.manifest.statement_timeout.as_millis()),
                vec![],
            ));
        }
        writes.extend(
            stmts
                .writes(&changes)
                .map_err(|message| BatchError::Output { plugin: self.manifest.name.clone(), message })?,
        );
        let mut next = progress.clone();
        next.cursor = Some(last.iter().map(to_json).collect());
        next.rows_done += n as u64;
        next.changes += changes.len() as u64;
        next.batches += 1;
        next.plugin_ms += plugin_ms;
        next.batch_ms += t0.elapsed().as_millis() as u64;
        writes.push(self.state.backfill_write(&self.manifest.name, STATUS_RUNNING, &next.to_json(), None, None));
        db.transaction_with(&writes).await?;
        *progress = next;
        Ok(n)
    }

    /// Sizes the next batch to take about the manifest's time target: grow at most ×1.2 a step
    /// (GitLab's optimiser), shrink at once, within the manifest's bounds.
    fn adapt(&self, p: &mut Progress, took: Duration, rows: usize) {
        let m = self.manifest;
        let secs = took.as_secs_f64().max(1e-6);
        let rate = rows as f64 / secs;
        p.rate = if p.rate == 0.0 { rate } else { 0.6 * p.rate + 0.4 * rate };
        if rows < p.batch_size {
            return; // a short last batch says nothing about speed
        }
        let factor = (m.time_target.as_secs_f64() / secs).clamp(0.5, 1.2);
        p.batch_size = ((p.batch_size as f64 * factor) as usize).clamp(m.min_size, m.max_size);
    }
}

async fn types(db: &mut dyn Driver, table: &str) -> Result<HashMap<String, String>, BackfillError> {
    let rows = db.query(&column_types_sql(table)).await?;
    Ok(rows.into_iter().filter_map(|r| Some((r.first().cloned().flatten()?, r.get(1).cloned().flatten()?))).collect())
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
}
