//! Every row has `cmd` (text) and `n` (integer); the first row's `cmd` says how to answer, so the
//! host's checks on a columns-world output can be tried from a real component.

wit_bindgen::generate!({ world: "backfill-columns", path: "../../wit" });

use runner::plugin::columns::{Column, NamedColumn, Updates};
use runner::plugin::types::{Assignment, Change, Value};

struct Probe;

fn texts(values: impl IntoIterator<Item = String>) -> Column {
    Column::Texts(values.into_iter().map(Some).collect())
}

fn set(rows: Option<Vec<u32>>, name: String, values: Column) -> Updates {
    Updates { rows, set: vec![NamedColumn { name, values }] }
}

impl Guest for Probe {
    fn describe() -> String {
        "columns-probe 0.1.0".into()
    }

    fn process(batch: Batch) -> Result<Output, String> {
        let column = |name: &str| batch.columns.iter().find(|c| c.name == name).map(|c| c.values.clone());
        let Some(Column::Texts(cmds)) = column("cmd") else { return Err("no text column `cmd`".into()) };
        let Some(Column::Integers(ns)) = column("n") else { return Err("no integer column `n`".into()) };
        let cmd = cmds.first().cloned().flatten().unwrap_or_default();
        let n = ns.first().copied().flatten().unwrap_or(0);
        let rows = batch.rows;
        let echo = || texts(cmds.iter().map(|c| format!("saw {}", c.as_deref().unwrap_or("null"))));
        let updates = match cmd.as_str() {
            // `out` of every row: what the row's cmd was.
            "echo" => vec![set(None, "out".into(), echo())],
            // Row n only, and an insert by key beside it.
            "one" => {
                let insert =
                    Change::Insert(vec![Assignment { column: "out".into(), value: Value::Text("new".into()) }]);
                return Ok(Output {
                    updates: vec![set(Some(vec![n as u32]), "out".into(), texts(["one".into()]))],
                    changes: vec![insert],
                });
            }
            // One value fewer than rows.
            "short" => vec![set(None, "out".into(), texts((1..rows).map(|i| i.to_string())))],
            // Row n, which may be outside the batch.
            "outside" => vec![set(Some(vec![n as u32]), "out".into(), texts(["x".into()]))],
            // Every row twice, in two updates.
            "twice" => vec![set(None, "out".into(), echo()), set(None, "out".into(), echo())],
            // A column name of n bytes.
            "long-name" => vec![set(None, "o".repeat(n as usize), echo())],
            // n columns of NULLs on every row: two bytes a cell here, a change per cell in the host.
            "wide" => vec![Updates {
                rows: None,
                set: (0..n)
                    .map(|c| NamedColumn { name: format!("c{c}"), values: Column::Booleans(vec![None; rows as usize]) })
                    .collect(),
            }],
            other => return Err(format!("unknown cmd {other}")),
        };
        Ok(Output { updates, changes: vec![] })
    }
}

export!(Probe);
