//! Commands that change the database: apply, revert, stamp, reset, repair.

use super::output::{json, plan_json, print_plan};
use super::{OutputArgs, PreviewArgs};
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
        None => runner.apply_with(target, rules).await.map(|r| (r, Vec::new())),
    };
    runner.close().await;
    let (report, backfills) = result?;
    if out.json {
        json(&serde_json::json!({ "revisions": report, "backfills": backfills }));
    } else if !with_backfills {
        print_report(&report, out, "Nothing to apply: the database is up to date.");
    }
    Ok(ExitCode::Ok)
}

/// `apply --with-backfills`: revisions up to a gate, the backfills that are ready, and again,
/// until nothing more can be done (expand → backfill → contract in one deploy).
async fn apply_and_backfill(
    runner: &mut Runner,
    target: &Target,
    rules: ApplyRules,
    options: crate::BackfillOptions,
    out: OutputArgs,
) -> Result<(Report, Vec<runner_backfill::RunReport>), RunnerError> {
    let mut all = Report::default();
    let mut backfills = Vec::new();
    loop {
        let report = runner.apply_with(target.clone(), rules).await?;
        let progressed = !report.steps.is_empty();
        if !out.json {
            // As they happen: revisions, then the backfills they made ready, then the rest.
            print_steps(&report.steps);
        }
        all.steps.extend(report.steps);
        all.gate = report.gate;
        let ran = run_ready_backfills(runner, options, out).await?;
        let completed_any = ran.iter().any(|r| r.outcome == runner_backfill::Outcome::Completed);
        backfills.extend(ran);
        if all.gate.is_none() || !(completed_any || progressed) {
            break;
        }
    }
    if !out.json {
        if all.steps.is_empty() && all.gate.is_none() {
            outln!("Revisions: nothing to apply.");
        } else {
            print_summary(&all);
        }
        if backfills.is_empty() {
            outln!("Backfills: nothing to run.");
        }
    }
    Ok((all, backfills))
}

/// Every backfill whose revision is applied and that is not complete
/// or paused, one after the other; the first failure stops the run.
async fn run_ready_backfills(
    runner: &mut Runner,
    options: crate::BackfillOptions,
    out: OutputArgs,
) -> Result<Vec<runner_backfill::RunReport>, RunnerError> {
    let mut reports = Vec::new();
    for b in runner.backfill_status().await? {
        match (b.ready, b.status.as_str()) {
            (_, "completed") => continue,
            (false, _) => {
                tracing::info!(backfill = %b.name, requires = ?b.requires, "not ready: its revision is not applied");
                continue;
            }
            (true, "paused") => {
                tracing::warn!(backfill = %b.name, "paused; skipped (`runner backfill resume` to continue)");
                continue;
            }
            _ => {}
        }
        let printer = super::backfill::progress_printer(&b.name);
        let report = runner.run_backfill(&b.name, options, printer).await?;
        if !out.json {
            super::backfill::print_run(&report);
        }
        reports.push(report);
    }
    Ok(reports)
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

pub async fn repair(settings: Settings, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = runner.repair().await;
    runner.close().await;
    let done = result?;
    if out.json {
        json(&done);
    } else if done.is_empty() {
        outln!("Nothing to repair.");
    } else {
        for d in &done {
            match d {
                crate::runner::Repaired::AcceptedChecksum { id } => {
                    outln!("accepted the edited file of `{id}` (checksum re-recorded)")
                }
                crate::runner::Repaired::Forgot { id } => {
                    outln!("forgot `{id}` (no file defines it)")
                }
                crate::runner::Repaired::MarkedApplied { id } => {
                    outln!("recorded unfinished `{id}` as applied")
                }
            }
        }
    }
    Ok(ExitCode::Ok)
}
