//! The `lookup` capability: read-only queries on a plugin's behalf.
//!
//! A plugin's SQL is hostile until shown otherwise, so the host (not the database's goodwill)
//! decides what runs:
//! - exactly one statement, and it must be a plain query: it runs as `SELECT * FROM (<query>)
//!   AS lookup`, which the server only accepts for `SELECT`/`VALUES`/`TABLE`/`WITH` without
//!   data-modifying parts (no `COPY … TO PROGRAM`, no `SET`, no `LOCK`, no `ATTACH`);
//! - on a connection of its own, opened read-only, in a read-only transaction the host opens and
//!   rolls back after every call, so no setting, role or lock survives it;
//! - under `lookup_timeout_ms` (PostgreSQL cancels it on the server, SQLite interrupts it), and
//!   inside the batch's own time limit;
//! - with an answer of at most [`MAX_LOOKUP_ROWS`] rows and as many bytes as the plugin's memory
//!   limit (it could not take more): read one row at a time and stopped there, so a plugin cannot
//!   make the host hold more for it;
//! - as the role of `lookup_url` when set: the way to scope what plugins may read, since a query
//!   can call any function the role may call (`pg_read_file` for a superuser).

use runner_backfill::convert::{from_plugin, to_plugin};
use runner_db::{Access, ConnectOptions, DatabaseUrl, DbError, DbValue, Driver, ReadLimits};
use runner_sandbox::{Lookup, LookupError, Value};
use std::time::Duration;
use tokio::sync::Mutex;

pub struct DbLookup {
    db: Mutex<Box<dyn Driver>>,
    limits: ReadLimits,
}

impl DbLookup {
    /// A lookup connection whose queries run for at most `timeout` and answer at most
    /// `max_bytes` (the plugin's memory limit).
    pub async fn open(url: &DatabaseUrl, timeout: Duration, max_bytes: usize) -> Result<DbLookup, DbError> {
        let options = ConnectOptions { access: Access::ReadOnly, ..ConnectOptions::default() };
        let db = runner_db::connect(url, &options).await?;
        Ok(DbLookup { db: Mutex::new(db), limits: ReadLimits { timeout, max_rows: MAX_LOOKUP_ROWS, max_bytes } })
    }
}

/// The most rows one lookup may return: the plugin decides the query, so the host bounds the
/// answer it holds in memory and hands back.
pub const MAX_LOOKUP_ROWS: usize = 10_000;

/// The query as the host runs it, or why it is refused.
pub fn plain_query(query: &str) -> Result<String, String> {
    let statements = runner_revisions::splitter::split(query, 1);
    match statements.as_slice() {
        [one] => Ok(format!("SELECT * FROM ({}\n) AS lookup LIMIT {}", one.sql, MAX_LOOKUP_ROWS + 1)),
        [] => Err("lookup: the query is empty".into()),
        more => Err(format!("lookup: exactly one query is allowed, got {} statements", more.len())),
    }
}

#[async_trait::async_trait]
impl Lookup for DbLookup {
    async fn lookup(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, LookupError> {
        let sql = plain_query(query).map_err(LookupError::Query)?;
        let params: Vec<DbValue> = params.iter().map(from_plugin).collect();
        let mut db = self.db.lock().await;
        let mut result = db.read_only_query(&sql, &params, &self.limits).await;
        if result.as_ref().is_err_and(|e| e.is_connection_lost()) {
            // One new connection; if that fails too the batch fails (and is retried later).
            result = match db.reconnect().await {
                Ok(()) => db.read_only_query(&sql, &params, &self.limits).await,
                Err(e) => Err(e),
            };
        }
        match result {
            Ok(rows) => Ok(rows.rows.into_iter().map(|r| r.into_iter().map(to_plugin).collect()).collect()),
            Err(DbError::AnswerTooLarge { limit }) => {
                Err(LookupError::Query(format!("lookup: the query returns more than {limit}; narrow it")))
            }
            Err(e) if e.is_connection_lost() => Err(LookupError::Unavailable(e.to_string())),
            Err(e) if e.is_statement_timeout() => Err(LookupError::Unavailable(format!(
                "the query took longer than its limit of {}ms (lookup_timeout_ms)",
                self.limits.timeout.as_millis()
            ))),
            Err(e) => Err(LookupError::Query(e.reason())),
        }
    }
}
