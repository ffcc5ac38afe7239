//! `apply --with-backfills` as one library call: revisions up to a gate, the backfills that
//! are ready, and again until nothing more can be done (expand → backfill → contract in one
//! deploy), with an observer for whatever output the caller wants.

use crate::backfills::{BackfillOptions, BackfillState};
use crate::error::{ExitCode, RunnerError};
use crate::report::{Report, StepDone};
use crate::runner::Runner;
use runner_backfill::{Outcome, Progress, RunReport};
use runner_revisions::Target;
use runner_revisions::plan::ApplyRules;

impl Runner {
    /// Applies revisions to `target` and runs every backfill that is ready, interleaved where
    /// a revision requires a backfill, as `runner apply --with-backfills` does. A backfill that
    /// fails does not stop the others; bad input, a lost connection or lock does.
    pub async fn apply_with_backfills(
        &mut self,
        target: Target,
        rules: ApplyRules,
        options: BackfillOptions,
        observer: &mut dyn DeployObserver,
    ) -> Result<Deploy, RunnerError> {
        apply_with_backfills(self, &target, rules, options, observer).await
    }
}

/// What `apply` did: revisions, backfills run, backfills that failed (name, error), and why it
/// stopped before the head, if it did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Deploy {
    /// Revisions applied, and where they stopped (a gate on backfills) if they did.
    pub report: Report,
    /// Backfills run in this deploy, in order.
    pub backfills: Vec<RunReport>,
    /// Backfills that failed: (name, error). They do not stop the others.
    pub failures: Vec<(String, String)>,
    /// Why the deploy stopped before the head, with what to do.
    pub reason: Option<String>,
}

/// What a deploy tells as it goes, for output; every method has a default that does nothing.
pub trait DeployObserver: Send {
    /// Revisions just applied, as they happen.
    fn steps(&mut self, _steps: &[StepDone]) {}
    /// Receives the progress of backfill `name` after every batch, from its workers.
    fn progress(&mut self, _name: &str) -> Box<dyn FnMut(&Progress) + Send> {
        Box::new(|_| {})
    }
    /// A backfill ran (completed, or stopped for a reason in its report).
    fn backfill_ran(&mut self, _report: &RunReport) {}
    /// A backfill failed; the deploy goes on with the others.
    fn backfill_failed(&mut self, _name: &str, _error: &RunnerError) {}
}

/// Observes nothing.
pub struct Quiet;

impl DeployObserver for Quiet {}

/// `apply --with-backfills`: revisions up to a gate, the backfills that are ready, and again,
/// until nothing more can be done (expand → backfill → contract in one deploy).
pub(crate) async fn apply_with_backfills(
    runner: &mut Runner,
    target: &Target,
    rules: ApplyRules,
    options: BackfillOptions,
    observer: &mut dyn DeployObserver,
) -> Result<Deploy, RunnerError> {
    if options.which == crate::backfills::Which::Ready {
        crate::backfills::require_locked_plugins(runner.settings())?;
        runner.require_safe_lookups().await?;
    }
    let mut deploy = Deploy::default();
    loop {
        let report = runner.apply_with(target.clone(), rules).await?;
        let progressed = !report.steps.is_empty();
        // As they happen: revisions, then the backfills they made ready, then the rest.
        observer.steps(&report.steps);
        deploy.report.steps.extend(report.steps);
        deploy.report.gate = report.gate;
        let needed = deploy.report.gate.as_ref().map(|g| g.backfills.clone()).unwrap_or_default();
        let (ran, failed) = run_ready_backfills(runner, options, observer, &needed).await?;
        // (Already complete: another deploy finished it meanwhile; the gate may be open now.)
        let mut completed_any = ran.iter().any(|r| matches!(r.outcome, Outcome::Completed | Outcome::AlreadyComplete));
        // Another deploy's workers hold the rest of a backfill this one needs: wait for them to
        // finish it, then go on (rather than stop short of the head).
        let shared = ran.iter().any(|r| r.outcome == Outcome::Stopped && needed.contains(&r.name));
        deploy.backfills.extend(ran);
        deploy.failures.extend(failed);
        if shared && deploy.report.gate.is_some() {
            completed_any |= wait_for_other_workers(runner, &needed).await?;
        }
        if deploy.report.gate.is_some() && !completed_any && !needed.is_empty() {
            // Completed by another deploy since this one planned: the gate is open now.
            let statuses = runner.backfill_status().await?;
            completed_any =
                needed.iter().all(|n| statuses.iter().any(|b| &b.name == n && b.status == BackfillState::Completed));
        }
        if deploy.report.gate.is_none() || !(completed_any || progressed) {
            break;
        }
    }
    if let Some(gate) = &deploy.report.gate {
        deploy.reason = Some(gate_reason(runner, gate).await?);
    }
    Ok(deploy)
}

/// Waits while other processes work on the backfills in `needed`; true once they are all
/// completed or no live worker holds them (then this deploy goes around again), false if one
/// stops otherwise (paused, failed) or this process is stopped.
async fn wait_for_other_workers(runner: &mut Runner, needed: &[String]) -> Result<bool, RunnerError> {
    let mut said = std::time::Instant::now() - std::time::Duration::from_secs(60);
    loop {
        if runner_db::interrupt::requested().is_some() {
            return Ok(false);
        }
        let statuses = runner.backfill_status().await?;
        let of = |name: &String| statuses.iter().find(|b| &b.name == name).map(|b| b.status);
        if needed.iter().all(|n| of(n) == Some(BackfillState::Completed)) {
            return Ok(true);
        }
        // No live worker holds a range any more (they finished their ranges, or died): go
        // around again, and this deploy finishes or takes over what is left.
        if needed.iter().any(|n| of(n) == Some(BackfillState::Interrupted)) {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            return Ok(true);
        }
        if needed.iter().any(|n| !matches!(of(n), Some(BackfillState::Running | BackfillState::Completed))) {
            return Ok(false);
        }
        if said.elapsed() >= std::time::Duration::from_secs(10) {
            tracing::info!(backfills = ?needed, "waiting for other workers to finish the backfills the next revision needs");
            said = std::time::Instant::now();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Why the backfills a gated revision needs did not complete in this deploy, with what to do
/// (not "run apply --with-backfills", which is what just happened).
async fn gate_reason(runner: &mut Runner, gate: &runner_revisions::Gate) -> Result<String, RunnerError> {
    let statuses = runner.backfill_status().await?;
    let reasons: Vec<String> = gate
        .backfills
        .iter()
        .map(|name| match statuses.iter().find(|b| &b.name == name) {
            Some(b) if b.status == BackfillState::Paused => {
                format!("backfill `{name}` is paused; `runner backfill resume {name}`, then run this again")
            }
            Some(b) if b.status == BackfillState::Failed => format!(
                "backfill `{name}` failed: {}; fix the cause, then `runner backfill retry {name}` and run this again",
                b.error.as_deref().unwrap_or("(no error recorded)")
            ),
            Some(b) if !b.ready => format!(
                "backfill `{name}` waits for revision `{}`, which is not applied",
                b.requires.as_deref().unwrap_or("?")
            ),
            Some(b) => format!("backfill `{name}` {} and is not complete", b.status.phrase()),
            None => format!("no backfill `{name}` in backfills/"),
        })
        .collect();
    Ok(format!("revision `{}` cannot run yet: {}", gate.revision, reasons.join("; ")))
}

/// Every backfill whose revision is applied and that is not complete, paused or failed, one
/// after the other, those the gated revision needs first. A backfill that fails does not stop
/// the others: an unrelated failure must not hold back the ones a pending revision needs. A
/// lost connection or lock stops the deploy.
async fn run_ready_backfills(
    runner: &mut Runner,
    options: BackfillOptions,
    observer: &mut dyn DeployObserver,
    needed: &[String],
) -> Result<(Vec<RunReport>, Vec<(String, String)>), RunnerError> {
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    let mut statuses = runner.backfill_status().await?;
    statuses.sort_by_key(|b| !needed.contains(&b.name));
    if options.which == crate::backfills::Which::Gating {
        statuses.retain(|b| needed.contains(&b.name));
    }
    for b in statuses {
        if runner_db::interrupt::requested().is_some() {
            break;
        }
        match (b.ready, b.status) {
            (_, BackfillState::Completed) => continue,
            (false, _) => {
                tracing::info!(backfill = %b.name, requires = ?b.requires, "not ready: its revision is not applied");
                continue;
            }
            (true, BackfillState::Paused) => {
                tracing::warn!(backfill = %b.name, "paused; skipped (`runner backfill resume` to continue)");
                continue;
            }
            (true, BackfillState::Failed) => {
                tracing::warn!(backfill = %b.name, error = b.error.as_deref().unwrap_or(""), "failed earlier; skipped (`runner backfill retry` to run it again)");
                continue;
            }
            _ => {}
        }
        let progress = observer.progress(&b.name);
        match runner.run_backfill(&b.name, options, progress).await {
            Ok(report) => {
                observer.backfill_ran(&report);
                reports.push(report);
            }
            // Bad input (a manifest naming what the database lacks), a lost connection or lock:
            // the deploy stops, with that error's own exit code.
            Err(e) if e.is_connection_lost() || matches!(e.exit_code(), ExitCode::LockTimeout | ExitCode::Invalid) => {
                return Err(e);
            }
            Err(e) => {
                observer.backfill_failed(&b.name, &e);
                failures.push((b.name.clone(), e.to_string()));
            }
        }
    }
    Ok((reports, failures))
}
