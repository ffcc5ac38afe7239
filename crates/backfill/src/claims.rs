//! Who holds a range (a chunk) of a backfill, and whether that worker is still at it: the one
//! home of the liveness rule that workers (taking over a dead worker's range), `status` and the
//! operator commands (`pause`, `retry`, refusing to reset a backfill someone works on) share.

use crate::progress::ChunkProgress;
use runner_state::{ChunkRow, ChunkStatus, Owner};
use std::time::Duration;

/// A claim not checkpointed for this long is taken over: its worker is gone or stuck. Workers
/// checkpoint at every batch, and a batch aims at a few seconds, so a live worker is far inside it.
pub const STALE_CLAIM: Duration = Duration::from_secs(120);

/// The worker holding `chunk`, when it is claimed and names one.
pub fn holder(chunk: &ChunkRow) -> Option<Owner> {
    if chunk.status != ChunkStatus::Claimed {
        return None;
    }
    ChunkProgress::from_json(&chunk.progress).owner.as_deref().and_then(Owner::parse)
}

/// Whether `chunk` is claimed by a process known to be gone (on this host, no longer running):
/// its range can be handed back at once rather than after [`STALE_CLAIM`].
pub fn held_by_the_dead(chunk: &ChunkRow) -> bool {
    holder(chunk).is_some_and(|o| o.is_gone())
}

/// Whether a worker that is alive holds `chunk`: claimed, its owner not a process known to be
/// gone, and either on this host (so known to run) or checkpointed within [`STALE_CLAIM`] (a
/// worker elsewhere, as far as its last checkpoint tells).
pub fn worked_on(chunk: &ChunkRow) -> bool {
    if chunk.status != ChunkStatus::Claimed {
        return false;
    }
    let owner = holder(chunk);
    if owner.as_ref().is_some_and(Owner::is_gone) {
        return false;
    }
    let local = owner.is_some_and(|o| o.host == runner_state::hostname());
    let stale = chrono::Duration::from_std(STALE_CLAIM).unwrap_or(chrono::Duration::MAX);
    let recent = chunk
        .updated_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| chrono::Utc::now().signed_duration_since(t) < stale);
    local || recent
}
