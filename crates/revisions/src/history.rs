//! What the database says happened: the planner's second input, read from the state table by the
//! `state` crate and handed over as plain data.

use crate::checksum::Checksum;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppliedStatus {
    Applied,
    /// A no-transaction revision was started and has not finished (still running, or killed).
    Running,
    /// A no-transaction revision stopped at a failing statement.
    Failed,
    Reverted,
}

impl AppliedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppliedStatus::Applied => "applied",
            AppliedStatus::Running => "running",
            AppliedStatus::Failed => "failed",
            AppliedStatus::Reverted => "reverted",
        }
    }

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
    pub id: String,
    pub status: AppliedStatus,
    pub checksum: Option<Checksum>,
    pub description: Option<String>,
    /// Order of application; the latest applied revision has the largest.
    pub seq: Option<i64>,
    pub applied_at: Option<String>,
    pub applied_by: Option<String>,
    pub duration_ms: Option<i64>,
    /// For a no-transaction revision: statements completed, and how many there are.
    pub statements_done: Option<usize>,
    pub statements_total: Option<usize>,
    /// An unfinished no-transaction revision: the checksum of its completed statements.
    pub done_checksum: Option<crate::checksum::Checksum>,
    pub error: Option<String>,
    pub stamped: bool,
    /// Who reverted a reverted revision, and when (`applied_*` stay the apply's).
    pub reverted_at: Option<String>,
    pub reverted_by: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    pub rows: BTreeMap<String, Applied>,
    /// Backfills recorded as completed (they gate revisions that require them).
    pub completed_backfills: std::collections::BTreeSet<String>,
}

impl History {
    pub fn new(rows: impl IntoIterator<Item = Applied>) -> History {
        History { rows: rows.into_iter().map(|a| (a.id.clone(), a)).collect(), completed_backfills: Default::default() }
    }

    pub fn get(&self, id: &str) -> Option<&Applied> {
        self.rows.get(id)
    }

    pub fn is_applied(&self, id: &str) -> bool {
        self.get(id).is_some_and(|a| a.status == AppliedStatus::Applied)
    }

    /// Rows that count as present in the database (applied, or half-applied).
    pub fn present(&self) -> impl Iterator<Item = &Applied> {
        self.rows.values().filter(|a| a.status != AppliedStatus::Reverted)
    }
}
