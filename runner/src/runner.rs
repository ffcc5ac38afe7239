//! [`Runner`]: the library API that the CLI and embedding applications share.

use crate::error::RunnerError;
use crate::lock;
use crate::report::Report;
use crate::revisions::execute::run_step;
use crate::settings::Settings;
use runner_db::{DatabaseUrl, Dialect, Driver};
use runner_revisions::plan::{self, ApplyRules, PlanError, Problem, Unfinished};
use runner_revisions::{Graph, History, Plan, Revision, Target};
use runner_state::{AppliedBy, StateTable};
use std::path::PathBuf;

/// Whether a command may change the database: the connection's own [`runner_db::Access`], so
/// that a read command's session cannot write. With `ReadOnly`, a SQLite file that does not
/// exist yet is read as empty, not created.
pub use runner_db::Access;

/// A connection to one database and one migrations folder.
pub struct Runner {
    settings: Settings,
    db: Box<dyn Driver>,
    state: StateTable,
    by: AppliedBy,
    /// Created on first use: commands that run no plugin never start wasmtime.
    pub(crate) sandbox: Option<runner_sandbox::Sandbox>,
    /// How loudly each revision applied is logged.
    pub(crate) step_log: StepLog,
}

/// How loudly a runner logs each revision it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepLog {
    /// At INFO: the database is the user's, and each step is news.
    Info,
    /// At DEBUG: a scratch database replayed for a diff, where the steps are detail.
    Scratch,
}

/// A revision in a status report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RevisionSummary {
    /// The revision id.
    pub id: String,
    /// What it does.
    pub description: String,
    /// Its file.
    pub file: PathBuf,
}

impl From<&Revision> for RevisionSummary {
    fn from(r: &Revision) -> Self {
        RevisionSummary { id: r.id.clone(), description: r.description.clone(), file: r.path.clone() }
    }
}

/// `runner status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The database, its password masked.
    pub database: String,
    /// Where its URL came from.
    pub database_source: &'static str,
    /// Which database it is.
    pub dialect: Dialect,
    /// The state table.
    pub state_table: String,
    /// The migrations folder.
    pub migrations_dir: PathBuf,
    /// The revisions the database is at.
    pub current: Vec<String>,
    /// The heads of the revision graph.
    pub heads: Vec<String>,
    /// How many revisions are applied.
    pub applied: usize,
    /// Revisions not applied yet, in the order `apply` runs them.
    pub pending: Vec<RevisionSummary>,
    /// What needs an operator (drift, unfinished, out of order).
    pub problems: Vec<Problem>,
    /// Backfills and their progress.
    pub backfills: Vec<crate::backfills::BackfillSummary>,
    /// Backfills that need an operator: failed or interrupted (work left to do, whether or not
    /// a revision waits for it), or paused while a pending revision waits for it. A backfill
    /// running or paused with nothing waiting is not one: a database is usable meanwhile.
    pub backfill_problems: Vec<BackfillProblem>,
    /// Why backfills could not be listed (a broken manifest), if so.
    pub backfill_error: Option<String>,
    /// Scheduled refreshes: last run, next run.
    pub refreshes: Vec<crate::refresh::RefreshSummary>,
    /// Why refreshes could not be listed (a bad `[[refresh]]`), if so.
    pub refresh_error: Option<String>,
}

impl Status {
    /// Nothing pending, drifted or unfinished.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.problems.is_empty() && self.backfill_problems.is_empty()
    }
}

/// A backfill that needs an operator (see [`Status::backfill_problems`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackfillProblem {
    /// The backfill.
    pub backfill: String,
    /// Where it is.
    pub state: crate::backfills::BackfillState,
    /// Its recorded error, if it failed.
    pub error: Option<String>,
    /// Pending revisions that wait for it (`requires-backfill`).
    pub waiting: Vec<String>,
}

impl BackfillProblem {
    /// The backfills of `summaries` that need an operator, with the pending revisions
    /// (`graph`'s revisions of `pending`) that wait for each.
    fn of(summaries: &[crate::backfills::BackfillSummary], graph: &Graph, pending: &[RevisionSummary]) -> Vec<Self> {
        use crate::backfills::BackfillState as S;
        summaries
            .iter()
            .filter_map(|b| {
                let waiting: Vec<String> = pending
                    .iter()
                    .filter(|p| graph.get(&p.id).is_some_and(|r| r.requires_backfills.contains(&b.name)))
                    .map(|p| p.id.clone())
                    .collect();
                let problem = match b.status {
                    S::Failed | S::Interrupted => true,
                    S::Paused => !waiting.is_empty(),
                    S::Pending | S::Running | S::Completed => false,
                };
                problem.then(|| BackfillProblem {
                    backfill: b.name.clone(),
                    state: b.status,
                    error: b.error.clone(),
                    waiting,
                })
            })
            .collect()
    }
}

impl std::fmt::Display for BackfillProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::backfills::BackfillState as S;
        write!(f, "backfill `{}` {}", self.backfill, self.state.phrase())?;
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
        }
        if !self.waiting.is_empty() {
            write!(f, "; revision {} waits for it", self.waiting.join(", "))?;
        }
        match self.state {
            S::Failed => write!(f, "; fix the cause, then `runner backfill retry {}`", self.backfill),
            S::Interrupted => write!(f, "; `runner backfill run {}` continues it", self.backfill),
            S::Paused => write!(f, "; `runner backfill resume {}`, then run it", self.backfill),
            _ => Ok(()),
        }
    }
}

/// What `repair` changed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Repaired {
    /// Re-recorded the checksum of an edited revision.
    AcceptedChecksum {
        /// The revision id.
        id: String,
    },
    /// Forgot a revision no file defines.
    Forgot {
        /// The revision id.
        id: String,
    },
    /// Recorded an unfinished no-transaction revision as applied (`--mark-done`).
    MarkedApplied {
        /// The revision id.
        id: String,
    },
    /// Left an unfinished no-transaction revision as it is: `repair` marks one done only when
    /// told so, since its remaining statements have not run.
    LeftUnfinished {
        /// The revision id.
        id: String,
    },
}

/// What [`Runner::reset`] did.
#[derive(Debug)]
pub struct Reset {
    /// The revert of every revision.
    pub reverted: Report,
    /// The apply of every head that followed it.
    pub applied: Result<Report, RunnerError>,
}

/// What `repair` may do beyond accepting edits and forgetting revisions without files.
#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    /// Unfinished no-transaction revisions the operator completed by hand: recorded as applied.
    pub mark_done: Vec<String>,
    /// Say what would be done, and do nothing.
    pub dry_run: bool,
}

impl Runner {
    /// Connects to `url`, with revisions in `./migrations` (see [`Runner::with_migrations`]).
    pub async fn connect(url: &str) -> Result<Runner, RunnerError> {
        Runner::open(Settings::for_url(url)?, Access::ReadWrite).await
    }

    /// Connects to the database of `settings` and reads its state table (created on the first write).
    pub async fn open(settings: Settings, access: Access) -> Result<Runner, RunnerError> {
        let url = match (access, settings.database_url.sqlite_path()) {
            (Access::ReadOnly, Some(path)) if !path.exists() => DatabaseUrl::parse("sqlite::memory:")?,
            _ => settings.database_url.clone(),
        };
        let mut db = runner_db::connect(&url, &settings.connect_options(access)).await?;
        let schema = match (db.dialect().fixed_default_schema(), &settings.state_schema) {
            (Some(fixed), _) => fixed.to_string(),
            (None, Some(s)) => s.clone(),
            (None, None) => db
                .query("SELECT current_schema()")
                .await?
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .unwrap_or_else(|| "public".into()),
        };
        let state = StateTable::new(db.dialect(), &schema, &settings.state_table)?;
        state.check_layout(db.as_mut()).await?;
        let by = AppliedBy::new(db.dialect(), &crate::host::hostname(), &crate::host::os_user());
        Ok(Runner { settings, db, state, by, sandbox: None, step_log: StepLog::Info })
    }

    /// Reads revisions from `dir` instead.
    pub fn with_migrations(mut self, dir: impl Into<PathBuf>) -> Runner {
        self.settings.migrations_dir = dir.into();
        self
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The state table.
    pub fn state_table(&self) -> &StateTable {
        &self.state
    }

    pub(crate) fn db_mut(&mut self) -> &mut dyn Driver {
        self.db.as_mut()
    }

    /// The state table and the connection together, for calls that need both.
    pub(crate) fn parts(&mut self) -> (&StateTable, &mut dyn Driver) {
        (&self.state, self.db.as_mut())
    }

    /// The revision graph on disk.
    pub fn graph(&self) -> Result<Graph, RunnerError> {
        Ok(Graph::load(&self.settings.migrations_dir)?)
    }

    /// The revision rows of the state table.
    pub async fn history(&mut self) -> Result<History, RunnerError> {
        Ok(self.state.load_revisions(self.db.as_mut()).await?)
    }

    /// What `runner status` reports.
    pub async fn status(&mut self) -> Result<Status, RunnerError> {
        let graph = self.graph()?;
        let history = self.history().await?;
        let (backfills, backfill_error) = match self.backfill_status().await {
            Ok(b) => (b, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let (refreshes, refresh_error) = match self.refresh_status().await {
            Ok(r) => (r, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let pending: Vec<RevisionSummary> =
            plan::pending(&graph, &history).into_iter().map(RevisionSummary::from).collect();
        Ok(Status {
            backfill_problems: BackfillProblem::of(&backfills, &graph, &pending),
            backfills,
            backfill_error,
            refreshes,
            refresh_error,
            database: self.settings.database_url.to_string(),
            database_source: self.settings.url_source.describe(),
            dialect: self.db.dialect(),
            state_table: self.state.display_name(),
            migrations_dir: self.settings.migrations_dir.clone(),
            current: plan::current(&graph, &history).iter().map(|r| r.id.clone()).collect(),
            heads: graph.heads().iter().map(|r| r.id.clone()).collect(),
            applied: history.rows.values().filter(|a| history.is_applied(&a.id)).count(),
            pending,
            problems: plan::problems(&graph, &history),
        })
    }

    /// The plan `apply` would carry out now (for `--dry-run` and `--sql`).
    pub async fn plan_apply(&mut self, target: &Target, rules: impl Into<ApplyRules>) -> Result<Plan, RunnerError> {
        let graph = self.graph()?;
        let history = self.history().await?;
        Ok(plan::plan_apply(&graph, &history, target, rules)?)
    }

    /// The plan `revert` to `target` would run.
    pub async fn plan_revert(&mut self, target: &Target) -> Result<Plan, RunnerError> {
        let graph = self.graph()?;
        let history = self.history().await?;
        Ok(plan::plan_revert(&graph, &history, target)?)
    }

    /// The plan `stamp` to `target` would run.
    pub async fn plan_stamp(&mut self, target: &Target) -> Result<Plan, RunnerError> {
        let graph = self.graph()?;
        let history = self.history().await?;
        Ok(plan::plan_stamp(&graph, &history, target)?)
    }

    /// The plan as a SQL script, state-table writes included.
    pub fn offline_sql(&self, plan: &Plan) -> Result<String, RunnerError> {
        crate::revisions::offline::render(plan, &self.state, &self.by)
    }

    /// Applies every revision `target` needs; stops at the first failure.
    pub async fn apply(&mut self, target: Target) -> Result<Report, RunnerError> {
        self.apply_with(target, Unfinished::Refuse).await
    }

    /// As [`Runner::apply`], with what else `apply` may do: resume an unfinished
    /// no-transaction revision, run revisions added out of order.
    pub async fn apply_with(&mut self, target: Target, rules: impl Into<ApplyRules>) -> Result<Report, RunnerError> {
        let rules = rules.into();
        self.refuse_unknown_backfills().await?;
        self.run_planned(|g, h| plan::plan_apply(g, h, &target, rules)).await
    }

    /// A pending revision that requires a backfill no manifest defines would wait forever:
    /// refused before anything is applied.
    async fn refuse_unknown_backfills(&mut self) -> Result<(), RunnerError> {
        let graph = self.graph()?;
        if graph.revisions().iter().all(|r| r.requires_backfills.is_empty()) {
            return Ok(());
        }
        let history = self.history().await?;
        let manifests = self.backfill_manifests()?;
        let pending: Vec<&Revision> = graph.revisions().iter().filter(|r| !history.is_applied(&r.id)).collect();
        let wrong: Vec<String> = crate::declarations::problems(&graph, &pending, &manifests, &[])
            .into_iter()
            .filter(|p| p.kind == crate::declarations::ProblemKind::RequiresBackfill)
            .map(|p| p.message)
            .collect();
        if wrong.is_empty() { Ok(()) } else { Err(RunnerError::MissingBackfills(wrong)) }
    }

    /// Reverts to `target`, revision by revision, under the runner lock.
    pub async fn revert(&mut self, target: Target) -> Result<Report, RunnerError> {
        self.run_planned(|g, h| plan::plan_revert(g, h, &target)).await
    }

    /// Reverts every revision, then applies every head again (`runner reset`, for development
    /// databases: the data in the revisions' tables is lost). The revert's report comes back
    /// with the apply's outcome, so that a failing apply still says what was reverted; a failing
    /// revert applies nothing.
    pub async fn reset(&mut self) -> Result<Reset, RunnerError> {
        let reverted = self.revert(Target::Base).await?;
        let applied = self.apply(Target::Heads).await;
        Ok(Reset { reverted, applied })
    }

    /// Records revisions as applied (or forgets them) without running them, up to `target`.
    pub async fn stamp(&mut self, target: Target) -> Result<Report, RunnerError> {
        self.run_planned(|g, h| plan::plan_stamp(g, h, &target)).await
    }

    /// Accepts edited revisions, forgets revisions no file defines, and records unfinished
    /// no-transaction revisions as applied (once the operator has completed them by hand).
    pub async fn repair(&mut self, options: &RepairOptions) -> Result<Vec<Repaired>, RunnerError> {
        let graph = self.graph()?;
        let mark: Vec<String> =
            options.mark_done.iter().map(|r| graph.resolve(r).map(|r| r.id.clone())).collect::<Result<_, _>>()?;
        // A preview only reads, on a read-only session: it takes no lock (on SQLite that would
        // be a write).
        if options.dry_run {
            return self.repair_locked(&graph, &mark, options.dry_run).await;
        }
        let held = self.lock().await?;
        let result = self.repair_locked(&graph, &mark, options.dry_run).await;
        self.unlock(held, result).await
    }

    async fn repair_locked(
        &mut self,
        graph: &Graph,
        mark: &[String],
        dry_run: bool,
    ) -> Result<Vec<Repaired>, RunnerError> {
        let history = self.history().await?;
        let unfinished: Vec<&str> = history
            .present()
            .filter(|a| {
                matches!(a.status, runner_revisions::AppliedStatus::Running | runner_revisions::AppliedStatus::Failed)
            })
            .map(|a| a.id.as_str())
            .collect();
        if let Some(id) = mark.iter().find(|id| !unfinished.contains(&id.as_str())) {
            return Err(crate::refusal::Refusal::NotUnfinished { id: id.clone() }.into());
        }
        let mut sql = Vec::new();
        let mut done = Vec::new();
        for p in plan::problems(graph, &history) {
            match p {
                Problem::Drift { id, .. } => {
                    let rev = graph.get(&id).expect("drift is reported for files that exist");
                    sql.push(self.state.accept_checksum(&id, &rev.checksum));
                    done.push(Repaired::AcceptedChecksum { id });
                }
                Problem::Missing { id } => {
                    sql.push(self.state.forget(&id));
                    done.push(Repaired::Forgot { id });
                }
                Problem::OutOfOrder { .. } => {}
                Problem::Unfinished { id, .. } if mark.contains(&id) => {
                    let rev = graph.get(&id).expect("unfinished is reported for files that exist");
                    sql.push(self.state.record_applied(&id, &rev.checksum, &rev.description, &self.by, None));
                    done.push(Repaired::MarkedApplied { id });
                }
                Problem::Unfinished { id, .. } => done.push(Repaired::LeftUnfinished { id }),
            }
        }
        if !sql.is_empty() && !dry_run {
            let refs: Vec<&str> = sql.iter().map(String::as_str).collect();
            self.db.transaction(&refs).await?;
        }
        Ok(done)
    }

    /// Takes the runner lock, plans with the history as it is under the lock, runs the plan, and
    /// releases the lock whatever happened.
    async fn run_planned(
        &mut self,
        make_plan: impl Fn(&Graph, &History) -> Result<Plan, PlanError>,
    ) -> Result<Report, RunnerError> {
        // Files and the target are checked before anything touches the database: planning against
        // an empty history catches unknown revisions and several heads without taking the lock
        // (which on SQLite writes a lease row).
        let graph = self.graph()?;
        match make_plan(&graph, &History::default()) {
            // How many can be applied depends on what is applied: decided under the lock.
            Err(PlanError::TooFewPending { .. }) | Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let held = self.lock().await?;
        let result = self.run_locked(&graph, &make_plan, &held).await;
        self.record_durations(&result).await;
        self.unlock(held, result).await
    }

    /// Writes how long each revision of a run took, the measure `apply` reports and `history`
    /// shows, once the run ends, however it ends: all in one transaction, so that a run pays
    /// one commit for them rather than one per revision (on SQLite a commit is an fsync, and
    /// that commit per revision made `apply` twice as slow as the sqlite3 shell). Lineage only:
    /// a revision's row records it as applied in the revision's own transaction, and a crash
    /// before this leaves its duration empty, nothing else. Not written after the lock was lost:
    /// then another runner may be at work.
    async fn record_durations(&mut self, result: &Result<Report, RunnerError>) {
        let report = match result {
            Ok(report) => report,
            Err(RunnerError::Interrupted { report, cause }) if !matches!(**cause, RunnerError::LockLost { .. }) => {
                report
            }
            Err(_) => return,
        };
        let writes: Vec<String> = report
            .steps
            .iter()
            .filter(|s| matches!(s.action, runner_revisions::Action::Apply { .. }))
            .map(|s| self.state.set_duration(&s.revision, std::time::Duration::from_millis(s.duration_ms)))
            .collect();
        if writes.is_empty() {
            return;
        }
        let writes: Vec<&str> = writes.iter().map(String::as_str).collect();
        if let Err(e) = self.db.transaction(&writes).await {
            tracing::warn!(error = %e, "could not record how long the revisions took; history shows no duration for them");
        }
    }

    async fn lock(&mut self) -> Result<lock::Held, RunnerError> {
        self.lock_scope(&lock::Scope::Runner).await
    }

    pub(crate) async fn lock_scope(&mut self, scope: &lock::Scope) -> Result<lock::Held, RunnerError> {
        let timeout = self.settings.lock_timeout;
        self.lock_scope_within(scope, timeout).await
    }

    pub(crate) async fn lock_scope_within(
        &mut self,
        scope: &lock::Scope,
        timeout: std::time::Duration,
    ) -> Result<lock::Held, RunnerError> {
        let database = self.settings.database_url.to_string();
        lock::acquire(self.db.as_mut(), &self.state, scope, timeout, &database).await
    }

    /// Releases the lock whatever the locked work's outcome, and reports the work's error first.
    pub(crate) async fn unlock<T>(
        &mut self,
        held: lock::Held,
        result: Result<T, RunnerError>,
    ) -> Result<T, RunnerError> {
        let released = lock::release(self.db.as_mut(), &self.state, held).await;
        let value = result?;
        released?;
        Ok(value)
    }

    async fn run_locked(
        &mut self,
        graph: &Graph,
        make_plan: &impl Fn(&Graph, &History) -> Result<Plan, PlanError>,
        held: &lock::Held,
    ) -> Result<Report, RunnerError> {
        let history = self.history().await?;
        let plan = make_plan(graph, &history)?;
        let mut report = Report { gate: plan.gate.clone(), ..Report::default() };
        if plan.is_empty() {
            return Ok(report);
        }
        let data = self.prepare_data_migrations(&plan).await?;
        self.state.ensure(self.db.as_mut()).await?;
        let database = self.settings.database_url.to_string();
        for step in &plan.steps {
            let rev = &step.revision;
            if let Some(signal) = runner_db::interrupt::requested() {
                let stopped = RunnerError::Stopped { signal: signal.name() };
                return Err(RunnerError::Interrupted { report, cause: Box::new(stopped) });
            }
            if let Err(e) = lock::confirm(self.db.as_mut(), &self.state, held, &database).await {
                return Err(RunnerError::Interrupted { report, cause: Box::new(e) });
            }
            let action = crate::report::action_word(step.action);
            match self.step_log {
                StepLog::Info => {
                    tracing::info!(target: "runner::step", revision = %rev.id, action = %action, description = %rev.description, "starting")
                }
                StepLog::Scratch => {
                    tracing::debug!(target: "runner::step", revision = %rev.id, action = %action, description = %rev.description, "starting")
                }
            }
            match run_step(self.db.as_mut(), &self.state, &self.by, step, &data).await {
                Ok(took) => {
                    let ms = took.as_millis() as u64;
                    match self.step_log {
                        StepLog::Info => tracing::info!(target: "runner::step", revision = %rev.id, ms, "done"),
                        StepLog::Scratch => tracing::debug!(target: "runner::step", revision = %rev.id, ms, "done"),
                    }
                    report.push(step, took);
                }
                Err(e) => {
                    return Err(RunnerError::Interrupted { report, cause: Box::new(e) });
                }
            }
            // A lease that cannot be renewed stops the run after a revision that committed: the
            // error carries what was done, as every failure after the first step does (and so
            // the durations of what was done are recorded).
            if let Err(e) = lock::refresh(self.db.as_mut(), &self.state, held).await {
                return Err(RunnerError::Interrupted { report, cause: Box::new(e) });
            }
        }
        Ok(report)
    }

    /// Closes the connections.
    pub async fn close(self) {
        self.db.close().await;
    }
}
