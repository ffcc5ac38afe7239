//! Splits `full_name` into `first_name` and `last_name` (the last word is the last name).

use runner_plugin_sdk::{Change, Plugin, Rows, Value};

struct SplitName;

fn split(full: &str) -> (String, Option<String>) {
    let full = full.split_whitespace().collect::<Vec<_>>().join(" ");
    match full.rsplit_once(' ') {
        Some((first, last)) => (first.to_string(), Some(last.to_string())),
        None => (full, None),
    }
}

impl Plugin for SplitName {
    fn describe() -> String {
        "split-name 1.0.0".into()
    }

    fn process(rows: Rows) -> Result<Vec<Change>, String> {
        rows.iter()
            .map(|row| {
                let (first, last) = split(row.text("full_name")?.unwrap_or(""));
                Ok(row.update([("first_name", Value::from(first)), ("last_name", Value::from(last))]))
            })
            .collect()
    }
}

runner_plugin_sdk::plugin!(SplitName);
