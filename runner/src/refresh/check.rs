//! Checking refreshes against the database at start-up, so that a typo fails `runner cron` at
//! once, naming the refresh, rather than at its first slot.

use super::sql;
use crate::error::RunnerError;
use crate::runner::Runner;
use runner_db::Dialect;
use runner_schedule::{Refresh, Target};

impl Runner {
    /// Checks each refresh against the database (the view exists, CONCURRENTLY has its unique
    /// index, the table exists), so that `runner cron` fails at start-up, naming the refresh,
    /// rather than at 3 a.m. Refreshes waiting for a revision are checked once it is applied.
    pub async fn check_refreshes(&mut self, specs: &[Refresh]) -> Result<(), RunnerError> {
        let history = self.history().await?;
        let mut problems = Vec::new();
        for r in specs {
            if r.requires.as_ref().is_some_and(|rev| !history.is_applied(rev)) {
                continue;
            }
            if let Err(e) = self.check_refresh(r).await {
                problems.push(e);
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(RunnerError::RefreshChecks(problems)) }
    }

    async fn check_refresh(&mut self, r: &Refresh) -> Result<(), String> {
        let dialect = self.db_mut().dialect();
        let name = &r.name;
        match (&r.target, dialect) {
            (Target::Plugin { manifest }, _) => {
                let m = self.manifest(manifest).map_err(|e| format!("refresh `{name}`: {e}"))?;
                if m.role != runner_backfill::Role::Refresh {
                    return Err(format!("refresh `{name}`: manifest `{manifest}` must have role = \"refresh\""));
                }
                Ok(())
            }
            (Target::View { .. }, Dialect::Sqlite) => {
                Err(format!("refresh `{name}`: SQLite has no materialized views; declare `table` and `query` instead"))
            }
            (Target::View { view, concurrently }, Dialect::Postgres) => {
                if self.scalar(&sql::view_exists(view)).await.map_err(|e| format!("refresh `{name}`: {e}"))? == "0" {
                    return Err(format!("refresh `{name}`: no materialized view `{view}`"));
                }
                if *concurrently
                    && self
                        .scalar(&sql::view_unique_indexes(view))
                        .await
                        .map_err(|e| format!("refresh `{name}`: {e}"))?
                        == "0"
                {
                    return Err(format!(
                        "refresh `{name}`: REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index on plain columns of `{view}` \
                         (no expression, no WHERE); add one, e.g. CREATE UNIQUE INDEX ON {view} (<key columns>), or set concurrently = false"
                    ));
                }
                Ok(())
            }
            (Target::Table { table, .. }, _) => {
                if self
                    .scalar(&sql::table_exists(dialect, table))
                    .await
                    .map_err(|e| format!("refresh `{name}`: {e}"))?
                    == "0"
                {
                    return Err(format!("refresh `{name}`: no table `{table}`"));
                }
                Ok(())
            }
        }
    }
}
