//! The `backfill-columns` world's batch and output, converted at the boundary: the backfill
//! engine sees rows and changes by key whichever world a plugin implements.
//!
//! An update names rows by their position in the batch, and the host fills in their keys from
//! what it read, so such a plugin cannot reach a row outside its batch through `updates`.

use crate::{Assignment, Batch, Change, Column, ColumnBatch, ColumnOutput, NamedColumn, Update, Value};

/// The longest column name an update may carry. The host copies a name into the change of every
/// row it sets, so an unbounded one would let a plugin multiply its memory into the host's.
pub const MAX_COLUMN_NAME: usize = 256;

/// How much of the host's memory the changes built from one answer may take, for a plugin whose
/// memory limit is `memory_bytes`: four times that limit, and at least 64 MiB. An answer names
/// each value once, but the host builds a change per row with the column's name and a value per
/// cell, so a few megabytes of columns (200 columns of NULLs over 100,000 rows is 40 MB as
/// booleans) would otherwise become the host's gigabytes. A batch of 10,000 rows setting ten
/// columns takes about 9 MB.
pub fn answer_budget(memory_bytes: usize) -> usize {
    memory_bytes.saturating_mul(4).max(64 << 20)
}

/// What the host builds for one cell an answer sets: the change's assignment (name and value),
/// the name's copy, and the value on its way there.
fn cell_bytes(name: &str) -> usize {
    std::mem::size_of::<Assignment>() + std::mem::size_of::<Value>() + name.len()
}

/// `rows` by column, each column in the one case that holds all its values.
pub(crate) fn batch(rows: &Batch) -> ColumnBatch {
    let columns = rows
        .columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let cells = rows.rows.iter().map(|r| r.get(i).unwrap_or(&Value::Null));
            NamedColumn { name: name.clone(), values: column(cells) }
        })
        .collect();
    ColumnBatch { key: rows.key.clone(), columns, rows: rows.rows.len() as u32 }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Boolean,
    Integer,
    Float,
    Text,
    Bytes,
}

fn kind(v: &Value) -> Option<Kind> {
    match v {
        Value::Null => None,
        Value::Boolean(_) => Some(Kind::Boolean),
        Value::Integer(_) => Some(Kind::Integer),
        Value::Float(_) => Some(Kind::Float),
        Value::Text(_) => Some(Kind::Text),
        Value::Bytes(_) => Some(Kind::Bytes),
    }
}

fn column<'a>(cells: impl Iterator<Item = &'a Value> + Clone) -> Column {
    let mut only = None;
    for k in cells.clone().filter_map(kind) {
        match only {
            None => only = Some(k),
            Some(o) if o == k => {}
            // SQLite lets a column hold values of several types.
            Some(_) => return Column::Values(cells.cloned().collect()),
        }
    }
    macro_rules! each {
        ($case:ident, $variant:ident, $v:ident => $out:expr) => {
            Column::$case(cells.map(|c| if let Value::$variant($v) = c { Some($out) } else { None }).collect())
        };
    }
    // A column of NULLs only comes as integers: a plugin reads it as absent values either way.
    match only {
        None | Some(Kind::Integer) => each!(Integers, Integer, v => *v),
        Some(Kind::Boolean) => each!(Booleans, Boolean, v => *v),
        Some(Kind::Float) => each!(Floats, Float, v => *v),
        Some(Kind::Text) => each!(Texts, Text, v => v.clone()),
        Some(Kind::Bytes) => each!(Bytes, Bytes, v => v.clone()),
    }
}

fn len(c: &Column) -> usize {
    match c {
        Column::Booleans(v) => v.len(),
        Column::Integers(v) => v.len(),
        Column::Floats(v) => v.len(),
        Column::Texts(v) => v.len(),
        Column::Bytes(v) => v.len(),
        Column::Values(v) => v.len(),
    }
}

fn values(c: Column) -> Vec<Value> {
    fn each<T>(v: Vec<Option<T>>, f: fn(T) -> Value) -> Vec<Value> {
        v.into_iter().map(|x| x.map_or(Value::Null, f)).collect()
    }
    match c {
        Column::Booleans(v) => each(v, Value::Boolean),
        Column::Integers(v) => each(v, Value::Integer),
        Column::Floats(v) => each(v, Value::Float),
        Column::Texts(v) => each(v, Value::Text),
        Column::Bytes(v) => each(v, Value::Bytes),
        Column::Values(v) => v,
    }
}

/// A plugin's output as changes by key, in the order it gave them (updates first). An error says
/// what is wrong with the output: a row outside the batch or set twice, a column whose length is
/// not its rows', a name set twice or too long, or changes that would take more than `budget`
/// bytes of the host's memory ([`answer_budget`]), which is found out before they are built.
pub(crate) fn changes(batch: &Batch, output: ColumnOutput, budget: usize) -> Result<Vec<Change>, String> {
    let n = batch.rows.len();
    let key: Vec<usize> = batch
        .key
        .iter()
        .map(|k| batch.columns.iter().position(|c| c == k).ok_or_else(|| format!("the batch has no key column `{k}`")))
        .collect::<Result<_, _>>()?;
    let mut set_before = vec![false; n];
    let mut changes = Vec::new();
    let mut built = 0usize;
    let over = |g: usize| {
        format!(
            "updates[{g}]: the changes this answer makes would take more than {budget} bytes of runner's memory (four times the plugin's memory limit); set fewer columns at once, or let batches be smaller (`[batch] max_size`)"
        )
    };
    for (g, group) in output.updates.into_iter().enumerate() {
        // Setting nothing changes no row, so it claims none (the SDKs send `row.update()` so).
        if group.set.is_empty() {
            continue;
        }
        let rows: Vec<u32> = group.rows.unwrap_or_else(|| (0..n as u32).collect());
        for &r in &rows {
            match set_before.get_mut(r as usize) {
                None => return Err(format!("updates[{g}] names row {r}, but the batch has {n} rows")),
                Some(true) => {
                    let which = key_text(batch, &key, r as usize);
                    return Err(format!("updates[{g}] sets row {r} ({which}), which an earlier update set"));
                }
                Some(seen) => *seen = true,
            }
        }
        let per_row = std::mem::size_of::<Change>() + key.len() * std::mem::size_of::<Value>();
        built = built.saturating_add(rows.len().saturating_mul(per_row));
        if built > budget {
            return Err(over(g));
        }
        let mut set = Vec::with_capacity(group.set.len());
        for c in group.set {
            if c.name.len() > MAX_COLUMN_NAME {
                return Err(format!(
                    "updates[{g}] sets a column whose name has {} bytes (at most {MAX_COLUMN_NAME})",
                    c.name.len()
                ));
            }
            if set.iter().any(|(name, _): &(String, _)| *name == c.name) {
                return Err(format!("updates[{g}] sets column `{}` twice", c.name));
            }
            built = built.saturating_add(cell_bytes(&c.name).saturating_mul(rows.len()));
            if built > budget {
                return Err(over(g));
            }
            if len(&c.values) != rows.len() {
                return Err(format!(
                    "updates[{g}] has {} values for column `{}` and {} rows",
                    len(&c.values),
                    c.name,
                    rows.len()
                ));
            }
            set.push((c.name, values(c.values).into_iter()));
        }
        changes.reserve(rows.len());
        for &r in &rows {
            let row = &batch.rows[r as usize];
            let key = key.iter().map(|&p| row.get(p).cloned().unwrap_or(Value::Null)).collect();
            let set = set
                .iter_mut()
                .map(|(name, values)| Assignment {
                    column: name.clone(),
                    value: values.next().expect("lengths were checked"),
                })
                .collect();
            changes.push(Change::Update(Update { key, set }));
        }
    }
    changes.extend(output.changes);
    Ok(changes)
}

/// Row `r`'s key as an operator reads it: `id = 10`.
fn key_text(batch: &Batch, key: &[usize], r: usize) -> String {
    let value = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Bytes(b) => format!("{} bytes", b.len()),
    };
    key.iter()
        .map(|&p| format!("{} = {}", batch.columns[p], batch.rows[r].get(p).map_or("NULL".into(), value)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Updates;

    fn rows() -> Batch {
        Batch {
            columns: vec!["id".into(), "points".into(), "note".into()],
            key: vec!["id".into()],
            rows: vec![
                vec![Value::Integer(1), Value::Integer(10), Value::Null],
                vec![Value::Integer(2), Value::Null, Value::Text("x".into())],
                vec![Value::Integer(3), Value::Integer(30), Value::Integer(7)],
            ],
        }
    }

    #[test]
    fn columns_take_the_case_of_their_values_and_mixed_ones_stay_values() {
        let b = batch(&rows());
        assert_eq!(b.rows, 3);
        assert_eq!(b.columns[1].values, Column::Integers(vec![Some(10), None, Some(30)]));
        assert_eq!(b.columns[2].values, Column::Values(rows().rows.iter().map(|r| r[2].clone()).collect()));
        let nulls = Batch { columns: vec!["a".into()], key: vec![], rows: vec![vec![Value::Null]] };
        assert_eq!(batch(&nulls).columns[0].values, Column::Integers(vec![None]));
    }

    fn set(rows: Option<Vec<u32>>, name: &str, values: Column) -> ColumnOutput {
        ColumnOutput {
            updates: vec![Updates { rows, set: vec![NamedColumn { name: name.into(), values }] }],
            changes: vec![],
        }
    }

    #[test]
    fn updates_become_changes_keyed_by_the_rows_they_name() {
        let out = set(Some(vec![2, 0]), "band", Column::Texts(vec![Some("gold".into()), None]));
        let changes = changes(&rows(), out, answer_budget(0)).unwrap();
        let expected = |id, value| {
            Change::Update(Update {
                key: vec![Value::Integer(id)],
                set: vec![Assignment { column: "band".into(), value }],
            })
        };
        assert_eq!(changes, vec![expected(3, Value::Text("gold".into())), expected(1, Value::Null)]);
        let all = changes_of(set(None, "band", Column::Integers(vec![Some(1), Some(2), Some(3)])));
        assert_eq!(all.unwrap().len(), 3);
    }

    fn changes_of(out: ColumnOutput) -> Result<Vec<Change>, String> {
        changes(&rows(), out, answer_budget(0))
    }

    #[test]
    fn an_output_that_does_not_fit_the_batch_is_refused() {
        let one = || Column::Integers(vec![Some(1)]);
        let err = changes_of(set(Some(vec![3]), "band", one())).unwrap_err();
        assert!(err.contains("names row 3, but the batch has 3 rows"), "{err}");
        let err = changes_of(set(None, "band", one())).unwrap_err();
        assert!(err.contains("has 1 values for column `band` and 3 rows"), "{err}");
        let err = changes_of(set(Some(vec![1, 1]), "band", Column::Integers(vec![Some(1), Some(2)]))).unwrap_err();
        assert!(err.contains("sets row 1 (id = 2), which an earlier update set"), "{err}");
        let mut twice = set(Some(vec![0]), "band", one());
        let again = twice.updates[0].clone();
        twice.updates.push(again);
        assert!(changes_of(twice).unwrap_err().contains("updates[1] sets row 0"));
        let mut same_name = set(Some(vec![0]), "band", one());
        let again = same_name.updates[0].set[0].clone();
        same_name.updates[0].set.push(again);
        assert!(changes_of(same_name).unwrap_err().contains("sets column `band` twice"));
    }

    #[test]
    fn what_the_host_builds_from_an_answer_is_bounded_in_proportion_to_the_plugin_s_memory() {
        assert_eq!(answer_budget(16 << 20), 64 << 20, "at least 64 MiB");
        assert_eq!(answer_budget(64 << 20), 256 << 20, "four times the limit");
        let rows = 4096;
        let batch = Batch {
            columns: vec!["id".into()],
            key: vec!["id".into()],
            rows: (0..rows).map(|i| vec![Value::Integer(i)]).collect(),
        };
        // Columns of 256-byte names on every row (about 350 bytes a cell): a budget of 45 of
        // them takes 45 and refuses 46, before building any.
        let answer = |columns: usize| ColumnOutput {
            updates: vec![Updates {
                rows: None,
                set: (0..columns)
                    .map(|c| NamedColumn {
                        name: format!("{c:0>256}"),
                        values: Column::Booleans(vec![None; rows as usize]),
                    })
                    .collect(),
            }],
            changes: vec![],
        };
        let per_row = std::mem::size_of::<Change>() + std::mem::size_of::<Value>();
        let budget = rows as usize * (per_row + 45 * cell_bytes(&"0".repeat(256)));
        assert_eq!(changes(&batch, answer(45), budget).unwrap().len(), rows as usize);
        let err = changes(&batch, answer(46), budget).unwrap_err();
        assert!(err.contains(&format!("would take more than {budget} bytes of runner's memory")), "{err}");
    }

    #[test]
    fn an_update_that_sets_nothing_does_not_claim_its_rows() {
        let mut out = set(Some(vec![0]), "band", Column::Integers(vec![Some(1)]));
        out.updates.insert(0, Updates { rows: None, set: vec![] });
        assert_eq!(changes_of(out).unwrap().len(), 1);
    }

    #[test]
    fn column_names_are_bounded() {
        let ok = "c".repeat(MAX_COLUMN_NAME);
        assert!(changes_of(set(Some(vec![0]), &ok, Column::Integers(vec![Some(1)]))).is_ok());
        let over = "c".repeat(MAX_COLUMN_NAME + 1);
        let err = changes_of(set(Some(vec![0]), &over, Column::Integers(vec![Some(1)]))).unwrap_err();
        assert!(err.contains("257 bytes (at most 256)"), "{err}");
    }
}
