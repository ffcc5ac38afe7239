//! The library's errors and the exit codes the CLI maps them to.

use crate::report::Report;
use runner_db::{DbError, StatementFailure};
use runner_revisions::{Problems, plan::PlanError};
use runner_state::StateError;
use std::path::PathBuf;

/// Documented exit codes (README "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done as asked.
    Ok = 0,
    /// Something failed; the message says what.
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

/// Everything the library can fail with; [`RunnerError::exit_code`] maps each to an exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// Revision files or their graph need fixing.
    #[error(transparent)]
    Files(#[from] Problems),
    /// No plan could be made (drift, an unfinished revision, a bad target).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The database refused or could not be reached.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The state table could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A statement of a revision failed.
    #[error("{0}")]
    Statement(Box<FailedStatement>),
    /// Another runner held the lock for longer than `--lock-timeout`.
    #[error("timed out after {waited_s}s waiting for the runner lock on {database}, held by {holder}")]
    LockTimeout {
        /// The database, its password masked.
        database: String,
        /// Who holds the lock.
        holder: String,
        /// How long this runner waited, in seconds.
        waited_s: u64,
    },
    /// SIGINT/SIGTERM arrived: nothing more was started.
    #[error("stopped by {signal} before the next revision")]
    Stopped {
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
    },
    /// The runner lock went away while this runner held it (its connection was closed by the
    /// server or an operator): it stopped before writing anything more.
    #[error(
        "lost the runner lock on {database} ({cause}); stopped before the next revision, since another runner may hold it now. `runner status` shows what was applied"
    )]
    LockLost {
        /// The database, its password masked.
        database: String,
        /// How it was found lost.
        #[source]
        cause: Box<LockCheckFailed>,
    },
    /// `runner.toml` or the environment says something runner cannot use.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Backfill manifests that need fixing; every broken one at once.
    #[error("{}", lines(.0))]
    Manifests(Vec<runner_backfill::ManifestError>),
    /// A backfill name no manifest defines.
    #[error("no backfill `{name}` in {} (known: {})", dir.display(), known_list(known))]
    UnknownBackfill {
        /// The name given.
        name: String,
        /// The folder it was looked for in.
        dir: PathBuf,
        /// The names there are.
        known: Vec<String>,
    },
    /// A revision's `-- data-migration:` that cannot be loaded (unknown, broken manifest).
    #[error("revision `{revision}` ({}): data migration: {cause}", file.display())]
    DataMigration {
        /// The revision.
        revision: String,
        /// Its file.
        file: PathBuf,
        /// Why.
        cause: Box<RunnerError>,
    },
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
    UnknownRefresh {
        /// The name given.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// Refreshes the database cannot run as declared (unknown view, CONCURRENTLY without its
    /// unique index, missing table), one line per refresh.
    #[error("{}", lines(.0))]
    RefreshChecks(Vec<String>),
    /// `runner cron` with no `[[refresh]]` to schedule.
    #[error("no [[refresh]] in runner.toml; nothing to schedule")]
    NoRefreshes,
    /// A backfill run failed.
    #[error(transparent)]
    Backfill(Box<runner_backfill::BackfillError>),
    /// A plugin could not be loaded or failed.
    #[error(transparent)]
    Sandbox(Box<runner_sandbox::SandboxError>),
    /// runner refused to do what was asked (it would lose something, or cannot be done safely).
    #[error(transparent)]
    Refused(#[from] crate::refusal::Refusal),
    /// A plugin could not be built from its source.
    #[error("plugin {plugin}: cannot build it from {}: {message}", dir.display())]
    PluginBuild {
        /// The plugin.
        plugin: String,
        /// The folder it was looked for in.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Builds are off here (`builds = "never"`) and the plugin has no usable locked component.
    #[error(
        "plugin {plugin}: builds are off here (builds = \"never\") and {why}; run `runner plugin build` where builds are allowed, then ship plugins.lock with the built-plugins folder"
    )]
    PluginNotLocked {
        /// The plugin.
        plugin: String,
        /// Its source folder.
        dir: PathBuf,
        /// What is wrong with its lock entry or component.
        why: String,
    },
    /// A plugin's lookups would go through a role that can do more than read.
    #[error(
        "plugin {plugin}: lookups through role `{role}` are refused: it {}. A lookup runs the plugin's SQL: give lookups a role of their own that may read and do nothing else, and set lookup_url in runner.toml (or RUNNER_LOOKUP_URL) to it (README \"What a lookup can do\")",
        problems.join("; it ")
    )]
    LookupRole {
        /// The plugin.
        plugin: String,
        /// The role lookups would run as.
        role: String,
        /// What it could do besides reading.
        problems: Vec<String>,
    },
    /// A plugin could not be downloaded.
    #[error("plugin {plugin}: cannot download {url}: {message}")]
    Download {
        /// The plugin.
        plugin: String,
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A downloaded plugin does not have the SHA-256 its manifest requires.
    #[error("plugin {plugin}: {url} has SHA-256 {actual}, but the manifest requires {expected}; refusing to run it")]
    ChecksumMismatch {
        /// The plugin.
        plugin: String,
        /// The URL.
        url: String,
        /// The SHA-256 the manifest requires.
        expected: String,
        /// The SHA-256 of what was downloaded.
        actual: String,
    },
    /// A run stopped by a failure after some of its steps were done.
    #[error("{cause}")]
    Interrupted {
        /// What was done before the failure.
        report: Report,
        /// The failure.
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
    Fixture {
        /// Its file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `plugin test`: the plugin failed on a batch of fixture rows (`first`..=`last`, from 1).
    #[error("fixture rows {first}-{last}: {cause}")]
    PluginTest {
        /// The plugin.
        plugin: String,
        /// The first row of the batch (from 1).
        first: usize,
        /// The last row of the batch.
        last: usize,
        /// Why.
        cause: String,
    },
    /// A file or folder could not be read or written.
    #[error("{context}: {cause}")]
    Io {
        /// What was being done (`reading schema.sql`).
        context: String,
        /// Why.
        cause: std::io::Error,
    },
}

/// A revision statement the database rejected, located in its file.
#[derive(Debug)]
pub struct FailedStatement {
    /// The revision.
    pub revision: String,
    /// The file the statement is in.
    pub file: PathBuf,
    /// The line of the statement in it.
    pub line: usize,
    /// What the database said.
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
    Statements {
        /// Statements committed.
        done: usize,
        /// Statements in it.
        total: usize,
    },
    /// A no-transaction revert: this many down statements are committed.
    RevertStatements {
        /// Statements committed.
        done: usize,
        /// Statements in it.
        total: usize,
    },
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
            "no-transaction revision: {done} of {total} statements were committed before this one; `runner status` shows it, then fix the cause and run `runner apply --resume`, or `runner repair --mark-done {revision}` once you have completed it by hand"
        ),
        Committed::RevertStatements { done, total } => format!(
            "no-transaction revert: {done} of {total} down statements were committed before this one; the revision is still recorded as applied"
        ),
    };
    format!("revision `{revision}` failed at {}:{line}: {failure}\n{tail}", file.display())
}

/// Why a runner could not confirm it still holds its lock.
#[derive(Debug, thiserror::Error)]
pub enum LockCheckFailed {
    /// The database answered: another session holds it, or nobody does.
    #[error("the lock is no longer held by this runner")]
    NotHeld,
    /// Asking failed (the lock's connection is gone, most often).
    #[error(transparent)]
    Db(#[from] DbError),
    /// Reading the lease failed.
    #[error(transparent)]
    State(#[from] StateError),
}

impl RunnerError {
    /// The documented exit code for this error.
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
            | RunnerError::PluginNotLocked { .. }
            | RunnerError::LookupRole { .. }
            | RunnerError::State(StateError::NotStateTable { .. } | StateError::BadName(_)) => ExitCode::Invalid,
            RunnerError::Backfill(e) if matches!(**e, runner_backfill::BackfillError::Schema { .. }) => {
                ExitCode::Invalid
            }
            RunnerError::LockTimeout { .. } | RunnerError::LockLost { .. } => ExitCode::LockTimeout,
            RunnerError::Db(DbError::Connect { .. } | DbError::UnsupportedUrl { .. } | DbError::InvalidUrl { .. }) => {
                ExitCode::Connect
            }
            RunnerError::Refused(crate::refusal::Refusal::Usage(_)) => ExitCode::Usage,
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

    /// Whether the same work may succeed if tried again later, unchanged (a lost connection, a
    /// busy lock, a deadlock victim, a timeout): what a retry loop retries. Bad SQL, a missing
    /// table or a plugin's own failure fail the same way every time and are not retried.
    pub fn may_succeed_later(&self) -> bool {
        match self {
            RunnerError::Db(e) | RunnerError::State(StateError::Db(e)) => e.may_succeed_later(),
            RunnerError::Backfill(e) => e.may_succeed_later(),
            RunnerError::LockTimeout { .. } => true,
            _ => self.is_connection_lost(),
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
