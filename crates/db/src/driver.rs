//! The driver contract.

use crate::dialect::Dialect;
use crate::error::DbError;
use crate::url::DatabaseUrl;
use crate::value::{DbValue, TypedRows};
use async_trait::async_trait;
use std::time::Duration;

/// A row with every column as text (`None` for NULL): the state table is small and read rarely,
/// so one text shape keeps the trait narrow.
pub type Row = Vec<Option<String>>;

/// The answer to one attempt at taking an advisory lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAttempt {
    /// This connection holds it now.
    Acquired,
    /// Someone else holds it; the text says who, as far as the database knows.
    HeldBy(String),
}

/// How to open a connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long connecting may take before it fails (the server is unreachable or overloaded).
    pub connect_timeout: Duration,
    /// Shown to other sessions (`pg_stat_activity.application_name`), e.g. to name a lock holder.
    pub application_name: String,
    /// Whether the connection may write.
    pub access: Access,
    /// SQLite: how long a statement waits for another connection's write lock before it fails
    /// as busy. The runner sets it from its lock timeout, so a runner behind another runner's
    /// long revision gives up when the lock timeout says, not a minute later.
    pub busy_timeout: Duration,
}

/// What a connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Reads and writes (what revisions, backfills and refreshes need).
    #[default]
    ReadWrite,
    /// PostgreSQL: every transaction read-only by default; SQLite: the file opened read-only
    /// (`mode=ro`), so no statement on it can write, attach or create a file.
    ReadOnly,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(15),
            application_name: "runner".into(),
            access: Access::ReadWrite,
            busy_timeout: Duration::from_secs(60),
        }
    }
}

/// One connection to a database, with the few operations the runner needs: the narrow seam
/// between policy (the runner's crates) and each database's rules (its implementations here).
#[async_trait]
pub trait Driver: Send {
    /// Which database this is.
    fn dialect(&self) -> Dialect;

    /// Runs `statements` in one transaction. On failure everything is rolled back and the error
    /// says which statement failed. On SQLite, foreign-key enforcement is off while the
    /// transaction runs and `PRAGMA foreign_key_check` must pass before it commits, as SQLite
    /// documents for schema changes (so table rebuilds work and nothing cascades).
    async fn transaction(&mut self, statements: &[&str]) -> Result<(), DbError>;

    /// Runs one statement on its own, outside any transaction this driver opened.
    async fn execute(&mut self, statement: &str) -> Result<(), DbError>;

    /// Runs a query and returns every column as text.
    async fn query(&mut self, sql: &str) -> Result<Vec<Row>, DbError>;

    /// Runs a parameterised query (`$1`, `$2`, … on both databases) and returns typed rows.
    ///
    /// Statements are prepared once per text and cached, so each parameter of a given statement
    /// must keep its kind from call to call. `DbValue::Null` binds as text: bind text (and cast
    /// in SQL) where a parameter is sometimes NULL and sometimes a number.
    /// Column types the driver does not map (timestamps, uuid, json, …) should be cast to text
    /// in the query.
    async fn fetch(&mut self, sql: &str, params: &[DbValue]) -> Result<TypedRows, DbError>;

    /// Runs one query for someone the database must not trust (a plugin's `lookup`): in a
    /// read-only transaction this call opens and always rolls back, so nothing the query sets
    /// (settings, roles) outlives it, within `limits`: the time (PostgreSQL cancels the query on
    /// the server, SQLite interrupts it), and the rows and bytes of the answer, which are read
    /// one row at a time and stop at the limit ([`DbError::AnswerTooLarge`]), so that the answer
    /// never takes more memory than that. PostgreSQL also drops session-level advisory locks the
    /// query took, which a rollback keeps.
    async fn read_only_query(
        &mut self,
        sql: &str,
        params: &[DbValue],
        limits: &ReadLimits,
    ) -> Result<TypedRows, DbError>;

    /// Runs parameterised statements in one transaction, as [`Driver::transaction`] does.
    async fn transaction_with(&mut self, statements: &[(String, Vec<DbValue>)]) -> Result<(), DbError> {
        self.transaction_expecting(statements, &[]).await
    }

    /// As [`Driver::transaction_with`], where statement `i` must change exactly `expect[i]`
    /// rows when that is `Some`: otherwise everything is rolled back with
    /// [`DbError::RowsChanged`] (a write guarded by what was read found the rows changed).
    async fn transaction_expecting(
        &mut self,
        statements: &[(String, Vec<DbValue>)],
        expect: &[Option<u64>],
    ) -> Result<(), DbError>;

    /// Opens a transaction for work that interleaves reads and writes (a revision with a data
    /// migration); [`Driver::fetch`] and [`Driver::execute`] then run inside it until
    /// [`Driver::commit`] or [`Driver::rollback`]. SQLite: foreign-key enforcement is off inside
    /// it and `PRAGMA foreign_key_check` runs before commit, as in [`Driver::transaction`].
    async fn begin(&mut self) -> Result<(), DbError>;
    /// Commits the transaction [`Driver::begin`] opened.
    async fn commit(&mut self) -> Result<(), DbError>;
    /// Rolls back the transaction [`Driver::begin`] opened.
    async fn rollback(&mut self) -> Result<(), DbError>;

    /// Undoes session settings a revision may have changed (`SET timezone …`), so that they do
    /// not leak into the next revision.
    async fn reset_session(&mut self) -> Result<(), DbError>;

    /// One non-blocking attempt at a session-level advisory lock, on a connection of its own
    /// (so that statements on the main connection never wait behind it, and closing that
    /// connection releases the lock even if the process dies).
    async fn try_advisory_lock(&mut self, key: i64) -> Result<LockAttempt, DbError>;

    /// Releases the advisory lock `key` this driver holds.
    async fn advisory_unlock(&mut self, key: i64) -> Result<(), DbError>;

    /// Whether this driver's lock connection is alive and still holds the advisory lock `key`.
    /// A server can end an idle session (`idle_session_timeout`) or an operator terminate it,
    /// and with it the lock, while the holder goes on working.
    async fn advisory_lock_held(&mut self, key: i64) -> Result<bool, DbError>;

    /// Replaces a lost connection with a new one (one attempt). Advisory locks died with the
    /// old connection and are not taken again: only work that holds none may carry on.
    async fn reconnect(&mut self) -> Result<(), DbError>;

    /// Closes every connection (releasing any advisory lock).
    async fn close(self: Box<Self>);
}

/// What one untrusted read ([`Driver::read_only_query`]) may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// How long it may run.
    pub timeout: Duration,
    /// The most rows its answer may have.
    pub max_rows: usize,
    /// The most bytes its answer may take in memory (a single value too).
    pub max_bytes: usize,
}

/// Rows of an answer as they arrive, refusing more than `limits` allow.
pub(crate) struct Bounded<'l> {
    limits: &'l ReadLimits,
    bytes: usize,
    pub(crate) rows: Vec<Vec<DbValue>>,
}

impl<'l> Bounded<'l> {
    pub(crate) fn new(limits: &'l ReadLimits) -> Self {
        Bounded { limits, bytes: 0, rows: Vec::new() }
    }

    /// Takes one more row, or refuses it for the limit it would pass.
    pub(crate) fn push(&mut self, row: Vec<DbValue>) -> Result<(), DbError> {
        if self.rows.len() >= self.limits.max_rows {
            return Err(DbError::AnswerTooLarge { limit: format!("{} rows", self.limits.max_rows) });
        }
        self.bytes = self.bytes.saturating_add(row.iter().map(DbValue::size).sum());
        if self.bytes > self.limits.max_bytes {
            return Err(DbError::AnswerTooLarge { limit: format!("{} bytes", self.limits.max_bytes) });
        }
        self.rows.push(row);
        Ok(())
    }
}

/// Opens a driver for `url`.
pub async fn connect(url: &DatabaseUrl, options: &ConnectOptions) -> Result<Box<dyn Driver>, DbError> {
    let fut = async {
        match url.dialect() {
            Dialect::Postgres => {
                crate::postgres::PgDriver::connect(url, options).await.map(|d| Box::new(d) as Box<dyn Driver>)
            }
            Dialect::Sqlite => {
                crate::sqlite::SqliteDriver::connect(url, options).await.map(|d| Box::new(d) as Box<dyn Driver>)
            }
        }
    };
    match tokio::time::timeout(options.connect_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(DbError::Connect {
            url: url.to_string(),
            reason: format!("no answer within {}s", options.connect_timeout.as_secs()),
        }),
    }
}

/// Revision SQL is the user's own text, run as written: that is the point of a migration tool, so
/// it is marked as audited here, in one place.
pub(crate) fn user_sql(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_string())
}

/// Every column of every row as text. PostgreSQL's simple-query protocol sends text already;
/// SQLite converts numbers to text on request.
pub(crate) fn rows_as_text<R>(rows: &[R]) -> Result<Vec<Row>, DbError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
{
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get_unchecked::<Option<String>, _>(i).map_err(DbError::query("reading a row")))
                .collect()
        })
        .collect()
}

/// Binds [`DbValue`]s to a sqlx query of either database.
/// `$array` binds a `TextArray` or an `IntArray` (PostgreSQL), or is what SQLite, which has no
/// arrays, binds instead.
macro_rules! bind_values {
    ($query:expr, $params:expr, |$q:ident, $a:ident| $array:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                DbValue::Null => q.bind(None::<String>),
                DbValue::Bool(b) => q.bind(*b),
                DbValue::Int(i) => q.bind(*i),
                DbValue::Float(f) => q.bind(*f),
                DbValue::Text(t) => q.bind(t.clone()),
                DbValue::Bytes(b) => q.bind(b.clone()),
                DbValue::TextArray($a) => {
                    let $q = q;
                    $array
                }
                DbValue::IntArray($a) => {
                    let $q = q;
                    $array
                }
            };
        }
        q
    }};
}
pub(crate) use bind_values;
