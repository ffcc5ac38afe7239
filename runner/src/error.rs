//! The library's errors and the exit codes the CLI maps them to.

use crate::report::Report;
use runner_db::{DbError, StatementFailure};
use runner_revisions::{Problems, plan::PlanError};
use runner_state::StateError;
use std::path::PathBuf;

/// Documented exit codes (README "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    Failure = 1,
    /// A bad command line; and `diff --exit-code`: the schemas differ.
    Usage = 2,
    /// `status --exit-code`: something is pending, drifted or unfinished.
    Pending = 3,
    /// Another runner held the lock for longer than `--lock-timeout`.
    LockTimeout = 4,
    /// Revision files or the history need fixing before anything can run.
    Invalid = 5,
    /// The database could not be reached.
    Connect = 6,
    /// SIGINT or SIGTERM: the work in flight was cancelled and rolled back (or finished), what
    /// completed is recorded, the lock is released.
    Stopped = 7,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    #[error(transparent)]
    Files(#[from] Problems),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Statement(Box<FailedStatement>),
    #[error("timed out after {waited_s}s waiting for the runner lock on {database}, held by {holder}")]
    LockTimeout { database: String, holder: String, waited_s: u64 },
    /// SIGINT/SIGTERM arrived: nothing more was started.
    #[error("stopped by {signal} before the next revision")]
    Stopped { signal: &'static str },
    /// The runner lock went away while this runner held it (its connection was closed by the
    /// server or an operator): it stopped before writing anything more.
    #[error(
        "lost the runner lock on {database} ({reason}); stopped before the next revision, since another runner may hold it now. `runner status` shows what was applied"
    )]
    LockLost { database: String, reason: String },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    /// Backfill manifests that need fixing; every broken one at once.
    #[error("{}", lines(.0))]
    Manifests(Vec<runner_backfill::ManifestError>),
    /// A backfill name no manifest defines.
    #[error("no backfill `{name}` in {} (known: {})", dir.display(), known_list(known))]
    UnknownBackfill { name: String, dir: PathBuf, known: Vec<String> },
    /// A revision's `-- data-migration:` that cannot be loaded (unknown, broken manifest).
    #[error("revision `{revision}` ({}): data migration: {cause}", file.display())]
    DataMigration { revision: String, file: PathBuf, cause: Box<RunnerError> },
    /// Pending revisions whose `-- requires-backfill:` names no backfill: they would wait forever.
    #[error("{}", lines(.0))]
    MissingBackfills(Vec<String>),
    /// A plugin that is not a valid backfill component (`plugin check`).
    #[error(transparent)]
    InvalidPlugin(Box<runner_sandbox::SandboxError>),
    /// `[[refresh]]` entries that need fixing (bad schedule, duplicate name, bad target).
    #[error("{}", lines(.0))]
    RefreshSpecs(Vec<runner_schedule::SpecError>),
    /// A refresh name `runner.toml` does not define.
    #[error("no refresh `{name}` in runner.toml (known: {})", known_list(known))]
    UnknownRefresh { name: String, known: Vec<String> },
    /// Refreshes the database cannot run as declared (unknown view, CONCURRENTLY without its
    /// unique index, missing table), one line per refresh.
    #[error("{}", lines(.0))]
    RefreshChecks(Vec<String>),
    /// `runner cron` with no `[[refresh]]` to schedule.
    #[error("no [[refresh]] in runner.toml; nothing to schedule")]
    NoRefreshes,
    #[error(transparent)]
    Backfill(Box<runner_backfill::BackfillError>),
    #[error(transparent)]
    Sandbox(Box<runner_sandbox::SandboxError>),
    #[error(transparent)]
    Refused(#[from] crate::refusal::Refusal),
    #[error("plugin {plugin}: cannot build it from {}: {message}", dir.display())]
    PluginBuild { plugin: String, dir: PathBuf, message: String },
    #[error("plugin {plugin}: cannot download {url}: {message}")]
    Download { plugin: String, url: String, message: String },
    #[error("plugin {plugin}: {url} has SHA-256 {actual}, but the manifest requires {expected}; refusing to run it")]
    ChecksumMismatch { plugin: String, url: String, expected: String, actual: String },
    #[error("{cause}")]
    Interrupted {
        /// What was done before the failure.
        report: Report,
        cause: Box<RunnerError>,
    },
    /// `runner diff`: a side that cannot be read as a schema (bad files, no dev server).
    #[error("{0}")]
    SchemaDiff(String),
    /// `--rename` arguments or `-- runner:renamed-from` hints that do not fit the two schemas,
    /// one line each, naming where they were said. Nothing was diffed.
    #[error("{}", .0.join("\n"))]
    Renames(Vec<String>),
    /// `plugin test`: fixture rows, lookups or expected changes that cannot be read as such.
    #[error("{}:{line}: {message}", file.display())]
    Fixture { file: PathBuf, line: usize, message: String },
    /// `plugin test`: the plugin failed on a batch of fixture rows (`first`..=`last`, from 1).
    #[error("fixture rows {first}-{last}: {cause}")]
    PluginTest { plugin: String, first: usize, last: usize, cause: String },
    #[error("{context}: {cause}")]
    Io { context: String, cause: std::io::Error },
}

/// A revision statement the database rejected, located in its file.
#[derive(Debug)]
pub struct FailedStatement {
    pub revision: String,
    pub file: PathBuf,
    pub line: usize,
    pub failure: StatementFailure,
    /// What stayed committed from this revision (no-transaction revisions only).
    pub committed: Committed,
    /// The statement did not fail: the connection went while it ran (`line` is then 0).
    pub connection_lost: bool,
}

impl std::fmt::Display for FailedStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&failure_message(self))
    }
}

/// How much of a failed revision stayed in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Rolled back as a whole.
    Nothing,
    /// A no-transaction revision: this many statements before the failing one are committed.
    Statements { done: usize, total: usize },
    /// A no-transaction revert: this many down statements are committed.
    RevertStatements { done: usize, total: usize },
}

fn lines<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() { "none".to_string() } else { known.join(", ") }
}

fn failure_message(f: &FailedStatement) -> String {
    let FailedStatement { revision, file, line, failure, committed, connection_lost } = f;
    if *connection_lost {
        let tail = match committed {
            Committed::Nothing => "the revision commits together with its state row, so it is applied only if its COMMIT reached the server before the connection went; `runner status` shows which, and `runner apply` continues once the database is back".to_string(),
            Committed::Statements { done, total } => format!(
                "no-transaction revision: {done} of {total} statements were committed before the one that was running; once the database is back, `runner status` shows it and `runner apply --resume` continues"
            ),
            Committed::RevertStatements { done, total } => format!(
                "no-transaction revert: {done} of {total} down statements were committed before the one that was running; the revision is still recorded as applied"
            ),
        };
        return format!("revision `{revision}` ({}) was cut off: {}\n{tail}", file.display(), failure.message);
    }
    let tail = match committed {
        Committed::Nothing => "the revision was rolled back; nothing of it was applied".to_string(),
        Committed::Statements { done, total } => format!(
            "no-transaction revision: {done} of {total} statements were committed before this one; `runner status` shows it, then fix the cause and run `runner apply --resume`, or `runner repair` once you have completed it by hand"
        ),
        Committed::RevertStatements { done, total } => format!(
            "no-transaction revert: {done} of {total} down statements were committed before this one; the revision is still recorded as applied"
        ),
    };
    format!("revision `{revision}` failed at {}:{line}: {failure}\n{tail}", file.display())
}

impl RunnerError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RunnerError::Files(_)
            | RunnerError::Plan(_)
            | RunnerError::Config { .. }
            | RunnerError::Manifests(_)
            | RunnerError::UnknownBackfill { .. }
            | RunnerError::DataMigration { .. }
            | RunnerError::MissingBackfills(_)
            | RunnerError::InvalidPlugin(_)
            | RunnerError::RefreshSpecs(_)
            | RunnerError::UnknownRefresh { .. }
            | RunnerError::RefreshChecks(_)
            | RunnerError::NoRefreshes
            | RunnerError::Fixture { .. }
            | RunnerError::Renames(_)
            | RunnerError::State(StateError::NotStateTable { .. } | StateError::BadName(_)) => ExitCode::Invalid,
            RunnerError::Backfill(e) if matches!(**e, runner_backfill::BackfillError::Schema { .. }) => {
                ExitCode::Invalid
            }
            RunnerError::LockTimeout { .. } | RunnerError::LockLost { .. } => ExitCode::LockTimeout,
            RunnerError::Db(DbError::Connect { .. } | DbError::UnsupportedUrl { .. } | DbError::InvalidUrl { .. }) => {
                ExitCode::Connect
            }
            RunnerError::Stopped { .. } => ExitCode::Stopped,
            _ if runner_db::interrupt::requested().is_some() => ExitCode::Stopped,
            RunnerError::Interrupted { cause, .. } => cause.exit_code(),
            _ if self.is_connection_lost() => ExitCode::Connect,
            _ => ExitCode::Failure,
        }
    }

    /// Whether the database went away mid-run (a rerun once it is back continues the work).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            RunnerError::Db(e) | RunnerError::State(StateError::Db(e)) => e.is_connection_lost(),
            RunnerError::Statement(f) => f.connection_lost,
            RunnerError::Backfill(e) => e.is_connection_lost(),
            RunnerError::Interrupted { cause, .. } => cause.is_connection_lost(),
            _ => false,
        }
    }

    /// The report carried by an interrupted run, if any.
    pub fn report(&self) -> Option<&Report> {
        match self {
            RunnerError::Interrupted { report, .. } => Some(report),
            _ => None,
        }
    }
}

impl From<runner_revisions::RevisionError> for RunnerError {
    fn from(e: runner_revisions::RevisionError) -> Self {
        RunnerError::Files(e.into())
    }
}

impl From<runner_backfill::BackfillError> for RunnerError {
    fn from(e: runner_backfill::BackfillError) -> Self {
        RunnerError::Backfill(Box::new(e))
    }
}

impl From<runner_sandbox::SandboxError> for RunnerError {
    fn from(e: runner_sandbox::SandboxError) -> Self {
        RunnerError::Sandbox(Box::new(e))
    }
}
