//! Changes as JSON, with key and column names, for `runner plugin test`'s output and `--expect`:
//! `{"update": {"key": {"id": 1}, "set": {"band": "gold"}}}`, `{"insert": {...}}`,
//! `{"upsert": {...}}`, `{"delete": {"id": 1}}`.

use runner_sandbox::{Assignment, Change, Value};
use serde_json::{Map, json};

/// `change` as JSON; a key with the wrong number of values is the error a backfill would stop on.
pub fn to_json(change: &Change, target_key: &[String]) -> Result<serde_json::Value, String> {
    let key = |values: &[Value], what: &str| -> Result<serde_json::Value, String> {
        if values.len() != target_key.len() {
            return Err(format!(
                "{what} gives {} key value(s); the target key is ({})",
                values.len(),
                target_key.join(", ")
            ));
        }
        Ok(target_key.iter().zip(values).map(|(k, v)| (k.clone(), value_json(v))).collect::<Map<_, _>>().into())
    };
    Ok(match change {
        Change::Update(u) => json!({ "update": { "key": key(&u.key, "an update")?, "set": assignments(&u.set) } }),
        Change::Insert(a) => json!({ "insert": assignments(a) }),
        Change::Upsert(a) => json!({ "upsert": assignments(a) }),
        Change::Delete(k) => json!({ "delete": key(k, "a delete")? }),
    })
}

fn assignments(set: &[Assignment]) -> serde_json::Value {
    set.iter().map(|a| (a.column.clone(), value_json(&a.value))).collect::<Map<_, _>>().into()
}

pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Boolean(b) => json!(b),
        Value::Integer(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Text(s) => json!(s),
        Value::Bytes(b) => json!({ "hex": hex::encode(b) }),
    }
}

/// One line of text for a change, as `plugin test` prints it.
pub fn line(change: &serde_json::Value) -> String {
    let pairs = |v: &serde_json::Value, sep: &str| {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| format!("{k}{sep}{v}")).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let Some((op, body)) = change.as_object().and_then(|o| o.iter().next()) else { return change.to_string() };
    match op.as_str() {
        "update" => format!("update {}: set {}", pairs(&body["key"], "="), pairs(&body["set"], " = ")),
        _ => format!("{op} {}", pairs(body, "=")),
    }
}

/// Where `got` differs from `expected`, one line each (empty: they are the same).
pub fn differences(expected: &[serde_json::Value], got: &[serde_json::Value]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..expected.len().max(got.len()) {
        match (expected.get(i), got.get(i)) {
            (Some(e), Some(g)) if e == g => {}
            (Some(e), Some(g)) => out.push(format!("change {}: expected {}, got {}", i + 1, line(e), line(g))),
            (Some(e), None) => out.push(format!("change {}: expected {}, got nothing", i + 1, line(e))),
            (None, Some(g)) => out.push(format!("change {}: not expected: {}", i + 1, line(g))),
            (None, None) => unreachable!("within the longer list"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_sandbox::Update;

    #[test]
    fn changes_read_with_their_key_and_column_names() {
        let key = ["id".to_string()];
        let u = Change::Update(Update {
            key: vec![Value::Integer(7)],
            set: vec![Assignment { column: "band".into(), value: Value::Text("gold".into()) }],
        });
        let j = to_json(&u, &key).unwrap();
        assert_eq!(j, json!({"update": {"key": {"id": 7}, "set": {"band": "gold"}}}));
        assert_eq!(line(&j), "update id=7: set band = \"gold\"");
        assert_eq!(
            to_json(&Change::Delete(vec![Value::Bytes(vec![1])]), &key).unwrap(),
            json!({"delete": {"id": {"hex": "01"}}})
        );
        let e = to_json(&Change::Delete(vec![]), &key).unwrap_err();
        assert_eq!(e, "a delete gives 0 key value(s); the target key is (id)");
    }

    #[test]
    fn differences_name_each_change_that_is_not_as_expected() {
        let a = json!({"delete": {"id": 1}});
        let b = json!({"delete": {"id": 2}});
        assert!(differences(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_empty());
        assert_eq!(
            differences(&[a.clone(), b.clone()], std::slice::from_ref(&b)),
            ["change 1: expected delete id=1, got delete id=2", "change 2: expected delete id=2, got nothing"]
        );
        assert_eq!(differences(&[], &[a]), ["change 1: not expected: delete id=1"]);
    }
}
