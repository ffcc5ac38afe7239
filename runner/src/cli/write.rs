//! Commands that change the database: apply, revert, stamp, reset, repair.

use super::output::{json, plan_json, print_plan};
use super::{OutputArgs, PreviewArgs};
use crate::backfills::BackfillState;
use crate::error::{ExitCode, RunnerError};
use crate::report::Report;
use crate::runner::{Access, Runner};
use crate::settings::Settings;
use runner_revisions::plan::ApplyRules;
use runner_revisions::{Plan, Target};

fn access(preview: PreviewArgs) -> Access {
    if preview.dry_run || preview.sql { Access::ReadOnly } else { Access::ReadWrite }
}

/// `--dry-run` / `--sql`: print the plan the real run would carry out.
fn print_preview(runner: &Runner, plan: &Plan, preview: PreviewArgs, out: OutputArgs) -> Result<(), RunnerError> {
    if preview.sql {
        out!("{}", runner.offline_sql(plan)?);
    } else if out.json {
        json(&plan_json(plan));
    } else {
        print_plan(plan);
    }
    Ok(())
}

async fn show_preview(
    runner: Runner,
    plan: Result<Plan, RunnerError>,
    preview: PreviewArgs,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let shown = plan.and_then(|p| print_preview(&runner, &p, preview, out));
    runner.close().await;
    shown.map(|()| ExitCode::Ok)
}

fn print_report(report: &Report, out: OutputArgs, nothing: &str) {
    if out.json {
        json(report);
        return;
    }
    if report.steps.is_empty() && report.gate.is_none() {
        outln!("{nothing}");
        return;
    }
    print_steps(&report.steps);
    print_summary(report);
}

fn print_steps(steps: &[crate::report::StepDone]) {
    for s in steps {
        outln!("{:<8} {}  {}  ({} ms)", super::output::action_word(s.action), s.revision, s.description, s.duration_ms);
    }
}

fn print_summary(report: &Report) {
    match &report.gate {
        Some(gate) => outln!("Applied {} step(s), then {gate}.", report.steps.len()),
        None => outln!("Done: {} step{}.", report.steps.len(), if report.steps.len() == 1 { "" } else { "s" }),
    }
}

pub async fn apply(
    settings: Settings,
    to: Option<String>,
    rules: ApplyRules,
    backfills: Option<crate::BackfillOptions>,
    preview: PreviewArgs,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let target = to.as_deref().map_or(Target::Head, Target::parse);
    if target == Target::Base {
        return Err(RunnerError::Refused("`apply --to base` does nothing; use `runner revert --to base`".into()));
    }
    let mut runner = Runner::open(settings, access(preview)).await?;
    if preview.dry_run || preview.sql {
        let plan = runner.plan_apply(&target, rules).await;
        return show_preview(runner, plan, preview, out).await;
    }
    let with_backfills = backfills.is_some();
    let result = match backfills {
        Some(options) => apply_and_backfill(&mut runner, &target, rules, options, out).await,
        None => runner.apply_with(target, rules).await.map(|r| Deploy { report: r, ..Deploy::default() }),
    };
    runner.close().await;
    let deploy = result?;
    if out.json {
        json(&serde_json::json!({
            "steps": deploy.report.steps,
            "gate": deploy.report.gate,
            "backfills": deploy.backfills,
            "failed_backfills": deploy.failures.iter().map(|(name, error)| serde_json::json!({ "name": name, "error": error })).collect::<Vec<_>>(),
            "stopped_before": deploy.report.gate.as_ref().map(|g| &g.revision),
            "reason": deploy.reason,
        }));
    } else if !with_backfills {
        print_report(&deploy.report, out, "Nothing to apply: the database is up to date.");
    } else if let Some(reason) = &deploy.reason {
        outln!("Stopped before head: {reason}");
    }
    // Not reaching the head is not success: a deploy script must notice (exit 3).
    Ok(if runner_db::interrupt::requested().is_some() {
        ExitCode::Stopped
    } else if deploy.report.gate.is_some() {
        ExitCode::Pending
    } else if !deploy.failures.is_empty() {
        ExitCode::Failure
    } else {
        ExitCode::Ok
    })
}

/// What `apply` did: revisions, backfills run, backfills that failed (name, error), and why it
/// stopped before the head, if it did.
#[derive(Default)]
struct Deploy {
    report: Report,
    backfills: Vec<runner_backfill::RunReport>,
    failures: Vec<(String, String)>,
    reason: Option<String>,
}

/// `apply --with-backfills`: revisions up to a gate, the backfills that are ready, and again,
/// until nothing more can be done (expand → backfill → contract in one deploy).
async fn apply_and_backfill(
    runner: &mut Runner,
    target: &Target,
    rules: ApplyRules,
    options: crate::BackfillOptions,
    out: OutputArgs,
) -> Result<Deploy, RunnerError> {
    let mut deploy = Deploy::default();
    loop {
        let report = runner.apply_with(target.clone(), rules).await?;
        let progressed = !report.steps.is_empty();
        if !out.json {
            // As they happen: revisions, then the backfills they made ready, then the rest.
            print_steps(&report.steps);
        }
        deploy.report.steps.extend(report.steps);
        deploy.report.gate = report.gate;
        let needed = deploy.report.gate.as_ref().map(|g| g.backfills.clone()).unwrap_or_default();
        let (ran, failed) = run_ready_backfills(runner, options, out, &needed).await?;
        // (Already complete: another deploy finished it meanwhile; the gate may be open now.)
        let mut completed_any = ran.iter().any(|r| {
            matches!(r.outcome, runner_backfill::Outcome::Completed | runner_backfill::Outcome::AlreadyComplete)
        });
        // Another deploy's workers hold the rest of a backfill this one needs: wait for them to
        // finish it, then go on (rather than stop short of the head).
        let shared = ran.iter().any(|r| r.outcome == runner_backfill::Outcome::Stopped && needed.contains(&r.name));
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
    if !out.json {
        if deploy.report.steps.is_empty() && deploy.report.gate.is_none() {
            outln!("Revisions: nothing to apply.");
        } else if deploy.report.gate.is_none() {
            print_summary(&deploy.report);
        }
        if deploy.backfills.is_empty() && deploy.failures.is_empty() {
            outln!("Backfills: nothing to run.");
        }
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
    options: crate::BackfillOptions,
    out: OutputArgs,
    needed: &[String],
) -> Result<(Vec<runner_backfill::RunReport>, Vec<(String, String)>), RunnerError> {
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    let mut statuses = runner.backfill_status().await?;
    statuses.sort_by_key(|b| !needed.contains(&b.name));
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
        let printer = super::backfill::progress_printer(&b.name);
        match runner.run_backfill(&b.name, options, printer).await {
            Ok(report) => {
                if !out.json {
                    super::backfill::print_run(&report);
                }
                reports.push(report);
            }
            // Bad input (a manifest naming what the database lacks), a lost connection or lock:
            // the deploy stops, with that error's own exit code.
            Err(e) if e.is_connection_lost() || matches!(e.exit_code(), ExitCode::LockTimeout | ExitCode::Invalid) => {
                return Err(e);
            }
            Err(e) => {
                errln!("error: backfill {}: {e}", b.name);
                failures.push((b.name.clone(), e.to_string()));
            }
        }
    }
    Ok((reports, failures))
}

pub async fn revert(
    settings: Settings,
    steps: Option<u32>,
    to: Option<String>,
    preview: PreviewArgs,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let target = match (steps, to) {
        (_, Some(t)) => match Target::parse(&t) {
            Target::Head | Target::Heads => {
                return Err(RunnerError::Refused("`revert --to head` does nothing; name a revision or `base`".into()));
            }
            t => t,
        },
        (Some(n), None) => Target::Steps(n),
        (None, None) => Target::Steps(1),
    };
    let mut runner = Runner::open(settings, access(preview)).await?;
    if preview.dry_run || preview.sql {
        let plan = runner.plan_revert(&target).await;
        return show_preview(runner, plan, preview, out).await;
    }
    let result = runner.revert(target).await;
    runner.close().await;
    print_report(&result?, out, "Nothing to revert.");
    Ok(ExitCode::Ok)
}

pub async fn stamp(
    settings: Settings,
    revision: &str,
    preview: PreviewArgs,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let target = Target::parse(revision);
    let mut runner = Runner::open(settings, access(preview)).await?;
    if preview.dry_run || preview.sql {
        let plan = runner.plan_stamp(&target).await;
        return show_preview(runner, plan, preview, out).await;
    }
    let result = runner.stamp(target).await;
    runner.close().await;
    print_report(&result?, out, "Nothing to stamp: the history already says so.");
    Ok(ExitCode::Ok)
}

pub async fn reset(settings: Settings, confirm: bool) -> Result<ExitCode, RunnerError> {
    if !confirm {
        return Err(RunnerError::Refused(
            "`runner reset` reverts every revision and applies them again, losing the data in those tables; \
             it is meant for development databases. Run `runner reset --confirm` to go ahead."
                .into(),
        ));
    }
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let reverted = runner.revert(Target::Base).await;
    let applied = match reverted {
        Ok(r) => {
            print_report(&r, OutputArgs { json: false }, "Nothing to revert.");
            runner.apply(Target::Heads).await
        }
        Err(e) => Err(e),
    };
    runner.close().await;
    print_report(&applied?, OutputArgs { json: false }, "Nothing to apply.");
    Ok(ExitCode::Ok)
}

pub async fn repair(
    settings: Settings,
    options: crate::RepairOptions,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let access = if options.dry_run { Access::ReadOnly } else { Access::ReadWrite };
    let mut runner = Runner::open(settings, access).await?;
    let result = runner.repair(&options).await;
    runner.close().await;
    let done = result?;
    let verb = |past: &'static str, plan: &'static str| if options.dry_run { plan } else { past };
    if out.json {
        json(&serde_json::json!({ "dry_run": options.dry_run, "repairs": done }));
    } else if done.is_empty() {
        outln!("Nothing to repair.");
    } else {
        for d in &done {
            match d {
                crate::runner::Repaired::AcceptedChecksum { id } => {
                    outln!("{} the edited file of `{id}` (checksum re-recorded)", verb("accepted", "would accept"))
                }
                crate::runner::Repaired::Forgot { id } => {
                    outln!("{} `{id}` (no file defines it)", verb("forgot", "would forget"))
                }
                crate::runner::Repaired::MarkedApplied { id } => {
                    outln!("{} unfinished `{id}` as applied (--mark-done)", verb("recorded", "would record"))
                }
                crate::runner::Repaired::LeftUnfinished { id } => outln!(
                    "left unfinished `{id}` as it is: continue it with `runner apply --resume`, or, if you completed it by hand, `runner repair --mark-done {id}`"
                ),
            }
        }
    }
    Ok(ExitCode::Ok)
}
