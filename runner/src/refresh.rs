//! Scheduled refreshes through the [`Runner`]: checking them at start-up, running one now
//! (`runner refresh`), and the cron loop (`runner cron`) that many replicas may run at once.

use crate::error::RunnerError;
use crate::lock::Scope;
use crate::refresh_sql as sql;
use crate::runner::Runner;
use chrono::{DateTime, Utc};
use runner_db::Dialect;
use runner_schedule::{Refresh, Target, slot_name};
use runner_state::{RefreshProgress, RefreshStatus, SlotStatus};
use std::time::{Duration, Instant};

/// Slot rows kept per refresh beyond its grace window, for `status` and operators.
const SLOTS_KEPT: usize = 3;

/// How one run of a refresh ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RefreshOutcome {
    Ok {
        duration_ms: u64,
        rows: Option<u64>,
    },
    Failed {
        error: String,
    },
    /// The previous run of this refresh was still going (runs never overlap).
    Overlapping,
    /// The revision it requires is not applied yet.
    Waiting {
        revision: String,
    },
}

/// Metrics and webhooks of a cron process.
#[derive(Debug, Default)]
pub struct CronOps {
    pub metrics: Option<crate::cron_ops::SharedMetrics>,
    pub webhook: Option<crate::cron_ops::Webhook>,
}

impl CronOps {
    /// Tells `/health` when `r` must have run by: its next slot plus its grace.
    fn expect(&self, r: &Refresh, next: Option<DateTime<Utc>>) {
        if let Some(mut m) = self.metrics.as_ref().and_then(|m| m.lock().ok()) {
            let grace = chrono::Duration::from_std(r.grace).unwrap_or_default().max(chrono::Duration::seconds(1));
            m.expect(&r.name, next.map(|t| (t + grace).timestamp_millis() as f64 / 1000.0));
        }
    }

    /// Counts a run, and notifies on the transitions operators care about: a failure (after
    /// success or on the first run) and a recovery.
    fn observe(&self, refresh: &str, before: Option<RefreshStatus>, outcome: &RefreshOutcome, slot: DateTime<Utc>) {
        if let Some(mut m) = self.metrics.as_ref().and_then(|m| m.lock().ok()) {
            m.record(refresh, outcome);
        }
        let Some(hook) = &self.webhook else { return };
        let event = match (before, outcome) {
            (Some(RefreshStatus::Failed), RefreshOutcome::Failed { .. }) => None,
            (_, RefreshOutcome::Failed { error }) => Some(("failure", Some(error.clone()))),
            (Some(RefreshStatus::Failed), RefreshOutcome::Ok { .. }) => Some(("recovery", None)),
            _ => None,
        };
        if let Some((event, error)) = event {
            hook.notify(serde_json::json!({
                "event": event,
                "refresh": refresh,
                "slot": slot.to_rfc3339(),
                "error": error,
                "host": crate::host::hostname(),
            }));
        }
    }
}

/// A refresh as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefreshSummary {
    pub name: String,
    pub schedule: String,
    /// `ok` or `failed` after its last run, `None` (JSON `null`, "never" in text) before the first.
    pub last_outcome: Option<RefreshStatus>,
    pub last_run_at: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub last_error: Option<String>,
    pub rows: Option<u64>,
    pub runs: u64,
    pub failures: u64,
    pub next_run: Option<String>,
}

impl Runner {
    /// Every configured refresh with its last run (from the state table) and next slot.
    pub async fn refresh_status(&mut self) -> Result<Vec<RefreshSummary>, RunnerError> {
        let specs = self.refresh_specs()?;
        let rows = {
            let (state, db) = self.parts();
            state.load_refreshes(db).await?
        };
        let now = Utc::now();
        Ok(specs
            .iter()
            .map(|r| {
                let row = rows.iter().find(|x| x.name == r.name);
                let p = row.map(|x| x.progress.clone()).unwrap_or_default();
                RefreshSummary {
                    name: r.name.clone(),
                    schedule: r.schedule.clone(),
                    last_outcome: row.map(|x| x.status),
                    last_run_at: row.and_then(|x| x.last_run_at.clone()),
                    last_duration_ms: row.and_then(|x| x.duration_ms),
                    last_error: row.and_then(|x| x.error.clone()),
                    rows: p.rows,
                    runs: p.runs,
                    failures: p.failures,
                    next_run: r.next_slot(now).map(|t| t.to_rfc3339()),
                }
            })
            .collect())
    }

    /// The validated `[[refresh]]` entries of `runner.toml`.
    pub fn refresh_specs(&self) -> Result<Vec<Refresh>, RunnerError> {
        runner_schedule::validate(self.settings().refreshes.clone()).map_err(RunnerError::RefreshSpecs)
    }

    /// Checks each refresh against the database (the view exists, CONCURRENTLY has its unique
    /// index, the table exists), so that `runner cron` fails at start-up, naming the refresh,
    /// rather than at 3 a.m. Refreshes waiting for a revision are checked once it is applied.
    pub async fn check_refreshes(&mut self, specs: &[Refresh]) -> Result<(), RunnerError> {
        let history = self.history().await?;
        let mut problems = Vec::new();
        for r in specs {
            if r.requires.as_ref().is_some_and(|rev| !history.is_applied(rev)) {
                continue;
            }
            if let Err(e) = self.check_refresh(r).await {
                problems.push(e);
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(RunnerError::RefreshChecks(problems)) }
    }

    async fn check_refresh(&mut self, r: &Refresh) -> Result<(), String> {
        let dialect = self.db_mut().dialect();
        let name = &r.name;
        match (&r.target, dialect) {
            (Target::Plugin { manifest }, _) => {
                let m = self.manifest(manifest).map_err(|e| format!("refresh `{name}`: {e}"))?;
                if m.role != runner_backfill::Role::Refresh {
                    return Err(format!("refresh `{name}`: manifest `{manifest}` must have role = \"refresh\""));
                }
                Ok(())
            }
            (Target::View { .. }, Dialect::Sqlite) => {
                Err(format!("refresh `{name}`: SQLite has no materialized views; declare `table` and `query` instead"))
            }
            (Target::View { view, concurrently }, Dialect::Postgres) => {
                if self.scalar(&sql::view_exists(view)).await? == "0" {
                    return Err(format!("refresh `{name}`: no materialized view `{view}`"));
                }
                if *concurrently && self.scalar(&sql::view_unique_indexes(view)).await? == "0" {
                    return Err(format!(
                        "refresh `{name}`: REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index on plain columns of `{view}` \
                         (no expression, no WHERE); add one, e.g. CREATE UNIQUE INDEX ON {view} (<key columns>), or set concurrently = false"
                    ));
                }
                Ok(())
            }
            (Target::Table { table, .. }, _) => {
                if self.scalar(&sql::table_exists(dialect, table)).await? == "0" {
                    return Err(format!("refresh `{name}`: no table `{table}`"));
                }
                Ok(())
            }
        }
    }

    async fn scalar(&mut self, sql: &str) -> Result<String, String> {
        let rows = self.db_mut().query(sql).await.map_err(|e| e.to_string())?;
        Ok(rows.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default())
    }

    /// Runs one refresh now (for `slot`, if the cron loop claimed one), with retries, and
    /// records the outcome. Another run of the same refresh in progress anywhere makes this one
    /// `Overlapping`: runs never overlap.
    pub async fn run_refresh(
        &mut self,
        r: &Refresh,
        slot: Option<DateTime<Utc>>,
    ) -> Result<RefreshOutcome, RunnerError> {
        let history = self.history().await?;
        if let Some(rev) = r.requires.as_ref().filter(|rev| !history.is_applied(rev)) {
            return Ok(RefreshOutcome::Waiting { revision: rev.clone() });
        }
        // Before anything runs: the run is recorded after it commits, and a missing state
        // table would fail that record with the refresh already done.
        self.state_table().clone().ensure(self.db_mut()).await?;
        let held = match self.lock_scope_within(&Scope::Refresh(r.name.clone()), Duration::ZERO).await {
            Ok(h) => h,
            Err(RunnerError::LockTimeout { .. }) => return Ok(RefreshOutcome::Overlapping),
            Err(e) => return Err(e),
        };
        let result = self.run_refresh_locked(r, slot).await;
        self.unlock(held, result).await
    }

    async fn run_refresh_locked(
        &mut self,
        r: &Refresh,
        slot: Option<DateTime<Utc>>,
    ) -> Result<RefreshOutcome, RunnerError> {
        let started_at = Utc::now();
        let started = Instant::now();
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            match self.refresh_once(r).await {
                Ok(rows) => break RefreshOutcome::Ok { duration_ms: started.elapsed().as_millis() as u64, rows },
                Err(e) if attempts <= r.retries => {
                    tracing::warn!(refresh = %r.name, attempt = attempts, error = %e, "refresh failed; retrying");
                    runner_db::backoff::Backoff::SERVICE.sleep(attempts).await;
                }
                Err(e) => break RefreshOutcome::Failed { error: e },
            }
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        let prev = {
            let (state, db) = self.parts();
            state.load_refreshes(db).await?.into_iter().find(|x| x.name == r.name).map(|p| p.progress)
        }
        .unwrap_or_default();
        let (status, error, rows) = match &outcome {
            RefreshOutcome::Ok { rows, .. } => (RefreshStatus::Ok, None, *rows),
            RefreshOutcome::Failed { error } => (RefreshStatus::Failed, Some(error.as_str()), None),
            _ => unreachable!("only runs are recorded"),
        };
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let finished = stamp(Utc::now());
        let progress = RefreshProgress {
            runs: prev.runs + 1,
            failures: prev.failures + u64::from(status == RefreshStatus::Failed),
            last_success: if status == RefreshStatus::Ok { Some(finished.clone()) } else { prev.last_success },
            last_slot: slot.map(|s| s.to_rfc3339()),
            last_started: Some(stamp(started_at)),
            last_finished: Some(finished),
            rows,
            attempts,
        };
        let mut writes = vec![self.state_table().refresh_write(&r.name, status, &progress, error, duration_ms)];
        if let Some(s) = slot {
            writes.push((
                self.state_table().slot_finish(&slot_name(&r.name, s), status.into(), error, duration_ms),
                vec![],
            ));
        }
        self.db_mut().transaction_with(&writes).await?;
        match &outcome {
            RefreshOutcome::Ok { .. } => tracing::info!(refresh = %r.name, ms = duration_ms, "refreshed"),
            RefreshOutcome::Failed { error } => tracing::error!(refresh = %r.name, error = %error, "refresh failed"),
            _ => {}
        }
        Ok(outcome)
    }

    /// One attempt; returns the rows of a rebuilt table.
    async fn refresh_once(&mut self, r: &Refresh) -> Result<Option<u64>, String> {
        match &r.target {
            Target::View { view, concurrently } => {
                // CONCURRENTLY cannot run on a view never populated; the first refresh runs without.
                let populated = self.scalar(&sql::view_populated(view)).await? != "0";
                self.db_mut()
                    .execute(&sql::refresh_view(view, *concurrently && populated))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(None)
            }
            Target::Plugin { manifest } => {
                let m = self.manifest(manifest).map_err(|e| e.to_string())?;
                let grants = m.grants(None);
                let plugin = self.load_plugin(&m, grants).await.map_err(|e| e.to_string())?;
                let db = self.db_mut();
                db.begin().await.map_err(|e| e.to_string())?;
                let rebuilt = async {
                    db.execute(&sql::clear(&m.target_table)).await.map_err(|e| e.to_string())?;
                    runner_backfill::run_in_transaction(db, &m, &plugin).await.map_err(|e| e.to_string())
                }
                .await;
                match rebuilt {
                    Ok(_) => db.commit().await.map_err(|e| e.to_string())?,
                    Err(e) => {
                        let _ = db.rollback().await;
                        return Err(e);
                    }
                }
                let rows = self.scalar(&sql::count(&m.target_table)).await?;
                Ok(rows.parse().ok())
            }
            Target::Table { table, query } => {
                let stmts = [sql::clear(table), sql::fill(table, query)];
                let refs: Vec<&str> = stmts.iter().map(String::as_str).collect();
                self.db_mut().transaction(&refs).await.map_err(|e| e.to_string())?;
                let rows = self.scalar(&sql::count(table)).await?;
                Ok(rows.parse().ok())
            }
        }
    }

    /// `runner cron`: runs every refresh on its schedule until `stop` resolves, finishing the
    /// refresh in progress first. Each slot is claimed in the state table before it runs, so
    /// several replicas run it once between them.
    pub async fn run_cron(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
        ops: &CronOps,
    ) -> Result<u64, RunnerError> {
        let specs = self.refresh_specs()?;
        if specs.is_empty() {
            return Err(RunnerError::NoRefreshes);
        }
        self.state_table().clone().ensure(self.db_mut()).await?;
        self.check_refreshes(&specs).await?;
        let owner = runner_state::Owner::this_process(None).encode();
        let mut runs = 0;
        let now = Utc::now();
        let mut next: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(specs.len());
        for r in &specs {
            if let Some(slot) = r.missed_slot(now) {
                runs += self.run_slot(r, slot, &owner, ops).await? as u64;
            }
            next.push(r.next_slot(now));
            ops.expect(r, next[next.len() - 1]);
        }
        tracing::info!(refreshes = specs.len(), "cron started");
        tokio::pin!(stop);
        loop {
            let Some(due) = next.iter().flatten().min().copied() else { return Ok(runs) };
            let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = &mut stop => {
                    tracing::info!("cron stopping");
                    return Ok(runs);
                }
                _ = tokio::time::sleep(wait) => {}
            }
            for (i, r) in specs.iter().enumerate() {
                let Some(slot) = next[i].filter(|s| *s <= Utc::now()) else { continue };
                runs += self.run_slot(r, slot, &owner, ops).await? as u64;
                // A late replica skips slots that passed while it was busy, rather than bursting.
                next[i] = r.next_slot(slot.max(Utc::now() - chrono::Duration::milliseconds(1)));
                ops.expect(r, next[i]);
            }
        }
    }

    /// Claims `slot` of `r` and runs it if this replica won the claim.
    async fn run_slot(
        &mut self,
        r: &Refresh,
        slot: DateTime<Utc>,
        owner: &str,
        ops: &CronOps,
    ) -> Result<bool, RunnerError> {
        let name = slot_name(&r.name, slot);
        let won = {
            let (state, db) = self.parts();
            state.claim_slot(db, &name, owner).await?
        };
        if !won {
            return Ok(false);
        }
        // Slots older than the grace window can no longer be claimed: only the latest few stay.
        let horizon = chrono::Duration::from_std(r.grace).unwrap_or_default();
        let prune = self.state_table().slots_prune(&r.name, &slot_name(&r.name, slot - horizon), SLOTS_KEPT);
        self.db_mut().execute(&prune).await?;
        let before = {
            let (state, db) = self.parts();
            state.load_refreshes(db).await?.into_iter().find(|x| x.name == r.name).map(|x| x.status)
        };
        let outcome = self.run_refresh(r, Some(slot)).await?;
        ops.observe(&r.name, before, &outcome, slot);
        match outcome {
            RefreshOutcome::Overlapping => {
                let sql = self.state_table().slot_finish(
                    &name,
                    SlotStatus::Skipped,
                    Some("the previous run was still going"),
                    0,
                );
                self.db_mut().execute(&sql).await?;
                Ok(false)
            }
            RefreshOutcome::Waiting { revision } => {
                let sql = self.state_table().slot_finish(
                    &name,
                    SlotStatus::Skipped,
                    Some(&format!("waiting for revision {revision}")),
                    0,
                );
                self.db_mut().execute(&sql).await?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }
}
