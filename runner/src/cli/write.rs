//! Commands that change the database: apply, revert, stamp, reset, repair.

use super::output::{json, plan_json, print_plan};
use super::{OutputArgs, Preview, PreviewArgs};
use crate::deploy::{Deploy, DeployObserver};
use crate::error::{ExitCode, RunnerError};
use crate::refusal::Refusal;
use crate::report::Report;
use crate::runner::{Access, Runner};
use crate::settings::Settings;
use runner_revisions::plan::ApplyRules;
use runner_revisions::{Plan, Target};

fn access(preview: PreviewArgs) -> Access {
    if preview.mode() != Preview::Run { Access::ReadOnly } else { Access::ReadWrite }
}

/// `--dry-run` / `--sql`: print the plan the real run would carry out.
fn print_preview(runner: &Runner, plan: &Plan, preview: PreviewArgs, out: OutputArgs) -> Result<(), RunnerError> {
    if preview.mode() == Preview::Sql {
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
        return Err(Refusal::Usage("`apply --to base` does nothing; use `runner revert --to base`".into()).into());
    }
    let mut runner = Runner::open(settings, access(preview)).await?;
    if preview.mode() != Preview::Run {
        let plan = runner.plan_apply(&target, rules).await;
        return show_preview(runner, plan, preview, out).await;
    }
    let with_backfills = backfills.is_some();
    let result = match backfills {
        Some(options) => {
            let mut shown = Terminal { json: out.json };
            runner.apply_with_backfills(target, rules, options, &mut shown).await.inspect(|deploy| {
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
            })
        }
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

/// A deploy's progress as a person (or a CI log) reads it; under `--json`, only the final
/// object is printed, and errors still go to stderr.
struct Terminal {
    json: bool,
}

impl DeployObserver for Terminal {
    fn steps(&mut self, steps: &[crate::report::StepDone]) {
        if !self.json {
            print_steps(steps);
        }
    }

    fn progress(&mut self, name: &str) -> Box<dyn FnMut(&runner_backfill::Progress) + Send> {
        Box::new(super::backfill::progress_printer(name))
    }

    fn backfill_ran(&mut self, report: &runner_backfill::RunReport) {
        if !self.json {
            super::backfill::print_run(report);
        }
    }

    fn backfill_failed(&mut self, name: &str, error: &RunnerError) {
        errln!("error: backfill {name}: {error}");
    }
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
                return Err(Refusal::Usage("`revert --to head` does nothing; name a revision or `base`".into()).into());
            }
            t => t,
        },
        (Some(n), None) => Target::Steps(n),
        (None, None) => Target::Steps(1),
    };
    let mut runner = Runner::open(settings, access(preview)).await?;
    if preview.mode() != Preview::Run {
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
    if preview.mode() != Preview::Run {
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
        return Err(RunnerError::from(Refusal::Usage(
            "`runner reset` reverts every revision and applies them again, losing the data in those tables; \
             it is meant for development databases. Run `runner reset --confirm` to go ahead."
                .into(),
        )));
    }
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let reset = runner.reset().await;
    runner.close().await;
    let reset = reset?;
    print_report(&reset.reverted, OutputArgs { json: false }, "Nothing to revert.");
    print_report(&reset.applied?, OutputArgs { json: false }, "Nothing to apply.");
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
