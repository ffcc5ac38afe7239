//! One batch of a backfill, pipelined: read a batch and run the plugin on it while the
//! previous batch commits on the other connection, then write it with its checkpoint in one
//! transaction, retried with backoff. Batch size follows the time target.

use crate::claims::STALE_CLAIM;
use crate::convert::{KeyRepr, from_json, key_repr, to_json, to_plugin};
use crate::engine::{Backfill, BackfillError};
use crate::manifest::Manifest;
use crate::progress::ChunkProgress;
use crate::sql::{KeyRange, Statements, column_types_sql, ident, is_rowid, unique_keys_sql};
use crate::write::{Seen, Write};
use runner_db::backoff::Backoff;
use runner_db::{DbError, DbValue, Dialect, Driver};
use runner_sandbox::{Batch, Change, SandboxError, Value};
use runner_state::{BackfillStatus, ChunkStatus, StateTable};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

impl Backfill<'_> {
    /// One batch of a chunk, retried with backoff; returns how many rows it covered (0: the
    /// chunk is done; `None`: the claim was lost). `ahead` carries a batch prepared during the
    /// previous write, and receives the one prepared during this write.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn batch(
        &self,
        db: &mut dyn Driver,
        mut reader: Option<&mut dyn Driver>,
        stmts: &Statements<'_>,
        chunk: &str,
        owner: &str,
        c: &mut ChunkProgress,
        ahead: &mut Ahead,
    ) -> Result<Option<usize>, BackfillError> {
        let m = self.manifest;
        let mut attempt = 0;
        let mut conflicts = 0;
        loop {
            attempt += 1;
            let tried = self.try_batch(db, reborrow(&mut reader), stmts, chunk, owner, c, ahead).await;
            // Stopping: whatever went wrong (a statement cancelled on the server, most likely) is
            // not the batch's fault, and must neither be retried nor recorded as a failure.
            if tried.is_err() && runner_db::interrupt::requested().is_some() {
                return Err(BackfillError::Interrupted);
            }
            match tried {
                Ok(n) => return Ok(Some(n)),
                Err(BatchError::ClaimLost) => return Ok(None),
                // Retrying on a dead connection cannot help: the worker reconnects instead.
                Err(BatchError::Db(e)) if e.is_connection_lost() => return Err(e.into()),
                // The application changed rows while the plugin worked on them: nothing was
                // written; read them again and let the plugin compute from what they are now.
                // This is not a failure, so it does not use up attempts; smaller batches meet
                // fewer concurrent writes.
                Err(BatchError::Db(e)) if e.is_rows_changed() && conflicts < MAX_CONFLICTS => {
                    conflicts += 1;
                    attempt -= 1;
                    if conflicts > 1 {
                        c.batch_size = (c.batch_size / 2).max(m.min_size);
                    }
                    tracing::info!(backfill = %m.name, conflicts, "rows changed while the plugin computed; reading them again");
                }
                Err(e) if attempt < m.max_attempts => {
                    // Timeouts, lock waits and a plugin over its time or memory limit mean the
                    // batch is too big for now: halve it.
                    if e.too_big() {
                        c.batch_size = (c.batch_size / 2).max(m.min_size);
                    }
                    let wait = Backoff::BATCH.wait(attempt);
                    tracing::warn!(backfill = %m.name, attempt, error = %e, wait_ms = wait.as_millis() as u64, "batch failed; retrying");
                    Backoff::BATCH.sleep(attempt).await;
                }
                Err(e) => {
                    let after = c
                        .cursor
                        .as_ref()
                        .or(c.lower.as_ref())
                        .map_or("(start)".to_string(), |k| serde_json::to_string(k).unwrap_or_default());
                    let error = e.to_string();
                    let parent = self.state.load_backfill(db, &m.name).await?.map(|r| r.progress).unwrap_or_default();
                    db.transaction_with(&[
                        self.state.chunk_write(chunk, ChunkStatus::Failed, &c.to_json(), Some(&error)),
                        self.state.backfill_write(&m.name, BackfillStatus::Failed, &parent, Some(&error), None),
                    ])
                    .await?;
                    return Err(BackfillError::BatchFailed { name: m.name.clone(), after, attempts: attempt, error });
                }
            }
        }
    }

    /// Reads the batch after `after` and runs the plugin on it; `None` when no row is left.
    async fn prepare_batch(
        &self,
        db: &mut dyn Driver,
        stmts: &Statements<'_>,
        chunk: &str,
        after: Option<Vec<serde_json::Value>>,
        upper: &[DbValue],
        size: usize,
    ) -> Result<Option<Prepared>, BatchError> {
        let started = Instant::now();
        let from: Option<Vec<DbValue>> = after.as_ref().map(|k| k.iter().map(from_json).collect());
        let Some((batch, last, seen)) = read_batch(db, stmts, self.manifest, from.as_deref(), upper, size).await?
        else {
            return Ok(None);
        };
        let read_ms = started.elapsed().as_millis() as u64;
        let tp = Instant::now();
        let mut changes: Vec<Change> = self.plugin.process(&batch).await?;
        let plugin_ms = tp.elapsed().as_millis() as u64;
        if let Some(seen) = &seen {
            self.rekey_by_value(db, stmts, &mut changes, seen).await?;
        }
        // The next batch may be read before this one commits only if this one's writes cannot
        // touch it: changes to another table, or to this batch's own rows.
        let own_table = self.manifest.target_table == self.manifest.source_table;
        let reach = if own_table && self.manifest.target_key == self.manifest.key {
            reach(&batch, from.as_deref(), &last, &changes)
        } else {
            Reach { in_range: false, up_to_last: false }
        };
        let confined = !own_table || reach.up_to_last;
        let range = KeyRange { after: from.as_deref(), last: &last };
        // Built here, so that a pipelined worker encodes the batch while the previous one commits.
        let statements = stmts
            .writes(&changes, reach.in_range.then_some(&range), seen.as_ref())
            .map_err(|message| BatchError::Output { plugin: self.manifest.name.clone(), message })?;
        Ok(Some(Prepared {
            chunk: chunk.to_string(),
            after,
            rows: batch.rows.len(),
            limit: size,
            last,
            changes: changes.len(),
            statements,
            read_ms,
            plugin_ms,
            confined,
            ranged: reach.in_range,
            started,
        }))
    }

    /// Rewrites the keys of changes that name a batch row by another spelling of its key (see
    /// `write.rs`) to that row's key, asking the database which row each names. Nothing to ask
    /// in the usual case, where the plugin hands back the keys it was given.
    async fn rekey_by_value(
        &self,
        db: &mut dyn Driver,
        stmts: &Statements<'_>,
        changes: &mut [Change],
        seen: &Seen,
    ) -> Result<(), BatchError> {
        let unmatched = crate::write::unmatched(changes, seen);
        if unmatched.is_empty() {
            return Ok(());
        }
        let refused = |e: DbError| match e {
            e if e.is_connection_lost() => BatchError::Db(e),
            e => BatchError::Output {
                plugin: self.manifest.name.clone(),
                message: format!("a change names a key that is not a value of the key's type: {}", e.reason()),
            },
        };
        let key_len = stmts.target_key.len();
        let mut canonical = HashMap::new();
        let mut name = |given: &[Value], row: &[DbValue]| {
            let key: Vec<Value> = row.iter().cloned().map(to_plugin).collect();
            if seen.has(&key) {
                canonical.insert(crate::convert::key_repr(given), key);
            }
        };
        for (i, (sql, params)) in stmts.resolve(&unmatched).into_iter().enumerate() {
            let found = db.fetch(&sql, &params).await.map_err(refused)?;
            for row in &found.rows {
                match db.dialect() {
                    // (position from 1, key…) per key that names a row.
                    Dialect::Postgres => {
                        let at = match row.first() {
                            Some(DbValue::Int(n)) => *n as usize,
                            _ => continue,
                        };
                        if let Some(given) = unmatched.get(at.wrapping_sub(1)) {
                            name(given, &row[1..=key_len]);
                        }
                    }
                    Dialect::Sqlite => name(&unmatched[i], &row[..key_len]),
                }
            }
        }
        crate::write::rekey(changes, &canonical);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_batch(
        &self,
        db: &mut dyn Driver,
        reader: Option<&mut dyn Driver>,
        stmts: &Statements<'_>,
        chunk: &str,
        owner: &str,
        c: &mut ChunkProgress,
        ahead: &mut Ahead,
    ) -> Result<usize, BatchError> {
        let after = c.cursor.clone().or(c.lower.clone());
        let upper: Vec<DbValue> = c.upper.iter().map(from_json).collect();
        // A batch prepared ahead is good only if it starts where this chunk's checkpoint is.
        let current = match ahead.batch.take() {
            Some(p) if p.chunk == chunk && p.after == after => p,
            _ => match self
                .prepare_batch(db, stmts, chunk, after, &upper, c.batch_limit(c.rows_done, c.batch_size))
                .await?
            {
                Some(p) => p,
                None => return Ok(0),
            },
        };
        let n = current.rows;
        let Some(reader) = reader.filter(|_| current.confined) else {
            self.write_batch(db, chunk, owner, c, current).await?;
            return Ok(n);
        };
        let size = c.batch_size;
        let failed_ahead = if current.rows == current.limit {
            // More of this chunk: read its next batch meanwhile.
            let next_after = Some(current.last.iter().map(to_json).collect::<Vec<_>>());
            let next_limit = c.batch_limit(c.rows_done + current.rows as u64, size);
            let (written, next) = tokio::join!(
                self.write_batch(db, chunk, owner, c, current),
                self.prepare_batch(reader, stmts, chunk, next_after, &upper, next_limit)
            );
            written?;
            match next {
                Ok(next) => {
                    ahead.batch = next;
                    None
                }
                Err(e) => Some((e.to_string(), matches!(&e, BatchError::Db(d) if d.is_connection_lost()))),
            }
        } else {
            // The chunk's last batch: claim the next chunk and read its first batch meanwhile.
            let (written, next) = tokio::join!(
                self.write_batch(db, chunk, owner, c, current),
                self.claim_ahead(reader, stmts, owner, size)
            );
            if let Ok(Some((chunk, progress, batch))) = next {
                ahead.chunk = Some((chunk, progress));
                ahead.batch = batch;
                written?;
                None
            } else {
                written?;
                next.err().map(|e| (e.to_string(), e.is_connection_lost()))
            }
        };
        if let Some((error, lost)) = failed_ahead {
            // Reading ahead is an optimisation: the work is done again on the write connection.
            // A lost reader connects again for next time.
            tracing::debug!(backfill = %self.manifest.name, %error, "reading ahead failed");
            if lost {
                let _ = reader.reconnect().await;
            }
        }
        Ok(n)
    }

    /// Writes a prepared batch and its checkpoint in one transaction.
    async fn write_batch(
        &self,
        db: &mut dyn Driver,
        chunk: &str,
        owner: &str,
        c: &mut ChunkProgress,
        p: Prepared,
    ) -> Result<(), BatchError> {
        let mut writes = Vec::new();
        if db.dialect() == Dialect::Postgres {
            // Settings local to the batch's transaction (nothing leaks into the session), in one
            // round trip. Writes bounded by the batch's key range are left to the planner: it
            // hash-joins the batch with an index scan of the range, or looks each row up when
            // the range is sparse. It can only tell with the batch's size and bounds in hand, so
            // it plans each batch (a generic plan guesses 10 rows and always looks up). Unbounded,
            // it would hash-join the batch with a scan of the whole table, every batch
            // (measured: 273 ms instead of 73 ms for 20,000 of 1,000,000 rows), so each row is
            // looked up in the index.
            let (hash, plan) = if p.ranged { ("on", "force_custom_plan") } else { ("off", "auto") };
            writes.push((
                format!(
                    "SELECT set_config('lock_timeout', '{}ms', true), set_config('statement_timeout', '{}ms', true), \
                     set_config('enable_hashjoin', '{hash}', true), set_config('enable_mergejoin', 'off', true), \
                     set_config('plan_cache_mode', '{plan}', true), set_config('synchronous_commit', 'off', true)",
                    self.manifest.lock_timeout.as_millis(),
                    self.manifest.statement_timeout.as_millis()
                ),
                vec![],
            ));
        }
        writes.extend(self.state.chunk_guard(chunk, owner));
        let mut expect = vec![None; writes.len()];
        for w in p.statements {
            expect.push(w.expect);
            writes.push((w.sql, w.params));
        }
        let mut next = c.clone();
        next.cursor = Some(p.last.iter().map(to_json).collect());
        next.rows_done += p.rows as u64;
        next.changes += p.changes as u64;
        next.batches += 1;
        next.plugin_ms += p.plugin_ms;
        next.batch_ms += p.started.elapsed().as_millis() as u64;
        // A short batch was the chunk's last: it completes the chunk in the same transaction,
        // saving a read that would find nothing.
        let status = if p.rows < p.limit {
            next.done_by = next.owner.take();
            ChunkStatus::Completed
        } else {
            ChunkStatus::Claimed
        };
        writes.push(self.state.chunk_write(chunk, status, &next.to_json(), None));
        let tw = Instant::now();
        let written = db.transaction_expecting(&writes, &expect).await;
        tracing::debug!(
            backfill = %self.manifest.name,
            rows = p.rows,
            read_ms = p.read_ms,
            plugin_ms = p.plugin_ms,
            write_ms = tw.elapsed().as_millis() as u64,
            batch_ms = p.started.elapsed().as_millis() as u64,
            "batch"
        );
        match written {
            Ok(()) => {}
            // Another worker took this chunk over.
            Err(e) if StateTable::chunk_guard_failed(&e) => {
                return Err(BatchError::ClaimLost);
            }
            Err(e) => return Err(e.into()),
        }
        *c = next;
        Ok(())
    }

    /// Claims the next chunk and prepares its first batch (on the reader connection, while the
    /// current chunk's last batch commits). A failed read leaves the batch to be read later.
    async fn claim_ahead(
        &self,
        reader: &mut dyn Driver,
        stmts: &Statements<'_>,
        owner: &str,
        size: usize,
    ) -> Result<Option<(String, ChunkProgress, Option<Prepared>)>, BackfillError> {
        let Some((chunk, progress)) =
            self.state.claim_chunk(reader, &self.manifest.name, owner, STALE_CLAIM.as_secs()).await?
        else {
            return Ok(None);
        };
        let c = self.start_chunk(&progress, owner, size);
        let upper: Vec<DbValue> = c.upper.iter().map(from_json).collect();
        let after = c.cursor.clone().or(c.lower.clone());
        let limit = c.batch_limit(c.rows_done, c.batch_size);
        let batch = self.prepare_batch(reader, stmts, &chunk, after, &upper, limit).await.ok().flatten();
        Ok(Some((chunk, c, batch)))
    }

    /// Sizes the next batch to take about the manifest's time target: double while a batch
    /// takes under a quarter of the target (the next then takes at most about half of it),
    /// then grow at most ×1.2 a step (GitLab's optimiser); shrink at once; within the
    /// manifest's bounds. Doubling matters: from 5,000 to 50,000 rows at ×1.2 takes 13 batches,
    /// a quarter of a million rows at small-batch speed.
    pub(crate) fn adapt(&self, c: &mut ChunkProgress, took: Duration, rows: usize) {
        let m = self.manifest;
        let secs = took.as_secs_f64().max(1e-6);
        let rate = rows as f64 / secs;
        c.rate = if c.rate == 0.0 { rate } else { 0.6 * c.rate + 0.4 * rate };
        if rows < c.batch_size {
            return; // a short last batch says nothing about speed
        }
        let ratio = m.time_target.as_secs_f64() / secs;
        let factor = if ratio >= 4.0 { 2.0 } else { ratio.clamp(0.5, 1.2) };
        c.batch_size = ((c.batch_size as f64 * factor) as usize).clamp(m.min_size, m.max_size);
    }
}

/// The statements of `m` for this database (PostgreSQL: with the tables' column types), once
/// the tables and columns it names are known to exist.
pub(crate) async fn statements<'m>(db: &mut dyn Driver, m: &'m Manifest) -> Result<Statements<'m>, BackfillError> {
    let source = columns(db, m, &m.source_table).await?;
    let target = if m.target_table == m.source_table { None } else { Some(columns(db, m, &m.target_table).await?) };
    let target = target.as_ref().unwrap_or(&source);
    let dialect = db.dialect();
    let rowid = move |key: &[String]| is_rowid(dialect, key);
    let missing = |table: &str, cols: &Columns, names: &[String], what: &str| {
        let types = &cols.types;
        names.iter().find(|c| !types.contains_key(*c) && !rowid(std::slice::from_ref(*c))).map(|c| {
            BackfillError::Schema {
                name: m.name.clone(),
                file: m.file.clone(),
                message: format!("table `{table}` has no column `{c}` (named in {what})"),
            }
        })
    };
    if let Some(e) = missing(&m.source_table, &source, &m.key, "source.key")
        .or_else(|| missing(&m.source_table, &source, &m.columns, "source.columns"))
        .or_else(|| missing(&m.target_table, target, &m.target_key, "the target key"))
    {
        return Err(e);
    }
    check_key(db, m, &m.source_table, &m.key, &source, "source.key").await?;
    if m.target_table != m.source_table || m.target_key != m.key {
        check_key(db, m, &m.target_table, &m.target_key, target, "the target key").await?;
    }
    if let Some(filter) = &m.filter {
        // Planned, not run: a typo fails here, naming the manifest, not in the first batch.
        let probe = format!("SELECT 1 FROM {} WHERE ({filter}) LIMIT 0", ident(&m.source_table));
        if let Err(e) = db.query(&probe).await {
            if e.is_connection_lost() {
                return Err(e.into());
            }
            return Err(BackfillError::Schema {
                name: m.name.clone(),
                file: m.file.clone(),
                message: format!("source.filter `{filter}` does not work on `{}`: {}", m.source_table, e.reason()),
            });
        }
    }
    // SQLite needs no casts.
    let (source_types, target_types) = match db.dialect() {
        Dialect::Postgres => (source.types.clone(), target.types.clone()),
        Dialect::Sqlite => (HashMap::new(), HashMap::new()),
    };
    Ok(Statements {
        dialect: db.dialect(),
        source: &m.source_table,
        key: &m.key,
        columns: &m.columns,
        filter: m.filter.as_deref(),
        target: &m.target_table,
        target_key: &m.target_key,
        source_types,
        target_types,
    })
}

/// The next batch of `m`'s rows after key `after` (exclusive) up to `upper` (inclusive), as the
/// plugin receives it, the key of its last row, and what a guarded write compares (when writes
/// go to these rows); `None` when no row is left.
pub(crate) async fn read_batch(
    db: &mut dyn Driver,
    stmts: &Statements<'_>,
    m: &Manifest,
    after: Option<&[DbValue]>,
    upper: &[DbValue],
    limit: usize,
) -> Result<Option<(Batch, Vec<DbValue>, Option<Seen>)>, DbError> {
    let (sql, params) = stmts.read(after, upper, limit);
    let read = db.fetch(&sql, &params).await?;
    let Some(last) = read.rows.last().map(|r| r[..m.key.len()].to_vec()) else { return Ok(None) };
    let mut versions = Vec::new();
    let rows: Vec<Vec<Value>> = read
        .rows
        .into_iter()
        .map(|mut r| {
            if stmts.reads_versions() {
                versions.push(r.pop().and_then(|v| v.to_text()).unwrap_or_default());
            }
            r.into_iter().map(to_plugin).collect()
        })
        .collect();
    let seen = match db.dialect() {
        _ if !stmts.writes_own_rows() => None,
        Dialect::Postgres => Some(Seen::versions(&rows, m.key.len(), versions)),
        Dialect::Sqlite => Some(Seen::values(&rows, m.key.len())),
    };
    let batch = Batch { columns: m.columns.clone(), key: m.key.clone(), rows };
    Ok(Some((batch, last, seen)))
}

/// A table's columns as the statements need them.
struct Columns {
    /// Column → type.
    types: HashMap<String, String>,
    not_null: HashSet<String>,
    /// SQLite primary-key columns not declared NOT NULL: SQLite lets them hold NULL, and a
    /// table must be rebuilt to forbid it, so they are accepted while they hold none.
    nullable_pk: HashSet<String>,
}

/// The columns of `table`; an error naming the manifest when the table does not exist.
async fn columns(db: &mut dyn Driver, m: &Manifest, table: &str) -> Result<Columns, BackfillError> {
    let rows = db.query(&column_types_sql(db.dialect(), table)).await?;
    if rows.is_empty() {
        return Err(BackfillError::Schema {
            name: m.name.clone(),
            file: m.file.clone(),
            message: format!("table `{table}` does not exist"),
        });
    }
    let mut c = Columns { types: HashMap::new(), not_null: HashSet::new(), nullable_pk: HashSet::new() };
    for r in rows {
        let Some(name) = r.first().cloned().flatten() else { continue };
        match r.get(2).cloned().flatten().as_deref() {
            Some("1") => c.not_null.insert(name.clone()),
            Some("2") => c.nullable_pk.insert(name.clone()),
            _ => false,
        };
        c.types.insert(name, r.get(1).cloned().flatten().unwrap_or_default());
    }
    Ok(c)
}

/// Refuses a key that does not name exactly one row, before anything is read or written: keyset
/// pagination never reaches a NULL key, and with duplicates a write by key lands on every row
/// sharing it. The key must be NOT NULL, and some unique index (or the primary key) must lie
/// within it (PostgreSQL: not partial, no expressions; SQLite: the same, or the rowid).
async fn check_key(
    db: &mut dyn Driver,
    m: &Manifest,
    table: &str,
    key: &[String],
    cols: &Columns,
    what: &str,
) -> Result<(), BackfillError> {
    if is_rowid(db.dialect(), key) {
        return Ok(());
    }
    let refuse = |message: String| BackfillError::Schema { name: m.name.clone(), file: m.file.clone(), message };
    for c in key.iter().filter(|c| !cols.not_null.contains(*c)) {
        let holds_null = cols.nullable_pk.contains(c) && {
            let probe = format!("SELECT 1 FROM {} WHERE {} IS NULL LIMIT 1", ident(table), ident(c));
            !db.query(&probe).await?.is_empty()
        };
        if !cols.nullable_pk.contains(c) || holds_null {
            return Err(refuse(format!(
                "{what} column `{c}` of `{table}` may be NULL; a key must be NOT NULL (rows with a NULL key would never be reached)"
            )));
        }
    }
    let unique = db.query(&unique_keys_sql(db.dialect(), table)).await?;
    let covered = unique.iter().filter_map(|r| r.first().cloned().flatten()).any(|cols| {
        let cols: Vec<&str> = cols.split(',').collect();
        !cols.is_empty() && cols.iter().all(|c| key.iter().any(|k| k == c))
    });
    if !covered {
        return Err(refuse(format!(
            "{what} ({}) of `{table}` is not unique: no primary key or unique index lies within it, so a write by key could change other rows; use the primary key{}",
            key.join(", "),
            if db.dialect() == Dialect::Sqlite { " (or `rowid`)" } else { "" }
        )));
    }
    Ok(())
}

/// Where the rows a batch's updates and deletes touch lie in its table's key order.
struct Reach {
    /// All in the range the batch was read from (after its cursor, up to its last key).
    in_range: bool,
    /// None after its last key, and no inserts (new rows may land anywhere): the next batch
    /// cannot be touched.
    up_to_last: bool,
}

/// Where a batch's changes land: for an integer key by comparing keys with the batch's
/// bounds, otherwise by whether each key is one of the batch's own rows.
fn reach(batch: &Batch, after: Option<&[DbValue]>, last: &[DbValue], changes: &[Change]) -> Reach {
    let inserts = changes.iter().any(|ch| matches!(ch, Change::Insert(_) | Change::Upsert(_)));
    let mut keys = changes.iter().filter_map(|ch| match ch {
        Change::Update(u) => Some(u.key.as_slice()),
        Change::Delete(k) => Some(k.as_slice()),
        Change::Insert(_) | Change::Upsert(_) => None,
    });
    if let [DbValue::Int(last)] = last {
        let after = match after {
            None => None,
            Some([DbValue::Int(a)]) => Some(*a),
            Some(_) => return Reach { in_range: false, up_to_last: false },
        };
        let (mut in_range, up_to_last) = (true, !inserts);
        for key in keys {
            match key {
                [Value::Integer(k)] if k <= last => in_range &= after.is_none_or(|a| *k > a),
                _ => return Reach { in_range: false, up_to_last: false },
            }
        }
        return Reach { in_range, up_to_last };
    }
    let own: std::collections::HashSet<KeyRepr> = batch.rows.iter().map(|r| key_repr(&r[..last.len()])).collect();
    let all_own = keys.all(|k| own.contains(&key_repr(k)));
    Reach { in_range: all_own, up_to_last: all_own && !inserts }
}

/// Lends an optional connection for one call (a plain `as_deref_mut` would lend it for as long
/// as the trait object lives).
pub(crate) fn reborrow<'b>(r: &'b mut Option<&mut dyn Driver>) -> Option<&'b mut dyn Driver> {
    match r {
        Some(r) => Some(&mut **r),
        None => None,
    }
}

/// Work a worker prepared while writing a batch.
#[derive(Default)]
pub(crate) struct Ahead {
    pub(crate) batch: Option<Prepared>,
    /// The next chunk, claimed during the previous chunk's last write.
    pub(crate) chunk: Option<(String, ChunkProgress)>,
}

/// A batch read and transformed by the plugin, ready to write.
pub(crate) struct Prepared {
    /// The chunk and checkpoint it was read after; it is written only if the chunk's
    /// checkpoint is still there.
    chunk: String,
    after: Option<Vec<serde_json::Value>>,
    rows: usize,
    /// The batch size it was read with: fewer rows means the chunk has no more.
    limit: usize,
    last: Vec<DbValue>,
    /// How many changes the plugin returned, and the statements that write them.
    changes: usize,
    statements: Vec<Write>,
    read_ms: u64,
    plugin_ms: u64,
    /// Its changes touch only its own rows or another table (see `prepare_batch`).
    confined: bool,
    /// Its updates and deletes are bounded by its key range.
    ranged: bool,
    started: Instant,
}

/// How often in a row a batch may find its rows changed under it before it fails.
const MAX_CONFLICTS: u32 = 20;

impl BatchError {
    /// Whether a smaller batch may succeed where this one failed.
    fn too_big(&self) -> bool {
        match self {
            BatchError::Db(d) => d.is_statement_timeout() || d.is_lock_timeout(),
            BatchError::Sandbox(s) => {
                matches!(s, SandboxError::Timeout { .. } | SandboxError::MemoryExceeded { .. })
            }
            _ => false,
        }
    }
}

/// Why one attempt at a batch failed.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("plugin {plugin}: returned changes the target cannot take: {message}")]
    Output { plugin: String, message: String },
    #[error("the chunk was taken over by another worker")]
    ClaimLost,
}
