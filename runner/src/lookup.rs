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
//! - on PostgreSQL, as a role that can do nothing but read, checked when the connection opens
//!   ([`role_problems`]): not a superuser, not `REPLICATION`, no member of a predefined role
//!   that acts outside the database, unable to take another login role's privileges or to run
//!   functions that reach outside (dblink, server files), and not the role runner writes with,
//!   whose other sessions (the application's) it could terminate. A read-only transaction stops
//!   writes to tables, not what such functions do, and `SET ROLE` is no boundary, so the role
//!   itself is the mechanism: `lookup_url` names it.

use crate::error::RunnerError;
use runner_backfill::convert::{from_plugin, to_plugin};
use runner_db::{Access, ConnectOptions, DatabaseUrl, DbError, DbValue, Driver, ReadLimits, RoleReach};
use runner_sandbox::{Lookup, LookupError, Value};
use std::time::Duration;
use tokio::sync::Mutex;

pub struct DbLookup {
    db: Mutex<Box<dyn Driver>>,
    limits: ReadLimits,
}

impl DbLookup {
    /// The lookup connection of `plugin` (opened with `options`, read-only), whose queries run for at most `timeout` and answer at
    /// most `max_bytes` (the plugin's memory limit); refused when its role can do more than read
    /// ([`role_problems`]; `writer` is the role runner writes with).
    pub async fn open(
        plugin: &str,
        url: &DatabaseUrl,
        options: &ConnectOptions,
        timeout: Duration,
        max_bytes: usize,
        writer: Option<&str>,
    ) -> Result<DbLookup, RunnerError> {
        // Read-only whatever the caller asked: a lookup never writes.
        let options = ConnectOptions { access: Access::ReadOnly, ..options.clone() };
        let mut db = runner_db::connect(url, &options).await?;
        let reach = match runner_db::role_reach(db.as_mut()).await {
            Ok(r) => r,
            Err(e) => {
                db.close().await;
                return Err(e.into());
            }
        };
        if let Some(reach) = reach {
            let problems = role_problems(&reach, writer);
            if !problems.is_empty() {
                db.close().await;
                return Err(RunnerError::LookupRole { plugin: plugin.to_string(), role: reach.role, problems });
            }
        }
        Ok(DbLookup { db: Mutex::new(db), limits: ReadLimits { timeout, max_rows: MAX_LOOKUP_ROWS, max_bytes } })
    }
}

/// What the role of a lookup connection could do besides reading, each as a phrase (empty when
/// it may serve lookups). `writer` is the role runner writes with.
pub fn role_problems(reach: &RoleReach, writer: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if reach.superuser {
        out.push(
            "is a superuser, so a query could call any function (dblink_exec, pg_create_physical_replication_slot, pg_terminate_backend on any session)".to_string(),
        );
    }
    if reach.replication && !reach.superuser {
        out.push("has REPLICATION, so a query could create replication slots that hold WAL".to_string());
    }
    if !reach.superuser {
        for power in &reach.powers {
            out.push(format!("is a member of {power}, which acts outside the database or on other sessions"));
        }
    }
    if writer == Some(reach.role.as_str()) {
        out.push(
            "is the role runner writes with, so a query could terminate or cancel that role's other sessions (the application's among them)".to_string(),
        );
    }
    if !reach.acts_as.is_empty() && !reach.superuser {
        out.push(format!(
            "can take the privileges of {} (SET ROLE), and with them whatever they may do",
            reach.acts_as.join(", ")
        ));
    }
    if !reach.functions.is_empty() && !reach.superuser {
        out.push(format!(
            "may execute {}, which reach outside the database (revoke EXECUTE from it and from PUBLIC)",
            reach.functions.join(", ")
        ));
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> RoleReach {
        RoleReach {
            role: "plugin_reader".into(),
            superuser: false,
            replication: false,
            powers: vec![],
            acts_as: vec![],
            functions: vec![],
        }
    }

    #[test]
    fn a_role_that_only_reads_serves_lookups_and_every_power_beyond_is_named() {
        assert!(role_problems(&reader(), Some("app")).is_empty());
        let said = |r: RoleReach, writer: &str| role_problems(&r, Some(writer)).join("; ");
        assert!(said(RoleReach { superuser: true, ..reader() }, "app").starts_with("is a superuser"));
        assert!(said(reader(), "plugin_reader").contains("is the role runner writes with"));
        assert!(said(RoleReach { replication: true, ..reader() }, "app").contains("has REPLICATION"));
        assert!(
            said(RoleReach { powers: vec!["pg_signal_backend".into()], ..reader() }, "app")
                .contains("member of pg_signal_backend")
        );
        assert!(
            said(RoleReach { acts_as: vec!["app".into()], ..reader() }, "x").contains("privileges of app (SET ROLE)")
        );
        assert!(
            said(RoleReach { functions: vec!["dblink_exec".into()], ..reader() }, "x")
                .contains("may execute dblink_exec")
        );
    }
}
