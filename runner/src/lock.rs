//! The runner lock: at most one runner changes a database at a time.
//!
//! PostgreSQL: a session advisory lock on a dedicated connection, taken by polling
//! `pg_try_advisory_lock` (never a blocking wait, which deadlocks `CREATE INDEX CONCURRENTLY`).
//! SQLite: a lease row in the state table (see `runner_state::Lease`).
//! Either way the lock is released on every path: [`crate::Runner`] releases it after the locked
//! work whatever its outcome, and if the process dies, PostgreSQL ends the session's lock and a
//! dead lease holder is taken over.

use crate::error::{LockCheckFailed, RunnerError};
use runner_db::{Driver, LockAttempt, LockKind};
use runner_state::{Lease, Owner, StateTable};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(250);
/// A SQLite lease not refreshed for this long is considered abandoned.
const LEASE_TTL: Duration = Duration::from_secs(600);

/// What a lock protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Revisions: at most one runner changes the schema at a time.
    Runner,
    /// One backfill: at most one process works on it at a time.
    Backfill(String),
    /// One refresh: runs of it never overlap.
    Refresh(String),
}

impl Scope {
    fn lease_name(&self) -> String {
        match self {
            Scope::Runner => "runner".into(),
            Scope::Backfill(name) => format!("backfill:{name}"),
            Scope::Refresh(name) => format!("refresh:{name}"),
        }
    }
}

/// The advisory-lock key: FNV-1a of `runner:<schema>.<table>` (plus `:backfill:<name>` for a
/// backfill), so projects with different state tables in one database do not block each other.
pub fn advisory_key(state: &StateTable, scope: &Scope) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let suffix = match scope {
        Scope::Runner => String::new(),
        Scope::Backfill(name) => format!(":backfill:{name}"),
        Scope::Refresh(name) => format!(":refresh:{name}"),
    };
    for b in format!("runner:{}{suffix}", state.display_name()).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// A SQLite lease is renewed when this much of its time has passed: often enough that it never
/// lapses while held, rarely enough that renewing (a write, so a commit and its fsync) costs
/// nothing per revision.
const LEASE_RENEW_AFTER: Duration = Duration::from_secs(LEASE_TTL.as_secs() / 10);

/// A held lock; give it back with [`release`].
#[must_use]
pub enum Held {
    Advisory(i64),
    /// A lease row, its name, and when it was last taken or renewed.
    Lease(Owner, String, std::sync::Mutex<Instant>),
}

pub async fn acquire(
    db: &mut dyn Driver,
    state: &StateTable,
    scope: &Scope,
    timeout: Duration,
    database: &str,
) -> Result<Held, RunnerError> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let holder = match db.dialect().lock_kind() {
            LockKind::Advisory => {
                let key = advisory_key(state, scope);
                match db.try_advisory_lock(key).await? {
                    LockAttempt::Acquired => return Ok(Held::Advisory(key)),
                    LockAttempt::HeldBy(h) => h,
                }
            }
            LockKind::Lease => {
                let me = me();
                let name = scope.lease_name();
                let attempt = match state.ensure(db).await {
                    Ok(()) => lease(state, &me, &name).try_acquire(db).await,
                    Err(e) => Err(e),
                };
                match attempt {
                    Ok(None) => return Ok(Held::Lease(me, name, std::sync::Mutex::new(Instant::now()))),
                    Ok(Some(h)) => h,
                    // Another runner's revision holds SQLite's write lock (for at least the
                    // busy timeout, which is the lock timeout): say who, from its lease.
                    Err(runner_state::StateError::Db(e)) if e.is_busy() => {
                        lease(state, &me, &name).holder(db).await.ok().flatten().unwrap_or_else(|| {
                            "another connection holding the SQLite database's write lock".to_string()
                        })
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if started.elapsed() >= timeout {
            return Err(RunnerError::LockTimeout {
                database: database.to_string(),
                holder,
                waited_s: timeout.as_secs(),
            });
        }
        if !announced {
            tracing::info!(holder = %holder, "waiting for the runner lock");
            announced = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn me() -> Owner {
    Owner::this_process(None)
}

fn lease<'t>(state: &'t StateTable, holder: &Owner, name: &str) -> Lease<'t> {
    Lease::new(state, name, holder.clone(), LEASE_TTL)
}

/// Keeps a lease alive during long runs, renewing it once [`LEASE_RENEW_AFTER`] has passed; a
/// no-op for advisory locks, which live as long as the session.
pub async fn refresh(db: &mut dyn Driver, state: &StateTable, held: &Held) -> Result<(), RunnerError> {
    if let Held::Lease(me, name, renewed) = held {
        let due = renewed.lock().map_or(true, |at| at.elapsed() >= LEASE_RENEW_AFTER);
        if due {
            lease(state, me, name).refresh(db).await?;
            if let Ok(mut at) = renewed.lock() {
                *at = Instant::now();
            }
        }
    }
    Ok(())
}

/// Confirms the lock is still held, before work that needs it: a lock connection the server
/// closed (an idle timeout, a terminated backend) took the lock with it, and another runner may
/// hold it now. Then nothing more may be written.
pub async fn confirm(db: &mut dyn Driver, state: &StateTable, held: &Held, database: &str) -> Result<(), RunnerError> {
    let still = match held {
        Held::Advisory(key) => db.advisory_lock_held(*key).await.map_err(LockCheckFailed::from),
        Held::Lease(me, name, _) => lease(state, me, name).held(db).await.map_err(LockCheckFailed::from),
    };
    let cause = match still {
        Ok(true) => return Ok(()),
        Ok(false) => LockCheckFailed::NotHeld,
        Err(e) => e,
    };
    Err(RunnerError::LockLost { database: database.to_string(), cause: Box::new(cause) })
}

pub async fn release(db: &mut dyn Driver, state: &StateTable, held: Held) -> Result<(), RunnerError> {
    match held {
        Held::Advisory(key) => db.advisory_unlock(key).await?,
        Held::Lease(me, name, _) => lease(state, &me, &name).release(db).await?,
    }
    Ok(())
}
