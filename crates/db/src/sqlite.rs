//! SQLite: the embedded default. Writers are serialised by SQLite's own database lock
//! (`BEGIN IMMEDIATE` takes it at the start of a transaction, so two runners never interleave).

use crate::driver::{Access, ConnectOptions, Dialect, Driver, LockAttempt, Row, bind_values, rows_as_text, user_sql};
use crate::error::{DbError, statement_failure};
use crate::url::DatabaseUrl;
use crate::value::{DbValue, TypedRows};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection};
use std::str::FromStr;
use std::time::Duration;

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
}

#[async_trait]
impl Driver for SqliteDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn transaction(&mut self, statements: &[&str]) -> Result<(), DbError> {
        // PRAGMA foreign_keys is a no-op inside a transaction, so it is switched around it.
        self.run("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys").await?;
        let result = self.transaction_body(statements).await;
        self.run("PRAGMA foreign_keys = ON", "PRAGMA foreign_keys").await?;
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
        _timeout: Duration,
    ) -> Result<TypedRows, DbError> {
        // SQLite has no statement timeout; the caller's own time limit bounds the wait.
        self.run("BEGIN DEFERRED", "BEGIN").await?;
        let result = self.fetch(sql, params).await;
        let end = self.run("ROLLBACK", "ROLLBACK").await;
        let rows = result?;
        end?;
        Ok(rows)
    }

    async fn transaction_expecting(
        &mut self,
        statements: &[(String, Vec<DbValue>)],
        expect: &[Option<u64>],
    ) -> Result<(), DbError> {
        self.run("BEGIN IMMEDIATE", "BEGIN IMMEDIATE").await?;
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
        self.run("COMMIT", "COMMIT").await
    }

    async fn begin(&mut self) -> Result<(), DbError> {
        self.run("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys").await?;
        self.run("BEGIN IMMEDIATE", "BEGIN IMMEDIATE").await
    }

    async fn commit(&mut self) -> Result<(), DbError> {
        let result = match self.query("PRAGMA foreign_key_check").await {
            Ok(rows) if rows.is_empty() => self.run("COMMIT", "COMMIT").await,
            Ok(rows) => {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                Err(DbError::ForeignKeyCheck { violations: format!("{} row(s)", rows.len()) })
            }
            Err(e) => {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                Err(e)
            }
        };
        self.run("PRAGMA foreign_keys = ON", "PRAGMA foreign_keys").await?;
        result
    }

    async fn rollback(&mut self) -> Result<(), DbError> {
        let result = self.run("ROLLBACK", "ROLLBACK").await;
        self.run("PRAGMA foreign_keys = ON", "PRAGMA foreign_keys").await?;
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
    async fn transaction_body(&mut self, statements: &[&str]) -> Result<(), DbError> {
        self.run("BEGIN IMMEDIATE", "BEGIN IMMEDIATE").await?;
        for (i, s) in statements.iter().enumerate() {
            if let Err(e) = sqlx::raw_sql(user_sql(s)).execute(&mut self.conn).await {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                return Err(DbError::Statement { failure: statement_failure(i, &e) });
            }
        }
        let violations = self.query("PRAGMA foreign_key_check").await;
        match violations {
            Ok(rows) if rows.is_empty() => {}
            other => {
                let _ = self.run("ROLLBACK", "ROLLBACK").await;
                let rows = other?;
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
        }
        self.run("COMMIT", "COMMIT").await
    }
}

/// SQLite values carry their own type, whatever the column declares.
fn typed_rows(rows: &[sqlx::sqlite::SqliteRow]) -> Result<TypedRows, DbError> {
    use sqlx::{Column, Row as _, TypeInfo, ValueRef};
    let Some(first) = rows.first() else { return Ok(TypedRows::default()) };
    let columns: Vec<String> = first.columns().iter().map(|c| c.name().to_string()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
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
        out.push(values);
    }
    Ok(TypedRows { columns, rows: out })
}
