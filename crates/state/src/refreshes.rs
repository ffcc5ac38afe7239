//! Refresh rows of the state table: `kind = 'refresh'` (one per refresh: its last run) and
//! `kind = 'refresh-slot'` (one per scheduled slot that a replica claimed). Claiming is an
//! insert that only one replica can win, so each slot runs once however many `runner cron`
//! processes watch the schedule.

use crate::render::{literal, now, read_time, starts_with};
use crate::table::{StateError, StateTable};
use runner_db::{DbValue, Dialect, Driver};

/// A refresh's row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RefreshRow {
    pub name: String,
    pub status: String,
    pub progress: serde_json::Value,
    pub error: Option<String>,
    pub last_run_at: Option<String>,
    pub duration_ms: Option<i64>,
}

impl StateTable {
    pub async fn load_refreshes(&self, db: &mut dyn Driver) -> Result<Vec<RefreshRow>, StateError> {
        if !self.exists(db).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT name, status, progress, error, {}, duration_ms FROM {} WHERE kind = 'refresh' ORDER BY name",
            read_time(self.dialect(), "applied_at"),
            self.qualified()
        );
        Ok(db
            .query(&sql)
            .await?
            .into_iter()
            .map(|r| {
                let col = |i: usize| r.get(i).cloned().flatten();
                RefreshRow {
                    name: col(0).unwrap_or_default(),
                    status: col(1).unwrap_or_default(),
                    progress: col(2).and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default(),
                    error: col(3),
                    last_run_at: col(4),
                    duration_ms: col(5).and_then(|d| d.parse().ok()),
                }
            })
            .collect())
    }

    /// Records a run's outcome on the refresh's row.
    pub fn refresh_write(
        &self,
        name: &str,
        status: &str,
        progress: &serde_json::Value,
        error: Option<&str>,
        duration_ms: i64,
    ) -> (String, Vec<DbValue>) {
        let (sql, params) = self.backfill_write(name, status, progress, error, Some(duration_ms));
        (sql.replacen("VALUES ('backfill',", "VALUES ('refresh',", 1), params)
    }

    /// Claims a slot; `true` if this replica won it.
    pub async fn claim_slot(&self, db: &mut dyn Driver, slot: &str, owner: &str) -> Result<bool, StateError> {
        let d = self.dialect();
        let sql = format!(
            "INSERT INTO {} (kind, name, status, applied_by, applied_at, updated_at) VALUES ('refresh-slot', $1, 'running', $2, {n}, {n}) \
             ON CONFLICT (kind, name) DO NOTHING RETURNING name",
            self.qualified(),
            n = now(d)
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
            "DELETE FROM {t} WHERE kind = 'refresh-slot' AND {mine} AND name < {} \
             AND name NOT IN (SELECT name FROM {t} WHERE kind = 'refresh-slot' AND {mine} ORDER BY name DESC LIMIT {keep})",
            literal(d, before)
        )
    }

    /// Records how a claimed slot ended.
    pub fn slot_finish(&self, slot: &str, status: &str, error: Option<&str>, duration_ms: i64) -> String {
        let d = self.dialect();
        format!(
            "UPDATE {} SET status = {}, error = {}, duration_ms = {duration_ms}, updated_at = {} WHERE kind = 'refresh-slot' AND name = {}",
            self.qualified(),
            literal(d, status),
            error.map_or("NULL".to_string(), |e| literal(d, e)),
            now(d),
            literal(d, slot)
        )
    }

    /// Slot rows of one refresh, oldest first: (name, status).
    pub async fn load_slots(&self, db: &mut dyn Driver, refresh: &str) -> Result<Vec<(String, String)>, StateError> {
        let sql = format!(
            "SELECT name, status FROM {} WHERE kind = 'refresh-slot' AND {} ORDER BY name",
            self.qualified(),
            starts_with(self.dialect(), "name", &format!("{refresh}@"))
        );
        Ok(db
            .query(&sql)
            .await?
            .into_iter()
            .map(|r| {
                (r.first().cloned().flatten().unwrap_or_default(), r.get(1).cloned().flatten().unwrap_or_default())
            })
            .collect())
    }

    /// Whether the database is PostgreSQL (refresh kinds differ).
    pub fn is_postgres(&self) -> bool {
        self.dialect() == Dialect::Postgres
    }
}
