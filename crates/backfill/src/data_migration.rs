//! Data migrations: a plugin run over every row of a (small) table inside the transaction of
//! the revision that names it, so the data change commits or rolls back with the schema change
//! (Alembic-style `upgrade()` data fixes). Large tables want a backfill instead.

use crate::convert::{to_json, to_plugin};
use crate::engine::{BackfillError, statements};
use crate::manifest::Manifest;
use runner_db::{DbValue, Driver};
use runner_sandbox::{Batch, Plugin};

/// Runs `manifest`'s plugin over its source in the caller's open transaction; returns the rows
/// read. Nothing here commits.
pub async fn run_in_transaction(
    db: &mut dyn Driver,
    manifest: &Manifest,
    plugin: &Plugin,
) -> Result<u64, BackfillError> {
    let stmts = statements(db, manifest).await?;
    let Some(upper) = db.fetch(&stmts.upper_bound(), &[]).await?.rows.into_iter().next() else { return Ok(0) };
    let mut cursor: Option<Vec<DbValue>> = None;
    let mut total = 0u64;
    loop {
        let mut params = cursor.as_deref().map(|k| stmts.key_params(k)).unwrap_or_default();
        params.extend(stmts.key_params(&upper));
        let read = db.fetch(&stmts.read(cursor.is_some(), manifest.batch_size), &params).await?;
        let n = read.rows.len();
        if n == 0 {
            return Ok(total);
        }
        let last: Vec<DbValue> = read.rows[n - 1][..manifest.key.len()].to_vec();
        let batch = Batch {
            columns: manifest.columns.clone(),
            key: manifest.key.clone(),
            rows: read.rows.into_iter().map(|r| r.into_iter().map(to_plugin).collect()).collect(),
        };
        let changes = plugin.process(&batch).await?;
        let writes = stmts
            .writes(&changes)
            .map_err(|message| BackfillError::DataMigration { name: manifest.name.clone(), message })?;
        for (sql, params) in writes {
            db.fetch(&sql, &params).await?;
        }
        total += n as u64;
        tracing::debug!(migration = %manifest.name, rows = total, last = ?last.iter().map(to_json).collect::<Vec<_>>(), "data migration batch");
        cursor = Some(last);
    }
}
