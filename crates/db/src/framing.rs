//! How a transaction that changes the schema is framed on each database, and how a session is
//! put back as it was: one home for what the drivers run live and what `--sql` writes into an
//! offline script, so the two cannot drift apart.

use crate::Dialect;

/// The statements around a schema-changing transaction, in order: `before`, `begin`, the
/// transaction's statements, `commit`, `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Run outside the transaction, before it opens.
    pub before: &'static [&'static str],
    /// Opens the transaction.
    pub begin: &'static str,
    /// Commits it.
    pub commit: &'static str,
    /// Run outside the transaction, after it ends (commit or rollback).
    pub after: &'static [&'static str],
}

impl Dialect {
    /// PostgreSQL: `BEGIN` … `COMMIT`. SQLite: foreign-key enforcement off around the
    /// transaction, as SQLite documents for schema changes (so a table rebuild neither cascades
    /// nor fails half-way; `PRAGMA foreign_keys` is a no-op inside a transaction, hence outside),
    /// and `BEGIN IMMEDIATE`, which takes the write lock at once, so two runners never
    /// interleave and a busy database makes the runner wait at the start, not fail at a write.
    pub const fn framing(self) -> Framing {
        match self {
            Dialect::Postgres => Framing { before: &[], begin: "BEGIN", commit: "COMMIT", after: &[] },
            Dialect::Sqlite => Framing {
                before: &["PRAGMA foreign_keys = OFF"],
                begin: "BEGIN IMMEDIATE",
                commit: "COMMIT",
                after: &["PRAGMA foreign_keys = ON"],
            },
        }
    }

    /// What undoes the session settings a revision may have changed (`SET timezone …`), so they
    /// do not leak into the next revision; `None` where a revision cannot change the session in
    /// a way that outlives it (SQLite's pragmas a revision sets are its own business, and a
    /// no-transaction revision resumed later starts a new session anyway).
    pub fn session_reset_sql(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some("RESET ALL"),
            Dialect::Sqlite => None,
        }
    }
}
