//! One run of one refresh: under its lock, with retries, recorded in the state table.

use super::RefreshOutcome;
use super::sql;
use crate::error::RunnerError;
use crate::lock::Scope;
use crate::runner::Runner;
use chrono::{DateTime, Utc};
use runner_schedule::{Refresh, Target, slot_name};
use runner_state::{RefreshProgress, RefreshStatus};
use std::time::{Duration, Instant};

impl Runner {
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
                // Only what may succeed later is retried: bad SQL or a missing table fails the
                // same way every time, and retrying it only delays the report. Nor is anything
                // retried once a stop was requested.
                Err(e)
                    if attempts <= r.retries
                        && e.may_succeed_later()
                        && runner_db::interrupt::requested().is_none() =>
                {
                    tracing::warn!(refresh = %r.name, attempt = attempts, error = %e, "refresh failed; retrying");
                    runner_db::backoff::Backoff::SERVICE.sleep(attempts).await;
                }
                Err(e) => break RefreshOutcome::Failed { error: e.to_string() },
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

    /// One attempt; returns the rows of a rebuilt table. Errors keep their kind, so the caller
    /// can tell a lost connection from bad SQL.
    async fn refresh_once(&mut self, r: &Refresh) -> Result<Option<u64>, RunnerError> {
        match &r.target {
            Target::View { view, concurrently } => {
                // CONCURRENTLY cannot run on a view never populated; the first refresh runs without.
                let populated = self.scalar(&sql::view_populated(view)).await? != "0";
                self.db_mut().execute(&sql::refresh_view(view, *concurrently && populated)).await?;
                Ok(None)
            }
            Target::Plugin { manifest } => {
                let m = self.manifest(manifest)?;
                let grants = m.grants(None);
                let plugin = self.load_plugin(&m, grants).await?;
                let db = self.db_mut();
                db.begin().await?;
                let rebuilt = async {
                    db.execute(&sql::clear(&m.target_table)).await?;
                    runner_backfill::run_in_transaction(db, &m, &plugin).await.map_err(RunnerError::from)
                }
                .await;
                match rebuilt {
                    Ok(_) => db.commit().await?,
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
                self.db_mut().transaction(&refs).await?;
                let rows = self.scalar(&sql::count(table)).await?;
                Ok(rows.parse().ok())
            }
        }
    }
}
