//! Computes the rows of `score_bands (score_id, band)` from `scores`: a summary table that a
//! `[[refresh]]` rebuilds on a schedule (`plugin = "NAME"`, manifest role `refresh`).

use runner_plugin_sdk::{Assignment, Change, Plugin, Rows, Value};

struct ScoreBandTable;

impl Plugin for ScoreBandTable {
    fn describe() -> String {
        "score-band-table 1.0.0".into()
    }

    fn process(rows: Rows) -> Result<Vec<Change>, String> {
        rows.iter()
            .map(|row| {
                let band = match row.int("points")? {
                    None => "unranked",
                    Some(p) if p >= 1000 => "gold",
                    Some(_) => "silver",
                };
                Ok(Change::Insert(vec![
                    Assignment { column: "score_id".into(), value: row.get("id")?.clone() },
                    Assignment { column: "band".into(), value: Value::from(band) },
                ]))
            })
            .collect()
    }
}

runner_plugin_sdk::plugin!(ScoreBandTable);
