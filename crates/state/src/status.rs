//! The words stored in the state table's `kind` and `status` columns, one enum per row kind, so
//! that a misspelt status is a compile error rather than a row no query ever matches.

/// An enum stored as a fixed word: `as_str` writes it, `parse` reads it back.
macro_rules! stored_words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored for it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// The value a stored word stands for; `None` for a word it does not know.
            pub fn parse(word: &str) -> Option<$name> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_words! {
    /// What a row tracks (the `kind` column).
    Kind {
        /// The table's own metadata (its layout version).
        Meta = "meta",
        /// A revision applied (or being applied, for a `transaction: none` one).
        Revision = "revision",
        /// One row per revert of a revision, for the audit trail: who reverted it, and when.
        Revert = "revert",
        /// A backfill and its overall progress.
        Backfill = "backfill",
        /// One key range of a backfill, claimed by one worker at a time.
        BackfillChunk = "backfill-chunk",
        /// A refresh and its last run.
        Refresh = "refresh",
        /// One cron slot of a refresh, claimed by the replica that runs it.
        RefreshSlot = "refresh-slot",
        /// The runner lock where there are no advisory locks (SQLite).
        Lock = "lock",
    }
}

stored_words! {
    /// A backfill's recorded status. Whether a `Running` one has a live worker is decided by
    /// its chunks' leases, not stored.
    BackfillStatus {
        /// Started and not finished.
        Running = "running",
        /// Paused by an operator (`runner backfill pause`).
        Paused = "paused",
        /// Stopped by a failure; a rerun continues it.
        Failed = "failed",
        /// Every chunk done.
        Completed = "completed",
    }
}

stored_words! {
    /// A key range of a backfill.
    ChunkStatus {
        /// Not started, or released to be taken again.
        Pending = "pending",
        /// Held by a worker, whose owner string is in the progress JSON.
        Claimed = "claimed",
        /// Stopped by a failure.
        Failed = "failed",
        /// Every row of its range done.
        Completed = "completed",
    }
}

stored_words! {
    /// How a refresh's last run ended.
    RefreshStatus {
        /// It succeeded.
        Ok = "ok",
        /// It failed.
        Failed = "failed",
    }
}

stored_words! {
    /// A claimed cron slot of a refresh.
    SlotStatus {
        /// Being run by the replica that claimed it.
        Running = "running",
        /// It succeeded.
        Ok = "ok",
        /// It failed.
        Failed = "failed",
        /// The previous run was still going, or the revision it needs is not applied.
        Skipped = "skipped",
    }
}

impl From<RefreshStatus> for SlotStatus {
    fn from(s: RefreshStatus) -> SlotStatus {
        match s {
            RefreshStatus::Ok => SlotStatus::Ok,
            RefreshStatus::Failed => SlotStatus::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
        }
        for s in BackfillStatus::ALL {
            assert_eq!(BackfillStatus::parse(s.as_str()), Some(*s));
        }
        for s in ChunkStatus::ALL {
            assert_eq!(ChunkStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(BackfillStatus::parse("runnning"), None);
        assert_eq!(serde_json::to_string(&ChunkStatus::Claimed).unwrap(), "\"claimed\"");
    }
}
