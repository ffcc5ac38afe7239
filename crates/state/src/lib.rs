//! The shared state table: one row per tracked object (revisions, backfills and their chunks,
//! refreshes and their cron slots, locks), keyed by `(kind, name)`.
//!
//! Every write is rendered here as literal SQL, so the statements `apply` runs and the script
//! `apply --sql` prints are the same text. The table name is always schema-qualified, because a
//! revision may change `search_path` before its state row is written in the same transaction.

#![warn(missing_docs)]

mod backfills;
mod lease;
mod owner;
mod refreshes;
mod render;
mod status;
mod table;

pub use backfills::{BackfillRow, ChunkRow, ProgressRow};
pub use lease::Lease;
pub use owner::{Owner, hostname, process_alive};
pub use refreshes::{RefreshProgress, RefreshRow};
pub use status::{BackfillStatus, ChunkStatus, Kind, RefreshStatus, SlotStatus};
pub use table::{AppliedBy, Expected, STATE_VERSION, StateError, StateTable};
