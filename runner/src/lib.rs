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
//! The crates underneath: `runner-revisions` (files → graph → plan, pure), `runner-db` (the
//! driver trait), `runner-state` (the state table).

mod backfills;
mod build;
pub mod cli;
mod config_env;
mod cron_ops;
mod declarations;
mod deploy;
mod download;
mod error;
mod execute;
mod host;
mod lock;
mod lookup;
mod offline;
mod refresh;
mod refresh_sql;
mod report;
mod runner;
pub mod scaffold;
mod script;
pub mod settings;
pub mod toolchain;

pub use backfills::{BackfillOptions, BackfillState, BackfillSummary, StatusChange};
pub use deploy::{Deploy, DeployObserver, Quiet};
pub use error::{Committed, ExitCode, FailedStatement, RunnerError};
pub use refresh::{RefreshOutcome, RefreshSummary};
pub use report::{Report, StepDone};
pub use runner::{Access, RepairOptions, Repaired, RevisionSummary, Runner, Status};
pub use runner_backfill::{Outcome, Progress, RunOptions, RunReport};
pub use runner_db::{DatabaseUrl, Dialect};
pub use runner_revisions::plan::{ApplyRules, Order, Problem, Unfinished};
pub use runner_revisions::{Graph, Plan, Target};
pub use settings::Settings;
