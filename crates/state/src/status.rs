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
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

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
        Meta = "meta",
        Revision = "revision",
        /// One row per revert of a revision, for the audit trail: who reverted it, and when.
        Revert = "revert",
        Backfill = "backfill",
        BackfillChunk = "backfill-chunk",
        Refresh = "refresh",
        RefreshSlot = "refresh-slot",
        Lock = "lock",
    }
}

stored_words! {
    /// A backfill's recorded status. Whether a `Running` one has a live worker is decided by
    /// its chunks' leases, not stored.
    BackfillStatus {
        Running = "running",
        Paused = "paused",
        Failed = "failed",
        Completed = "completed",
    }
}

stored_words! {
    /// A key range of a backfill.
    ChunkStatus {
        Pending = "pending",
        /// Held by a worker, whose owner string is in the progress JSON.
        Claimed = "claimed",
        Failed = "failed",
        Completed = "completed",
    }
}

stored_words! {
    /// How a refresh's last run ended.
    RefreshStatus {
        Ok = "ok",
        Failed = "failed",
    }
}

stored_words! {
    /// A claimed cron slot of a refresh.
    SlotStatus {
        Running = "running",
        Ok = "ok",
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
