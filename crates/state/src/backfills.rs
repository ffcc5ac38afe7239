//! Backfill rows of the state table: `kind = 'backfill'`, one per backfill, whose `progress`
//! JSON holds the cursor. The backfill engine writes the row in the same transaction as each
//! batch, so the cursor and the data never disagree.

use crate::render::{literal, now, read_time, starts_with};
use crate::table::{StateError, StateTable};
use runner_db::{DbValue, Dialect, Driver};

/// One backfill's row.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillRow {
    pub name: String,
    pub status: String,
    pub progress: serde_json::Value,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub duration_ms: Option<i64>,
}

/// A row of `SELECT name, status, progress, error, applied_at, updated_at, duration_ms`.
fn backfill_row(r: runner_db::Row) -> BackfillRow {
    let col = |i: usize| r.get(i).cloned().flatten();
    BackfillRow {
        name: col(0).unwrap_or_default(),
        status: col(1).unwrap_or_default(),
        progress: col(2).and_then(|p| serde_json::from_str(&p).ok()).unwrap_or(serde_json::Value::Null),
        error: col(3),
        started_at: col(4),
        updated_at: col(5),
        duration_ms: col(6).and_then(|d| d.parse().ok()),
    }
}

impl StateTable {
    /// Placeholders with the casts PostgreSQL needs: parameters are bound as text when NULL.
    fn backfill_params(&self) -> (&'static str, &'static str) {
        match self.dialect() {
            Dialect::Postgres => ("$3::jsonb", "$5::bigint"),
            Dialect::Sqlite => ("$3", "$5"),
        }
    }

    /// Every backfill row (absent table: none).
    pub async fn load_backfills(&self, db: &mut dyn Driver) -> Result<Vec<BackfillRow>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let d = self.dialect();
        let sql = format!(
            "SELECT name, status, progress, error, {}, {}, duration_ms FROM {} WHERE kind = 'backfill' ORDER BY name",
            read_time(d, "applied_at"),
            read_time(d, "updated_at"),
            self.qualified()
        );
        let rows = db.query(&sql).await?;
        Ok(rows.into_iter().map(backfill_row).collect())
    }

    pub async fn load_backfill(&self, db: &mut dyn Driver, name: &str) -> Result<Option<BackfillRow>, StateError> {
        Ok(self.load_backfills(db).await?.into_iter().find(|r| r.name == name))
    }

    /// Writes a backfill's row: status, progress, error. `started` sets `applied_at` to now
    /// (the first batch of a run); `duration_ms` is set when the backfill completes.
    pub fn backfill_write(
        &self,
        name: &str,
        status: &str,
        progress: &serde_json::Value,
        error: Option<&str>,
        duration_ms: Option<i64>,
    ) -> (String, Vec<DbValue>) {
        let d = self.dialect();
        let sql = format!(
            "INSERT INTO {t} (kind, name, status, progress, error, applied_at, duration_ms, updated_at) \
             VALUES ('backfill', $1, $2, {p}, $4, {n}, {dur}, {n}) \
             ON CONFLICT (kind, name) DO UPDATE SET status = excluded.status, progress = excluded.progress, \
             error = excluded.error, duration_ms = excluded.duration_ms, updated_at = excluded.updated_at",
            t = self.qualified(),
            p = self.backfill_params().0,
            dur = self.backfill_params().1,
            n = now(d),
        );
        let params = vec![
            DbValue::Text(name.to_string()),
            DbValue::Text(status.to_string()),
            DbValue::Text(progress.to_string()),
            error.map_or(DbValue::Null, |e| DbValue::Text(e.to_string())),
            // As text, like the NULL it is until completion: a cached statement's parameter types
            // must not change between calls.
            duration_ms.map_or(DbValue::Null, |d| DbValue::Text(d.to_string())),
        ];
        (sql, params)
    }

    /// Changes only the status (pause, resume, retry), if the row is in one of `from`.
    pub fn backfill_set_status(&self, name: &str, to: &str, from: &[&str]) -> String {
        let d = self.dialect();
        let from: Vec<String> = from.iter().map(|s| literal(d, s)).collect();
        format!(
            "UPDATE {} SET status = {}, updated_at = {} WHERE kind = 'backfill' AND name = {} AND status IN ({})",
            self.qualified(),
            literal(d, to),
            now(d),
            literal(d, name),
            from.join(", ")
        )
    }

    /// Forgets a backfill's progress (`backfill reset`).
    pub fn backfill_forget(&self, name: &str) -> String {
        format!("DELETE FROM {} WHERE kind = 'backfill' AND name = {}", self.qualified(), literal(self.dialect(), name))
    }
}

/// Key ranges of a backfill (`kind = 'backfill-chunk'`, name `BACKFILL/0001`), claimed by
/// workers. A worker claims a pending chunk (or one whose owner stopped checkpointing) with
/// `FOR UPDATE SKIP LOCKED`, so several workers, in one process or many, never take the same
/// range and need no coordinator.
impl StateTable {
    pub fn chunk_name(backfill: &str, index: usize) -> String {
        format!("{backfill}/{index:04}")
    }

    /// `name` is one of `backfill`'s chunks.
    fn chunk_of(&self, backfill: &str) -> String {
        starts_with(self.dialect(), "name", &format!("{backfill}/"))
    }

    pub async fn load_chunks(&self, db: &mut dyn Driver, backfill: &str) -> Result<Vec<BackfillRow>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let d = self.dialect();
        let sql = format!(
            "SELECT name, status, progress, error, {}, {}, duration_ms FROM {} WHERE kind = 'backfill-chunk' AND {} ORDER BY name",
            read_time(d, "applied_at"),
            read_time(d, "updated_at"),
            self.qualified(),
            self.chunk_of(backfill)
        );
        Ok(db.query(&sql).await?.into_iter().map(backfill_row).collect())
    }

    /// Writes a chunk row (creation, checkpoint, completion).
    pub fn chunk_write(
        &self,
        chunk: &str,
        status: &str,
        progress: &serde_json::Value,
        error: Option<&str>,
    ) -> (String, Vec<DbValue>) {
        let (sql, mut params) = self.backfill_write(chunk, status, progress, error, None);
        params.truncate(5);
        (
            sql.replacen("VALUES ('backfill',", "VALUES ('backfill-chunk',", 1)
                .replace("WHERE kind = 'backfill'", "WHERE kind = 'backfill-chunk'"),
            params,
        )
    }

    /// Fails the transaction it is part of unless `owner` still holds `chunk` (PostgreSQL:
    /// division by zero). A worker whose claim was taken over never commits a batch.
    pub fn chunk_guard(&self, chunk: &str, owner: &str) -> Option<(String, Vec<DbValue>)> {
        (self.dialect() == Dialect::Postgres).then(|| {
            (
                format!(
                    "SELECT 1 / (SELECT count(*)::int FROM {} WHERE kind = 'backfill-chunk' AND name = $1 AND status = 'claimed' AND progress->>'owner' = $2)",
                    self.qualified()
                ),
                vec![DbValue::Text(chunk.to_string()), DbValue::Text(owner.to_string())],
            )
        })
    }

    /// Claims one chunk of `backfill` for `owner`: a pending one, or a claimed one not
    /// checkpointed for `stale_secs`. Returns its name and progress.
    pub async fn claim_chunk(
        &self,
        db: &mut dyn Driver,
        backfill: &str,
        owner: &str,
        stale_secs: u64,
    ) -> Result<Option<(String, serde_json::Value)>, StateError> {
        let d = self.dialect();
        let t = self.qualified();
        let stale = match d {
            Dialect::Postgres => format!("now() - interval '{stale_secs} seconds'"),
            Dialect::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{stale_secs} seconds')"),
        };
        let pick = format!(
            "SELECT name FROM {t} WHERE kind = 'backfill-chunk' AND {} \
             AND (status = 'pending' OR (status = 'claimed' AND updated_at < {stale})) ORDER BY name LIMIT 1{}",
            self.chunk_of(backfill),
            if d == Dialect::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" }
        );
        let set_owner = match d {
            Dialect::Postgres => "jsonb_set(progress, '{owner}', to_jsonb($1::text))",
            Dialect::Sqlite => "json_set(progress, '$.owner', $1)",
        };
        let sql = format!(
            "UPDATE {t} SET status = 'claimed', progress = {set_owner}, updated_at = {n} \
             WHERE kind = 'backfill-chunk' AND name = ({pick}) RETURNING name, {progress}",
            n = now(d),
            progress = if d == Dialect::Postgres { "progress::text" } else { "progress" },
        );
        let rows = db.fetch(&sql, &[DbValue::Text(owner.to_string())]).await?;
        Ok(rows.rows.into_iter().next().map(|r| {
            let name = match &r[0] {
                DbValue::Text(t) => t.clone(),
                other => other.to_text().unwrap_or_default(),
            };
            let progress = match &r[1] {
                DbValue::Text(t) => serde_json::from_str(t).unwrap_or_default(),
                _ => serde_json::Value::Null,
            };
            (name, progress)
        }))
    }

    /// Releases chunks whose owner is known to be gone (same host, process not running).
    pub fn chunk_release(&self, chunk: &str) -> String {
        format!(
            "UPDATE {} SET status = 'pending', updated_at = {} WHERE kind = 'backfill-chunk' AND name = {} AND status = 'claimed'",
            self.qualified(),
            now(self.dialect()),
            literal(self.dialect(), chunk)
        )
    }

    /// Chunks back to pending after a failure is retried.
    pub fn chunks_retry(&self, backfill: &str) -> String {
        format!(
            "UPDATE {} SET status = 'pending', error = NULL, updated_at = {} WHERE kind = 'backfill-chunk' AND {} AND status IN ('failed', 'claimed')",
            self.qualified(),
            now(self.dialect()),
            self.chunk_of(backfill)
        )
    }

    pub fn chunks_forget(&self, backfill: &str) -> String {
        format!("DELETE FROM {} WHERE kind = 'backfill-chunk' AND {}", self.qualified(), self.chunk_of(backfill))
    }
}
