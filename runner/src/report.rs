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

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepDone {
    pub revision: String,
    pub description: String,
    #[serde(flatten)]
    pub action: Action,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub steps: Vec<StepDone>,
    /// Where `apply` stopped because a revision waits for backfills.
    pub gate: Option<runner_revisions::Gate>,
}

impl Report {
    pub(crate) fn push(&mut self, revision: &str, description: &str, action: Action, took: Duration) {
        self.steps.push(StepDone {
            revision: revision.to_string(),
            description: description.to_string(),
            action,
            duration_ms: took.as_millis() as u64,
        });
    }
}
