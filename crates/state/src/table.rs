//! The state table's layout, its versioning, and the reads and writes for revisions.

use crate::render::{ident, json, opt_literal, read_time};
use crate::status::{BackfillStatus, Kind};
use runner_db::{DbError, Dialect, Driver};
use runner_revisions::{Applied, AppliedStatus, Checksum, History};
use std::time::Duration;

/// Version of the table layout this build writes. Bumped with an upgrade step in [`StateTable::ensure`].
pub const STATE_VERSION: i64 = 1;

/// Why the state table could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The database refused a statement or a query.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The table was written by a newer runner.
    #[error(
        "state table {table} has layout version {found}, newer than this runner understands ({STATE_VERSION}); upgrade runner"
    )]
    NewerVersion {
        /// The table.
        table: String,
        /// The layout version it records.
        found: i64,
    },
    /// A row that does not read as what its kind says.
    #[error("state table {table}: unexpected row for `{name}`: {reason}")]
    BadRow {
        /// The table.
        table: String,
        /// The row's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A table of that name exists and is something else.
    #[error(
        "table {table} exists but is not a runner state table (it has no {} column{}); point --state-table or state_table in runner.toml at another name",
        missing.join(", "),
        if missing.len() == 1 { "" } else { "s" }
    )]
    NotStateTable {
        /// The table.
        table: String,
        /// The columns a state table has and it lacks.
        missing: Vec<String>,
    },
    /// A state table name runner refuses.
    #[error(
        "state table name `{0}` is not allowed: use letters, digits and `_` (not a digit first), and not a generic name such as `migrations`"
    )]
    BadName(String),
}

/// Who applied a revision, as a SQL expression: the database user and the client host.
#[derive(Debug, Clone)]
pub struct AppliedBy(String);

impl AppliedBy {
    /// On PostgreSQL the database user comes from the session (`current_user`); SQLite has no
    /// users, so the operating-system user stands in.
    pub fn new(dialect: Dialect, host: &str, os_user: &str) -> AppliedBy {
        AppliedBy(match dialect {
            Dialect::Postgres => {
                format!("current_user || {}", dialect.quote_literal(&format!("@{host}")))
            }
            Dialect::Sqlite => dialect.quote_literal(&format!("{os_user}@{host}")),
        })
    }

    /// For stamped revisions, so history shows nothing ran.
    fn stamped(&self, dialect: Dialect) -> String {
        format!("{} || {}", self.0, dialect.quote_literal(" (stamp)"))
    }
}

/// What a script expects of a revision's row at some point ([`StateTable::expect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A no-transaction revision under way, with this many statements recorded done.
    Done(usize),
    /// This status.
    Status(AppliedStatus),
}

/// The state table of one database.
#[derive(Debug, Clone)]
pub struct StateTable {
    dialect: Dialect,
    schema: String,
    name: String,
}

const KIND_REVISION: &str = Kind::Revision.as_str();
const KIND_REVERT: &str = Kind::Revert.as_str();

impl StateTable {
    /// `schema` is resolved by the caller (PostgreSQL: the configured schema or `current_schema()`
    /// at connect time; SQLite: `main`).
    pub fn new(dialect: Dialect, schema: &str, name: &str) -> Result<StateTable, StateError> {
        let generic = ["migrations", "schema_migrations", "state", "versions"];
        let valid = runner_revisions::is_plain_name(name) && !generic.contains(&name.to_ascii_lowercase().as_str());
        if !valid {
            return Err(StateError::BadName(name.to_string()));
        }
        Ok(StateTable { dialect, schema: schema.to_string(), name: name.to_string() })
    }

    /// The database the table is on.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Schema-qualified, quoted name.
    pub fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }

    /// `schema.name`, unquoted, for messages.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// Statements that create the table if it is missing (part of `apply --sql` output too).
    pub fn create_sql(&self) -> Vec<String> {
        let (ts, js, big) = match self.dialect {
            Dialect::Postgres => ("timestamptz", "jsonb", "bigint"),
            Dialect::Sqlite => ("text", "text", "integer"),
        };
        let t = self.qualified();
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                   kind text NOT NULL,\n  \
                   name text NOT NULL,\n  \
                   status text NOT NULL,\n  \
                   checksum text,\n  \
                   description text,\n  \
                   seq {big},\n  \
                   applied_at {ts},\n  \
                   applied_by text,\n  \
                   duration_ms {big},\n  \
                   progress {js},\n  \
                   error text,\n  \
                   updated_at {ts} NOT NULL DEFAULT {},\n  \
                   PRIMARY KEY (kind, name)\n)",
                // A column default that is an expression is parenthesised (SQLite requires it).
                format!("({})", self.dialect.now_sql())
            ),
            format!(
                "INSERT INTO {t} (kind, name, status) VALUES ('{}', 'state_version', '{STATE_VERSION}') ON CONFLICT (kind, name) DO NOTHING",
                Kind::Meta
            ),
        ]
    }

    /// Whether the table exists (read-only commands must not create it).
    pub async fn exists(&self, db: &mut dyn Driver) -> Result<bool, StateError> {
        let sql = match self.dialect {
            Dialect::Postgres => {
                format!("SELECT to_regclass({}) IS NOT NULL", self.dialect.quote_literal(&self.qualified()))
            }
            Dialect::Sqlite => format!(
                "SELECT count(*) > 0 FROM {}.sqlite_master WHERE type = 'table' AND name = {}",
                ident(&self.schema),
                self.dialect.quote_literal(&self.name)
            ),
        };
        let rows = db.query(&sql).await?;
        let v = rows.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default();
        Ok(v == "t" || v == "1" || v == "true")
    }

    /// Refuses a table of that name that is not a state table (an application table named by
    /// mistake), before any read or write fails on one of its columns.
    pub async fn check_layout(&self, db: &mut dyn Driver) -> Result<(), StateError> {
        if !self.exists(db).await? {
            return Ok(());
        }
        let sql = match self.dialect {
            Dialect::Postgres => format!(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped",
                self.dialect.quote_literal(&self.qualified())
            ),
            Dialect::Sqlite => {
                format!(
                    "SELECT name FROM pragma_table_info({}, {})",
                    self.dialect.quote_literal(&self.name),
                    self.dialect.quote_literal(&self.schema)
                )
            }
        };
        let have: Vec<String> =
            db.query(&sql).await?.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
        let missing: Vec<String> = ["kind", "name", "status", "checksum", "applied_at", "progress", "updated_at"]
            .iter()
            .filter(|c| !have.iter().any(|h| h == *c))
            .map(|c| c.to_string())
            .collect();
        if missing.is_empty() { Ok(()) } else { Err(StateError::NotStateTable { table: self.display_name(), missing }) }
    }

    /// Creates the table if needed and checks its layout version.
    pub async fn ensure(&self, db: &mut dyn Driver) -> Result<(), StateError> {
        if !self.exists(db).await? {
            let stmts = self.create_sql();
            let refs: Vec<&str> = stmts.iter().map(String::as_str).collect();
            db.transaction(&refs).await?;
        }
        let version = self.version(db).await?;
        if version > STATE_VERSION {
            return Err(StateError::NewerVersion { table: self.display_name(), found: version });
        }
        // Upgrades from older layouts go here, one step per version, when there is a version 2.
        Ok(())
    }

    async fn version(&self, db: &mut dyn Driver) -> Result<i64, StateError> {
        let rows = db
            .query(&format!(
                "SELECT status FROM {} WHERE kind = '{}' AND name = 'state_version'",
                self.qualified(),
                Kind::Meta
            ))
            .await?;
        let v = rows.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_else(|| "1".into());
        v.parse().map_err(|_| StateError::BadRow {
            table: self.display_name(),
            name: "state_version".into(),
            reason: format!("not a number: {v}"),
        })
    }

    /// Every revision row. An absent table is an empty history.
    pub async fn load_revisions(&self, db: &mut dyn Driver) -> Result<History, StateError> {
        if !self.exists(db).await? {
            return Ok(History::default());
        }
        let d = self.dialect;
        let sql = format!(
            "SELECT name, status, checksum, description, seq, {}, applied_by, duration_ms, progress, error \
             FROM {} WHERE kind = '{KIND_REVISION}'",
            read_time(d, "applied_at"),
            self.qualified()
        );
        let rows = db.query(&sql).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let col = |i: usize| r.get(i).cloned().flatten();
            let name = col(0).unwrap_or_default();
            let bad = |reason: String| StateError::BadRow { table: self.display_name(), name: name.clone(), reason };
            let status_text = col(1).unwrap_or_default();
            let status =
                AppliedStatus::parse(&status_text).ok_or_else(|| bad(format!("unknown status `{status_text}`")))?;
            let progress: serde_json::Value =
                col(8).map(|p| serde_json::from_str(&p).unwrap_or(serde_json::Value::Null)).unwrap_or_default();
            let count = |k: &str| progress.get(k).and_then(serde_json::Value::as_u64).map(|n| n as usize);
            out.push(Applied {
                id: name.clone(),
                status,
                checksum: col(2).map(|c| Checksum::from_stored(&c)),
                description: col(3),
                seq: col(4).and_then(|s| s.parse().ok()),
                applied_at: col(5),
                applied_by: col(6),
                duration_ms: col(7).and_then(|s| s.parse().ok()),
                statements_done: count("statements_done"),
                statements_total: count("statements_total"),
                error: col(9),
                stamped: progress.get("stamped").and_then(serde_json::Value::as_bool).unwrap_or(false),
                reverted_at: progress.get("reverted_at").and_then(serde_json::Value::as_str).map(String::from),
                reverted_by: progress.get("reverted_by").and_then(serde_json::Value::as_str).map(String::from),
                done_checksum: progress
                    .get("done_checksum")
                    .and_then(serde_json::Value::as_str)
                    .map(Checksum::from_stored),
            });
        }
        let mut history = History::new(out);
        let done = db
            .query(&format!(
                "SELECT name FROM {} WHERE kind = '{}' AND status = '{}'",
                self.qualified(),
                Kind::Backfill,
                BackfillStatus::Completed
            ))
            .await?;
        history.completed_backfills = done.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
        Ok(history)
    }

    fn upsert(&self, name: &str, columns: &[(&str, String)]) -> String {
        let d = self.dialect;
        let mut cols = vec!["kind".to_string(), "name".to_string()];
        let mut vals = vec![d.quote_literal(KIND_REVISION), d.quote_literal(name)];
        for (c, v) in columns {
            cols.push(c.to_string());
            vals.push(v.clone());
        }
        cols.push("updated_at".into());
        vals.push(d.now_sql().into());
        let updates: Vec<String> = cols[2..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (kind, name) DO UPDATE SET {}",
            self.qualified(),
            cols.join(", "),
            vals.join(", "),
            updates.join(", ")
        )
    }

    fn next_seq(&self) -> String {
        format!("(SELECT coalesce(max(seq), 0) + 1 FROM {} WHERE kind = '{KIND_REVISION}')", self.qualified())
    }

    fn duration_sql(&self, duration: Option<Duration>) -> String {
        match (duration, self.dialect) {
            (Some(d), _) => (d.as_millis() as i64).to_string(),
            // Offline scripts: the transaction's own elapsed time, where the database can tell.
            (None, Dialect::Postgres) => "(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint".into(),
            (None, Dialect::Sqlite) => "NULL".into(),
        }
    }

    /// Records a revision as applied.
    pub fn record_applied(
        &self,
        id: &str,
        checksum: &Checksum,
        description: &str,
        by: &AppliedBy,
        duration: Option<Duration>,
    ) -> String {
        self.record_done(id, checksum, description, by.0.clone(), self.duration_sql(duration), "NULL".into())
    }

    /// Records a revision as applied without running it (`stamp`), so history shows nothing ran.
    pub fn record_stamped(&self, id: &str, checksum: &Checksum, description: &str, by: &AppliedBy) -> String {
        let d = self.dialect;
        let progress = json(d, &serde_json::json!({ "stamped": true }));
        self.record_done(id, checksum, description, by.stamped(d), "NULL".into(), progress)
    }

    fn record_done(
        &self,
        id: &str,
        checksum: &Checksum,
        description: &str,
        by_sql: String,
        duration_sql: String,
        progress_sql: String,
    ) -> String {
        let d = self.dialect;
        self.upsert(
            id,
            &[
                ("status", d.quote_literal(AppliedStatus::Applied.as_str())),
                ("checksum", d.quote_literal(checksum.as_str())),
                ("description", d.quote_literal(description)),
                ("seq", self.next_seq()),
                ("applied_at", d.now_sql().into()),
                ("applied_by", by_sql),
                ("duration_ms", duration_sql),
                ("progress", progress_sql),
                ("error", "NULL".into()),
            ],
        )
    }

    /// A statement that fails unless revision `id`'s row is as `expected`: put first in a
    /// transaction of a script, it keeps that transaction from committing when what should have
    /// come before it did not happen (a statement that failed in a client that went on). `None`
    /// where a failed statement does not abort its transaction (SQLite): there, only the shell's
    /// stopping at the first error protects the script.
    pub fn expect(&self, id: &str, expected: Expected) -> Option<String> {
        let d = self.dialect;
        if !d.error_aborts_transaction() {
            return None;
        }
        let (condition, what) = match expected {
            Expected::Done(n) => (
                format!("status = 'running' AND (progress->>'statements_done')::int = {n}"),
                format!("recorded {n} statement(s) done"),
            ),
            Expected::Status(status) => {
                (format!("status = {}", d.quote_literal(status.as_str())), status.as_str().to_string())
            }
        };
        let message = format!(
            "runner: revision {id} is not {what}, so what should have come before did not happen: this script stops here"
        );
        Some(format!(
            "DO $runner$ BEGIN IF NOT EXISTS (SELECT 1 FROM {} WHERE kind = '{KIND_REVISION}' AND name = {} AND {condition}) \
             THEN RAISE EXCEPTION {}; END IF; END $runner$",
            self.qualified(),
            d.quote_literal(id),
            d.quote_literal(&message)
        ))
    }

    /// Records how far a no-transaction revision got: `running` while it goes, `failed` with the
    /// error when a statement fails.
    #[allow(clippy::too_many_arguments)]
    pub fn record_progress(
        &self,
        id: &str,
        checksum: &Checksum,
        description: &str,
        by: &AppliedBy,
        status: AppliedStatus,
        done: usize,
        total: usize,
        done_checksum: &Checksum,
        error: Option<&str>,
    ) -> String {
        let d = self.dialect;
        self.upsert(
            id,
            &[
                ("status", d.quote_literal(status.as_str())),
                ("checksum", d.quote_literal(checksum.as_str())),
                ("description", d.quote_literal(description)),
                ("seq", "NULL".into()),
                ("applied_at", d.now_sql().into()),
                ("applied_by", by.0.clone()),
                ("duration_ms", "NULL".into()),
                (
                    "progress",
                    json(
                        d,
                        &serde_json::json!({ "statements_done": done, "statements_total": total, "done_checksum": done_checksum.as_str() }),
                    ),
                ),
                ("error", opt_literal(d, error)),
            ],
        )
    }

    /// Records a revision as reverted. Its row keeps who applied it and when; who reverted it
    /// and when goes in its progress and in a row of its own (`kind = 'revert'`, named
    /// `REV@TIME`) that later applies and reverts never overwrite: the audit trail.
    pub fn record_reverted(&self, id: &str, by: &AppliedBy, duration: Option<Duration>) -> Vec<String> {
        let d = self.dialect;
        let at = read_time(d, d.now_sql());
        let reverted = match d {
            Dialect::Postgres => format!("jsonb_build_object('reverted_by', {}, 'reverted_at', {at})", by.0),
            Dialect::Sqlite => format!("json_object('reverted_by', {}, 'reverted_at', {at})", by.0),
        };
        vec![
            format!(
                "UPDATE {} SET status = {}, seq = NULL, progress = {reverted}, error = NULL, updated_at = {} \
                 WHERE kind = '{KIND_REVISION}' AND name = {}",
                self.qualified(),
                d.quote_literal(AppliedStatus::Reverted.as_str()),
                d.now_sql(),
                d.quote_literal(id)
            ),
            format!(
                "INSERT INTO {} (kind, name, status, applied_at, applied_by, duration_ms, updated_at) \
                 VALUES ('{KIND_REVERT}', {} || {at}, {}, {n}, {}, {}, {n}) ON CONFLICT (kind, name) DO NOTHING",
                self.qualified(),
                d.quote_literal(&format!("{id}@")),
                d.quote_literal(AppliedStatus::Reverted.as_str()),
                by.0,
                self.duration_sql(duration),
                n = d.now_sql(),
            ),
        ]
    }

    /// Every recorded revert of `id`, oldest first: (when, by whom).
    pub async fn load_reverts(&self, db: &mut dyn Driver, id: &str) -> Result<Vec<(String, String)>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let d = self.dialect;
        let sql = format!(
            "SELECT {}, applied_by FROM {} WHERE kind = '{KIND_REVERT}' AND {} ORDER BY applied_at",
            read_time(d, "applied_at"),
            self.qualified(),
            crate::render::starts_with(d, "name", &format!("{id}@"))
        );
        Ok(crate::render::text_pairs(db.query(&sql).await?))
    }

    /// Sets the recorded duration after the fact.
    pub fn set_duration(&self, id: &str, took: Duration) -> String {
        format!(
            "UPDATE {} SET duration_ms = {} WHERE kind = '{KIND_REVISION}' AND name = {}",
            self.qualified(),
            took.as_millis(),
            self.dialect.quote_literal(id)
        )
    }

    /// Removes a revision's row (unstamping, or `repair` of a revision whose file is gone).
    pub fn forget(&self, id: &str) -> String {
        format!(
            "DELETE FROM {} WHERE kind = '{KIND_REVISION}' AND name = {}",
            self.qualified(),
            self.dialect.quote_literal(id)
        )
    }

    /// Re-records a revision's checksum after a deliberate edit.
    pub fn accept_checksum(&self, id: &str, checksum: &Checksum) -> String {
        let d = self.dialect;
        format!(
            "UPDATE {} SET checksum = {}, updated_at = {} WHERE kind = '{KIND_REVISION}' AND name = {}",
            self.qualified(),
            d.quote_literal(checksum.as_str()),
            d.now_sql(),
            d.quote_literal(id)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_and_unsafe_names_are_refused() {
        assert!(StateTable::new(Dialect::Sqlite, "main", "migrations").is_err());
        assert!(StateTable::new(Dialect::Sqlite, "main", "x; DROP TABLE y").is_err());
        assert!(StateTable::new(Dialect::Sqlite, "main", "runner_state").is_ok());
    }

    #[test]
    fn writes_are_schema_qualified() {
        let t = StateTable::new(Dialect::Postgres, "public", "runner_state").unwrap();
        let by = AppliedBy::new(Dialect::Postgres, "host1", "me");
        let sql = t.record_applied("001", &Checksum::of_parts(&["x"]), "it's", &by, None);
        assert!(sql.starts_with("INSERT INTO \"public\".\"runner_state\""), "{sql}");
        assert!(sql.contains("'it''s'") && sql.contains("current_user || '@host1'"), "{sql}");
    }
}
