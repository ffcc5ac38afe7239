//! Requests `runner` declines before touching anything, each with the facts an embedding
//! application can act on and the sentence an operator reads.

use runner_backfill::Role;
use runner_backfill::{BackfillState, StatusChange};
use std::path::PathBuf;

/// Why a request was declined. Nothing was changed in the database or on disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A file `runner init` or `runner new` would write is already there.
    #[error("{} already exists; nothing was changed", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// `runner new` without a message.
    #[error("a revision needs a message saying what it does, e.g. `runner new \"add user preferences\"`")]
    NoMessage,
    /// `runner merge` with fewer than two heads.
    #[error("nothing to merge: there is {} head", if *heads == 0 { "no" } else { "one" })]
    NothingToMerge {
        /// How many heads there are.
        heads: usize,
    },
    /// A command that needs at least one revision.
    #[error("no revisions yet")]
    NoRevisions,
    /// `backfill run` on a manifest that is a data migration or a refresh plugin.
    #[error("`{name}` has role {}: it runs {}, not as a backfill", role_word(*role), role_home(*role))]
    NotABackfill {
        /// The backfill.
        name: String,
        /// What its manifest is for.
        role: Role,
    },
    /// A backfill whose `requires` revision is not applied yet.
    #[error("backfill `{backfill}` requires revision `{revision}`, which is not applied; run `runner apply` first")]
    RequiresRevision {
        /// The backfill.
        backfill: String,
        /// The revision.
        revision: String,
    },
    /// Pause/resume/retry of a backfill in a state that does not allow it.
    #[error(
        "backfill `{name}` {}; only {} backfills can be {}",
        status.phrase(),
        allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "),
        change_done(*change)
    )]
    BackfillState {
        /// The backfill.
        name: String,
        /// Where it is.
        status: BackfillState,
        /// The states the change is allowed from.
        allowed: Vec<BackfillState>,
        /// The change asked for.
        change: StatusChange,
    },
    /// `repair --mark-done` of a revision that is not an unfinished no-transaction one.
    #[error("`--mark-done {id}`: revision `{id}` is not an unfinished no-transaction revision; nothing was changed")]
    NotUnfinished {
        /// The revision id.
        id: String,
    },
    /// `apply --sql` over a revision whose data migration only a live run can carry.
    #[error(
        "revision `{revision}` runs data migration `{migration}` (a WASM plugin), which an offline SQL script cannot carry; apply it with `runner apply`"
    )]
    OfflineDataMigration {
        /// The revision.
        revision: String,
        /// The data migration it names.
        migration: String,
    },
    /// A bad command line (exit 2): a request that would do nothing, that destroys data
    /// without `--confirm`, or an option the database at hand has no use for (`--online` on
    /// SQLite), found once the database is known. The one usage error.
    #[error("{0}")]
    Usage(String),
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Backfill => "backfill",
        Role::DataMigration => "data-migration",
        Role::Refresh => "refresh",
    }
}

fn role_home(role: Role) -> &'static str {
    match role {
        Role::Refresh => "from its [[refresh]]",
        _ => "inside the revision that names it",
    }
}

fn change_done(change: StatusChange) -> &'static str {
    match change {
        StatusChange::Pause => "paused",
        StatusChange::Resume => "resumed",
        StatusChange::Retry => "retried",
    }
}
