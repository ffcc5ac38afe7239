//! Running revisions: a revision's SQL split into units ([`script`]), one plan step executed
//! against a live database ([`execute`]), and the same plan rendered as a script for `--sql`
//! ([`offline`]). What to run comes from the pure planner in `runner-revisions`.

pub(crate) mod execute;
pub(crate) mod offline;
pub(crate) mod script;
