//! Write `runner` backfill plugins in Rust: a function from a batch of rows to changes.
//!
//! ```ignore
//! use runner_plugin_sdk::{Change, Plugin, Rows, Value};
//!
//! struct ScoreBand;
//!
//! impl Plugin for ScoreBand {
//!     fn describe() -> String {
//!         "score-band 1.0.0".into()
//!     }
//!
//!     fn process(rows: Rows) -> Result<Vec<Change>, String> {
//!         rows.iter()
//!             .map(|row| {
//!                 let band = match row.int("points")? {
//!                     Some(p) if p >= 1000 => "gold",
//!                     Some(_) => "silver",
//!                     None => "unranked",
//!                 };
//!                 Ok(row.update([("band", Value::from(band))]))
//!             })
//!             .collect()
//!     }
//! }
//!
//! runner_plugin_sdk::plugin!(ScoreBand);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` file is a component
//! that `runner plugin check` validates and a backfill manifest names.
//!
//! The host's capabilities (`host::log`, `host::config`, `host::lookup`, `host::http`,
//! `host::now_ms`, `host::random`) work only when the backfill's manifest grants them; a call
//! without the grant stops the batch with an error naming the plugin and the capability.

/// Generated bindings of the `runner:plugin/backfill` world (`plugins/wit/world.wit`).
pub mod bindings {
    wit_bindgen::generate!({
        world: "backfill",
        path: "../wit",
        pub_export_macro: true,
        default_bindings_module: "runner_plugin_sdk::bindings",
    });
}

pub use bindings::runner::plugin::types::{Assignment, Batch, Change, HttpRequest, HttpResponse, Level, Update, Value};

/// The host's capabilities.
pub mod host {
    pub use crate::bindings::runner::plugin::host::{config, http, log, lookup, now_ms, random};
}

/// What a plugin implements.
pub trait Plugin {
    /// Name and version, e.g. `score-band 1.0.0`.
    fn describe() -> String;
    /// The changes for one batch. An error fails the batch; the database is left untouched.
    fn process(rows: Rows) -> Result<Vec<Change>, String>;
}

/// Exports a [`Plugin`] implementation as the component's `backfill` world.
#[macro_export]
macro_rules! plugin {
    ($ty:ident) => {
        impl $crate::bindings::Guest for $ty {
            fn describe() -> String {
                <$ty as $crate::Plugin>::describe()
            }
            fn process(batch: $crate::Batch) -> Result<Vec<$crate::Change>, String> {
                <$ty as $crate::Plugin>::process($crate::Rows::new(batch))
            }
        }
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

/// A batch of rows with access by column name.
pub struct Rows {
    batch: Batch,
    key_positions: Vec<usize>,
}

impl Rows {
    pub fn new(batch: Batch) -> Rows {
        let key_positions = batch.key.iter().filter_map(|k| batch.columns.iter().position(|c| c == k)).collect();
        Rows { batch, key_positions }
    }

    pub fn len(&self) -> usize {
        self.batch.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.rows.is_empty()
    }

    pub fn columns(&self) -> &[String] {
        &self.batch.columns
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.batch.rows.iter().map(move |values| Row { rows: self, values })
    }
}

/// One row of a batch.
pub struct Row<'a> {
    rows: &'a Rows,
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The value of a column; an error names the column and the batch's columns.
    pub fn get(&self, column: &str) -> Result<&'a Value, String> {
        let columns = &self.rows.batch.columns;
        columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| format!("no column `{column}` in the batch (columns: {})", columns.join(", ")))
    }

    pub fn int(&self, column: &str) -> Result<Option<i64>, String> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            other => Err(format!("column `{column}`: expected an integer, got {other:?}")),
        }
    }

    pub fn float(&self, column: &str) -> Result<Option<f64>, String> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Float(f) => Ok(Some(*f)),
            Value::Integer(i) => Ok(Some(*i as f64)),
            other => Err(format!("column `{column}`: expected a number, got {other:?}")),
        }
    }

    pub fn text(&self, column: &str) -> Result<Option<&'a str>, String> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.as_str())),
            other => Err(format!("column `{column}`: expected text, got {other:?}")),
        }
    }

    /// The values of the batch's key columns for this row.
    pub fn key(&self) -> Vec<Value> {
        self.rows.key_positions.iter().map(|&i| self.values[i].clone()).collect()
    }

    /// Sets columns of the target row with this row's key.
    pub fn update<S: Into<String>>(&self, set: impl IntoIterator<Item = (S, Value)>) -> Change {
        Change::Update(Update {
            key: self.key(),
            set: set.into_iter().map(|(column, value)| Assignment { column: column.into(), value }).collect(),
        })
    }

    /// Deletes the target row with this row's key.
    pub fn delete(&self) -> Change {
        Change::Delete(self.key())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Integer(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}
