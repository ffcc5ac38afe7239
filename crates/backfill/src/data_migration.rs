//! Data migrations: a plugin run over every row of a (small) table inside the transaction of
//! the revision that names it, so the data change commits or rolls back with the schema change
//! (Alembic-style `upgrade()` data fixes). Large tables want a backfill instead.

use crate::batch::{read_batch, statements};
use crate::convert::to_json;
use crate::engine::BackfillError;
use crate::manifest::Manifest;
use runner_db::{DbValue, Driver};
use runner_sandbox::Plugin;

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
        let Some((batch, last, _)) =
            read_batch(db, &stmts, manifest, cursor.as_deref(), &upper, manifest.batch_size).await?
        else {
            return Ok(total);
        };
        let n = batch.rows.len();
        let changes = plugin.process(&batch).await?;
        // Unguarded: the revision's transaction runs it, and what it read is what it writes.
        let writes = stmts
            .writes(&changes, None, None)
            .map_err(|message| BackfillError::DataMigration { name: manifest.name.clone(), message })?;
        for w in writes {
            db.fetch(&w.sql, &w.params).await?;
        }
        total += n as u64;
        tracing::debug!(migration = %manifest.name, rows = total, last = ?last.iter().map(to_json).collect::<Vec<_>>(), "data migration batch");
        cursor = Some(last);
    }
}
