//! What the role of a connection can do besides reading: the facts a caller needs before it hands
//! that connection's queries to someone it does not trust (a plugin's `lookup`).
//!
//! A read-only transaction stops writes to tables, not everything a function can do: through a
//! superuser, `dblink_exec` writes over a second connection and `pg_create_physical_replication_slot`
//! leaves a slot that holds WAL; any role may `pg_terminate_backend` its own role's other sessions;
//! `SET ROLE` (or `set_config('role', …)`) takes the powers of any role one is a member of, so it
//! is no boundary. Which of these a role has is read from the catalog here; what to refuse is the
//! caller's policy.

use crate::dialect::Dialect;
use crate::driver::Driver;
use crate::error::DbError;

/// Predefined roles whose members can act outside the database or on other sessions.
pub const POWERFUL_ROLES: &[&str] = &[
    "pg_signal_backend",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_checkpoint",
    "pg_create_subscription",
    "pg_signal_autovacuum_worker",
    "pg_use_reserved_connections",
];

/// Functions that reach outside the database or its transaction (other connections, the
/// server's files), from the core and common extensions.
pub const OUTSIDE_FUNCTIONS: &[&str] = &[
    "dblink",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_exec",
    "dblink_open",
    "dblink_send_query",
    "lo_export",
    "lo_import",
    "pg_file_write",
    "pg_ls_dir",
    "pg_read_binary_file",
    "pg_read_file",
    "pg_stat_file",
    "http",
    "http_get",
    "http_post",
];

/// What the role of a PostgreSQL connection can do besides reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReach {
    /// The connection's role (`session_user`).
    pub role: String,
    /// A superuser: every check is bypassed.
    pub superuser: bool,
    /// `REPLICATION`: replication slots, WAL messages.
    pub replication: bool,
    /// The predefined roles of [`POWERFUL_ROLES`] whose privileges it has.
    pub powers: Vec<String>,
    /// Other roles that can log in whose privileges it can take (it is a member of them).
    pub acts_as: Vec<String>,
    /// Functions of [`OUTSIDE_FUNCTIONS`] it may execute.
    pub functions: Vec<String>,
}

/// What the connection's role can do besides reading; `None` on SQLite, which has no roles
/// (its lookups open the file read-only).
pub async fn role_reach(db: &mut dyn Driver) -> Result<Option<RoleReach>, DbError> {
    if db.dialect() != Dialect::Postgres {
        return Ok(None);
    }
    let list = |names: &[&str]| names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT r.rolname::text, r.rolsuper::text, r.rolreplication::text, \
         coalesce((SELECT string_agg(p.rolname, ',' ORDER BY p.rolname) FROM pg_roles p \
           WHERE p.rolname IN ({powers}) AND pg_has_role(r.oid, p.oid, 'MEMBER')), ''), \
         coalesce((SELECT string_agg(o.rolname, ',' ORDER BY o.rolname) FROM pg_roles o \
           WHERE o.oid <> r.oid AND o.rolcanlogin AND pg_has_role(r.oid, o.oid, 'MEMBER')), ''), \
         coalesce((SELECT string_agg(DISTINCT f.proname, ',' ORDER BY f.proname) FROM pg_proc f \
           WHERE f.proname IN ({functions}) AND has_function_privilege(r.oid, f.oid, 'EXECUTE')), '') \
         FROM pg_roles r WHERE r.rolname = session_user",
        powers = list(POWERFUL_ROLES),
        functions = list(OUTSIDE_FUNCTIONS),
    );
    let rows = db.query(&sql).await?;
    let Some(row) = rows.first() else {
        return Err(DbError::Unsupported("reading the connection's role"));
    };
    let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let list = |i: usize| text(i).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
    Ok(Some(RoleReach {
        role: text(0),
        superuser: text(1) == "true",
        replication: text(2) == "true",
        powers: list(3),
        acts_as: list(4),
        functions: list(5),
    }))
}

/// The connection's role (`session_user`), where the database has roles.
pub async fn session_role(db: &mut dyn Driver) -> Result<Option<String>, DbError> {
    if db.dialect() != Dialect::Postgres {
        return Ok(None);
    }
    Ok(db.query("SELECT session_user::text").await?.first().and_then(|r| r.first().cloned().flatten()))
}
