//! A lease row in the state table: the runner lock where the database has no advisory locks
//! (SQLite). Taking it is atomic because SQLite's `BEGIN IMMEDIATE` serialises writers; a lease
//! has a time-to-live refreshed between revisions, and a holder on this host whose process is
//! gone is taken over at once, so a killed runner never blocks the next one for long (stale lock
//! rows are a classic: liquibase/liquibase#1453, flyway/flyway#2932).

use crate::owner::Owner;
use crate::table::{StateError, StateTable};
use runner_db::Driver;
use std::time::Duration;

/// The runner lock as a row of the state table, held by one process until it releases it or
/// stops renewing it for longer than its time to live.
pub struct Lease<'t> {
    table: &'t StateTable,
    name: String,
    holder: Owner,
    ttl: Duration,
}

impl<'t> Lease<'t> {
    /// The lease `name` in `table`, for `holder`, expiring `ttl` after its last renewal.
    pub fn new(table: &'t StateTable, name: &str, holder: Owner, ttl: Duration) -> Lease<'t> {
        Lease { table, name: name.to_string(), holder, ttl }
    }

    fn key(&self) -> String {
        format!("kind = '{}' AND name = {}", crate::Kind::Lock, self.table.dialect().quote_literal(&self.name))
    }

    fn expired_before(&self) -> String {
        self.table.dialect().seconds_ago_sql(self.ttl.as_secs())
    }

    /// One attempt. `Ok(None)` means acquired; `Ok(Some(text))` names the current holder.
    pub async fn try_acquire(&self, db: &mut dyn Driver) -> Result<Option<String>, StateError> {
        let d = self.table.dialect();
        let t = self.table.qualified();
        let me = d.quote_literal(&self.holder.encode());
        db.transaction(&[
            &format!("DELETE FROM {t} WHERE {} AND updated_at < {}", self.key(), self.expired_before()),
            &format!(
                "INSERT INTO {t} (kind, name, status, applied_by, applied_at, updated_at) \
                 VALUES ('{lock}', {}, 'held', {me}, {n}, {n}) ON CONFLICT (kind, name) DO NOTHING",
                d.quote_literal(&self.name),
                n = d.now_sql(),
                lock = crate::Kind::Lock
            ),
        ])
        .await?;
        let rows = db.query(&format!("SELECT applied_by, applied_at FROM {t} WHERE {}", self.key())).await?;
        let (holder, since) = rows
            .first()
            .map(|r| {
                (r.first().cloned().flatten().unwrap_or_default(), r.get(1).cloned().flatten().unwrap_or_default())
            })
            .unwrap_or_default();
        if holder == self.holder.encode() {
            return Ok(None);
        }
        // A holder on this host whose process is gone was killed: take over now, not after the TTL.
        let dead = Owner::parse(&holder).is_some_and(|h| h.is_gone());
        if dead {
            db.transaction(&[&format!(
                "DELETE FROM {t} WHERE {} AND applied_by = {}",
                self.key(),
                d.quote_literal(&holder)
            )])
            .await?;
            return Box::pin(self.try_acquire(db)).await;
        }
        Ok(Some(format!("{holder} (since {since})")))
    }

    /// Extends the lease; called between revisions.
    pub async fn refresh(&self, db: &mut dyn Driver) -> Result<(), StateError> {
        let d = self.table.dialect();
        db.execute(&format!(
            "UPDATE {} SET updated_at = {} WHERE {} AND applied_by = {}",
            self.table.qualified(),
            d.now_sql(),
            self.key(),
            d.quote_literal(&self.holder.encode())
        ))
        .await?;
        Ok(())
    }

    /// Who holds the lease now, as `try_acquire` names them (a read: it works while another
    /// connection holds the write lock).
    pub async fn holder(&self, db: &mut dyn Driver) -> Result<Option<String>, StateError> {
        let rows = db
            .query(&format!("SELECT applied_by, applied_at FROM {} WHERE {}", self.table.qualified(), self.key()))
            .await?;
        Ok(rows.first().map(|r| {
            let by = r.first().cloned().flatten().unwrap_or_default();
            let since = r.get(1).cloned().flatten().unwrap_or_default();
            format!("{by} (since {since})")
        }))
    }

    /// Whether this holder still has the lease (another runner takes over one that expired).
    pub async fn held(&self, db: &mut dyn Driver) -> Result<bool, StateError> {
        let rows = db
            .query(&format!(
                "SELECT 1 FROM {} WHERE {} AND applied_by = {}",
                self.table.qualified(),
                self.key(),
                self.table.dialect().quote_literal(&self.holder.encode())
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    /// Gives the lease up, if this holder has it.
    pub async fn release(&self, db: &mut dyn Driver) -> Result<(), StateError> {
        let d = self.table.dialect();
        db.execute(&format!(
            "DELETE FROM {} WHERE {} AND applied_by = {}",
            self.table.qualified(),
            self.key(),
            d.quote_literal(&self.holder.encode())
        ))
        .await?;
        Ok(())
    }
}
