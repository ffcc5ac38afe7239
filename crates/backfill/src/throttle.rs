//! Holding back between batches, so that a backfill at full speed leaves room for the
//! application and does not outrun the standbys (users of pgroll and GitLab's batched
//! migrations asked for both after the WAL of a backfill left a remote standby behind).

use crate::engine::{Backfill, BackfillError};
use runner_db::{DbValue, Dialect, Driver};
use std::time::{Duration, Instant};

/// How often a waiting worker looks at the replicas again.
const RECHECK: Duration = Duration::from_millis(500);
/// How often a waiting worker says so in the log.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Connected standbys, how many of their positions this role may see, and the most WAL any of
/// them has left to replay. (Without superuser or `pg_monitor`, positions read as NULL.)
const LAG_SQL: &str = "SELECT count(*), count(replay_lsn), \
     coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint FROM pg_stat_replication";

impl Backfill<'_> {
    /// Before a batch: the manifest's pause if this worker has just written one
    /// (`after_batch`), then, on PostgreSQL, a wait while a replica is further behind than the
    /// manifest allows. Returns whether it waited for replicas: work read before then is stale.
    /// `warned` remembers that replica positions could not be read, so that is said once.
    pub(crate) async fn throttle(
        &self,
        db: &mut dyn Driver,
        after_batch: bool,
        warned: &mut bool,
    ) -> Result<bool, BackfillError> {
        let t = self.manifest.throttle;
        if after_batch && !t.pause.is_zero() {
            // In slices, so that a long pause does not hold up `backfill pause`.
            let until = Instant::now() + t.pause;
            while let Some(left) = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
                tokio::time::sleep(left.min(RECHECK)).await;
                if self.stopped(db).await? {
                    return Ok(false);
                }
            }
        }
        let Some(max) = t.max_replica_lag_bytes.filter(|_| db.dialect() == Dialect::Postgres) else {
            return Ok(false);
        };
        let name = &self.manifest.name;
        let mut waited = false;
        let mut reported: Option<Instant> = None;
        loop {
            let rows = db.fetch(LAG_SQL, &[]).await?.rows;
            let int = |i: usize| match rows.first().and_then(|r| r.get(i)) {
                Some(DbValue::Int(n)) => *n,
                _ => 0,
            };
            let (replicas, visible, lag) = (int(0), int(1), int(2).max(0) as u64);
            if replicas > 0 && visible == 0 {
                if !*warned {
                    tracing::warn!(
                        backfill = %name,
                        "cannot see the replicas' positions (grant pg_monitor to this role): throttle.max_replica_lag_mb is not enforced"
                    );
                    *warned = true;
                }
                return Ok(waited);
            }
            if lag <= max {
                if waited {
                    tracing::info!(backfill = %name, lag_mb = mb(lag), "replicas caught up; carrying on");
                }
                return Ok(waited);
            }
            if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
                tracing::info!(
                    backfill = %name,
                    lag_mb = mb(lag),
                    limit_mb = max >> 20,
                    "waiting for replicas to catch up"
                );
                reported = Some(Instant::now());
            }
            waited = true;
            // Paused meanwhile: the caller sees it and stops.
            if self.stopped(db).await? {
                return Ok(true);
            }
            tokio::time::sleep(RECHECK).await;
        }
    }
}

/// Bytes as MiB to one decimal, for the log.
fn mb(bytes: u64) -> f64 {
    (bytes as f64 / f64::from(1 << 20) * 10.0).round() / 10.0
}
