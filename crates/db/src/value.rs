//! Typed values for the statements backfills run: read a batch, write its changes.

/// A value read from or written to a database.
#[derive(Debug, Clone, PartialEq)]
pub enum DbValue {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer type, as 64 bits.
    Int(i64),
    /// Any floating-point type, as 64 bits.
    Float(f64),
    /// Text, and every type read as text (numeric, dates, JSON, …).
    Text(String),
    /// A byte string (`bytea`, `BLOB`).
    Bytes(Vec<u8>),
    /// A PostgreSQL `text[]` parameter, for set-based writes through `unnest`.
    TextArray(Vec<Option<String>>),
    /// A PostgreSQL `int8[]` parameter (binary: nothing to format or parse per element).
    IntArray(Vec<Option<i64>>),
}

impl DbValue {
    /// About how many bytes of memory the value takes: what an answer is bounded by.
    pub fn size(&self) -> usize {
        std::mem::size_of::<DbValue>()
            + match self {
                DbValue::Text(t) => t.len(),
                DbValue::Bytes(b) => b.len(),
                DbValue::TextArray(a) => a.iter().map(|t| t.as_ref().map_or(0, String::len) + 24).sum(),
                DbValue::IntArray(a) => a.len() * 16,
                _ => 0,
            }
    }

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
    /// Column names, in the order of every row's values.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<DbValue>>,
}
