//! Fixture rows for `runner plugin test`: a JSON array of objects or a CSV file with a header,
//! turned into the values a backfill would hand the plugin.
//!
//! JSON values keep their type (`null`, booleans, integers, floats, strings; `{"hex": "…"}` for
//! bytes). CSV has no types, so each cell is read as what it looks like: empty is `null`, then an
//! integer, a float, `true`/`false`, and text otherwise; a quoted cell is always text.

use crate::error::RunnerError;
use runner_sandbox::Value;
use std::path::Path;

/// Rows with their column names, in the order every row's values follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

pub fn read(path: &Path) -> Result<Fixture, RunnerError> {
    let text = std::fs::read_to_string(path)
        .map_err(|cause| RunnerError::Io { context: format!("reading fixture {}", path.display()), cause })?;
    let csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if csv { from_csv(path, &text) } else { from_json(path, &text) }
}

pub fn bad(path: &Path, line: usize, message: String) -> RunnerError {
    RunnerError::Fixture { file: path.to_path_buf(), line, message }
}

/// A fixture file's JSON, or an error naming the file and the line where it stops parsing.
pub fn json_file(path: &Path) -> Result<serde_json::Value, RunnerError> {
    let text = std::fs::read_to_string(path)
        .map_err(|cause| RunnerError::Io { context: format!("reading {}", path.display()), cause })?;
    serde_json::from_str(&text).map_err(|e| bad(path, e.line(), e.to_string()))
}

fn from_json(path: &Path, text: &str) -> Result<Fixture, RunnerError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(path, e.line(), e.to_string()))?;
    let Some(items) = doc.as_array() else {
        return Err(bad(path, 1, "a fixture is a JSON array of objects, one per row".into()));
    };
    let line_of = |i: usize| nth_object_line(text, i);
    let mut columns: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            return Err(bad(path, line_of(i), format!("row {}: not an object of column values", i + 1)));
        };
        columns.extend(obj.keys().filter(|k| !columns.contains(k)).cloned().collect::<Vec<_>>());
    }
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().expect("checked above");
        let mut row = Vec::with_capacity(columns.len());
        for c in &columns {
            let v = match obj.get(c) {
                None => Value::Null,
                Some(v) => {
                    json_value(v).map_err(|why| bad(path, line_of(i), format!("row {}, column `{c}`: {why}", i + 1)))?
                }
            };
            row.push(v);
        }
        rows.push(row);
    }
    Ok(Fixture { columns, rows })
}

/// A JSON value as a column value; also how expected changes are read.
pub fn json_value(v: &serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None if n.is_u64() => return Err(format!("{n} is beyond a 64-bit integer")),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Object(o) if o.len() == 1 && o.get("hex").is_some_and(|h| h.is_string()) => {
            Value::Bytes(hex::decode(o["hex"].as_str().expect("a string")).map_err(|e| format!("`hex`: {e}"))?)
        }
        _ => return Err("arrays and objects are not column values (bytes are written {\"hex\": \"…\"})".into()),
    })
}

/// The line on which the `i`-th element of the top-level array starts (for messages).
fn nth_object_line(text: &str, i: usize) -> usize {
    let (mut depth, mut seen, mut line) = (0usize, 0usize, 1usize);
    let (mut in_str, mut escaped, mut expecting) = (false, false, false);
    for ch in text.chars() {
        if ch == '\n' {
            line += 1;
        }
        if in_str {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expecting && !ch.is_whitespace() && ch != ']' {
            if seen == i {
                return line;
            }
            seen += 1;
            expecting = false;
        }
        match ch {
            '"' => in_str = true,
            '{' | '[' => {
                depth += 1;
                expecting = depth == 1;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    line
}

fn from_csv(path: &Path, text: &str) -> Result<Fixture, RunnerError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let line = |p: Option<&csv::Position>| p.map_or(1, |p| p.line() as usize);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| bad(path, line(e.position()), e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if let Some(dup) = columns.iter().enumerate().find(|(i, c)| columns[..*i].contains(c)).map(|(_, c)| c) {
        return Err(bad(path, 1, format!("column `{dup}` appears twice in the header")));
    }
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(bad(path, line(e.position()), e.to_string())),
        }
        let at = line(record.position());
        let quoted = quoted_cells(text, record.position().map_or(0, |p| p.byte() as usize), record.len());
        let mut row = Vec::with_capacity(columns.len());
        for (i, cell) in record.iter().enumerate() {
            let cell = std::str::from_utf8(cell).map_err(|_| bad(path, at, format!("column {}: not UTF-8", i + 1)))?;
            row.push(if quoted.get(i).copied().unwrap_or(false) {
                Value::Text(cell.to_string())
            } else {
                cell_value(cell)
            });
        }
        rows.push(row);
    }
    Ok(Fixture { columns, rows })
}

/// Which of a CSV record's cells were written in quotes (those are text, whatever they hold).
fn quoted_cells(text: &str, start: usize, cells: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(cells);
    let bytes = text.as_bytes();
    let (mut i, mut at_cell_start, mut in_quotes) = (start, true, false);
    while i < bytes.len() && out.len() < cells {
        let b = bytes[i];
        if at_cell_start {
            out.push(b == b'"');
            in_quotes = b == b'"';
            at_cell_start = false;
            if b == b',' {
                at_cell_start = true;
            }
            if b == b'\n' {
                break;
            }
        } else if in_quotes {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
        } else if b == b',' {
            at_cell_start = true;
        } else if b == b'\n' {
            break;
        }
        i += 1;
    }
    out
}

/// An unquoted CSV cell as what it looks like.
fn cell_value(cell: &str) -> Value {
    if cell.is_empty() {
        Value::Null
    } else if let Ok(i) = cell.parse::<i64>() {
        Value::Integer(i)
    } else if let Some(f) = cell.parse::<f64>().ok().filter(|f| f.is_finite()) {
        Value::Float(f)
    } else if cell == "true" || cell == "false" {
        Value::Boolean(cell == "true")
    } else {
        Value::Text(cell.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Fixture, RunnerError> {
        from_json(Path::new("rows.json"), text)
    }

    fn csv(text: &str) -> Result<Fixture, RunnerError> {
        from_csv(Path::new("rows.csv"), text)
    }

    #[test]
    fn json_rows_keep_their_types_and_missing_columns_are_null() {
        let f =
            json(r#"[{"id": 1, "points": 2.5, "name": "a"}, {"id": 2, "on": true, "raw": {"hex": "00ff"}}]"#).unwrap();
        assert_eq!(f.columns, ["id", "name", "points", "on", "raw"]);
        assert_eq!(f.rows[0][2], Value::Float(2.5));
        assert_eq!(f.rows[1][1], Value::Null);
        assert_eq!(f.rows[1][3], Value::Boolean(true));
        assert_eq!(f.rows[1][4], Value::Bytes(vec![0, 255]));
    }

    #[test]
    fn a_bad_json_value_names_its_row_column_and_line() {
        let e = json("[\n  {\"id\": 1},\n  {\"id\": [1, 2]}\n]").unwrap_err().to_string();
        assert_eq!(
            e,
            "rows.json:3: row 2, column `id`: arrays and objects are not column values (bytes are written {\"hex\": \"…\"})"
        );
        let e = json("[{\"id\": 1},\n 3]").unwrap_err().to_string();
        assert_eq!(e, "rows.json:2: row 2: not an object of column values");
        let e = json("[{\"id\": 1,}]").unwrap_err().to_string();
        assert!(e.starts_with("rows.json:1: "), "{e}");
        assert!(json("{\"id\": 1}").unwrap_err().to_string().contains("a JSON array of objects"));
    }

    #[test]
    fn csv_cells_are_read_as_what_they_look_like_unless_quoted() {
        let f = csv("id,points,name,on\n1,2.5,\"007\",true\n2,,x y,\"true\"\n").unwrap();
        assert_eq!(f.columns, ["id", "points", "name", "on"]);
        assert_eq!(f.rows[0], [Value::Integer(1), Value::Float(2.5), Value::Text("007".into()), Value::Boolean(true)]);
        assert_eq!(f.rows[1], [Value::Integer(2), Value::Null, Value::Text("x y".into()), Value::Text("true".into())]);
    }

    #[test]
    fn a_ragged_csv_row_names_its_line() {
        let e = csv("id,points\n1,2\n3\n").unwrap_err().to_string();
        assert!(e.starts_with("rows.csv:3: "), "{e}");
        assert!(csv("id,id\n1,2\n").unwrap_err().to_string().contains("`id` appears twice"));
    }
}
