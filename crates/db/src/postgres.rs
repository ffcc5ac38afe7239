//! PostgreSQL: transactional DDL, session advisory locks on a dedicated connection.

use crate::dialect::Dialect;
use crate::driver::{
    Bounded, ConnectOptions, Driver, LockAttempt, ReadLimits, Row, bind_values, rows_as_text, user_sql,
};
use crate::error::{DbError, connection_lost, statement_failure};
use crate::framing::Framing;
use crate::url::DatabaseUrl;
use crate::value::{DbValue, TypedRows};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection};
use std::str::FromStr;

/// How this driver frames a transaction (see [`Dialect::framing`]).
const FRAMING: Framing = Dialect::Postgres.framing();

pub struct PgDriver {
    conn: PgConnection,
    /// This session in the registry of statements a SIGINT/SIGTERM cancels.
    session: crate::interrupt::Session,
    /// Opened on the first lock attempt. Never blocks: we poll `pg_try_advisory_lock` because a
    /// waiter blocked in `pg_advisory_lock` holds a snapshot that `CREATE INDEX CONCURRENTLY` in
    /// the lock holder then waits for forever (flyway/flyway#1654, golang-migrate/migrate#960).
    lock_conn: Option<PgConnection>,
    options: PgConnectOptions,
    url: String,
}

impl PgDriver {
    pub async fn connect(url: &DatabaseUrl, opts: &ConnectOptions) -> Result<PgDriver, DbError> {
        let mut options = PgConnectOptions::from_str(url.expose())
            .map_err(|e| DbError::InvalidUrl { url: url.to_string(), reason: url.scrub(&e.to_string()) })?
            .application_name(&opts.application_name)
            .log_statements(tracing::log::LevelFilter::Trace)
            // A revision or batch taking seconds is normal work, not a warning (sqlx would log
            // every such statement in full at WARN).
            .log_slow_statements(tracing::log::LevelFilter::Debug, std::time::Duration::from_secs(1));
        // TLS to the loopback interface protects nothing and costs a handshake on every
        // connection (≈90 ms measured, twice for a locked command). Unless the URL asks for an
        // sslmode, loopback connections go without; any other host keeps libpq's `prefer`.
        let loopback = matches!(options.get_host(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
            || options.get_host().starts_with('/');
        if loopback && !url.expose().to_ascii_lowercase().contains("sslmode=") {
            options = options.ssl_mode(sqlx::postgres::PgSslMode::Disable);
        }
        // If this process dies mid-query, the server should not finish its work unattended:
        // a dead runner's transaction could otherwise commit after its lock is gone, racing
        // the next runner. PostgreSQL 14+ checks the client every second during a query with
        // this setting (a startup option, so RESET ALL keeps it); older servers refuse it.
        if opts.access == crate::driver::Access::ReadOnly {
            options = options.options([("default_transaction_read_only", "on")]);
        }
        let checked = options.clone().options([("client_connection_check_interval", "1s")]);
        let (conn, options) = match checked.connect().await {
            Ok(c) => (c, checked),
            Err(e) if e.to_string().contains("client_connection_check_interval") => {
                (options.connect().await.map_err(|e| connect_error(url, e))?, options)
            }
            Err(e) => return Err(connect_error(url, e)),
        };
        let mut conn = conn;
        let session = register_session(&mut conn, &options).await;
        Ok(PgDriver { conn, session, lock_conn: None, options, url: url.to_string() })
    }

    async fn lock_conn(&mut self) -> Result<&mut PgConnection, DbError> {
        if self.lock_conn.is_none() {
            let mut c = self.options.connect().await.map_err(|e| DbError::Connect {
                url: self.url.clone(),
                reason: crate::url::mask_url(&e.to_string()),
            })?;
            // The lock connection sits idle while the work runs on the other one: a server that
            // ends idle sessions would end it, and the lock with it. (Servers before 14 have no
            // idle_session_timeout; that SET fails and changes nothing.)
            for setting in ["idle_session_timeout", "idle_in_transaction_session_timeout"] {
                let _ = sqlx::raw_sql(user_sql(&format!("SET {setting} = 0"))).execute(&mut c).await;
            }
            self.lock_conn = Some(c);
        }
        Ok(self.lock_conn.as_mut().expect("just set"))
    }
}

/// Registers the session's backend for cancellation on a signal.
async fn register_session(conn: &mut PgConnection, options: &PgConnectOptions) -> crate::interrupt::Session {
    let pid = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(&mut *conn).await.ok();
    crate::interrupt::Session::register(pid, options)
}

fn connect_error(url: &DatabaseUrl, e: sqlx::Error) -> DbError {
    DbError::Connect { url: url.to_string(), reason: url.scrub(&e.to_string()) }
}

#[async_trait]
impl Driver for PgDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn transaction(&mut self, statements: &[&str]) -> Result<(), DbError> {
        // One round trip: the whole transaction as a single simple query. PostgreSQL answers each
        // statement in turn and stops at the first error, so nothing after it (COMMIT included)
        // runs, and the answers received before the error say which statement failed: nothing
        // is run a second time to find it (a statement with effects a rollback keeps, such as
        // `nextval` or `dblink`, or a long data change, must run once). Statements come from the
        // splitter, which drops trailing comments, so joining them with `;` is safe.
        use futures_util::TryStreamExt;
        let mut script = format!("{};\n", FRAMING.begin);
        let mut starts = Vec::with_capacity(statements.len());
        for s in statements {
            starts.push(script.chars().count());
            script.push_str(s);
            script.push_str(";\n");
        }
        script.push_str(FRAMING.commit);
        let mut answered = 0usize;
        let batch_error = {
            let mut results = sqlx::raw_sql(user_sql(&script)).execute_many(&mut self.conn);
            loop {
                match results.try_next().await {
                    Ok(Some(_)) => answered += 1,
                    Ok(None) => return Ok(()),
                    Err(e) => break e,
                }
            }
        };
        if connection_lost(&batch_error) {
            // The server rolled the script back (or committed it, if COMMIT got through before
            // the connection went).
            return Err(DbError::statement(0)(batch_error));
        }
        // A script PostgreSQL could not parse ran nothing (no transaction to roll back); one it
        // began is aborted and must be rolled back.
        let began = answered > 0;
        if began {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
        }
        let mut failure = statement_failure(statements.len(), &batch_error);
        if failure.is_cancelled() && !began {
            failure.index = usize::MAX;
            return Err(DbError::Statement { failure });
        }
        // Which statement: the one after the last answer (BEGIN answered first), or, for a
        // script that did not parse, the one the error position falls in.
        let position = failure.position;
        failure.index = if began {
            answered - 1
        } else {
            position.map_or(0, |p| starts.iter().rposition(|&start| start < p).unwrap_or(0))
        };
        // The server's position counts from the script's start: from the statement's, here.
        failure.position = position.and_then(|p| starts.get(failure.index).map(|&start| p.saturating_sub(start)));
        if failure.index >= statements.len() {
            failure.position = None;
        }
        Err(DbError::Statement { failure })
    }

    async fn execute(&mut self, statement: &str) -> Result<(), DbError> {
        sqlx::raw_sql(user_sql(statement)).execute(&mut self.conn).await.map(|_| ()).map_err(DbError::statement(0))
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        // The simple-query protocol returns every value as text, whatever its type.
        let rows = sqlx::raw_sql(user_sql(sql)).fetch_all(&mut self.conn).await.map_err(DbError::query("query"))?;
        rows_as_text(&rows)
    }

    async fn fetch(&mut self, sql: &str, params: &[DbValue]) -> Result<TypedRows, DbError> {
        let rows = bind_values!(sqlx::query(user_sql(sql)), params, |q, a| q.bind(a.clone()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(DbError::statement(0))?;
        typed_rows(&rows)
    }

    async fn read_only_query(
        &mut self,
        sql: &str,
        params: &[DbValue],
        limits: &ReadLimits,
    ) -> Result<TypedRows, DbError> {
        // The SELECT takes the transaction's snapshot, after which PostgreSQL refuses to make it
        // read-write ("must be set before any query"), whatever the query tries.
        let ms = limits.timeout.as_millis().max(1);
        let open = format!(
            "BEGIN TRANSACTION READ ONLY; SELECT set_config('statement_timeout', '{ms}ms', true), \
             set_config('lock_timeout', '{ms}ms', true), set_config('idle_in_transaction_session_timeout', '{}ms', true)",
            ms.saturating_mul(10)
        );
        sqlx::raw_sql(user_sql(&open)).execute(&mut self.conn).await.map_err(DbError::query("BEGIN READ ONLY"))?;
        let guarded = row_size_guard(sql, limits.max_bytes);
        let result = self.read_bounded(&guarded, params, limits).await;
        let end = sqlx::raw_sql("ROLLBACK; SELECT pg_advisory_unlock_all()")
            .execute(&mut self.conn)
            .await
            .map_err(DbError::query("ROLLBACK"));
        let rows = result?;
        end?;
        Ok(rows)
    }

    async fn transaction_expecting(
        &mut self,
        statements: &[(String, Vec<DbValue>)],
        expect: &[Option<u64>],
    ) -> Result<(), DbError> {
        sqlx::raw_sql(FRAMING.begin).execute(&mut self.conn).await.map_err(DbError::query("BEGIN"))?;
        for (i, (sql, params)) in statements.iter().enumerate() {
            let done = bind_values!(sqlx::query(user_sql(sql)), params, |q, a| q.bind(a.clone()))
                .execute(&mut self.conn)
                .await;
            let failure = match done {
                Err(e) => Some(DbError::statement(i)(e)),
                Ok(r) => match expect.get(i).copied().flatten() {
                    Some(expected) if r.rows_affected() != expected => {
                        Some(DbError::RowsChanged { statement: i, expected, actual: r.rows_affected() })
                    }
                    _ => None,
                },
            };
            if let Some(e) = failure {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
                return Err(e);
            }
        }
        sqlx::raw_sql(FRAMING.commit).execute(&mut self.conn).await.map_err(DbError::statement(statements.len()))?;
        Ok(())
    }

    async fn begin(&mut self) -> Result<(), DbError> {
        sqlx::raw_sql(FRAMING.begin).execute(&mut self.conn).await.map(|_| ()).map_err(DbError::query("BEGIN"))
    }

    async fn commit(&mut self) -> Result<(), DbError> {
        sqlx::raw_sql(FRAMING.commit).execute(&mut self.conn).await.map(|_| ()).map_err(DbError::statement(0))
    }

    async fn rollback(&mut self) -> Result<(), DbError> {
        sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await.map(|_| ()).map_err(DbError::query("ROLLBACK"))
    }

    async fn reset_session(&mut self) -> Result<(), DbError> {
        if let Some(reset) = Dialect::Postgres.session_reset_sql() {
            sqlx::raw_sql(reset).execute(&mut self.conn).await.map_err(DbError::query("RESET ALL"))?;
        }
        Ok(())
    }

    async fn try_advisory_lock(&mut self, key: i64) -> Result<LockAttempt, DbError> {
        let conn = self.lock_conn().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(DbError::query("pg_try_advisory_lock"))?;
        if got {
            return Ok(LockAttempt::Acquired);
        }
        // A bigint advisory key is stored as classid (high 32 bits) and objid (low 32 bits).
        let holder: Option<(i32, Option<String>, Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT a.pid, a.application_name, a.usename::text, coalesce(host(a.client_addr), 'local socket'), \
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid = (($1::bigint >> 32) & 4294967295)::bigint::oid \
               AND l.objid = ($1::bigint & 4294967295)::bigint::oid \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(DbError::query("looking up the lock holder"))?;
        Ok(LockAttempt::HeldBy(match holder {
            Some((pid, app, user, addr, since)) => format!(
                "backend pid {pid} ({}, user {}, from {}, connected since {} UTC)",
                app.filter(|a| !a.is_empty()).unwrap_or_else(|| "unnamed application".into()),
                user.unwrap_or_default(),
                addr.unwrap_or_default(),
                since.unwrap_or_default()
            ),
            None => "another session (it released the lock just now, or is not visible to this user)".into(),
        }))
    }

    async fn advisory_unlock(&mut self, key: i64) -> Result<(), DbError> {
        if let Some(conn) = self.lock_conn.as_mut() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await
                .map_err(DbError::query("pg_advisory_unlock"))?;
        }
        Ok(())
    }

    async fn advisory_lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        let Some(conn) = self.lock_conn.as_mut() else { return Ok(false) };
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted \
             AND objsubid = 1 AND classid = (($1::bigint >> 32) & 4294967295)::bigint::oid \
             AND objid = ($1::bigint & 4294967295)::bigint::oid",
        )
        .bind(key)
        .fetch_one(&mut *conn)
        .await
        .map_err(DbError::query("checking the runner lock"))?;
        Ok(held > 0)
    }

    async fn reconnect(&mut self) -> Result<(), DbError> {
        let conn = self
            .options
            .connect()
            .await
            .map_err(|e| DbError::Connect { url: self.url.clone(), reason: crate::url::mask_url(&e.to_string()) })?;
        self.conn = conn;
        self.session = register_session(&mut self.conn, &self.options).await;
        self.lock_conn = None;
        Ok(())
    }

    async fn close(self: Box<Self>) {
        let this = *self;
        if let Some(c) = this.lock_conn {
            let _ = c.close().await;
        }
        let _ = this.conn.close().await;
    }
}

/// Maps PostgreSQL's basic types; anything else must be cast to text by the query.
/// The marker of the error [`row_size_guard`] raises, in the text PostgreSQL reports back.
const ROW_TOO_LARGE: &str = "runner: a lookup row larger than";

/// `sql` with every row of its answer checked on the server: a row larger than `max_bytes`
/// (`pg_column_size` of the whole row) fails the query there, before it is sent. The host bounds
/// the answer as it reads it, but the driver receives a row whole, and one row may hold a
/// gigabyte. A cast of text to integer is the way plain SQL raises an error carrying a message.
fn row_size_guard(sql: &str, max_bytes: usize) -> String {
    format!(
        "SELECT * FROM ({sql}\n) AS runner_answer WHERE CASE WHEN pg_column_size(runner_answer) > {max_bytes} \
         THEN ('{ROW_TOO_LARGE} {max_bytes} bytes: ' || pg_column_size(runner_answer))::integer > 0 ELSE true END"
    )
}

impl PgDriver {
    /// Reads `sql`'s answer one row at a time within `limits`.
    async fn read_bounded(&mut self, sql: &str, params: &[DbValue], limits: &ReadLimits) -> Result<TypedRows, DbError> {
        use futures_util::TryStreamExt;
        let mut stream =
            bind_values!(sqlx::query(user_sql(sql)), params, |q, a| q.bind(a.clone())).fetch(&mut self.conn);
        let mut bounded = Bounded::new(limits);
        let mut shape: Option<(Vec<String>, Vec<String>)> = None;
        loop {
            let row = match stream.try_next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) if e.as_database_error().is_some_and(|d| d.message().contains(ROW_TOO_LARGE)) => {
                    return Err(DbError::AnswerTooLarge { limit: format!("{} bytes in one row", limits.max_bytes) });
                }
                Err(e) => return Err(DbError::statement(0)(e)),
            };
            let (columns, types) = shape.get_or_insert_with(|| columns_of(&row));
            bounded.push(decode(&row, columns, types)?)?;
        }
        let columns = shape.map(|(c, _)| c).unwrap_or_default();
        Ok(TypedRows { columns, rows: bounded.rows })
    }
}

/// A row's column names and type names.
fn columns_of(row: &sqlx::postgres::PgRow) -> (Vec<String>, Vec<String>) {
    use sqlx::{Column, Row as _, TypeInfo};
    (
        row.columns().iter().map(|c| c.name().to_string()).collect(),
        row.columns().iter().map(|c| c.type_info().name().to_string()).collect(),
    )
}

fn typed_rows(rows: &[sqlx::postgres::PgRow]) -> Result<TypedRows, DbError> {
    let Some(first) = rows.first() else { return Ok(TypedRows::default()) };
    let (columns, types) = columns_of(first);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(decode(r, &columns, &types)?);
    }
    Ok(TypedRows { columns, rows: out })
}

/// One row's values, by its columns' types.
fn decode(r: &sqlx::postgres::PgRow, columns: &[String], types: &[String]) -> Result<Vec<DbValue>, DbError> {
    use sqlx::Row as _;
    let mut values = Vec::with_capacity(types.len());
    {
        for (i, ty) in types.iter().enumerate() {
            let get = DbError::query("decoding a column");
            let v = match ty.as_str() {
                "BOOL" => r.try_get::<Option<bool>, _>(i).map(|v| v.map_or(DbValue::Null, DbValue::Bool)),
                "INT2" => r.try_get::<Option<i16>, _>(i).map(|v| v.map_or(DbValue::Null, |x| DbValue::Int(x.into()))),
                "INT4" => r.try_get::<Option<i32>, _>(i).map(|v| v.map_or(DbValue::Null, |x| DbValue::Int(x.into()))),
                "INT8" => r.try_get::<Option<i64>, _>(i).map(|v| v.map_or(DbValue::Null, DbValue::Int)),
                "FLOAT4" => {
                    r.try_get::<Option<f32>, _>(i).map(|v| v.map_or(DbValue::Null, |x| DbValue::Float(x.into())))
                }
                "FLOAT8" => r.try_get::<Option<f64>, _>(i).map(|v| v.map_or(DbValue::Null, DbValue::Float)),
                "BYTEA" => r.try_get::<Option<Vec<u8>>, _>(i).map(|v| v.map_or(DbValue::Null, DbValue::Bytes)),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => {
                    r.try_get::<Option<String>, _>(i).map(|v| v.map_or(DbValue::Null, DbValue::Text))
                }
                other => {
                    return Err(DbError::UnsupportedType { column: columns[i].clone(), type_name: other.to_string() });
                }
            };
            values.push(v.map_err(get)?);
        }
    }
    Ok(values)
}
