//! Refresh rows of the state table: `kind = 'refresh'` (one per refresh: its last run) and
//! `kind = 'refresh-slot'` (one per scheduled slot that a replica claimed). Claiming is an
//! insert that only one replica can win, so each slot runs once however many `runner cron`
//! processes watch the schedule.

use crate::render::{read_time, starts_with};
use crate::status::{Kind, RefreshStatus, SlotStatus};
use crate::table::{StateError, StateTable};
use runner_db::{DbValue, Dialect, Driver};

const REFRESH: &str = Kind::Refresh.as_str();
const SLOT: &str = Kind::RefreshSlot.as_str();
const RUNNING: &str = SlotStatus::Running.as_str();

/// What a refresh's row records about its last run; `runs`, `failures` and `last_success` carry
/// over from the runs before it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefreshProgress {
    /// Runs so far.
    pub runs: u64,
    /// Failed runs so far.
    pub failures: u64,
    /// When the last successful run ended (RFC 3339).
    pub last_success: Option<String>,
    /// The cron slot the last run was for; `None` for `runner refresh`.
    pub last_slot: Option<String>,
    /// When the last run started and ended (RFC 3339).
    pub last_started: Option<String>,
    /// When the last run ended (RFC 3339).
    pub last_finished: Option<String>,
    /// Rows of a rebuilt table.
    pub rows: Option<u64>,
    /// Attempts the last run took (it retries a lock timeout).
    pub attempts: u32,
}

/// A refresh's row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RefreshRow {
    /// The refresh's name.
    pub name: String,
    /// How its last run ended.
    pub status: RefreshStatus,
    /// Its counters and last run.
    pub progress: RefreshProgress,
    /// Why the last run failed, for a failed one.
    pub error: Option<String>,
    /// When the last run was recorded (RFC 3339).
    pub last_run_at: Option<String>,
    /// How long the last run took, in milliseconds.
    pub duration_ms: Option<i64>,
}

impl StateTable {
    /// Every refresh's row, in name order (none before the table exists).
    pub async fn load_refreshes(&self, db: &mut dyn Driver) -> Result<Vec<RefreshRow>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT name, status, progress, error, {}, duration_ms FROM {} WHERE kind = '{REFRESH}' ORDER BY name",
            read_time(self.dialect(), "applied_at"),
            self.qualified()
        );
        db.query(&sql)
            .await?
            .into_iter()
            .map(|r| {
                let col = |i: usize| r.get(i).cloned().flatten();
                let name = col(0).unwrap_or_default();
                let word = col(1).unwrap_or_default();
                let status = RefreshStatus::parse(&word).ok_or_else(|| StateError::BadRow {
                    table: self.display_name(),
                    name: name.clone(),
                    reason: format!("unknown status `{word}`"),
                })?;
                Ok(RefreshRow {
                    name,
                    status,
                    progress: col(2).and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default(),
                    error: col(3),
                    last_run_at: col(4),
                    duration_ms: col(5).and_then(|d| d.parse().ok()),
                })
            })
            .collect()
    }

    /// Records a run on the refresh's row: `applied_at` is when it started (what `status`
    /// shows as its last run), `updated_at` when it ended.
    pub fn refresh_write(
        &self,
        name: &str,
        status: RefreshStatus,
        progress: &RefreshProgress,
        error: Option<&str>,
        duration_ms: i64,
    ) -> (String, Vec<DbValue>) {
        let d = self.dialect();
        let (p, started) = match d {
            Dialect::Postgres => ("$3::jsonb", "$5::timestamptz"),
            Dialect::Sqlite => ("$3", "$5"),
        };
        let sql = format!(
            "INSERT INTO {t} (kind, name, status, progress, error, applied_at, duration_ms, updated_at) \
             VALUES ('{REFRESH}', $1, $2, {p}, $4, {started}, {duration_ms}, {n}) \
             ON CONFLICT (kind, name) DO UPDATE SET status = excluded.status, progress = excluded.progress, \
             error = excluded.error, applied_at = excluded.applied_at, duration_ms = excluded.duration_ms, \
             updated_at = excluded.updated_at",
            t = self.qualified(),
            n = d.now_sql(),
        );
        let params = vec![
            DbValue::Text(name.to_string()),
            DbValue::Text(status.as_str().to_string()),
            DbValue::Text(serde_json::to_string(progress).unwrap_or_default()),
            error.map_or(DbValue::Null, |e| DbValue::Text(e.to_string())),
            DbValue::Text(progress.last_started.clone().unwrap_or_default()),
        ];
        (sql, params)
    }

    /// Claims a slot; `true` if this replica won it.
    pub async fn claim_slot(&self, db: &mut dyn Driver, slot: &str, owner: &str) -> Result<bool, StateError> {
        let d = self.dialect();
        let sql = format!(
            "INSERT INTO {} (kind, name, status, applied_by, applied_at, updated_at) VALUES ('{SLOT}', $1, '{RUNNING}', $2, {n}, {n}) \
             ON CONFLICT (kind, name) DO NOTHING RETURNING name",
            self.qualified(),
            n = d.now_sql()
        );
        let rows = db.fetch(&sql, &[DbValue::Text(slot.to_string()), DbValue::Text(owner.to_string())]).await?;
        Ok(!rows.rows.is_empty())
    }

    /// Forgets `refresh`'s slots named before `before`, all but the newest `keep`: a slot only
    /// matters while a replica might still claim it (within the missed-run grace window), and
    /// without pruning a schedule every 2 s adds 43,200 rows a day that every claim reads past.
    pub fn slots_prune(&self, refresh: &str, before: &str, keep: usize) -> String {
        let d = self.dialect();
        let t = self.qualified();
        let mine = starts_with(d, "name", &format!("{refresh}@"));
        format!(
            "DELETE FROM {t} WHERE kind = '{SLOT}' AND {mine} AND name < {} \
             AND name NOT IN (SELECT name FROM {t} WHERE kind = '{SLOT}' AND {mine} ORDER BY name DESC LIMIT {keep})",
            d.quote_literal(before)
        )
    }

    /// Records how a claimed slot ended.
    pub fn slot_finish(&self, slot: &str, status: SlotStatus, error: Option<&str>, duration_ms: i64) -> String {
        let d = self.dialect();
        format!(
            "UPDATE {} SET status = {}, error = {}, duration_ms = {duration_ms}, updated_at = {} WHERE kind = '{SLOT}' AND name = {}",
            self.qualified(),
            d.quote_literal(status.as_str()),
            error.map_or("NULL".to_string(), |e| d.quote_literal(e)),
            d.now_sql(),
            d.quote_literal(slot)
        )
    }

    /// Slot rows of one refresh, oldest first: (name, status).
    pub async fn load_slots(&self, db: &mut dyn Driver, refresh: &str) -> Result<Vec<(String, String)>, StateError> {
        let sql = format!(
            "SELECT name, status FROM {} WHERE kind = '{SLOT}' AND {} ORDER BY name",
            self.qualified(),
            starts_with(self.dialect(), "name", &format!("{refresh}@"))
        );
        Ok(crate::render::text_pairs(db.query(&sql).await?))
    }

    /// Whether the database is PostgreSQL (refresh kinds differ).
    pub fn is_postgres(&self) -> bool {
        self.dialect() == Dialect::Postgres
    }
}
