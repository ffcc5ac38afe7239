//! Scheduled refreshes through the [`Runner`]: checking them at start-up ([`check`]), running one
//! now (`runner refresh`, [`run`]), and the cron loop (`runner cron`, [`cron`]) that many replicas
//! may run at once, with what operators see of it ([`ops`]). Their SQL lives in [`sql`].

mod check;
mod cron;
pub mod ops;
mod run;
mod sql;

pub use cron::CronOps;

use crate::error::RunnerError;
use crate::runner::Runner;
use chrono::Utc;
use runner_schedule::Refresh;
use runner_state::RefreshStatus;

/// How one run of a refresh ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RefreshOutcome {
    /// It succeeded.
    Ok {
        /// How long it took, in milliseconds.
        duration_ms: u64,
        /// Rows of a rebuilt table.
        rows: Option<u64>,
    },
    /// It failed.
    Failed {
        /// Why.
        error: String,
    },
    /// The previous run of this refresh was still going (runs never overlap).
    Overlapping,
    /// The revision it requires is not applied yet.
    Waiting {
        /// The revision.
        revision: String,
    },
}

/// Which refreshes [`Runner::refresh_now`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshSelection {
    /// The one of this name.
    One(String),
    /// Every one declared.
    All,
}

impl Runner {
    /// Runs the selected refreshes now, one after another, each checked first (`runner refresh
    /// NAME|--all`), and returns each one's outcome by name.
    pub async fn refresh_now(
        &mut self,
        which: &RefreshSelection,
    ) -> Result<Vec<(String, RefreshOutcome)>, RunnerError> {
        let specs = self.refresh_specs()?;
        let chosen: Vec<Refresh> = match which {
            RefreshSelection::One(name) => {
                let known: Vec<String> = specs.iter().map(|r| r.name.clone()).collect();
                let Some(r) = specs.into_iter().find(|r| &r.name == name) else {
                    return Err(RunnerError::UnknownRefresh { name: name.clone(), known });
                };
                vec![r]
            }
            RefreshSelection::All => specs,
        };
        self.check_refreshes(&chosen).await?;
        let mut out = Vec::new();
        for r in &chosen {
            out.push((r.name.clone(), self.run_refresh(r, None).await?));
        }
        Ok(out)
    }
}

/// A refresh as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefreshSummary {
    /// The refresh.
    pub name: String,
    /// Its cron schedule.
    pub schedule: String,
    /// `ok` or `failed` after its last run, `None` (JSON `null`, "never" in text) before the first.
    pub last_outcome: Option<RefreshStatus>,
    /// When it last ran (RFC 3339).
    pub last_run_at: Option<String>,
    /// How long its last run took, in milliseconds.
    pub last_duration_ms: Option<i64>,
    /// Why its last run failed, if it did.
    pub last_error: Option<String>,
    /// Rows of the table its last run rebuilt.
    pub rows: Option<u64>,
    /// Runs so far.
    pub runs: u64,
    /// Failed runs so far.
    pub failures: u64,
    /// When it runs next (RFC 3339), in `runner cron`.
    pub next_run: Option<String>,
}

impl Runner {
    /// Every configured refresh with its last run (from the state table) and next slot.
    pub async fn refresh_status(&mut self) -> Result<Vec<RefreshSummary>, RunnerError> {
        let specs = self.refresh_specs()?;
        let rows = {
            let (state, db) = self.parts();
            state.load_refreshes(db).await?
        };
        let now = Utc::now();
        Ok(specs
            .iter()
            .map(|r| {
                let row = rows.iter().find(|x| x.name == r.name);
                let p = row.map(|x| x.progress.clone()).unwrap_or_default();
                RefreshSummary {
                    name: r.name.clone(),
                    schedule: r.schedule.clone(),
                    last_outcome: row.map(|x| x.status),
                    last_run_at: row.and_then(|x| x.last_run_at.clone()),
                    last_duration_ms: row.and_then(|x| x.duration_ms),
                    last_error: row.and_then(|x| x.error.clone()),
                    rows: p.rows,
                    runs: p.runs,
                    failures: p.failures,
                    next_run: r.next_slot(now).map(|t| t.to_rfc3339()),
                }
            })
            .collect())
    }

    /// The validated `[[refresh]]` entries of `runner.toml`.
    pub fn refresh_specs(&self) -> Result<Vec<Refresh>, RunnerError> {
        runner_schedule::validate(self.settings().refreshes.clone()).map_err(RunnerError::RefreshSpecs)
    }

    /// The first column of the first row of `sql`, as text: what the checks and counts read.
    async fn scalar(&mut self, sql: &str) -> Result<String, RunnerError> {
        let rows = self.db_mut().query(sql).await?;
        Ok(rows.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default())
    }
}
