//! What a run did, for the operator and for `--json`.

use runner_revisions::Action;
use std::time::Duration;

/// An action as operators read it: `apply`, `resume at statement 3`, `revert`, …
pub fn action_word(a: Action) -> String {
    match a {
        Action::Apply { from: 0 } => "apply".into(),
        Action::Apply { from } => format!("resume at statement {}", from + 1),
        Action::Revert => "revert".into(),
        Action::Stamp => "stamp".into(),
        Action::Unstamp => "unstamp".into(),
    }
}

/// One step as every command reports it (`apply`, `revert`, `stamp`, and the plans of their
/// `--dry-run`): the same field names everywhere.
#[derive(Debug, Clone)]
pub struct StepDone {
    /// What it did.
    pub action: Action,
    /// The revision.
    pub revision: String,
    /// What the revision does.
    pub description: String,
    /// Its file.
    pub file: std::path::PathBuf,
    /// How it ran.
    pub transaction: runner_revisions::TxMode,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl serde::Serialize for StepDone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            action: &'static str,
            /// For an `apply` that resumed a no-transaction revision: the statement it resumed
            /// at (1-based); otherwise `null`.
            resume_at_statement: Option<usize>,
            revision: &'a str,
            description: &'a str,
            file: &'a std::path::Path,
            transaction: runner_revisions::TxMode,
            duration_ms: u64,
        }
        Shown {
            action: action_kind_word(self.action),
            resume_at_statement: resume_statement(self.action),
            revision: &self.revision,
            description: &self.description,
            file: &self.file,
            transaction: self.transaction,
            duration_ms: self.duration_ms,
        }
        .serialize(s)
    }
}

/// `apply`, `revert`, `stamp` or `unstamp`, for JSON (the resume point has a field of its own).
pub fn action_kind_word(a: Action) -> &'static str {
    match a {
        Action::Apply { .. } => "apply",
        Action::Revert => "revert",
        Action::Stamp => "stamp",
        Action::Unstamp => "unstamp",
    }
}

/// The 1-based statement an apply resumed at, if it resumed.
pub fn resume_statement(a: Action) -> Option<usize> {
    match a {
        Action::Apply { from } if from > 0 => Some(from + 1),
        _ => None,
    }
}

/// What a run did, step by step.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// The steps, in order.
    pub steps: Vec<StepDone>,
    /// Where `apply` stopped because a revision waits for backfills.
    pub gate: Option<runner_revisions::Gate>,
}

impl Report {
    pub(crate) fn push(&mut self, step: &runner_revisions::Step, took: Duration) {
        let rev = &step.revision;
        self.steps.push(StepDone {
            action: step.action,
            revision: rev.id.clone(),
            description: rev.description.clone(),
            file: rev.path.clone(),
            transaction: runner_revisions::plan::step_tx(step),
            duration_ms: took.as_millis() as u64,
        });
    }
}
