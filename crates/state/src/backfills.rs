//! Backfill rows of the state table: `kind = 'backfill'`, one per backfill, whose `progress`
//! JSON holds the cursor. The backfill engine writes the row in the same transaction as each
//! batch, so the cursor and the data never disagree.

use crate::render::{read_time, starts_with};
use crate::status::{BackfillStatus, ChunkStatus, Kind};
use crate::table::{StateError, StateTable};

const BACKFILL: &str = Kind::Backfill.as_str();
const CHUNK: &str = Kind::BackfillChunk.as_str();
const PENDING: &str = ChunkStatus::Pending.as_str();
const CLAIMED: &str = ChunkStatus::Claimed.as_str();
const FAILED: &str = ChunkStatus::Failed.as_str();
use runner_db::{DbError, DbValue, Dialect, Driver};

/// A backfill's row (`S` = [`BackfillStatus`]) or one of its chunks' (`S` = [`ChunkStatus`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressRow<S> {
    /// The backfill's name, or the chunk's (`backfill/0003`).
    pub name: String,
    /// Its recorded status.
    pub status: S,
    /// Where it has got to, as the backfill engine writes it (the last key, rows done, …).
    pub progress: serde_json::Value,
    /// Why it failed, for a failed one.
    pub error: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When its row was last written (RFC 3339).
    pub updated_at: Option<String>,
    /// How long it has run, in milliseconds.
    pub duration_ms: Option<i64>,
}

/// A backfill's row.
pub type BackfillRow = ProgressRow<BackfillStatus>;
/// A chunk's row: one key range of a backfill.
pub type ChunkRow = ProgressRow<ChunkStatus>;

impl StateTable {
    /// A row of `SELECT name, status, progress, error, applied_at, updated_at, duration_ms`.
    fn progress_row<S>(&self, r: runner_db::Row, parse: fn(&str) -> Option<S>) -> Result<ProgressRow<S>, StateError> {
        let col = |i: usize| r.get(i).cloned().flatten();
        let name = col(0).unwrap_or_default();
        let word = col(1).unwrap_or_default();
        let status = parse(&word).ok_or_else(|| StateError::BadRow {
            table: self.display_name(),
            name: name.clone(),
            reason: format!("unknown status `{word}`"),
        })?;
        Ok(ProgressRow {
            name,
            status,
            progress: col(2).and_then(|p| serde_json::from_str(&p).ok()).unwrap_or(serde_json::Value::Null),
            error: col(3),
            started_at: col(4),
            updated_at: col(5),
            duration_ms: col(6).and_then(|d| d.parse().ok()),
        })
    }

    /// One upsert for backfill and chunk rows; `applied_at` is set when the row is created.
    fn progress_upsert(
        &self,
        kind: Kind,
        name: &str,
        status: &str,
        progress: &serde_json::Value,
        error: Option<&str>,
        duration_ms: Option<i64>,
    ) -> (String, Vec<DbValue>) {
        let (p, dur) = match self.dialect() {
            Dialect::Postgres => ("$3::jsonb", "$5::bigint"),
            Dialect::Sqlite => ("$3", "$5"),
        };
        let sql = format!(
            "INSERT INTO {t} (kind, name, status, progress, error, applied_at, duration_ms, updated_at) \
             VALUES ('{kind}', $1, $2, {p}, $4, {n}, {dur}, {n}) \
             ON CONFLICT (kind, name) DO UPDATE SET status = excluded.status, progress = excluded.progress, \
             error = excluded.error, duration_ms = excluded.duration_ms, updated_at = excluded.updated_at",
            t = self.qualified(),
            n = self.dialect().now_sql(),
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
}

impl StateTable {
    /// Every backfill row (absent table: none).
    pub async fn load_backfills(&self, db: &mut dyn Driver) -> Result<Vec<BackfillRow>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let d = self.dialect();
        let sql = format!(
            "SELECT name, status, progress, error, {}, {}, duration_ms FROM {} WHERE kind = '{BACKFILL}' ORDER BY name",
            read_time(d, "applied_at"),
            read_time(d, "updated_at"),
            self.qualified()
        );
        db.query(&sql).await?.into_iter().map(|r| self.progress_row(r, BackfillStatus::parse)).collect()
    }

    /// The row of the backfill `name`, if it has one.
    pub async fn load_backfill(&self, db: &mut dyn Driver, name: &str) -> Result<Option<BackfillRow>, StateError> {
        Ok(self.load_backfills(db).await?.into_iter().find(|r| r.name == name))
    }

    /// Writes a backfill's row: status, progress, error; `duration_ms` is set when the
    /// backfill completes.
    pub fn backfill_write(
        &self,
        name: &str,
        status: BackfillStatus,
        progress: &serde_json::Value,
        error: Option<&str>,
        duration_ms: Option<i64>,
    ) -> (String, Vec<DbValue>) {
        self.progress_upsert(Kind::Backfill, name, status.as_str(), progress, error, duration_ms)
    }

    /// Changes only the status (pause, resume, retry), if the row is in one of `from`.
    pub fn backfill_set_status(&self, name: &str, to: BackfillStatus, from: &[BackfillStatus]) -> String {
        let d = self.dialect();
        let from: Vec<String> = from.iter().map(|s| d.quote_literal(s.as_str())).collect();
        format!(
            "UPDATE {} SET status = {}, updated_at = {} WHERE kind = '{BACKFILL}' AND name = {} AND status IN ({})",
            self.qualified(),
            d.quote_literal(to.as_str()),
            d.now_sql(),
            d.quote_literal(name),
            from.join(", ")
        )
    }

    /// Forgets a backfill's progress (`backfill reset`).
    pub fn backfill_forget(&self, name: &str) -> String {
        format!(
            "DELETE FROM {} WHERE kind = '{BACKFILL}' AND name = {}",
            self.qualified(),
            self.dialect().quote_literal(name)
        )
    }
}

/// Key ranges of a backfill (`kind = 'backfill-chunk'`, name `BACKFILL/0001`), claimed by
/// workers. A worker claims a pending chunk (or one whose owner stopped checkpointing) with
/// `FOR UPDATE SKIP LOCKED`, so several workers, in one process or many, never take the same
/// range and need no coordinator.
impl StateTable {
    /// The name of `backfill`'s chunk number `index` (`backfill/0003`).
    pub fn chunk_name(backfill: &str, index: usize) -> String {
        format!("{backfill}/{index:04}")
    }

    /// `name` is one of `backfill`'s chunks.
    fn chunk_of(&self, backfill: &str) -> String {
        starts_with(self.dialect(), "name", &format!("{backfill}/"))
    }

    /// The rows of `backfill`'s chunks, in name order.
    pub async fn load_chunks(&self, db: &mut dyn Driver, backfill: &str) -> Result<Vec<ChunkRow>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let d = self.dialect();
        let sql = format!(
            "SELECT name, status, progress, error, {}, {}, duration_ms FROM {} WHERE kind = '{CHUNK}' AND {} ORDER BY name",
            read_time(d, "applied_at"),
            read_time(d, "updated_at"),
            self.qualified(),
            self.chunk_of(backfill)
        );
        db.query(&sql).await?.into_iter().map(|r| self.progress_row(r, ChunkStatus::parse)).collect()
    }

    /// Writes a chunk row (creation, checkpoint, completion).
    pub fn chunk_write(
        &self,
        chunk: &str,
        status: ChunkStatus,
        progress: &serde_json::Value,
        error: Option<&str>,
    ) -> (String, Vec<DbValue>) {
        self.progress_upsert(Kind::BackfillChunk, chunk, status.as_str(), progress, error, None)
    }

    /// Whether a batch's write failed because its `chunk_guard` found the chunk taken over.
    pub fn chunk_guard_failed(e: &DbError) -> bool {
        e.is_division_by_zero()
    }

    /// Fails the transaction it is part of unless `owner` still holds `chunk` (PostgreSQL:
    /// division by zero). A worker whose claim was taken over never commits a batch.
    pub fn chunk_guard(&self, chunk: &str, owner: &str) -> Option<(String, Vec<DbValue>)> {
        (self.dialect() == Dialect::Postgres).then(|| {
            (
                format!(
                    "SELECT 1 / (SELECT count(*)::int FROM {} WHERE kind = '{CHUNK}' AND name = $1 AND status = '{CLAIMED}' AND progress->>'owner' = $2)",
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
        let stale = d.seconds_ago_sql(stale_secs);
        let pick = format!(
            "SELECT name FROM {t} WHERE kind = '{CHUNK}' AND {} \
             AND (status = '{PENDING}' OR (status = '{CLAIMED}' AND updated_at < {stale})) ORDER BY name LIMIT 1{}",
            self.chunk_of(backfill),
            d.skip_locked_sql()
        );
        let set_owner = match d {
            Dialect::Postgres => "jsonb_set(progress, '{owner}', to_jsonb($1::text))",
            Dialect::Sqlite => "json_set(progress, '$.owner', $1)",
        };
        let sql = format!(
            "UPDATE {t} SET status = '{CLAIMED}', progress = {set_owner}, updated_at = {n} \
             WHERE kind = '{CHUNK}' AND name = ({pick}) RETURNING name, {progress}",
            n = d.now_sql(),
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
            "UPDATE {} SET status = '{PENDING}', updated_at = {} WHERE kind = '{CHUNK}' AND name = {} AND status = '{CLAIMED}'",
            self.qualified(),
            self.dialect().now_sql(),
            self.dialect().quote_literal(chunk)
        )
    }

    /// Chunks back to pending after a failure is retried.
    pub fn chunks_retry(&self, backfill: &str) -> String {
        format!(
            "UPDATE {} SET status = '{PENDING}', error = NULL, updated_at = {} WHERE kind = '{CHUNK}' AND {} AND status IN ('{FAILED}', '{CLAIMED}')",
            self.qualified(),
            self.dialect().now_sql(),
            self.chunk_of(backfill)
        )
    }

    /// The statement that deletes every chunk row of `backfill` (a restart from the beginning).
    pub fn chunks_forget(&self, backfill: &str) -> String {
        format!("DELETE FROM {} WHERE kind = '{CHUNK}' AND {}", self.qualified(), self.chunk_of(backfill))
    }
}
