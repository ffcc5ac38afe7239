//! The cron loop: every refresh on its schedule, each slot claimed in the state table first so
//! that many replicas run it once between them.

use super::RefreshOutcome;
use crate::error::RunnerError;
use crate::runner::Runner;
use chrono::{DateTime, Utc};
use runner_schedule::{Refresh, slot_name};
use runner_state::{RefreshStatus, SlotStatus};
use std::time::Duration;

/// Slot rows kept per refresh beyond its grace window, for `status` and operators.
const SLOTS_KEPT: usize = 3;

/// How long one webhook call may take unless `[cron] webhook_timeout_secs` says.
const WEBHOOK_TIMEOUT_SECS: u64 = 5;
/// Retries of a failed webhook call unless `[cron] webhook_retries` says.
const WEBHOOK_RETRIES: u32 = 3;

/// Metrics and webhooks of a cron process.
#[derive(Debug, Default)]
pub struct CronOps {
    /// Where run counters go, when `/metrics` is served.
    pub metrics: Option<super::ops::SharedMetrics>,
    /// Where run outcomes are posted, when a webhook is set.
    pub webhook: Option<super::ops::Webhook>,
}

impl CronOps {
    /// What `[cron]` in runner.toml asks for, with its defaults (webhook calls of 5 s, 3
    /// retries): `/health` and `/metrics` served on `listen` (else `config.listen`), from now on,
    /// and the webhook. What `runner cron` runs with, for an application that runs the loop itself.
    pub async fn start(config: &crate::settings::CronConfig, listen: Option<String>) -> Result<CronOps, RunnerError> {
        let mut ops = CronOps::default();
        if let Some(addr) = listen.or_else(|| config.listen.clone()) {
            let metrics = super::ops::SharedMetrics::default();
            if let (Some(n), Ok(mut m)) = (config.unhealthy_after_failures, metrics.lock()) {
                m.unhealthy_after_failures = n;
            }
            let bound = super::ops::serve(&addr, metrics.clone())
                .await
                .map_err(|cause| RunnerError::Io { context: format!("listening on {addr}"), cause })?;
            tracing::info!(address = %bound, "serving /health and /metrics");
            ops.metrics = Some(metrics);
        }
        if let Some(url) = config.webhook_url.clone() {
            ops.webhook = Some(super::ops::Webhook {
                url,
                timeout: std::time::Duration::from_secs(config.webhook_timeout_secs.unwrap_or(WEBHOOK_TIMEOUT_SECS)),
                retries: config.webhook_retries.unwrap_or(WEBHOOK_RETRIES),
            });
        }
        Ok(ops)
    }

    /// Tells `/health` when `r` must have run by: its next slot plus its grace.
    fn expect(&self, r: &Refresh, next: Option<DateTime<Utc>>) {
        if let Some(mut m) = self.metrics.as_ref().and_then(|m| m.lock().ok()) {
            let grace = chrono::Duration::from_std(r.grace).unwrap_or_default().max(chrono::Duration::seconds(1));
            m.expect(&r.name, next.map(|t| (t + grace).timestamp_millis() as f64 / 1000.0));
        }
    }

    /// Counts a slot that failed with a database error.
    fn slot_error(&self, refresh: &str) {
        if let Some(mut m) = self.metrics.as_ref().and_then(|m| m.lock().ok()) {
            m.slot_error(refresh);
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

impl Runner {
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
                runs += self.run_slot_or_go_on(r, slot, &owner, ops).await? as u64;
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
                runs += self.run_slot_or_go_on(r, slot, &owner, ops).await? as u64;
                // A late replica skips slots that passed while it was busy, rather than bursting.
                next[i] = r.next_slot(slot.max(Utc::now() - chrono::Duration::milliseconds(1)));
                ops.expect(r, next[i]);
            }
        }
    }

    /// [`Runner::run_slot`], where a database error (claiming the slot, running the refresh,
    /// recording it) costs this slot only: it is logged and counted, a lost connection is
    /// opened again, and the next slot is tried as usual. Only a configuration error (a
    /// manifest or refresh that became invalid) ends cron.
    async fn run_slot_or_go_on(
        &mut self,
        r: &Refresh,
        slot: DateTime<Utc>,
        owner: &str,
        ops: &CronOps,
    ) -> Result<bool, RunnerError> {
        match self.run_slot(r, slot, owner, ops).await {
            Ok(ran) => Ok(ran),
            Err(e) if e.exit_code() == crate::error::ExitCode::Invalid => Err(e),
            Err(e) => {
                tracing::error!(refresh = %r.name, slot = %slot.to_rfc3339(), error = %e, "the slot failed; cron goes on with the next one");
                ops.slot_error(&r.name);
                if e.is_connection_lost()
                    && let Err(again) = self.db_mut().reconnect().await
                {
                    tracing::warn!(error = %again, "cannot reach the database yet; trying again at the next slot");
                }
                Ok(false)
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
