//! A run of a backfill in this process: `workers` tasks, each with its own connections, claim its
//! key ranges alongside any other process doing the same, until none is left; then the run is
//! finished (verified, completed), and run again if rows were left to sweep.

use crate::engine::{Backfill, BackfillError, Finish, RunOptions, RunReport, WorkReport, worker_name};
use crate::manifest::Manifest;
use crate::progress::Progress;
use runner_db::{ConnectOptions, DatabaseUrl, Driver};
use runner_sandbox::Plugin;
use runner_state::StateTable;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a run needs: the backfill, where to connect, how many workers.
pub struct Run {
    /// The backfill's manifest.
    pub manifest: Arc<Manifest>,
    /// Its plugin, loaded.
    pub plugin: Arc<Plugin>,
    /// The state table.
    pub state: StateTable,
    /// The database, for each worker's connections.
    pub url: DatabaseUrl,
    /// How workers connect.
    pub connect: ConnectOptions,
    /// Workers in this process (SQLite always uses one).
    pub workers: usize,
    /// What the run may do.
    pub options: RunOptions,
}

/// Sees the backfill's progress after every batch, from any worker.
pub type Observer = Arc<Mutex<dyn FnMut(&Progress) + Send>>;

impl Run {
    /// Runs the workers until the backfill completes, is paused, fails, or `options` stop them.
    /// The backfill must have been prepared ([`Backfill::prepare`]).
    pub async fn run(&self, observer: Observer) -> Result<RunReport, BackfillError> {
        let started = Instant::now();
        let mut total = WorkReport::default();
        loop {
            let (work, mut db) = self.workers(observer.clone()).await?;
            total.batches += work.batches;
            total.rows += work.rows;
            total.paused |= work.paused;
            total.interrupted |= work.interrupted;
            let engine = Backfill { manifest: &self.manifest, plugin: &self.plugin, state: &self.state };
            // A signal landing while the run is finished cancels the statement in flight: the
            // run was interrupted, not failed, and says so.
            let stopping = || runner_db::interrupt::requested().is_some();
            let finished = match engine.finish(db.as_mut(), work).await {
                Err(_) if stopping() => Ok(Finish::Done(crate::Outcome::Interrupted)),
                other => other,
            };
            let result = match finished {
                Ok(Finish::Swept) if stopping() => {
                    Some(engine.report(db.as_mut(), crate::Outcome::Interrupted, total, started).await)
                }
                Ok(Finish::Swept) => None,
                Ok(Finish::Done(outcome)) => {
                    let outcome = if stopping() && outcome != crate::Outcome::Completed {
                        crate::Outcome::Interrupted
                    } else {
                        outcome
                    };
                    match engine.report(db.as_mut(), outcome, total, started).await {
                        // Only the statement in flight at the signal was cancelled: ask again.
                        Err(_) if stopping() => Some(engine.report(db.as_mut(), outcome, total, started).await),
                        other => Some(other),
                    }
                }
                Err(e) => Some(Err(e)),
            };
            db.close().await;
            if let Some(result) = result {
                return result;
            }
        }
    }

    /// One round of workers; returns what they did and a connection to finish on. The run is
    /// finished on a worker's connection: workers reconnect after a server restart, while the
    /// caller's own connection (which may hold the runner lock) does not.
    async fn workers(&self, observer: Observer) -> Result<(WorkReport, Box<dyn Driver>), BackfillError> {
        let workers = self.url.dialect().writers(self.workers);
        let mut tasks = Vec::with_capacity(workers);
        for k in 0..workers {
            let (manifest, plugin, state, observer) =
                (self.manifest.clone(), self.plugin.clone(), self.state.clone(), observer.clone());
            let (url, connect, options) = (self.url.clone(), self.connect.clone(), self.options);
            tasks.push(tokio::spawn(async move {
                let mut db = runner_db::connect(&url, &connect).await?;
                // A second connection reads ahead while the first writes (PostgreSQL; SQLite
                // has one writer and gains nothing).
                let mut reader = match db.dialect().max_writers() {
                    Some(1) => None,
                    _ => Some(runner_db::connect(&url, &connect).await?),
                };
                let engine = Backfill { manifest: &manifest, plugin: &plugin, state: &state };
                let mut report = |p: &Progress| {
                    if let Ok(mut f) = observer.lock() {
                        f(p)
                    }
                };
                let result = engine
                    .work(
                        db.as_mut(),
                        reader.as_mut().map(|r| &mut **r as &mut dyn Driver),
                        &worker_name(k),
                        options,
                        &mut report,
                    )
                    .await;
                if let Some(r) = reader {
                    r.close().await;
                }
                match result {
                    Ok(work) => Ok((work, db)),
                    Err(e) => {
                        db.close().await;
                        Err(e)
                    }
                }
            }));
        }
        let mut total = WorkReport::default();
        let mut failure = None;
        let mut finisher = None;
        for t in tasks {
            match t.await {
                Ok(Ok((w, db))) => {
                    total.batches += w.batches;
                    total.rows += w.rows;
                    total.paused |= w.paused;
                    total.interrupted |= w.interrupted;
                    match finisher {
                        None => finisher = Some(db),
                        Some(_) => db.close().await,
                    }
                }
                // Stopping: whatever a worker was doing when its statement was cancelled is the stop.
                Ok(Err(_)) if runner_db::interrupt::requested().is_some() => total.interrupted = true,
                Ok(Err(e)) => {
                    failure.get_or_insert(e);
                }
                Err(e) => {
                    failure.get_or_insert(BackfillError::WorkerStopped(e.to_string()));
                }
            }
        }
        match (failure, finisher) {
            (Some(e), finisher) => {
                if let Some(db) = finisher {
                    db.close().await;
                }
                Err(e)
            }
            (None, Some(db)) => Ok((total, db)),
            // Every worker stopped without a connection to hand over: finish on a new one.
            (None, None) => Ok((total, runner_db::connect(&self.url, &self.connect).await?)),
        }
    }
}
