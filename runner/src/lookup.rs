//! The `lookup` capability: read-only queries for a plugin, on a connection of their own that the
//! database itself keeps read-only.

use runner_backfill::convert::{from_plugin, to_plugin};
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
        let params: Vec<DbValue> = params.iter().map(from_plugin).collect();
        let rows = self.db.lock().await.fetch(query, &params).await.map_err(|e| e.to_string())?;
        Ok(rows.rows.into_iter().map(|r| r.into_iter().map(to_plugin).collect()).collect())
    }
}
