//! The `lookup` capability: read-only queries for a plugin, on a connection of their own that the
//! database itself keeps read-only.

use runner_db::{DbValue, Dialect, Driver};
use runner_sandbox::{Lookup, Value};
use tokio::sync::Mutex;

pub struct DbLookup {
    db: Mutex<Box<dyn Driver>>,
}

impl DbLookup {
    pub async fn open(url: &runner_db::DatabaseUrl) -> Result<DbLookup, runner_db::DbError> {
        let mut db = runner_db::connect(url, &runner_db::ConnectOptions::default()).await?;
        match db.dialect() {
            Dialect::Postgres => db.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await?,
            Dialect::Sqlite => db.execute("PRAGMA query_only = ON").await?,
        }
        Ok(DbLookup { db: Mutex::new(db) })
    }
}

#[async_trait::async_trait]
impl Lookup for DbLookup {
    async fn lookup(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, String> {
        let params: Vec<DbValue> = params
            .iter()
            .map(|v| match v {
                Value::Null => DbValue::Null,
                Value::Boolean(b) => DbValue::Bool(*b),
                Value::Integer(i) => DbValue::Int(*i),
                Value::Float(f) => DbValue::Float(*f),
                Value::Text(t) => DbValue::Text(t.clone()),
                Value::Bytes(b) => DbValue::Bytes(b.clone()),
            })
            .collect();
        let rows = self.db.lock().await.fetch(query, &params).await.map_err(|e| e.to_string())?;
        Ok(rows
            .rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| match v {
                        DbValue::Null => Value::Null,
                        DbValue::Bool(b) => Value::Boolean(b),
                        DbValue::Int(i) => Value::Integer(i),
                        DbValue::Float(f) => Value::Float(f),
                        DbValue::Text(t) => Value::Text(t),
                        DbValue::Bytes(b) => Value::Bytes(b),
                        DbValue::TextArray(a) => Value::Text(format!("{a:?}")),
                    })
                    .collect()
            })
            .collect())
    }
}
