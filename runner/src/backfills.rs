//! Backfills through the [`Runner`]: which exist, where they are, running them, and the
//! operator's verbs (pause, resume, retry, reset).

use crate::error::RunnerError;
use crate::lock::Scope;
use crate::runner::Runner;
use runner_backfill::{Backfill, Manifest, Progress, RunOptions, RunReport};
use runner_sandbox::{Sandbox, SandboxConfig};
use std::path::PathBuf;

/// A backfill as `backfill list` / `status` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackfillSummary {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub plugin: PathBuf,
    /// `pending` until it first runs, then `running`, `paused`, `failed` or `completed`.
    pub status: String,
    pub requires: Option<String>,
    /// Whether the revision it needs is applied (always true without one).
    pub ready: bool,
    pub progress: Progress,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
}

/// An operator's change of a backfill's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Pause,
    Resume,
    /// Run a failed backfill again from its last checkpoint.
    Retry,
}

impl Runner {
    pub fn backfill_manifests(&self) -> Result<Vec<Manifest>, RunnerError> {
        runner_backfill::manifest::load_dir(&self.settings().backfills_dir, &self.settings().project_dir).map_err(
            |errors| RunnerError::Backfills(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
        )
    }

    fn manifest(&self, name: &str) -> Result<Manifest, RunnerError> {
        let all = self.backfill_manifests()?;
        let known: Vec<String> = all.iter().map(|m| m.name.clone()).collect();
        all.into_iter().find(|m| m.name == name).ok_or_else(|| {
            RunnerError::Backfills(format!(
                "no backfill `{name}` in {} (known: {})",
                self.settings().backfills_dir.display(),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })
    }

    pub async fn backfill_status(&mut self) -> Result<Vec<BackfillSummary>, RunnerError> {
        let manifests = self.backfill_manifests()?;
        let history = self.history().await?;
        let rows = {
            let (state, db) = self.parts();
            state.load_backfills(db).await?
        };
        Ok(manifests
            .into_iter()
            .map(|m| {
                let row = rows.iter().find(|r| r.name == m.name);
                BackfillSummary {
                    description: m.description.clone(),
                    file: m.file.clone(),
                    plugin: m.plugin.clone(),
                    status: row.map_or("pending".into(), |r| r.status.clone()),
                    ready: m.requires.as_deref().is_none_or(|r| history.is_applied(r)),
                    requires: m.requires.clone(),
                    progress: row.map(|r| Progress::from_json(&r.progress)).unwrap_or_default(),
                    error: row.and_then(|r| r.error.clone()),
                    started_at: row.and_then(|r| r.started_at.clone()),
                    updated_at: row.and_then(|r| r.updated_at.clone()),
                    name: m.name,
                }
            })
            .collect())
    }

    fn sandbox(&mut self) -> Result<&Sandbox, RunnerError> {
        if self.sandbox.is_none() {
            let config =
                SandboxConfig { cache_dir: Some(self.settings().plugin_cache.clone()), ..SandboxConfig::default() };
            self.sandbox = Some(Sandbox::new(config)?);
        }
        Ok(self.sandbox.as_ref().expect("just set"))
    }

    /// Runs one backfill until it completes, is paused, or `options` stop it. It runs only once
    /// the revision it requires is applied; it holds its own lock, so two processes never
    /// work on it at once.
    pub async fn run_backfill(
        &mut self,
        name: &str,
        options: RunOptions,
        observer: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<RunReport, RunnerError> {
        let manifest = self.manifest(name)?;
        let history = self.history().await?;
        if let Some(rev) = manifest.requires.as_ref().filter(|r| !history.is_applied(r)) {
            return Err(RunnerError::Refused(format!(
                "backfill `{name}` requires revision `{rev}`, which is not applied; run `runner apply` first"
            )));
        }
        let lookup: Option<std::sync::Arc<dyn runner_sandbox::Lookup>> =
            if manifest.capabilities.contains(&runner_sandbox::Capability::Lookup) {
                Some(std::sync::Arc::new(crate::lookup::DbLookup::open(&self.settings().database_url).await?))
            } else {
                None
            };
        let grants = manifest.grants(lookup);
        let plugin = self.sandbox()?.load_file(&manifest.name, &manifest.plugin, manifest.limits, grants)?;
        let held = self.lock_scope(&Scope::Backfill(name.to_string())).await?;
        let state = self.state_table().clone();
        let engine = Backfill { manifest: &manifest, plugin: &plugin, state: &state };
        let result = engine.run(self.db_mut(), options, observer).await.map_err(RunnerError::from);
        self.unlock(held, result).await
    }

    /// Pauses, resumes or retries a backfill (it only flips the state; a running worker sees a
    /// pause between batches).
    pub async fn change_backfill(&mut self, name: &str, change: StatusChange) -> Result<(), RunnerError> {
        self.manifest(name)?;
        let current = {
            let (state, db) = self.parts();
            state.load_backfill(db, name).await?
        };
        let status = current.as_ref().map_or("pending", |r| r.status.as_str()).to_string();
        let (to, from): (&str, &[&str]) = match change {
            StatusChange::Pause => ("paused", &["running", "pending"]),
            StatusChange::Resume => ("running", &["paused"]),
            StatusChange::Retry => ("running", &["failed"]),
        };
        if current.is_none() && change == StatusChange::Pause {
            // Pausing one that never ran: record it paused so it does not start.
            let (state, db) = self.parts();
            state.ensure(db).await?;
            let w = self.state_table().backfill_write(name, "paused", &serde_json::json!({}), None, None);
            self.db_mut().transaction_with(&[w]).await?;
            return Ok(());
        }
        if !from.contains(&status.as_str()) {
            return Err(RunnerError::Refused(format!(
                "backfill `{name}` is {status}; only {} backfills can be {}",
                from.join(" or "),
                match change {
                    StatusChange::Pause => "paused",
                    StatusChange::Resume => "resumed",
                    StatusChange::Retry => "retried",
                }
            )));
        }
        let sql = self.state_table().backfill_set_status(name, to, from);
        self.db_mut().execute(&sql).await?;
        Ok(())
    }

    /// Forgets a backfill's progress, so that it starts over (the data it wrote stays).
    pub async fn reset_backfill(&mut self, name: &str) -> Result<(), RunnerError> {
        self.manifest(name)?;
        let held = self.lock_scope(&Scope::Backfill(name.to_string())).await?;
        let sql = self.state_table().backfill_forget(name);
        let exists = {
            let (state, db) = self.parts();
            state.exists(db).await?
        };
        let result =
            if exists { self.db_mut().execute(&sql).await.map(|_| ()).map_err(RunnerError::from) } else { Ok(()) };
        self.unlock(held, result).await
    }
}
