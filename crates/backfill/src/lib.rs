//! Resumable, batched backfills.
//!
//! A backfill is a manifest (`backfills/NAME.toml`, see [`manifest`]) naming a WASM plugin, a
//! source (table, key, columns, a filter of rows still to do) and a target. The engine reads
//! batches by keyset (never OFFSET), hands each to the plugin in a fresh sandbox instance, and
//! writes the plugin's changes set-based in one transaction together with the checkpoint in the
//! shared state table.

#![warn(missing_docs)]

mod batch;
pub mod claims;
pub mod convert;
mod data_migration;
mod engine;
pub mod lifecycle;
pub mod manifest;
pub mod progress;
mod sql;
mod throttle;
mod workers;
mod write;

pub use data_migration::run_in_transaction;
pub use engine::{Backfill, BackfillError, Finish, Outcome, RunOptions, RunReport, WorkReport, worker_name};
pub use lifecycle::{BackfillState, StatusChange};
pub use manifest::{FilterIs, MAX_WORKERS, Manifest, ManifestError, PluginSource, Role, Throttle};
pub use progress::Progress;
pub use workers::{Observer, Run};
