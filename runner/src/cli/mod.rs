//! The command line: clap definitions (doc comments are the help text) and one module per
//! command group. Only this layer prints and turns errors into exit codes.

/// `println!` that never panics. A closed stdout (`runner apply | head -1`) must not stop the
/// work half-way: it goes on, releases its lock and exits with its own code; what could not be
/// printed is lost. `errln!` and `out!` are the same for stderr and for `print!`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        crate::cli::status_line::clear();
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        crate::cli::status_line::clear();
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

#[allow(unused_macros)]
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod backfill;
mod files;
mod json_error;
mod output;
mod read;
mod schedule;
mod status_line;
mod write;

use crate::backfills::StatusChange;
use crate::error::{ExitCode, RunnerError};
use crate::settings::{Overrides, Settings};
use clap::{Args, Parser, Subcommand, ValueEnum};
use runner_revisions::plan::{ApplyRules, Order, Unfinished};
use std::path::PathBuf;
use std::time::Duration;

/// Evolve databases safely: SQL revisions, tracked in one state table.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Project folder (holds runner.toml and migrations/); default: the current directory.
    #[arg(short = 'C', long, global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Database URL (postgres://… or sqlite:…); overrides DATABASE_URL, POSTGRES_URL, runner.toml and PG*.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Folder of revision files; default: `migrations` in runner.toml, or ./migrations.
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations: Option<PathBuf>,
    /// Name of the state table (default runner_state).
    #[arg(long, global = true, value_name = "NAME")]
    pub state_table: Option<String>,
    /// Seconds to wait for another runner to release the lock (default 60).
    #[arg(long, global = true, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
    /// Use the [env.NAME] section of runner.toml (dev, staging, prod) over its top-level keys.
    #[arg(long = "env", global = true, value_name = "NAME", env = "RUNNER_ENV")]
    pub env: Option<String>,
    /// Log format on stderr: text (default) or json (for log collectors).
    #[arg(long, global = true, value_enum, env = "RUNNER_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log level.
    #[arg(long, global = true, value_enum, default_value = "info")]
    pub log_level: LogLevel,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Output flags of read commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutputArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// How a write command should run its plan.
#[derive(Debug, Args, Clone, Copy)]
pub struct PreviewArgs {
    /// Print the plan and change nothing.
    #[arg(long, conflicts_with = "sql")]
    pub dry_run: bool,
    /// Print the exact SQL script that would run (state-table writes included) and change nothing.
    #[arg(long)]
    pub sql: bool,
}

/// What a writing command does, from its `--dry-run` / `--sql` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preview {
    /// Carry the plan out.
    Run,
    /// Print the plan.
    Plan,
    /// Print the SQL script.
    Sql,
}

impl PreviewArgs {
    pub fn mode(self) -> Preview {
        match (self.dry_run, self.sql) {
            (_, true) => Preview::Sql,
            (true, false) => Preview::Plan,
            (false, false) => Preview::Run,
        }
    }
}

/// `--engine NAME`: one of the dialects, listed as clap lists an enum's values.
fn engine_name() -> impl clap::builder::TypedValueParser<Value = runner_db::Dialect> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(runner_db::Dialect::ALL.map(runner_db::Dialect::name))
        .map(|name| runner_db::Dialect::from_name(&name).expect("one of the possible values"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create runner.toml, migrations/, backfills/ and plugins/ in the project folder.
    #[command(after_help = "Examples:\n  runner init\n  runner init --engine postgres")]
    Init {
        /// Write `engine = "..."` into runner.toml: with `postgres`, a missing database URL is an
        /// error rather than a fresh SQLite file.
        #[arg(long, value_parser = engine_name())]
        engine: Option<runner_db::Dialect>,
    },
    /// Write a new revision file whose parent is the current head.
    #[command(
        after_help = "With --autogenerate, runner applies the revisions to a scratch database, loads the declared \
schema (`schema` in runner.toml) into another, and writes the SQL between them in both directions, with \
hazard notes, after checking on the first that up gives the schema and down gives the head back. Nothing \
is written when nothing differs, or (without --force) when the check fails or an object the differ does \
not handle differs. A renamed table or column is dropped and added unless said (--rename, or a \
`-- runner:renamed-from OLD` line above it in the schema). With --online, index builds and drops on existing \
tables, constraint validations and SET NOT NULL go into a second, `transaction: none` revision: \
CONCURRENTLY, NOT VALID then VALIDATE, and through a validated check.

Examples:
  runner new \"add user preferences\"
  runner new \"index users by email\" --no-transaction
  runner new \"drop the old column\" --requires-backfill fill_kind
  runner new \"add user preferences\" --autogenerate
  runner new \"index orders by customer\" --autogenerate --online"
    )]
    New {
        /// What the revision does, e.g. "add user preferences".
        message: String,
        /// Mark it `transaction: none` (for CREATE INDEX CONCURRENTLY and the like).
        #[arg(long)]
        no_transaction: bool,
        /// It runs only once this backfill has completed (`requires-backfill`; repeatable): the
        /// contract step of expand, backfill, contract.
        #[arg(long, value_name = "NAME")]
        requires_backfill: Vec<String>,
        /// Write the SQL that turns the revisions' head into the declared schema, and back.
        #[arg(long)]
        autogenerate: bool,
        /// A server where runner may create scratch databases (default: `dev_url`, else the target's; on SQLite, a temporary folder).
        #[arg(long, value_name = "URL", requires = "autogenerate")]
        dev_url: Option<String>,
        /// Write the revision even when its self-check fails or objects are not handled.
        #[arg(long, requires = "autogenerate")]
        force: bool,
        /// A table, column or enum value renamed, not dropped and added: `users=accounts`,
        /// `users.email=mail`, `mood.sad=unhappy` (repeatable; or `-- runner:renamed-from OLD`
        /// in the schema file).
        #[arg(long, value_name = "OLD=NEW", requires = "autogenerate")]
        rename: Vec<String>,
        /// Take no long lock: build and drop indexes CONCURRENTLY and validate constraints on
        /// their own, in a second `transaction: none` revision.
        #[arg(long, requires = "autogenerate", conflicts_with = "no_transaction")]
        online: bool,
    },
    /// Show current revision(s), pending revisions, drift and unfinished revisions.
    #[command(
        after_help = "Examples:\n  runner status\n  runner status --exit-code   # exit 3 in CI when something is pending\n  runner --env prod status --json"
    )]
    Status {
        #[command(flatten)]
        out: OutputArgs,
        /// Exit with code 3 when anything is pending, drifted or unfinished.
        #[arg(long)]
        exit_code: bool,
    },
    /// List revisions, newest first, with what the database recorded about each.
    #[command(after_help = "Examples:\n  runner history\n  runner history --verbose")]
    History {
        #[command(flatten)]
        out: OutputArgs,
        /// Also show files, checksums, transaction mode, who applied and how long it took.
        #[arg(short, long)]
        verbose: bool,
    },
    /// List the head revisions (revisions nothing builds on).
    #[command(after_help = "Examples:\n  runner heads")]
    Heads {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show the revision(s) the database is at.
    #[command(after_help = "Examples:\n  runner current")]
    Current {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show one revision: header, state, and its SQL.
    #[command(after_help = "Examples:\n  runner show head\n  runner show 2026112")]
    Show {
        /// Revision id, or a unique prefix of one.
        revision: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Print the SQL that turns one schema into another (PostgreSQL and SQLite).
    #[command(after_help = "SRC and DST are each a database URL; a .sql file or folder of them; or `migrations` \
(the revisions applied to head) or `migrations@REV`. Files and migrations are loaded into a scratch \
database on the dev server (--dev-url, `dev_url` in runner.toml, else the target database's server), \
dropped afterwards (on SQLite: files in a temporary folder). The databases named are only read. Hazards come \
first in the SQL as comments. What `[exclude]` in runner.toml lists, and other tools' history tables, are left \
out. Objects of kinds the differ does not handle yet are listed by name, and then the command exits 1.

Examples:
  runner diff --from postgres://localhost/app --to schema.sql
  runner diff --from schema/ --to postgres://localhost/app --exit-code
  runner diff --from migrations@20261101 --to migrations")]
    Diff {
        /// The schema to start from: a database URL, a .sql file or folder, `migrations[@REV]`.
        #[arg(long, value_name = "SRC")]
        from: String,
        /// The schema to arrive at: a database URL, a .sql file or folder, `migrations[@REV]`.
        #[arg(long, value_name = "DST")]
        to: String,
        /// A server where runner may create scratch databases for schema files (default: `dev_url`,
        /// else the target's server; on SQLite, a temporary folder).
        #[arg(long, value_name = "URL")]
        dev_url: Option<String>,
        /// Exit 2 when the schemas differ.
        #[arg(long)]
        exit_code: bool,
        /// A table, column or enum value renamed, not dropped and added: `users=accounts`,
        /// `users.email=mail`, `mood.sad=unhappy` (repeatable; or `-- runner:renamed-from OLD`
        /// in a schema file).
        #[arg(long, value_name = "OLD=NEW")]
        rename: Vec<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Validate revision files and their graph without touching the database.
    #[command(after_help = "Examples:\n  runner check\n  runner check --db --json\n  runner check --schema")]
    Check {
        /// Also compare checksums with the database (drift).
        #[arg(long)]
        db: bool,
        /// Also compare the database's schema with the revisions' head, object by object (drift made
        /// by hand), replaying the revisions on a scratch database (at `dev_url` or the target's
        /// server; on SQLite, a temporary file); exit 3 if it differs.
        #[arg(long)]
        schema: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Apply pending revisions in order (and, with --with-backfills, then every pending backfill).
    #[command(alias = "upgrade")]
    #[command(
        after_help = "Examples:\n  runner apply --with-backfills\n  runner apply --dry-run\n  runner apply --sql > deploy.sql\n  runner apply --to 20261121083000\n  runner apply --to +1\n  runner apply --resume"
    )]
    Apply {
        /// After the revisions, run every backfill that is ready and not complete.
        #[arg(long, conflicts_with_all = ["dry_run", "sql"])]
        with_backfills: bool,
        /// Workers per backfill with --with-backfills (PostgreSQL; SQLite uses one) [default: each
        /// manifest's batch.workers, else 1].
        #[arg(long, requires = "with_backfills", value_parser = workers_in_range())]
        workers: Option<usize>,
        /// Stop at this revision (default: the head; `heads` for every branch; `+N`: the next N
        /// pending revisions).
        #[arg(long, value_name = "REV", allow_hyphen_values = true)]
        to: Option<String>,
        /// Continue a no-transaction revision that stopped half-way, from its first unfinished statement.
        #[arg(long)]
        resume: bool,
        /// Also apply revisions that come before one already applied (added later with an older
        /// id); without it they are refused.
        #[arg(long)]
        out_of_order: bool,
        #[command(flatten)]
        preview: PreviewArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Revert applied revisions (one step by default).
    #[command(alias = "downgrade")]
    #[command(
        after_help = "Examples:\n  runner revert\n  runner revert --steps 2\n  runner revert --to -2\n  runner revert --to base --dry-run"
    )]
    Revert {
        /// Revert this many steps.
        #[arg(long, conflicts_with = "to")]
        steps: Option<u32>,
        /// Revert everything applied after REV (`base`: everything; `-N`: the last N, as
        /// `--steps N`).
        #[arg(long, value_name = "REV", allow_hyphen_values = true)]
        to: Option<String>,
        #[command(flatten)]
        preview: PreviewArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Record the database as being exactly at REV without running anything (baseline an existing database).
    #[command(
        after_help = "Examples:\n  runner stamp head   # adopt an existing database\n  runner stamp base   # forget every revision, touch nothing else"
    )]
    Stamp {
        /// Revision id, `head`, `heads` or `base`.
        revision: String,
        #[command(flatten)]
        preview: PreviewArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Write a merge revision joining all current heads.
    #[command(after_help = "Examples:\n  runner merge -m \"join the billing branch\"")]
    Merge {
        /// Description of the merge revision.
        #[arg(short, long, default_value = "merge heads")]
        message: String,
    },
    /// Development only: revert everything, then apply everything again.
    #[command(after_help = "Examples:\n  runner reset --confirm")]
    Reset {
        /// Required: confirms that data in these tables may be lost.
        #[arg(long)]
        confirm: bool,
    },
    /// Backfills: resumable, batched data changes computed by WASM plugins.
    #[command(subcommand)]
    Backfill(BackfillCommand),
    /// WASM plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run scheduled refreshes now: one by name, or --all.
    #[command(after_help = "Examples:\n  runner refresh entity_counts\n  runner refresh --all --json")]
    Refresh {
        /// The `[[refresh]]` to run, by name.
        name: Option<String>,
        /// Run every refresh of runner.toml.
        #[arg(long, conflicts_with = "name")]
        all: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run the `[[refresh]]` schedules of runner.toml until SIGINT/SIGTERM; safe on many replicas.
    #[command(
        after_help = "Examples:\n  runner cron --listen 9187\n  runner cron --listen 0.0.0.0:9187\n  runner cron --for 60"
    )]
    Cron {
        /// Stop after this many seconds (default: run until stopped).
        #[arg(long, value_name = "SECS")]
        r#for: Option<u64>,
        /// Serve /health and /metrics (Prometheus): a port alone listens on loopback (9187),
        /// HOST:PORT where given (0.0.0.0:9187).
        #[arg(long, value_name = "[HOST:]PORT")]
        listen: Option<String>,
    },
    /// Accept edited revisions and forget revisions whose files are gone. An unfinished
    /// no-transaction revision is recorded as applied only with --mark-done (once you completed
    /// it by hand); otherwise continue it with `apply --resume`.
    #[command(alias = "accept")]
    #[command(after_help = "Examples:\n  runner repair --dry-run\n  runner repair --mark-done 20261121083000")]
    Repair {
        /// Record this unfinished no-transaction revision as applied (repeatable).
        #[arg(long, value_name = "REV")]
        mark_done: Vec<String>,
        /// Show what would be repaired, and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(
        after_help = "Examples:\n  runner completions bash > ~/.local/share/bash-completion/completions/runner\n  runner completions zsh > \"${fpath[1]}/_runner\"\n  runner completions fish > ~/.config/fish/completions/runner.fish"
    )]
    Completions {
        /// The shell to write completions for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackfillCommand {
    /// List backfills with their status.
    #[command(after_help = "Examples:\n  runner backfill list\n  runner backfill list --json")]
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Status and progress of one backfill (or all).
    #[command(after_help = "Examples:\n  runner backfill status\n  runner backfill status fill_score_band --json")]
    Status {
        /// The backfill (its manifest's name); default: all.
        name: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run a backfill until it completes or is paused; resumes where it stopped.
    #[command(
        after_help = "Examples:\n  runner backfill run fill_score_band\n  runner backfill run fill_score_band --workers 4\n  runner backfill run fill_score_band --max-batches 10"
    )]
    Run {
        /// The backfill (its manifest's name).
        name: String,
        /// Stop after this many batches (it resumes from there next time).
        #[arg(long)]
        max_batches: Option<u64>,
        /// Workers in this process; several processes may also run the same backfill (PostgreSQL)
        /// [default: the manifest's batch.workers, else 1].
        #[arg(long, value_parser = workers_in_range())]
        workers: Option<usize>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Pause a backfill; a running worker stops after its current batch.
    #[command(after_help = "Examples:\n  runner backfill pause fill_score_band")]
    Pause {
        /// The backfill (its manifest's name).
        name: String,
    },
    /// Resume a paused backfill.
    #[command(after_help = "Examples:\n  runner backfill resume fill_score_band")]
    Resume {
        /// The backfill (its manifest's name).
        name: String,
    },
    /// Retry a failed (or interrupted) backfill: its failed ranges are made ready again and it
    /// runs on from their checkpoints, as `backfill run` runs it.
    #[command(
        after_help = "Examples:\n  runner backfill retry fill_score_band\n  runner backfill retry fill_score_band --workers 4"
    )]
    Retry {
        /// The backfill (its manifest's name).
        name: String,
        /// Stop after this many batches (it resumes from there next time).
        #[arg(long)]
        max_batches: Option<u64>,
        /// Workers in this process [default: the manifest's batch.workers, else 1].
        #[arg(long, value_parser = workers_in_range())]
        workers: Option<usize>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Forget a backfill's progress so that it starts over.
    #[command(after_help = "Examples:\n  runner backfill reset fill_score_band --confirm")]
    Reset {
        /// The backfill (its manifest's name).
        name: String,
        /// Required: confirms that its progress is forgotten (the data it wrote stays).
        #[arg(long)]
        confirm: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove what this runner can never use (other versions' compiled plugins and toolchains,
    /// leftovers of killed writes) and what has not been used for a while.
    #[command(
        after_help = "Examples:\n  runner plugin cache prune\n  runner plugin cache prune --older-than 7\n  runner plugin cache prune --all"
    )]
    Prune {
        /// Also remove compiled plugins and builds not used for this many days (toolchains this
        /// runner pins are kept).
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        older_than: u64,
        /// Remove everything in the caches.
        #[arg(long, conflicts_with = "older_than")]
        all: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// `plugin new --lang`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Validate a plugin's world, imports and exports without running it, compiling it into the cache.
    #[command(
        after_help = "Examples:\n  runner plugin check target/plugins/wasm32-wasip2/release/score_band.wasm\n  runner plugin check plugins/examples-py/score-band"
    )]
    Check {
        /// The plugin's .wasm file, or its source folder (built as a manifest's `build` is).
        file: PathBuf,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Build every `build =` plugin of the project and lock it: each component goes to the
    /// built-plugins folder under its SHA-256 and into plugins.lock, which production
    /// (builds = "never") loads instead of building.
    #[command(
        after_help = "Examples:\n  runner plugin build\n  runner plugin build --json\n\nCommit plugins.lock; ship the built-plugins folder (.runner/built by default) with the deploy, or commit it too."
    )]
    Build {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// What the plugin caches hold (compiled plugins, builds from source, toolchains), or prune them.
    #[command(
        after_help = "Examples:\n  runner plugin cache\n  runner plugin cache prune\n  runner plugin cache prune --older-than 7\n  runner plugin cache prune --all"
    )]
    Cache {
        #[command(subcommand)]
        action: Option<CacheCommand>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Create a plugin folder that builds and passes `plugin test` as generated.
    #[command(after_help = "The folder holds the source, its build file, fixture rows with the changes \
expected of them, and a README saying how to test and run it.

Examples:
  runner plugin new fix-emails
  runner plugin new fix-emails --lang js
  runner plugin new fix-emails --lang rust --dir ../plugins/fix-emails")]
    New {
        /// The plugin's name: lower-case letters, digits, `-` and `_`.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "python")]
        lang: Lang,
        /// Where to create it (default: plugins/NAME in the project).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run a plugin over fixture rows, without a database, and print the changes it makes.
    #[command(after_help = "The rows are a JSON array of objects or a CSV file with a header. With --backfill, \
the plugin gets that manifest's columns, key, grants, limits, config and batch size; without it, \
every capability is denied. --expect takes a saved `--json` output (or its `changes` array) and exits 1 \
when the changes differ.

Examples:
  runner plugin test plugins/examples/score-band --rows tests/players.json
  runner plugin test --backfill score-band --rows fixtures/players.csv --expect fixtures/expected.json
  runner plugin test --backfill enrich --rows rows.json --lookups lookups.json --json")]
    Test {
        /// A .wasm component or a plugin's source folder (built as a manifest's `build` is);
        /// default: the backfill's plugin.
        #[arg(required_unless_present = "backfill")]
        plugin: Option<PathBuf>,
        /// Fixture rows: FILE.json (an array of objects) or FILE.csv (with a header).
        #[arg(long, value_name = "FILE")]
        rows: PathBuf,
        /// Run as this backfill's manifest says (columns, key, grants, limits, config, batch size).
        #[arg(long, value_name = "NAME")]
        backfill: Option<String>,
        /// Key columns, comma-separated, when no --backfill names them.
        #[arg(long, value_name = "COLUMNS", value_delimiter = ',', conflicts_with = "backfill")]
        key: Option<Vec<String>>,
        /// Answers to the plugin's lookups: a JSON array of {"query", "params", "rows"}.
        #[arg(long, value_name = "FILE", requires = "backfill")]
        lookups: Option<PathBuf>,
        /// Answers to the plugin's http calls, in place of the network: a JSON array of
        /// {"method", "url", "status", "headers", "body"}.
        #[arg(long, value_name = "FILE", requires = "backfill")]
        http: Option<PathBuf>,
        /// Expected changes (a saved --json output); exits 1 on a difference.
        #[arg(long, value_name = "FILE")]
        expect: Option<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// Runs the command and returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    output::init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::Failure as i32;
        }
    };
    let wants_json = json_output(&cli.command);
    // (`cron` has its own: it finishes the refresh in progress.)
    let scratch = makes_scratch_databases(&cli.command);
    let stoppable = (writes(&cli.command).is_some() || scratch) && !matches!(cli.command, Command::Cron { .. });
    match runtime.block_on(async move {
        if stoppable {
            tokio::spawn(stop_on_signals());
        }
        dispatch(cli).await
    }) {
        Ok(code) => code as i32,
        Err(e) => {
            if wants_json {
                output::json(&json_error::error_json(&e));
            }
            output::print_error(&e);
            match runner_db::interrupt::requested() {
                Some(signal) if scratch => errln!(
                    "stopped by {}: the statement in flight was cancelled and the scratch databases dropped; nothing else was written",
                    signal.name()
                ),
                Some(signal) => errln!(
                    "stopped by {}: the statement in flight was cancelled and rolled back, what completed is recorded, and the lock is released; `runner status` shows where things stand, and the same command continues",
                    signal.name()
                ),
                None => {}
            }
            e.exit_code() as i32
        }
    }
}

fn settings(g: &GlobalArgs) -> Result<Settings, RunnerError> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    Settings::resolve(
        Overrides {
            project_dir: g.project_dir.clone(),
            database_url: g.database_url.clone(),
            migrations_dir: g.migrations.clone(),
            state_table: g.state_table.clone(),
            lock_timeout: g.lock_timeout.map(Duration::from_secs),
            env: g.env.clone(),
        },
        &env,
    )
}

/// The first SIGINT or SIGTERM asks the work to stop: nothing new starts, statements in flight
/// on PostgreSQL are cancelled on the server, and the work rolls back and releases its lock on
/// its ordinary paths. A second one aborts at once.
async fn stop_on_signals() {
    let Some(first) = next_signal().await else { return };
    runner_db::interrupt::request(first);
    errln!(
        "received {}: stopping (cancelling the statement in flight, then releasing the lock); send it again to abort at once",
        first.name()
    );
    runner_db::interrupt::cancel_in_flight().await;
    if let Some(second) = next_signal().await {
        errln!("received {} again: aborting", second.name());
        // Scratch databases are dropped on the way out of their work; aborting skips that.
        for left in crate::scratch::drop_leftovers(std::time::Duration::from_secs(5)).await {
            errln!("left behind: {left}; drop it by hand");
        }
        std::process::exit(ExitCode::Stopped as i32);
    }
}

async fn next_signal() -> Option<runner_db::interrupt::Signal> {
    use runner_db::interrupt::Signal;
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return None;
    };
    tokio::select! {
        _ = term.recv() => Some(Signal::Terminate),
        _ = int.recv() => Some(Signal::Interrupt),
    }
}

/// Whether the command was asked for `--json` (so that a failure is JSON on stdout too).
fn json_output(command: &Command) -> bool {
    let out = match command {
        Command::Check { out, .. }
        | Command::Diff { out, .. }
        | Command::Status { out, .. }
        | Command::History { out, .. }
        | Command::Heads { out }
        | Command::Current { out }
        | Command::Show { out, .. }
        | Command::Apply { out, .. }
        | Command::Revert { out, .. }
        | Command::Stamp { out, .. }
        | Command::Repair { out, .. }
        | Command::Refresh { out, .. } => out,
        Command::Backfill(
            BackfillCommand::List { out }
            | BackfillCommand::Status { out, .. }
            | BackfillCommand::Run { out, .. }
            | BackfillCommand::Retry { out, .. },
        ) => out,
        Command::Plugin(
            PluginCommand::Check { out, .. }
            | PluginCommand::Build { out }
            | PluginCommand::Test { out, .. }
            | PluginCommand::Cache { action: Some(CacheCommand::Prune { out, .. }), .. },
        ) => out,
        Command::Plugin(PluginCommand::Cache { action: None, out }) => out,
        _ => return false,
    };
    out.json
}

/// A command that creates scratch databases: on SIGINT/SIGTERM it must stop through its
/// ordinary paths, which drop them, rather than die and leave them behind.
fn makes_scratch_databases(command: &Command) -> bool {
    matches!(
        command,
        Command::Diff { .. } | Command::New { autogenerate: true, .. } | Command::Check { schema: true, .. }
    )
}

/// A command that changes the database, and whether its output is JSON; `None` for the others
/// (and for `--sql`, whose output is the script alone).
fn writes(command: &Command) -> Option<bool> {
    match command {
        Command::Apply { preview, out, .. }
        | Command::Revert { preview, out, .. }
        | Command::Stamp { preview, out, .. } => (preview.mode() != Preview::Sql).then_some(out.json),
        Command::Reset { .. } | Command::Cron { .. } => Some(false),
        Command::Repair { out, .. } | Command::Refresh { out, .. } => Some(out.json),
        Command::Backfill(b) => match b {
            BackfillCommand::List { .. } | BackfillCommand::Status { .. } => None,
            BackfillCommand::Run { out, .. } | BackfillCommand::Retry { out, .. } => Some(out.json),
            BackfillCommand::Pause { .. } | BackfillCommand::Resume { .. } | BackfillCommand::Reset { .. } => {
                Some(false)
            }
        },
        _ => None,
    }
}

/// A new revision's header, from `new`'s flags.
fn header(no_transaction: bool, requires_backfills: Vec<String>) -> crate::scaffold::Header {
    let tx = if no_transaction { runner_revisions::TxMode::None } else { runner_revisions::TxMode::PerRevision };
    crate::scaffold::Header { tx, requires_backfills }
}

async fn dispatch(cli: Cli) -> Result<ExitCode, RunnerError> {
    let g = &cli.global;
    if let Some(out_json) = writes(&cli.command) {
        output::announce(&settings(g)?, out_json);
    }
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "runner", &mut buf);
            out!("{}", String::from_utf8_lossy(&buf));
            Ok(ExitCode::Ok)
        }
        Command::Init { engine } => files::init(g, engine),
        Command::New { message, no_transaction, requires_backfill, autogenerate: false, .. } => {
            files::new(&settings(g)?, &message, &header(no_transaction, requires_backfill), None)
        }
        Command::New {
            message,
            no_transaction,
            requires_backfill,
            autogenerate: true,
            dev_url,
            force,
            rename,
            online,
        } => {
            let args = files::AutogenerateArgs {
                dev_url: dev_url.as_deref(),
                renames: &rename,
                locking: if online { crate::Locking::Online } else { crate::Locking::Plain },
                force,
            };
            files::autogenerate(&settings(g)?, &message, &header(no_transaction, requires_backfill), args).await
        }
        Command::Merge { message } => files::merge(&settings(g)?, &message),
        Command::Check { db, schema, out } => {
            files::check(settings(g)?, files::CheckScope { checksums: db, schema }, out).await
        }
        Command::Diff { from, to, dev_url, exit_code, rename, out } => {
            read::diff(&settings(g)?, &from, &to, dev_url.as_deref(), exit_code, &rename, out).await
        }
        Command::Status { out, exit_code } => read::status(settings(g)?, out, exit_code).await,
        Command::History { out, verbose } => read::history(settings(g)?, out, verbose).await,
        Command::Heads { out } => read::heads(settings(g)?, out).await,
        Command::Current { out } => read::current(settings(g)?, out).await,
        Command::Show { revision, out } => read::show(settings(g)?, &revision, out).await,
        Command::Apply { with_backfills, workers, to, resume, out_of_order, preview, out } => {
            let backfills = with_backfills.then(|| crate::BackfillOptions { workers, ..Default::default() });
            let rules = ApplyRules {
                unfinished: if resume { Unfinished::Resume } else { Unfinished::Refuse },
                order: if out_of_order { Order::AllowOutOfOrder } else { Order::Strict },
            };
            write::apply(settings(g)?, to, rules, backfills, preview, out).await
        }
        Command::Backfill(b) => match b {
            BackfillCommand::List { out } => backfill::list(settings(g)?, out).await,
            BackfillCommand::Status { name, out } => backfill::status(settings(g)?, name.as_deref(), out).await,
            BackfillCommand::Run { name, max_batches, workers, out } => {
                backfill::run(settings(g)?, &name, max_batches, workers, out).await
            }
            BackfillCommand::Pause { name } => backfill::change(settings(g)?, &name, StatusChange::Pause).await,
            BackfillCommand::Resume { name } => backfill::change(settings(g)?, &name, StatusChange::Resume).await,
            BackfillCommand::Retry { name, max_batches, workers, out } => {
                backfill::retry(settings(g)?, &name, max_batches, workers, out).await
            }
            BackfillCommand::Reset { name, confirm } => backfill::reset(settings(g)?, &name, confirm).await,
        },
        Command::Plugin(PluginCommand::Check { file, out }) => backfill::plugin_check(&settings(g)?, &file, out).await,
        Command::Plugin(PluginCommand::Build { out }) => backfill::plugin_build(&settings(g)?, out).await,
        Command::Plugin(PluginCommand::Cache { action: None, out }) => backfill::plugin_cache(&settings(g)?, out),
        Command::Plugin(PluginCommand::Cache {
            action: Some(CacheCommand::Prune { older_than, all, out }), ..
        }) => {
            let how = if all {
                crate::Prune::All
            } else {
                crate::Prune::IdleFor(Duration::from_secs(older_than.saturating_mul(86_400)))
            };
            backfill::plugin_cache_prune(&settings(g)?, how, out)
        }
        Command::Plugin(PluginCommand::New { name, lang, dir }) => {
            backfill::plugin_new(&settings(g)?, &name, lang, dir)
        }
        Command::Plugin(PluginCommand::Test { plugin, rows, backfill, key, lookups, http, expect, out }) => {
            let test = crate::PluginTest { plugin, backfill, rows, key, lookups, http, expect };
            backfill::plugin_test(&settings(g)?, &test, out).await
        }
        Command::Refresh { name, all, out } => {
            let which = match (name, all) {
                (Some(name), false) => crate::refresh::RefreshSelection::One(name),
                (None, true) => crate::refresh::RefreshSelection::All,
                _ => return Err(crate::refusal::Refusal::Usage("name one refresh, or pass --all".into()).into()),
            };
            schedule::refresh(settings(g)?, which, out).await
        }
        Command::Cron { r#for, listen } => schedule::cron(settings(g)?, r#for, listen).await,
        Command::Revert { steps, to, preview, out } => write::revert(settings(g)?, steps, to, preview, out).await,
        Command::Stamp { revision, preview, out } => write::stamp(settings(g)?, &revision, preview, out).await,
        Command::Reset { confirm } => write::reset(settings(g)?, confirm).await,
        Command::Repair { mark_done, dry_run, out } => {
            write::repair(settings(g)?, crate::RepairOptions { mark_done, dry_run }, out).await
        }
    }
}

/// `--workers`: as many as a manifest may ask for.
fn workers_in_range() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..=runner_backfill::MAX_WORKERS as u64)
}
