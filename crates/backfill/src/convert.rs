//! Values between the database, the plugin and the progress record.

use runner_db::DbValue;
use runner_sandbox::Value;

/// A database value as the plugin receives it.
pub fn to_plugin(v: DbValue) -> Value {
    match v {
        DbValue::Null => Value::Null,
        DbValue::Bool(b) => Value::Boolean(b),
        DbValue::Int(i) => Value::Integer(i),
        DbValue::Float(f) => Value::Float(f),
        DbValue::Text(t) => Value::Text(t),
        DbValue::Bytes(b) => Value::Bytes(b),
        DbValue::TextArray(a) => Value::Text(format!("{a:?}")),
        DbValue::IntArray(a) => Value::Text(format!("{a:?}")),
    }
}

/// A plugin's value as the database is given it.
pub fn from_plugin(v: &Value) -> DbValue {
    match v {
        Value::Null => DbValue::Null,
        Value::Boolean(b) => DbValue::Bool(*b),
        Value::Integer(i) => DbValue::Int(*i),
        Value::Float(f) => DbValue::Float(*f),
        Value::Text(t) => DbValue::Text(t.clone()),
        Value::Bytes(b) => DbValue::Bytes(b.clone()),
    }
}

/// A key value in the progress record (keys are integers or text in practice).
pub fn to_json(v: &DbValue) -> serde_json::Value {
    match v {
        DbValue::Null => serde_json::Value::Null,
        DbValue::Bool(b) => (*b).into(),
        DbValue::Int(i) => (*i).into(),
        DbValue::Float(f) => (*f).into(),
        DbValue::Text(t) => t.clone().into(),
        DbValue::Bytes(_) | DbValue::TextArray(_) | DbValue::IntArray(_) => v.to_text().unwrap_or_default().into(),
    }
}

/// A key stored in progress JSON as a database value.
pub fn from_json(v: &serde_json::Value) -> DbValue {
    match v {
        serde_json::Value::Null => DbValue::Null,
        serde_json::Value::Bool(b) => DbValue::Bool(*b),
        serde_json::Value::Number(n) => {
            n.as_i64().map_or_else(|| DbValue::Float(n.as_f64().unwrap_or(0.0)), DbValue::Int)
        }
        serde_json::Value::String(s) => DbValue::Text(s.clone()),
        other => DbValue::Text(other.to_string()),
    }
}

/// A key as something to hash and compare: without allocating for the usual single integer
/// key, as text otherwise. (An integer and the same number as text compare unequal here, so
/// a check built on it errs on the safe side.)
#[derive(Debug, Hash, PartialEq, Eq)]
pub enum KeyRepr {
    /// A single integer key.
    Int(i64),
    /// Any other key, as text.
    Other(Vec<Option<String>>),
}

/// The comparable form of a key.
pub fn key_repr(values: &[Value]) -> KeyRepr {
    match values {
        [Value::Integer(i)] => KeyRepr::Int(*i),
        _ => KeyRepr::Other(values.iter().map(|v| from_plugin(v).to_text()).collect()),
    }
}
