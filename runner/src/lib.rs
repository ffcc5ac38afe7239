//! `runner` evolves databases safely: it applies SQL revisions, runs WASM backfills and
//! scheduled refreshes, and tracks everything in one state table.
//!
//! Applications that migrate at start-up embed it:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use runner::{Runner, Target};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("migrations"))?;
//! std::fs::write(dir.path().join("migrations/001_users.sql"), "CREATE TABLE users (id integer PRIMARY KEY);")?;
//! let url = format!("sqlite://{}", dir.path().join("app.db").display());
//!
//! let report = Runner::connect(&url)
//!     .await?
//!     .with_migrations(dir.path().join("migrations"))
//!     .apply(Target::Head)
//!     .await?;
//! assert_eq!(report.steps[0].revision, "001");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [`Runner::apply_with_backfills`] deploys as `runner apply --with-backfills` does, reporting to a
//! [`DeployObserver`]; [`Runner::run_backfill`], [`Runner::run_refresh`] and [`Runner::run_cron`]
//! run backfills and refreshes on their own.
//! Every failure is a [`RunnerError`] with an [`ExitCode`]; a request refused before anything ran is
//! a [`Refusal`].
//!
//! Library users who do not want the command line's dependencies (clap, the tracing subscriber,
//! mimalloc) depend on it with `default-features = false`.
//!
//! The crates underneath: `runner-revisions` (files → graph → plan, pure), `runner-db` (the
//! driver trait and dialect rules), `runner-state` (the state table), `runner-sandbox` (the only
//! place wasmtime is touched), `runner-backfill` (batched, resumable backfills) and
//! `runner-schedule` (refresh declarations and their cron slots, pure).

mod backfills;
mod build;
/// The `runner` command line. Public only so the binary and the help tests (which walk clap's
/// model of every command) can reach it; not part of the library's API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod config_env;
mod declarations;
mod deploy;
mod download;
mod error;
mod host;
mod lock;
mod lookup;
mod plugin_cache;
mod plugin_new;
mod plugin_test;
mod refresh;
mod refusal;
mod report;
mod revisions;
mod runner;
pub mod scaffold;
mod schema_diff;
pub mod settings;
pub mod toolchain;

pub use backfills::plugin_wasm as plugin_component;
pub use backfills::{BackfillOptions, BackfillState, BackfillSummary, StatusChange};
pub use build::Language;
pub use deploy::{Deploy, DeployObserver, Quiet};
pub use error::{Committed, ExitCode, FailedStatement, RunnerError};
pub use plugin_cache::{CacheReport, CachedItem, CachedKind, Prune, cache_report, prune as prune_cache};
pub use plugin_new::new_plugin;
pub use plugin_test::{PluginTest, PluginTestReport, change_line, test_plugin};
pub use refresh::ops::{Health, Metrics, RefreshMetrics, SharedMetrics, Webhook, serve as serve_metrics};
pub use refresh::{CronOps, RefreshOutcome, RefreshSummary};
pub use refusal::Refusal;
pub use report::{Report, StepDone};
pub use runner::{Access, RepairOptions, Repaired, RevisionSummary, Runner, Status};
pub use runner_backfill::{Manifest, Outcome, Progress, RunOptions, RunReport};
pub use runner_db::{DatabaseUrl, Dialect};
pub use runner_revisions::AppliedStatus;
pub use runner_revisions::plan::{ApplyRules, Order, Problem, Unfinished};
pub use runner_revisions::{Graph, Plan, Target};
pub use runner_schedule::Refresh;
pub use runner_schema::{Change, Diff, Unhandled};
pub use runner_state::{BackfillStatus, RefreshStatus, StateTable};
pub use schema_diff::{SchemaSource, diff_schemas};
pub use settings::Settings;
