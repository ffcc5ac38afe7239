//! Revision files → graph → plan. Pure: this crate reads files and computes, it never talks to a
//! database and never runs WASM.
//!
//! The split matters because `status`, `apply --dry-run`, `apply --sql` and `apply` must agree: they
//! all call one planner ([`plan::plan_apply`], [`plan::plan_revert`], [`plan::plan_stamp`]) with the revisions on disk and the history read from the database, and
//! only differ in what they do with the resulting [`Plan`]. sqlx-cli shows the cost of not doing
//! this (its dry-run re-implements the apply loop and has drifted from the library).

#![warn(missing_docs)]

pub mod checksum;
pub mod error;
pub mod file;
pub mod graph;
pub mod history;
pub mod layout;
pub mod names;
pub mod plan;
pub mod splitter;
pub mod toml_line;

pub use checksum::Checksum;
pub use error::{Problems, RevisionError};
pub use file::{Revision, Script, TxMode};
pub use graph::Graph;
pub use history::{Applied, AppliedStatus, History};
pub use names::{is_plain_name, is_plain_table};
pub use plan::{Action, Gate, Plan, Step, Target};
pub use splitter::Statement;
