//! The `progress` JSON of a backfill's state row.

/// Where a backfill is. `cursor` is the key of the last row committed; `upper` the last key that
/// existed when the backfill started (rows added later are the application's job, so a backfill
/// under write load still finishes: xataio/pgroll#583).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Progress {
    /// Whether the start (upper bound, row count) was done; a backfill paused before it ever ran
    /// has a row but has not started.
    pub started: bool,
    pub cursor: Option<Vec<serde_json::Value>>,
    pub upper: Option<Vec<serde_json::Value>>,
    pub rows_total: u64,
    pub rows_done: u64,
    pub changes: u64,
    pub batches: u64,
    pub batch_size: usize,
    /// Rows per second, smoothed.
    pub rate: f64,
    /// Time spent inside the plugin, and in whole batches, in milliseconds.
    pub plugin_ms: u64,
    pub batch_ms: u64,
}

impl Progress {
    pub fn from_json(v: &serde_json::Value) -> Progress {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Seconds left at the current rate, if it can be told.
    pub fn eta_s(&self) -> Option<f64> {
        (self.rate > 0.0 && self.rows_total >= self.rows_done)
            .then(|| (self.rows_total - self.rows_done) as f64 / self.rate)
    }
}
