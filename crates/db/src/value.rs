//! Typed values for the statements backfills run: read a batch, write its changes.

/// A value read from or written to a database.
#[derive(Debug, Clone, PartialEq)]
pub enum DbValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// A PostgreSQL `text[]` parameter, for set-based writes through `unnest`.
    TextArray(Vec<Option<String>>),
    /// A PostgreSQL `int8[]` parameter (binary: nothing to format or parse per element).
    IntArray(Vec<Option<i64>>),
}

impl DbValue {
    /// The value as PostgreSQL text input (what `::type` casts parse), `None` for NULL.
    pub fn to_text(&self) -> Option<String> {
        match self {
            DbValue::Null => None,
            DbValue::Bool(b) => Some(b.to_string()),
            DbValue::Int(i) => Some(i.to_string()),
            DbValue::Float(f) => Some(format!("{f:?}")),
            DbValue::Text(t) => Some(t.clone()),
            DbValue::Bytes(b) => Some(format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())),
            DbValue::TextArray(a) => Some(format!("{a:?}")),
            DbValue::IntArray(a) => Some(format!("{a:?}")),
        }
    }
}

/// Rows with their column names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypedRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<DbValue>>,
}
