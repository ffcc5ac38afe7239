//! Derives `band` from `points`: the kind of computed column teams backfill after adding it.

use runner_plugin_sdk::{Change, Plugin, Rows, Value};

struct ScoreBand;

fn band(points: Option<i64>) -> &'static str {
    match points {
        None => "unranked",
        Some(p) if p >= 2000 => "platinum",
        Some(p) if p >= 1000 => "gold",
        Some(p) if p >= 500 => "silver",
        Some(_) => "bronze",
    }
}

impl Plugin for ScoreBand {
    fn describe() -> String {
        "score-band 1.0.0".into()
    }

    fn process(rows: Rows) -> Result<Vec<Change>, String> {
        rows.iter().map(|row| Ok(row.update([("band", Value::from(band(row.int("points")?)))]))).collect()
    }
}

runner_plugin_sdk::plugin!(ScoreBand);
