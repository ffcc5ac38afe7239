use std::fmt;

/// A statement the database rejected, with what the database said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementFailure {
    /// Index of the failing statement in the list the driver was given.
    pub index: usize,
    /// The database's own message.
    pub message: String,
    /// SQLSTATE (PostgreSQL) or extended result code (SQLite).
    pub code: Option<String>,
    /// PostgreSQL's DETAIL line.
    pub detail: Option<String>,
    /// PostgreSQL's HINT line.
    pub hint: Option<String>,
    /// 1-based character position inside the statement, when the database reports one.
    pub position: Option<usize>,
}

/// PostgreSQL's SQLSTATEs that `runner` acts on, in one place.
mod sqlstate {
    pub const QUERY_CANCELED: &str = "57014";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const DIVISION_BY_ZERO: &str = "22012";
    /// Classes and codes of errors that are about the moment, not the statement: a retry of
    /// the same work may succeed (SQLSTATE class 08 connection exceptions, 40 transaction
    /// rollbacks (serialization failures, deadlocks), 53 insufficient resources, and the
    /// server shutting down or starting up).
    pub const TRANSIENT_CLASSES: [&str; 3] = ["08", "40", "53"];
    pub const TRANSIENT_CODES: [&str; 4] = [LOCK_NOT_AVAILABLE, "57P01", "57P02", "57P03"];
}

impl StatementFailure {
    /// Cancelled: by a `statement_timeout`, or by the cancel a stop request sends.
    pub fn is_cancelled(&self) -> bool {
        self.code.as_deref() == Some(sqlstate::QUERY_CANCELED)
    }
}

impl fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.code {
            // PostgreSQL reports five-character SQLSTATEs; SQLite numeric result codes.
            Some(code) if code.len() == 5 => write!(f, " (SQLSTATE {code})")?,
            Some(code) => write!(f, " (error code {code})")?,
            None => {}
        }
        if let Some(d) = &self.detail {
            write!(f, "; detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

/// Why a database operation failed. Every `url` here is masked: no password reaches a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// A URL of a scheme no driver speaks.
    #[error("unsupported database URL `{url}`: expected postgres://…, postgresql://… or sqlite:…")]
    UnsupportedUrl {
        /// The URL, masked.
        url: String,
    },
    /// A URL of a known scheme that does not parse.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL, masked.
        url: String,
        /// What the driver said.
        reason: String,
    },
    /// A statement the database rejected.
    #[error("statement {} failed: {failure}", failure.index + 1)]
    Statement {
        /// Which statement, and what the database said.
        failure: StatementFailure,
    },
    /// The server went away mid-conversation (restart, shutdown, a cut network, a terminated
    /// backend): whatever was not committed is rolled back by the server.
    #[error(
        "the connection to the database was lost (server restarted or shut down, or the connection was cut): {reason}"
    )]
    ConnectionLost {
        /// What the driver said.
        reason: String,
    },
    /// SQLite: a revision left rows whose foreign keys point nowhere; it was rolled back.
    #[error("foreign keys violated after the revision (PRAGMA foreign_key_check): {violations}")]
    ForeignKeyCheck {
        /// The offending rows, as `PRAGMA foreign_key_check` lists them.
        violations: String,
    },
    /// What the database said, as for a failed statement: sqlx's own wording adds "error
    /// returned from database" and the server's source-code line, which reads like a line of
    /// the user's SQL.
    #[error("{context}: {}", statement_failure(0, cause))]
    Query {
        /// What the runner was doing.
        context: &'static str,
        /// The driver's error.
        cause: sqlx::Error,
    },
    /// A column of a type the runner has no value for.
    #[error("column `{column}` has type {type_name}, which runner does not map; cast it to text in the query")]
    UnsupportedType {
        /// The column's name.
        column: String,
        /// The database's name for its type.
        type_name: String,
    },
    /// A guarded write changed fewer rows than it expected: the rows changed since they were read.
    #[error("statement {} changed {actual} rows where {expected} were expected: rows changed since they were read", statement + 1)]
    RowsChanged {
        /// Index of the statement in the list the driver was given.
        statement: usize,
        /// Rows it should have changed.
        expected: u64,
        /// Rows it changed.
        actual: u64,
    },
    /// An operation this database does not have (e.g. advisory locks on SQLite).
    #[error("{0} is not supported by this database")]
    Unsupported(&'static str),
    /// A query ran past its time limit and was stopped (SQLite, which has no statement timeout).
    #[error("the query took longer than its limit of {}ms", limit.as_millis())]
    TimedOut {
        /// The limit.
        limit: std::time::Duration,
    },
    /// An untrusted read's answer passed its limit ([`crate::ReadLimits`]): reading stopped there.
    #[error("the answer has more than {limit}")]
    AnswerTooLarge {
        /// The limit it passed, with its unit (`10000 rows`, `16777216 bytes`).
        limit: String,
    },
}

impl DbError {
    pub(crate) fn query(context: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
        move |cause| if connection_lost(&cause) { lost(&cause) } else { DbError::Query { context, cause } }
    }

    /// Statement `index` failed: because of what it did, or because the connection went.
    pub(crate) fn statement(index: usize) -> impl FnOnce(sqlx::Error) -> DbError {
        move |e| {
            if connection_lost(&e) { lost(&e) } else { DbError::Statement { failure: statement_failure(index, &e) } }
        }
    }

    /// What the database said, without the driver's context (for messages that give their own).
    pub fn reason(&self) -> String {
        match self {
            DbError::Statement { failure } => failure.to_string(),
            DbError::Query { cause, .. } => statement_failure(0, cause).to_string(),
            other => other.to_string(),
        }
    }

    /// The database's code for the error, if it gave one (SQLSTATE on PostgreSQL).
    pub fn code(&self) -> Option<&str> {
        match self {
            DbError::Statement { failure } => failure.code.as_deref(),
            _ => None,
        }
    }

    /// The statement ran past its `statement_timeout` (or was cancelled) and was stopped.
    pub fn is_statement_timeout(&self) -> bool {
        matches!(self, DbError::TimedOut { .. }) || self.code() == Some(sqlstate::QUERY_CANCELED)
    }

    /// SQLite stopped a statement because its progress handler said so (a time limit):
    /// `SQLITE_INTERRUPT`.
    pub(crate) fn is_interrupted(&self) -> bool {
        self.code() == Some("9")
    }

    /// PostgreSQL raised division by zero: how a guard statement (`SELECT 1 / count(*) …`)
    /// says that what it checks no longer holds.
    pub fn is_division_by_zero(&self) -> bool {
        self.code() == Some(sqlstate::DIVISION_BY_ZERO)
    }

    /// SQLite: another connection held the write lock for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        let code: Option<String> = match self {
            DbError::Statement { failure } => failure.code.clone(),
            DbError::Query { cause: sqlx::Error::Database(db), .. } => db.code().map(|c| c.to_string()),
            _ => None,
        };
        // SQLITE_BUSY and its extended codes (recovery, snapshot, timeout).
        matches!(code.as_deref(), Some("5" | "261" | "517" | "773"))
    }

    /// A guarded write found its rows changed since they were read.
    pub fn is_rows_changed(&self) -> bool {
        matches!(self, DbError::RowsChanged { .. })
    }

    /// The statement waited for a lock past its `lock_timeout`.
    pub fn is_lock_timeout(&self) -> bool {
        self.code() == Some(sqlstate::LOCK_NOT_AVAILABLE)
    }

    /// Whether the connection went away (so reconnecting, not changing the work, may help).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::ConnectionLost { .. })
    }

    /// Whether the same work may succeed if tried again later, unchanged: the database could
    /// not be reached or went away, a lock or the write lock was busy, a statement ran out of
    /// time, a transaction was chosen as a deadlock or serialization victim, the server was out
    /// of connections or starting up. Not for what the work itself got wrong (a syntax error, a
    /// missing table, a constraint), which fails the same way every time.
    pub fn may_succeed_later(&self) -> bool {
        if matches!(self, DbError::Connect { .. } | DbError::ConnectionLost { .. } | DbError::TimedOut { .. }) {
            return true;
        }
        if self.is_busy() || self.is_statement_timeout() {
            return true;
        }
        match self.code() {
            Some(code) if code.len() == 5 => {
                sqlstate::TRANSIENT_CLASSES.contains(&&code[..2]) || sqlstate::TRANSIENT_CODES.contains(&code)
            }
            _ => false,
        }
    }
}

fn lost(e: &sqlx::Error) -> DbError {
    let reason = match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    };
    DbError::ConnectionLost { reason }
}

/// Errors after which this connection is gone: I/O and protocol failures, SQLSTATE class 08
/// (connection exception) and the server's shutdown codes (57P01 admin shutdown, which is also
/// `pg_terminate_backend`; 57P02 crash shutdown; 57P03 cannot connect now).
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}

/// Turns a database error for statement `index` into a [`StatementFailure`].
pub(crate) fn statement_failure(index: usize, e: &sqlx::Error) -> StatementFailure {
    let mut f =
        StatementFailure { index, message: e.to_string(), code: None, detail: None, hint: None, position: None };
    if let sqlx::Error::Database(db) = e {
        f.message = db.message().to_string();
        f.code = db.code().map(|c| c.to_string());
        if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            f.detail = pg.detail().map(String::from);
            f.hint = pg.hint().map(String::from);
            f.position = match pg.position() {
                Some(sqlx::postgres::PgErrorPosition::Original(p)) => Some(p),
                _ => None,
            };
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::{DbError, StatementFailure};

    fn failed(code: &str) -> DbError {
        DbError::Statement {
            failure: StatementFailure {
                index: 0,
                message: "m".into(),
                code: Some(code.into()),
                detail: None,
                hint: None,
                position: None,
            },
        }
    }

    #[test]
    fn what_may_succeed_later_is_told_from_what_fails_every_time() {
        // Deadlock, serialization failure, lock timeout, statement timeout, too many
        // connections, admin shutdown, SQLite busy.
        for code in ["40P01", "40001", "55P03", "57014", "53300", "57P01", "08006", "5", "517"] {
            assert!(failed(code).may_succeed_later(), "{code}");
        }
        assert!(DbError::ConnectionLost { reason: "gone".into() }.may_succeed_later());
        assert!(DbError::Connect { url: "u".into(), reason: "refused".into() }.may_succeed_later());
        // Syntax error, undefined table, unique violation, division by zero, SQLite's generic
        // error and constraint failure.
        for code in ["42601", "42P01", "23505", "22012", "1", "2067"] {
            assert!(!failed(code).may_succeed_later(), "{code}");
        }
        assert!(!DbError::Unsupported("x").may_succeed_later());
    }
}
