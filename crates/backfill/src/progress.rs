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
    /// The key of the last row committed.
    pub cursor: Option<Vec<serde_json::Value>>,
    /// The last key when the backfill started: rows after it are not its work.
    pub upper: Option<Vec<serde_json::Value>>,
    /// Rows to do, counted when it started.
    pub rows_total: u64,
    /// Rows done.
    pub rows_done: u64,
    /// Changes the plugin returned.
    pub changes: u64,
    /// Batches committed.
    pub batches: u64,
    /// The batch size it has adapted to.
    pub batch_size: usize,
    /// Rows per second, smoothed.
    pub rate: f64,
    /// Time spent inside the plugin, and in batches up to their write (a checkpoint cannot
    /// include the commit that records it), in milliseconds.
    pub plugin_ms: u64,
    /// Time spent in batches up to their write, in milliseconds.
    pub batch_ms: u64,
    /// How many key ranges the backfill was split into.
    pub chunks: usize,
    /// Passes over rows left to do after every range was done, and how many were left before
    /// the last one (a pass must leave fewer).
    pub sweeps: u32,
    /// Rows left before the last sweep.
    pub swept_left: Option<u64>,
}

/// The `progress` JSON of one chunk (a key range claimed by one worker at a time).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChunkProgress {
    /// Exclusive lower bound (`None`: from the first key).
    pub lower: Option<Vec<serde_json::Value>>,
    /// Inclusive upper bound.
    pub upper: Vec<serde_json::Value>,
    /// Last key committed.
    pub cursor: Option<Vec<serde_json::Value>>,
    /// Rows in the range when the backfill started (0: unknown).
    pub rows_expected: u64,
    /// Rows done.
    pub rows_done: u64,
    /// Changes the plugin returned.
    pub changes: u64,
    /// Batches committed.
    pub batches: u64,
    /// The batch size it has adapted to.
    pub batch_size: usize,
    /// Rows per second, smoothed.
    pub rate: f64,
    /// Time spent inside the plugin, in milliseconds.
    pub plugin_ms: u64,
    /// Time spent in batches up to their write, in milliseconds.
    pub batch_ms: u64,
    /// The worker holding it: `pid N on HOST #k`.
    pub owner: Option<String>,
    /// The worker that completed it.
    pub done_by: Option<String>,
}

impl ChunkProgress {
    /// How many rows to read after `done` rows of the range: `size`, or, when at most half as
    /// much again is expected to be left, all of it and one more. A range then ends in one
    /// batch rather than a full batch and a small tail, which costs a transaction for a few
    /// rows; and that batch comes up short, so the worker knows the range is done without
    /// another read, and claims the next range while it writes.
    pub fn batch_limit(&self, done: u64, size: usize) -> usize {
        let left = self.rows_expected.saturating_sub(done) as usize;
        if self.rows_expected > 0 && left <= size + size / 2 { left + 1 } else { size }
    }

    /// The progress a state row's JSON holds (the default for anything else).
    pub fn from_json(v: &serde_json::Value) -> ChunkProgress {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    /// As a state row stores it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl Progress {
    /// The backfill's progress: its own row plus the sum over its chunks.
    pub fn combine(parent: &serde_json::Value, chunks: &[serde_json::Value]) -> Progress {
        let mut p = Progress::from_json(parent);
        if chunks.is_empty() {
            return p;
        }
        let cs: Vec<ChunkProgress> = chunks.iter().map(ChunkProgress::from_json).collect();
        p.rows_done = cs.iter().map(|c| c.rows_done).sum();
        p.changes = cs.iter().map(|c| c.changes).sum();
        p.batches = cs.iter().map(|c| c.batches).sum();
        p.plugin_ms = cs.iter().map(|c| c.plugin_ms).sum();
        p.batch_ms = cs.iter().map(|c| c.batch_ms).sum();
        // A fold from +0.0: `sum()` of no f64 is -0.0, which JSON output showed as `-0.0`.
        p.rate = cs.iter().filter(|c| c.owner.is_some()).fold(0.0, |total, c| total + c.rate);
        p.batch_size = cs.iter().map(|c| c.batch_size).max().unwrap_or(p.batch_size);
        p
    }

    /// The progress a state row's JSON holds (the default for anything else).
    pub fn from_json(v: &serde_json::Value) -> Progress {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    /// As a state row stores it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Seconds left at the current rate, if it can be told.
    pub fn eta_s(&self) -> Option<f64> {
        (self.rate > 0.0 && self.rows_total >= self.rows_done)
            .then(|| (self.rows_total - self.rows_done) as f64 / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_worker_means_a_rate_of_plus_zero() {
        let chunk = serde_json::json!({ "rows_done": 5, "rate": 12.0 });
        let p = Progress::combine(&serde_json::json!({}), &[chunk]);
        assert_eq!(serde_json::to_value(&p).unwrap()["rate"].to_string(), "0.0");
    }
}
