//! Stopping on SIGINT/SIGTERM: a process-wide request that long work checks between units
//! (revisions, statements, batches), and the server-side cancel of every PostgreSQL statement in
//! flight, so that a stopped runner's revision does not go on running on the server while the
//! next runner takes the lock. Work then rolls back, records what happened and releases its
//! locks on its ordinary error paths.

use sqlx::ConnectOptions as _;
use sqlx::postgres::PgConnectOptions;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (what deploy systems send).
    Terminate,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`, as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

static REQUESTED: AtomicU8 = AtomicU8::new(0);

/// Asks every worker of this process to stop at its next check.
pub fn request(signal: Signal) {
    let code = match signal {
        Signal::Interrupt => 2,
        Signal::Terminate => 15,
    };
    let _ = REQUESTED.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether (and by which signal) the process was asked to stop.
pub fn requested() -> Option<Signal> {
    match REQUESTED.load(Ordering::SeqCst) {
        2 => Some(Signal::Interrupt),
        15 => Some(Signal::Terminate),
        _ => None,
    }
}

/// PostgreSQL sessions of this process that may be running a statement: backend pid, and how
/// to reach the server to cancel it.
static SESSIONS: Mutex<Option<HashMap<u64, (i32, PgConnectOptions)>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A session's place in the registry, for as long as the driver holds it: dropped with the
/// driver (or replaced on reconnect), so that a closed session's pid, which the server may give
/// to another session, is never cancelled.
pub(crate) struct Session(Option<u64>);

impl Session {
    pub(crate) fn register(pid: Option<i32>, options: &PgConnectOptions) -> Session {
        let Some(pid) = pid else { return Session(None) };
        let token = NEXT.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = SESSIONS.lock() {
            s.get_or_insert_with(HashMap::new).insert(token, (pid, options.clone()));
        }
        Session(Some(token))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let (Some(token), Ok(mut s)) = (self.0, SESSIONS.lock())
            && let Some(map) = s.as_mut()
        {
            map.remove(&token);
        }
    }
}

/// Cancels, on the server, whatever statement each registered session is running (PostgreSQL's
/// `pg_cancel_backend`, from a connection of its own). The cancelled statement fails with
/// SQLSTATE 57014 and its transaction rolls back; an idle session is not affected.
pub async fn cancel_in_flight() {
    let sessions: Vec<(i32, PgConnectOptions)> = match SESSIONS.lock() {
        Ok(s) => s.as_ref().map(|m| m.values().cloned().collect()).unwrap_or_default(),
        Err(_) => return,
    };
    for (pid, options) in sessions {
        match options.connect().await {
            Ok(mut c) => {
                let cancelled: Result<bool, _> =
                    sqlx::query_scalar("SELECT pg_cancel_backend($1)").bind(pid).fetch_one(&mut c).await;
                tracing::debug!(pid, ?cancelled, "cancelled the statement in flight");
                let _ = sqlx::Connection::close(c).await;
            }
            Err(e) => {
                tracing::warn!(pid, error = %crate::url::mask_url(&e.to_string()), "could not cancel the statement in flight")
            }
        }
    }
}
