//! A backfill's life as operators see it (`status`, `backfill pause|resume|retry`): where it
//! is, and which changes of status are allowed from where. The recorded status lives in the
//! state table; this adds what only the chunks tell (nobody works on one recorded as running).

use runner_state::{BackfillRow, BackfillStatus, ChunkRow};

/// An operator's change of a backfill's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// `runner backfill pause`.
    Pause,
    /// `runner backfill resume`.
    Resume,
    /// Run a failed backfill again from its last checkpoint.
    Retry,
}

impl StatusChange {
    /// The status it records, and the states it may be made from.
    pub fn transition(self) -> (BackfillStatus, &'static [BackfillState]) {
        use BackfillState as S;
        match self {
            StatusChange::Pause => (BackfillStatus::Paused, &[S::Running, S::Pending, S::Interrupted]),
            StatusChange::Resume => (BackfillStatus::Running, &[S::Paused, S::Interrupted]),
            StatusChange::Retry => (BackfillStatus::Running, &[S::Failed, S::Interrupted]),
        }
    }
}

/// Where a backfill is, as operators see it: the recorded status, plus `Pending` before its
/// first run and `Interrupted` for one recorded as running that no live worker works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillState {
    /// Not started.
    Pending,
    /// A live worker works on it.
    Running,
    /// Recorded as running, and no live worker works on it: the next run continues it.
    Interrupted,
    /// Paused by an operator.
    Paused,
    /// Stopped by a failure.
    Failed,
    /// Every row done.
    Completed,
}

impl BackfillState {
    /// The word `backfill status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillState::Pending => "pending",
            BackfillState::Running => "running",
            BackfillState::Interrupted => "interrupted",
            BackfillState::Paused => "paused",
            BackfillState::Failed => "failed",
            BackfillState::Completed => "completed",
        }
    }

    /// "has failed", "is paused", …: for sentences about a backfill.
    pub fn phrase(self) -> &'static str {
        match self {
            BackfillState::Pending => "has not run yet",
            BackfillState::Running => "is running",
            BackfillState::Interrupted => "was interrupted",
            BackfillState::Paused => "is paused",
            BackfillState::Failed => "has failed",
            BackfillState::Completed => "has completed",
        }
    }

    /// From the recorded row, if any, and its chunks: running only while a live worker holds
    /// one of its ranges ([`crate::claims::worked_on`]).
    pub fn of(row: Option<&BackfillRow>, chunks: &[ChunkRow]) -> BackfillState {
        match row.map(|r| r.status) {
            None => BackfillState::Pending,
            // Stopped by Ctrl-C, SIGTERM or a kill, and waiting to be run again.
            Some(BackfillStatus::Running) if !chunks.iter().any(crate::claims::worked_on) => BackfillState::Interrupted,
            Some(BackfillStatus::Running) => BackfillState::Running,
            Some(BackfillStatus::Paused) => BackfillState::Paused,
            Some(BackfillStatus::Failed) => BackfillState::Failed,
            Some(BackfillStatus::Completed) => BackfillState::Completed,
        }
    }

    /// How it is recorded in the state table (`None`: no row yet).
    pub fn recorded(self) -> Option<BackfillStatus> {
        match self {
            BackfillState::Pending => None,
            BackfillState::Running | BackfillState::Interrupted => Some(BackfillStatus::Running),
            BackfillState::Paused => Some(BackfillStatus::Paused),
            BackfillState::Failed => Some(BackfillStatus::Failed),
            BackfillState::Completed => Some(BackfillStatus::Completed),
        }
    }
}

impl std::fmt::Display for BackfillState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{BackfillState, StatusChange};
    use runner_state::{BackfillRow, BackfillStatus, ChunkRow, ChunkStatus, Owner, ProgressRow};

    fn row<S>(status: S, owner: Option<Owner>, updated_at: Option<String>) -> ProgressRow<S> {
        ProgressRow {
            name: "fill".into(),
            status,
            progress: serde_json::json!({ "owner": owner.map(|o| o.encode()) }),
            error: None,
            started_at: None,
            updated_at,
            duration_ms: None,
        }
    }

    #[test]
    fn a_running_backfill_nobody_works_on_is_interrupted() {
        let running: BackfillRow = row(BackfillStatus::Running, None, None);
        assert_eq!(BackfillState::of(None, &[]), BackfillState::Pending);
        assert_eq!(BackfillState::of(Some(&running), &[]), BackfillState::Interrupted);
        // This process is alive: its claim is worked on.
        let mine: ChunkRow = row(ChunkStatus::Claimed, Some(Owner::this_process(Some(0))), None);
        assert_eq!(BackfillState::of(Some(&running), &[mine]), BackfillState::Running);
        // A process on this host that does not run: its claim is dead at once.
        let gone = Owner { pid: u32::MAX - 1, ..Owner::this_process(Some(0)) };
        let dead: ChunkRow = row(ChunkStatus::Claimed, Some(gone), None);
        assert!(crate::claims::held_by_the_dead(&dead));
        assert_eq!(BackfillState::of(Some(&running), &[dead]), BackfillState::Interrupted);
        // A worker on another host: alive while its checkpoints are recent, not after the
        // stale-claim time.
        let elsewhere = Owner { host: "another-host".into(), ..Owner::this_process(Some(0)) };
        let at = |ago: std::time::Duration| {
            let t = chrono::Utc::now() - chrono::Duration::from_std(ago).unwrap();
            Some(t.to_rfc3339())
        };
        let recent: ChunkRow =
            row(ChunkStatus::Claimed, Some(elsewhere.clone()), at(std::time::Duration::from_secs(5)));
        let stale: ChunkRow = row(
            ChunkStatus::Claimed,
            Some(elsewhere),
            at(crate::claims::STALE_CLAIM + std::time::Duration::from_secs(5)),
        );
        assert_eq!(BackfillState::of(Some(&running), &[recent]), BackfillState::Running);
        assert_eq!(BackfillState::of(Some(&running), &[stale]), BackfillState::Interrupted);
    }

    #[test]
    fn each_change_names_where_it_may_start() {
        use BackfillState as S;
        assert_eq!(StatusChange::Retry.transition(), (BackfillStatus::Running, &[S::Failed, S::Interrupted][..]));
        assert!(!StatusChange::Resume.transition().1.contains(&S::Failed));
        assert!(StatusChange::Pause.transition().1.contains(&S::Pending));
        for s in [S::Running, S::Interrupted] {
            assert_eq!(s.recorded(), Some(BackfillStatus::Running));
        }
        assert_eq!(S::Pending.recorded(), None);
    }
}
