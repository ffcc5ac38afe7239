//! What the database says happened: the planner's second input, read from the state table by the
//! `state` crate and handed over as plain data.

use crate::checksum::Checksum;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
/// What the state table records about a revision.
pub enum AppliedStatus {
    /// Applied (or stamped).
    Applied,
    /// A no-transaction revision was started and has not finished (still running, or killed).
    Running,
    /// A no-transaction revision stopped at a failing statement.
    Failed,
    /// Applied once, reverted since.
    Reverted,
}

impl AppliedStatus {
    /// The word stored for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AppliedStatus::Applied => "applied",
            AppliedStatus::Running => "running",
            AppliedStatus::Failed => "failed",
            AppliedStatus::Reverted => "reverted",
        }
    }

    /// The status a stored word stands for.
    pub fn parse(s: &str) -> Option<AppliedStatus> {
        Some(match s {
            "applied" => AppliedStatus::Applied,
            "running" => AppliedStatus::Running,
            "failed" => AppliedStatus::Failed,
            "reverted" => AppliedStatus::Reverted,
            _ => return None,
        })
    }
}

/// One revision's row in the state table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// The revision id.
    pub id: String,
    /// Its status.
    pub status: AppliedStatus,
    /// The checksum of its up script when it was applied.
    pub checksum: Option<Checksum>,
    /// Its description when it was applied.
    pub description: Option<String>,
    /// Order of application; the latest applied revision has the largest.
    pub seq: Option<i64>,
    /// When it was applied (RFC 3339).
    pub applied_at: Option<String>,
    /// Who applied it (`pid N on HOST`, with the database role).
    pub applied_by: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<i64>,
    /// For a no-transaction revision: statements completed, and how many there are.
    pub statements_done: Option<usize>,
    /// For a no-transaction revision: how many statements it has.
    pub statements_total: Option<usize>,
    /// An unfinished no-transaction revision: the checksum of its completed statements.
    pub done_checksum: Option<crate::checksum::Checksum>,
    /// Why it failed, for a failed one.
    pub error: Option<String>,
    /// Whether it was recorded without running (`runner stamp`).
    pub stamped: bool,
    /// Who reverted a reverted revision, and when (`applied_*` stay the apply's).
    pub reverted_at: Option<String>,
    /// Who reverted it.
    pub reverted_by: Option<String>,
}

/// Everything the state table says about revisions and backfills.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Each revision's row, by id.
    pub rows: BTreeMap<String, Applied>,
    /// Backfills recorded as completed (they gate revisions that require them).
    pub completed_backfills: std::collections::BTreeSet<String>,
}

impl History {
    /// The history of these rows (no backfills completed).
    pub fn new(rows: impl IntoIterator<Item = Applied>) -> History {
        History { rows: rows.into_iter().map(|a| (a.id.clone(), a)).collect(), completed_backfills: Default::default() }
    }

    /// The row of revision `id`.
    pub fn get(&self, id: &str) -> Option<&Applied> {
        self.rows.get(id)
    }

    /// Whether revision `id` is applied.
    pub fn is_applied(&self, id: &str) -> bool {
        self.get(id).is_some_and(|a| a.status == AppliedStatus::Applied)
    }

    /// Rows that count as present in the database (applied, or half-applied).
    pub fn present(&self) -> impl Iterator<Item = &Applied> {
        self.rows.values().filter(|a| a.status != AppliedStatus::Reverted)
    }
}
