//! The shared state table: one row per tracked object (revisions now; backfills and refreshes
//! later), keyed by `(kind, name)`.
//!
//! Every write is rendered here as literal SQL, so the statements `apply` runs and the script
//! `apply --sql` prints are the same text. The table name is always schema-qualified, because a
//! revision may change `search_path` before its state row is written in the same transaction.

mod backfills;
mod lease;
mod owner;
mod refreshes;
mod render;
mod table;

pub use backfills::BackfillRow;
pub use lease::Lease;
pub use owner::{Owner, hostname, process_alive};
pub use refreshes::RefreshRow;
pub use table::{AppliedBy, STATE_VERSION, StateError, StateTable};
