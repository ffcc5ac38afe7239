//! A failure as JSON, for commands run with `--json`: scripts read one shape on stdout whether
//! the command worked or not.
//!
//! ```json
//! {"error": {"kind": "statement", "message": "…", "exit_code": 1, "file": "migrations/002.sql",
//!            "line": 3, "sqlstate": "42P01", "completed": ["001"]}}
//! ```

use crate::error::RunnerError;
use serde_json::{Value, json};

/// The error object for `e`.
pub fn error_json(e: &RunnerError) -> Value {
    let inner = match e {
        RunnerError::Interrupted { cause, .. } => cause.as_ref(),
        other => other,
    };
    let mut error = json!({
        "kind": kind(inner),
        "message": e.to_string(),
        "exit_code": e.exit_code() as i32,
    });
    let (file, line) = location(inner);
    if let Some(file) = file {
        error["file"] = json!(file);
    }
    if let Some(line) = line {
        error["line"] = json!(line);
    }
    if let RunnerError::Statement(f) = inner {
        error["revision"] = json!(f.revision);
        if let Some(code) = &f.failure.code {
            error["sqlstate"] = json!(code);
        }
    }
    if let Some(report) = e.report() {
        error["completed"] = json!(report.steps.iter().map(|s| &s.revision).collect::<Vec<_>>());
    }
    json!({ "error": error })
}

/// A stable name for what went wrong, by the error's variant.
fn kind(e: &RunnerError) -> &'static str {
    match e {
        RunnerError::Files(_) => "files",
        RunnerError::Plan(_) => "plan",
        RunnerError::Db(_) => "database",
        RunnerError::State(_) => "state_table",
        RunnerError::Statement(_) => "statement",
        RunnerError::LockTimeout { .. } => "lock_timeout",
        RunnerError::LockLost { .. } => "lock_lost",
        RunnerError::Stopped { .. } => "stopped",
        RunnerError::Config { .. } => "config",
        RunnerError::Manifests(_)
        | RunnerError::UnknownBackfill { .. }
        | RunnerError::DataMigration { .. }
        | RunnerError::MissingBackfills(_)
        | RunnerError::InvalidPlugin(_) => "backfills",
        RunnerError::RefreshSpecs(_)
        | RunnerError::UnknownRefresh { .. }
        | RunnerError::RefreshChecks(_)
        | RunnerError::NoRefreshes => "refreshes",
        RunnerError::Backfill(_) => "backfill",
        RunnerError::Sandbox(_) => "plugin",
        RunnerError::Refused(crate::refusal::Refusal::Usage(_)) => "usage",
        RunnerError::Refused(_) => "refused",
        RunnerError::PluginBuild { .. } => "plugin_build",
        RunnerError::PluginNotLocked { .. } => "plugin_lock",
        RunnerError::LookupRole { .. } => "lookup_role",
        RunnerError::Download { .. } | RunnerError::ChecksumMismatch { .. } => "plugin_download",
        RunnerError::Interrupted { .. } => "interrupted",
        RunnerError::Fixture { .. } => "fixture",
        RunnerError::SchemaDiff(_) => "schema_diff",
        RunnerError::Renames(_) => "renames",
        RunnerError::PluginTest { .. } => "plugin",
        RunnerError::Io { .. } => "io",
    }
}

/// The file and line an error points at, where it has them.
fn location(e: &RunnerError) -> (Option<String>, Option<usize>) {
    use runner_revisions::RevisionError as R;
    match e {
        RunnerError::Statement(f) => (Some(f.file.display().to_string()), Some(f.line).filter(|l| *l > 0)),
        RunnerError::Config { path, .. } => (Some(path.display().to_string()), None),
        RunnerError::PluginBuild { dir, .. } | RunnerError::PluginNotLocked { dir, .. } => {
            (Some(dir.display().to_string()), None)
        }
        RunnerError::Fixture { file, line, .. } => (Some(file.display().to_string()), Some(*line)),
        RunnerError::Files(p) => match p.0.first() {
            Some(R::Parse { file, line, .. }) => (Some(file.display().to_string()), Some(*line)),
            Some(R::Io { file, .. } | R::MissingParent { file, .. } | R::MixedParents { file, .. }) => {
                (Some(file.display().to_string()), None)
            }
            Some(R::DuplicateId { first, .. }) => (Some(first.display().to_string()), None),
            _ => (None, None),
        },
        _ => (None, None),
    }
}
