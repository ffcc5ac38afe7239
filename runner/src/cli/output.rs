//! What the CLI prints: results on stdout (text or `--json`), logs and errors on stderr.

use super::{GlobalArgs, LogFormat, LogLevel};
use crate::error::RunnerError;
pub use crate::report::action_word;
use runner_revisions::Plan;
use std::io::IsTerminal;

pub fn init_logging(g: &GlobalArgs) {
    let level = g.log_level.as_str();
    let terminal = std::io::stderr().is_terminal();
    // Text by default, also in CI: JSON only when asked (--log-format json, RUNNER_LOG_FORMAT).
    let format = g.log_format.unwrap_or(LogFormat::Text);
    // A person at a terminal reads each step once, in the result lines on stdout; the per-step
    // log events are for log files and collectors (or --log-level debug).
    let steps = if terminal
        && format == LogFormat::Text
        && matches!(g.log_level, LogLevel::Info | LogLevel::Warn | LogLevel::Error)
    {
        "warn"
    } else {
        level
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "warn,runner={level},runner::step={steps},runner_db={level},runner_state={level},runner_backfill={level},runner_sandbox={level},runner_schedule={level}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,runner=info"));
    let colour = terminal && std::env::var_os("NO_COLOR").is_none();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(super::status_line::log_writer).with_ansi(colour);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_target(false).without_time().try_init(),
    };
}

pub fn print_error(e: &RunnerError) {
    if let Some(report) = e.report().filter(|r| !r.steps.is_empty()) {
        let done: Vec<&str> = report.steps.iter().map(|s| s.revision.as_str()).collect();
        errln!("completed before the failure: {}", done.join(", "));
    }
    errln!("error: {e}");
    // A revision cut off says what became of it; anything else cut off gets the general rule.
    let inner = match e {
        RunnerError::Interrupted { cause, .. } => cause.as_ref(),
        other => other,
    };
    if inner.is_connection_lost() && !matches!(inner, RunnerError::Statement(_)) {
        errln!(
            "what was committed before the connection went is kept; once the database is back, `runner status` shows where things stand and the same command continues the work"
        );
    }
}

/// The database a write command touches, once announced: JSON results carry it too.
static DATABASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A write command's first line: the database it is about to change (masked), and where its URL
/// came from, so that a missing variable in CI is seen before anything happens.
pub fn announce(settings: &crate::settings::Settings, out_json: bool) {
    let database = settings.database_url.to_string();
    if !out_json {
        outln!("database: {database} (from {})", settings.url_source.describe());
    }
    let _ = DATABASE.set(database);
}

pub fn json<T: serde::Serialize>(value: &T) {
    let mut value = match serde_json::to_value(value) {
        Ok(v) => v,
        Err(e) => {
            errln!("error: cannot encode JSON: {e}");
            return;
        }
    };
    if let (Some(database), serde_json::Value::Object(map)) = (DATABASE.get(), &mut value) {
        map.entry("database").or_insert_with(|| database.clone().into());
    }
    match serde_json::to_string_pretty(&value) {
        Ok(s) => outln!("{s}"),
        Err(e) => errln!("error: cannot encode JSON: {e}"),
    }
}

pub fn print_plan(plan: &Plan) {
    if plan.is_empty() {
        outln!("Nothing to do.");
        return;
    }
    outln!("Plan ({} step{}):", plan.steps.len(), if plan.steps.len() == 1 { "" } else { "s" });
    for s in &plan.steps {
        let r = &s.revision;
        let tx = match runner_revisions::plan::step_tx(s) {
            runner_revisions::TxMode::PerRevision => "",
            runner_revisions::TxMode::None => " [no transaction]",
        };
        outln!("  {:<8} {}  {}{tx}  ({})", action_word(s.action), r.id, r.description, r.path.display());
    }
}

/// A plan as JSON without the full SQL of every revision.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "steps": plan.steps.iter().map(|s| serde_json::json!({
            "action": crate::report::action_kind_word(s.action),
            "resume_at_statement": crate::report::resume_statement(s.action),
            "revision": s.revision.id,
            "description": s.revision.description,
            "file": s.revision.path,
            "transaction": runner_revisions::plan::step_tx(s),
            "statements": crate::revisions::script::body(s).len(),
        })).collect::<Vec<_>>()
    })
}

pub fn action_word_tx(tx: runner_revisions::TxMode) -> &'static str {
    match tx {
        runner_revisions::TxMode::PerRevision => "per revision",
        runner_revisions::TxMode::None => "none (statement by statement)",
    }
}
