//! SQLite: the embedded default. Writers are serialised by SQLite's own database lock
//! (`BEGIN IMMEDIATE` takes it at the start of a transaction, so two runners never interleave).

use crate::dialect::Dialect;
use crate::driver::{
    Access, Bounded, ConnectOptions, Driver, LockAttempt, ReadLimits, Row, bind_values, rows_as_text, user_sql,
};
use crate::error::{DbError, statement_failure};
use crate::framing::Framing;
use crate::url::DatabaseUrl;
use crate::value::{DbValue, TypedRows};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection};
use std::str::FromStr;

/// How this driver frames a schema-changing transaction (see [`Dialect::framing`]).
const FRAMING: Framing = Dialect::Sqlite.framing();

pub struct SqliteDriver {
    conn: SqliteConnection,
}

impl SqliteDriver {
    pub async fn connect(url: &DatabaseUrl, opts: &ConnectOptions) -> Result<SqliteDriver, DbError> {
        let read_only = opts.access == Access::ReadOnly;
        let options = SqliteConnectOptions::from_str(url.expose())
            .map_err(|e| DbError::InvalidUrl { url: url.to_string(), reason: url.scrub(&e.to_string()) })?
            .read_only(read_only)
            .create_if_missing(!read_only)
            // Another runner holding the write lock makes us wait, not fail.
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true)
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Debug, std::time::Duration::from_secs(1));
        let conn =
            options.connect().await.map_err(|e| DbError::Connect { url: url.to_string(), reason: e.to_string() })?;
        Ok(SqliteDriver { conn })
    }

    async fn run(&mut self, sql: &str, context: &'static str) -> Result<(), DbError> {
        sqlx::raw_sql(user_sql(sql)).execute(&mut self.conn).await.map(|_| ()).map_err(DbError::query(context))
    }

    /// Runs each of `statements` (a part of [`FRAMING`]).
    async fn run_all(&mut self, statements: &'static [&'static str]) -> Result<(), DbError> {
        for s in statements {
            self.run(s, s).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Driver for SqliteDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn transaction(&mut self, statements: &[&str]) -> Result<(), DbError> {
        let result = self.transaction_body(statements).await;
        if result.is_err() {
            // Foreign keys back on (a no-op when the pragma never ran); a commit did it already.
            self.run_all(FRAMING.after).await?;
        }
        result
    }

    async fn execute(&mut self, statement: &str) -> Result<(), DbError> {
        sqlx::raw_sql(user_sql(statement))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| DbError::Statement { failure: statement_failure(0, &e) })
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        let rows = sqlx::raw_sql(user_sql(sql)).fetch_all(&mut self.conn).await.map_err(DbError::query("query"))?;
        rows_as_text(&rows)
    }

    async fn fetch(&mut self, sql: &str, params: &[DbValue]) -> Result<TypedRows, DbError> {
        let rows = bind_values!(sqlx::query(user_sql(sql)), params, |q, a| q.bind(format!("{a:?}")))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| DbError::Statement { failure: statement_failure(0, &e) })?;
        typed_rows(&rows)
    }

    async fn read_only_query(
        &mut self,
        sql: &str,
        params: &[DbValue],
        limits: &ReadLimits,
    ) -> Result<TypedRows, DbError> {
        // SQLite has no statement timeout: a progress handler interrupts the query at the
        // deadline. No string, blob or row may be longer than the answer may be, so no single
        // value grows past it inside SQLite either.
        let deadline = std::time::Instant::now() + limits.timeout;
        {
            let mut handle = self.conn.lock_handle().await.map_err(DbError::query("locking the connection"))?;
            handle.set_progress_handler(1000, move || std::time::Instant::now() < deadline);
            set_length_limit(&mut handle, limits.max_bytes);
        }
        self.run("BEGIN DEFERRED", "BEGIN").await?;
        let result = self.read_bounded(sql, params, limits).await;
        let end = self.run("ROLLBACK", "ROLLBACK").await;
        if let Ok(mut handle) = self.conn.lock_handle().await {
            handle.remove_progress_handler();
        }
        let rows = result.map_err(|e| match e {
            e if e.is_interrupted() => DbError::TimedOut { limit: limits.timeout },
            e => e,
        })?;
        end?;
        Ok(rows)
    }

    async fn transaction_expecting(
        &mut self,
        statements: &[(String, Vec<DbValue>)],
        expect: &[Option<u64>],
    ) -> Result<(), DbError> {
        // Data only: no schema change, so foreign keys stay enforced (no `before`/`after`).
        self.run(FRAMING.begin, FRAMING.begin).await?;
        for (i, (sql, params)) in statements.iter().enumerate() {
            let done = bind_values!(sqlx::query(user_sql(sql)), params, |q, a| q.bind(format!("{a:?}")))
                .execute(&mut self.conn)
                .await;
            let failure = match done {
                Err(e) => Some(DbError::Statement { failure: statement_failure(i, &e) }),
                Ok(r) => match expect.get(i).copied().flatten() {
                    Some(expected) if r.rows_affected() != expected => {
                        Some(DbError::RowsChanged { statement: i, expected, actual: r.rows_affected() })
                    }
                    _ => None,
                },
            };
            if let Some(e) = failure {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                return Err(e);
            }
        }
        self.run(FRAMING.commit, FRAMING.commit).await
    }

    async fn begin(&mut self) -> Result<(), DbError> {
        self.run_all(FRAMING.before).await?;
        self.run(FRAMING.begin, FRAMING.begin).await
    }

    async fn commit(&mut self) -> Result<(), DbError> {
        let result = match self.query("PRAGMA foreign_key_check").await {
            Ok(rows) if rows.is_empty() => self.run(FRAMING.commit, FRAMING.commit).await,
            Ok(rows) => {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                Err(DbError::ForeignKeyCheck { violations: format!("{} row(s)", rows.len()) })
            }
            Err(e) => {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                Err(e)
            }
        };
        self.run_all(FRAMING.after).await?;
        result
    }

    async fn rollback(&mut self) -> Result<(), DbError> {
        let result = self.run("ROLLBACK", "ROLLBACK").await;
        self.run_all(FRAMING.after).await?;
        result
    }

    async fn reset_session(&mut self) -> Result<(), DbError> {
        Ok(())
    }

    async fn try_advisory_lock(&mut self, _key: i64) -> Result<LockAttempt, DbError> {
        Err(DbError::Unsupported("advisory locking"))
    }

    async fn advisory_unlock(&mut self, _key: i64) -> Result<(), DbError> {
        Err(DbError::Unsupported("advisory locking"))
    }

    async fn advisory_lock_held(&mut self, _key: i64) -> Result<bool, DbError> {
        Err(DbError::Unsupported("advisory locking"))
    }

    async fn reconnect(&mut self) -> Result<(), DbError> {
        // A file has no connection to lose.
        Ok(())
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.close().await;
    }
}

impl SqliteDriver {
    /// The framing, every statement and the foreign-key check go to SQLite's worker thread as
    /// one script, and the commit (with what follows it) as a second: two hand-offs between threads per transaction
    /// instead of one per statement, which was most of what a revision cost beyond its own
    /// work. SQLite answers each statement in turn and stops at the first error, so how many
    /// answers came before it says which statement failed (nothing runs twice), and the rows
    /// after the last statement's answer are the check's.
    async fn transaction_body(&mut self, statements: &[&str]) -> Result<(), DbError> {
        use futures_util::TryStreamExt;
        use sqlx::Either;
        let opening = FRAMING.before.len() + 1;
        let mut script = String::new();
        for sql in FRAMING.before.iter().chain([&FRAMING.begin]).chain(statements) {
            // On a line of its own: a statement may end in a `--` comment.
            script.push_str(sql);
            script.push_str("\n;\n");
        }
        script.push_str("PRAGMA foreign_key_check");
        let checked = opening + statements.len();
        let mut answered = 0;
        let mut violations = Vec::new();
        let ran = {
            let mut stream = sqlx::raw_sql(user_sql(&script)).fetch_many(&mut self.conn);
            loop {
                match stream.try_next().await {
                    Ok(Some(Either::Left(_))) => answered += 1,
                    Ok(Some(Either::Right(row))) if answered == checked => violations.push(row),
                    Ok(Some(Either::Right(_))) => {}
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        };
        if let Err(e) = ran {
            if answered < opening {
                // Nothing was opened: the write lock was busy, most likely.
                return Err(DbError::query(FRAMING.begin)(e));
            }
            let _ = self.run("ROLLBACK", "ROLLBACK").await;
            return Err(match answered.checked_sub(opening).filter(|i| *i < statements.len()) {
                Some(i) => DbError::Statement { failure: statement_failure(i, &e) },
                None => DbError::query("PRAGMA foreign_key_check")(e),
            });
        }
        if !violations.is_empty() {
            let _ = self.run("ROLLBACK", "ROLLBACK").await;
            let rows = rows_as_text(&violations)?;
            let shown: Vec<String> = rows
                .iter()
                .take(5)
                .map(|r| {
                    format!(
                        "table {} rowid {} references {}",
                        r.first().cloned().flatten().unwrap_or_default(),
                        r.get(1).cloned().flatten().unwrap_or_else(|| "?".into()),
                        r.get(2).cloned().flatten().unwrap_or_default()
                    )
                })
                .collect();
            return Err(DbError::ForeignKeyCheck {
                violations: format!("{} row(s): {}", rows.len(), shown.join("; ")),
            });
        }
        // The commit and what follows it in one hand-off; a failed commit stops the script
        // before the rest, which the caller then runs.
        let closing: String = [FRAMING.commit].iter().chain(FRAMING.after).map(|sql| format!("{sql}\n;\n")).collect();
        if let Err(e) = self.run(&closing, FRAMING.commit).await {
            let _ = self.run("ROLLBACK", "ROLLBACK").await;
            return Err(e);
        }
        Ok(())
    }
}

/// SQLite values carry their own type, whatever the column declares.
impl SqliteDriver {
    /// Reads `sql`'s answer one row at a time within `limits`' rows and bytes.
    async fn read_bounded(&mut self, sql: &str, params: &[DbValue], limits: &ReadLimits) -> Result<TypedRows, DbError> {
        use futures_util::TryStreamExt;
        use sqlx::{Column, Row as _};
        let mut stream =
            bind_values!(sqlx::query(user_sql(sql)), params, |q, a| q.bind(format!("{a:?}"))).fetch(&mut self.conn);
        let mut bounded = Bounded::new(limits);
        let mut columns: Option<Vec<String>> = None;
        let failed = |e: sqlx::Error| match (DbError::Statement { failure: statement_failure(0, &e) }) {
            // SQLITE_TOOBIG: a value or row longer than SQLITE_LIMIT_LENGTH, which is the bound.
            e if e.code() == Some("18") => {
                DbError::AnswerTooLarge { limit: format!("{} bytes in one value", limits.max_bytes) }
            }
            e => e,
        };
        while let Some(row) = stream.try_next().await.map_err(failed)? {
            let names = columns.get_or_insert_with(|| row.columns().iter().map(|c| c.name().to_string()).collect());
            bounded.push(decode(&row, names.len())?)?;
        }
        Ok(TypedRows { columns: columns.unwrap_or_default(), rows: bounded.rows })
    }
}

/// Sets `SQLITE_LIMIT_LENGTH` (the longest string, blob or row) of this connection to `bytes`.
fn set_length_limit(handle: &mut sqlx::sqlite::LockedSqliteHandle<'_>, bytes: usize) {
    let limit = i32::try_from(bytes).unwrap_or(i32::MAX);
    // SAFETY: the handle is this connection's own, open, and locked for this call's duration
    // (`LockedSqliteHandle`); `sqlite3_limit` only reads and sets a field of it.
    #[allow(unsafe_code)]
    unsafe {
        libsqlite3_sys::sqlite3_limit(handle.as_raw_handle().as_ptr(), libsqlite3_sys::SQLITE_LIMIT_LENGTH, limit);
    }
}

fn typed_rows(rows: &[sqlx::sqlite::SqliteRow]) -> Result<TypedRows, DbError> {
    use sqlx::{Column, Row as _};
    let Some(first) = rows.first() else { return Ok(TypedRows::default()) };
    let columns: Vec<String> = first.columns().iter().map(|c| c.name().to_string()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(decode(r, columns.len())?);
    }
    Ok(TypedRows { columns, rows: out })
}

/// One row's `n` values, by the type each value has (SQLite types values, not columns).
fn decode(r: &sqlx::sqlite::SqliteRow, n: usize) -> Result<Vec<DbValue>, DbError> {
    use sqlx::{Row as _, TypeInfo, ValueRef};
    let mut values = Vec::with_capacity(n);
    {
        for i in 0..n {
            let raw = r.try_get_raw(i).map_err(DbError::query("reading a column"))?;
            let kind = if raw.is_null() { "NULL".to_string() } else { raw.type_info().name().to_string() };
            let get = DbError::query("decoding a column");
            let v = match kind.as_str() {
                "NULL" => Ok(DbValue::Null),
                "INTEGER" | "BOOLEAN" => r.try_get::<i64, _>(i).map(DbValue::Int),
                "REAL" => r.try_get::<f64, _>(i).map(DbValue::Float),
                "BLOB" => r.try_get::<Vec<u8>, _>(i).map(DbValue::Bytes),
                _ => r.try_get_unchecked::<String, _>(i).map(DbValue::Text),
            };
            values.push(v.map_err(get)?);
        }
    }
    Ok(values)
}
