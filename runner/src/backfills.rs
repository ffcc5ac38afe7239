//! Backfills through the [`Runner`]: which exist, where they are, running them, and the
//! operator's verbs (pause, resume, retry, reset).

use crate::error::RunnerError;
use crate::lock::Scope;
use crate::refusal::Refusal;
use crate::runner::Runner;
use runner_backfill::{Backfill, Manifest, PluginSource, Progress, Role, RunOptions, RunReport, WorkReport};
pub use runner_backfill::{BackfillState, StatusChange};
use std::sync::Arc;

/// How `run_backfill` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackfillOptions {
    /// What each backfill run may do.
    pub run: RunOptions,
    /// Workers in this process (PostgreSQL; SQLite always uses one); `None`: the manifest's
    /// `batch.workers`.
    pub workers: Option<usize>,
    /// Which backfills a deploy runs.
    pub which: Which,
}

/// Which backfills `apply --with-backfills` runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Which {
    /// Every backfill that is ready (a deploy).
    #[default]
    Ready,
    /// Only those a revision waits for: replaying revisions onto a scratch database to read its
    /// schema, where a manifest for a column the revisions do not have yet is no error.
    Gating,
}

use runner_sandbox::{Sandbox, SandboxConfig};
use runner_state::BackfillStatus;
use serde_json as _;
use std::path::PathBuf;

/// A backfill as `backfill list` / `status` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackfillSummary {
    /// The backfill.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its manifest.
    pub file: PathBuf,
    /// The plugin's path, or its URL and SHA-256.
    pub plugin: String,
    /// Where it is.
    pub status: BackfillState,
    /// The revision it waits for.
    pub requires: Option<String>,
    /// Whether the revision it needs is applied (always true without one).
    pub ready: bool,
    /// Where it has got to.
    pub progress: Progress,
    /// Why it failed, for a failed one.
    pub error: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When its row was last written (RFC 3339).
    pub updated_at: Option<String>,
}

/// The project's backfill manifests; every broken one is reported at once.
pub(crate) fn load_manifests(settings: &crate::settings::Settings) -> Result<Vec<Manifest>, RunnerError> {
    let manifests = runner_backfill::manifest::load_dir(&settings.backfills_dir, &settings.project_dir)
        .map_err(RunnerError::Manifests)?;
    let refused = runner_backfill::manifest::refuse_runner_tables(&manifests, &[settings.state_table.as_str()]);
    if refused.is_empty() { Ok(manifests) } else { Err(RunnerError::Manifests(refused)) }
}

/// The manifest named `name`, or an error listing the names there are.
pub(crate) fn find_manifest(settings: &crate::settings::Settings, name: &str) -> Result<Manifest, RunnerError> {
    let all = load_manifests(settings)?;
    let known: Vec<String> = all.iter().map(|m| m.name.clone()).collect();
    all.into_iter().find(|m| m.name == name).ok_or_else(|| RunnerError::UnknownBackfill {
        name: name.to_string(),
        dir: settings.backfills_dir.clone(),
        known,
    })
}

/// A plugin's component: read from its path, downloaded and verified, or built from its sources
/// (with the settings' caches and toolchains).
pub async fn plugin_wasm(
    settings: &crate::settings::Settings,
    plugin: &str,
    source: &PluginSource,
) -> Result<Vec<u8>, RunnerError> {
    match source {
        PluginSource::Path(path) => std::fs::read(path).map_err(|cause| RunnerError::Io {
            context: format!("`{plugin}`: reading plugin {}", path.display()),
            cause,
        }),
        PluginSource::Url { url, sha256 } => {
            crate::download::fetch_plugin(plugin, url, sha256, settings.plugin_cache.as_deref()).await
        }
        PluginSource::Build(dir) => {
            let (name, folder, ctx) = (plugin.to_string(), dir.clone(), build_context(settings));
            tokio::task::spawn_blocking(move || crate::build::plugin_component(&name, &folder, &ctx)).await.map_err(
                |e| RunnerError::PluginBuild {
                    plugin: plugin.to_string(),
                    dir: dir.clone(),
                    message: format!("the build stopped: {e}"),
                },
            )?
        }
    }
}

/// Where builds are off (`builds = "never"`), refuses unless every plugin the manifests build
/// from source has its locked component: a deploy finds out before it changes anything, not
/// when it reaches the backfill.
pub(crate) fn require_locked_plugins(settings: &crate::settings::Settings) -> Result<(), RunnerError> {
    if settings.builds != crate::build::Builds::Never {
        return Ok(());
    }
    let ctx = build_context(settings);
    for m in load_manifests(settings)? {
        if let PluginSource::Build(dir) = &m.plugin {
            crate::build::check_locked(dir, &ctx).map_err(|why| RunnerError::PluginNotLocked {
                plugin: m.name.clone(),
                dir: dir.clone(),
                why,
            })?;
        }
    }
    Ok(())
}

/// Builds every plugin the project's manifests build from source and locks it
/// (`runner plugin build`): components in the built-plugins folder, `plugins.lock` updated.
pub async fn lock_plugins(settings: &crate::settings::Settings) -> Result<Vec<crate::build::LockedBuild>, RunnerError> {
    let mut folders: Vec<(std::path::PathBuf, Vec<String>)> = Vec::new();
    for m in load_manifests(settings)? {
        if let PluginSource::Build(dir) = &m.plugin {
            match folders.iter_mut().find(|(d, _)| d == dir) {
                Some((_, names)) => names.push(m.name.clone()),
                None => folders.push((dir.clone(), vec![m.name.clone()])),
            }
        }
    }
    let ctx = build_context(settings);
    tokio::task::spawn_blocking(move || crate::build::lock_plugins(&folders, &ctx)).await.map_err(|e| {
        RunnerError::Io { context: "building plugins".into(), cause: std::io::Error::other(e.to_string()) }
    })?
}

/// Where builds from source keep things, the lock, and whether building is allowed, as the
/// settings say.
pub(crate) fn build_context(settings: &crate::settings::Settings) -> crate::build::BuildContext {
    crate::build::BuildContext {
        dirs: crate::build::BuildDirs {
            cache: settings.plugin_cache.clone(),
            builds: settings.plugin_cache.as_ref().map(|c| c.join("builds")),
            toolchains: settings.toolchains.clone(),
            key: settings.cache_key.clone(),
        },
        project: settings.project_dir.clone(),
        lock: settings.plugin_lock.clone(),
        built: settings.built_plugins.clone(),
        builds: settings.builds,
    }
}

/// The sandbox as settings configure it: compiled plugins cached, and signed with the cache key.
pub(crate) fn sandbox_config(settings: &crate::settings::Settings) -> SandboxConfig {
    SandboxConfig {
        cache_dir: settings.plugin_cache.clone(),
        cache_key: settings.cache_key.clone(),
        ..SandboxConfig::default()
    }
}

impl Runner {
    /// The project's backfill manifests, each validated.
    pub fn backfill_manifests(&self) -> Result<Vec<Manifest>, RunnerError> {
        load_manifests(self.settings())
    }

    pub(crate) fn manifest(&self, name: &str) -> Result<Manifest, RunnerError> {
        find_manifest(self.settings(), name)
    }

    /// Every backfill with its recorded state.
    pub async fn backfill_status(&mut self) -> Result<Vec<BackfillSummary>, RunnerError> {
        let manifests = self.backfill_manifests()?;
        let history = self.history().await?;
        let rows = {
            let (state, db) = self.parts();
            state.load_backfills(db).await?
        };
        let mut chunks = std::collections::HashMap::new();
        for r in &rows {
            let (state, db) = self.parts();
            chunks.insert(r.name.clone(), state.load_chunks(db, &r.name).await?);
        }
        Ok(manifests
            .into_iter()
            .filter(|m| m.role == Role::Backfill)
            .map(|m| {
                let row = rows.iter().find(|r| r.name == m.name);
                BackfillSummary {
                    description: m.description.clone(),
                    file: m.file.clone(),
                    plugin: m.plugin.to_string(),
                    status: BackfillState::of(row, row.and_then(|r| chunks.get(&r.name)).map_or(&[][..], |c| &c[..])),
                    ready: m.requires.as_deref().is_none_or(|r| history.is_applied(r)),
                    requires: m.requires.clone(),
                    progress: row
                        .map(|r| {
                            let ranges: Vec<serde_json::Value> =
                                chunks.get(&r.name).into_iter().flatten().map(|c| c.progress.clone()).collect();
                            Progress::combine(&r.progress, &ranges)
                        })
                        .unwrap_or_default(),
                    error: row.and_then(|r| r.error.clone()),
                    started_at: row.and_then(|r| r.started_at.clone()),
                    updated_at: row.and_then(|r| r.updated_at.clone()),
                    name: m.name,
                }
            })
            .collect())
    }

    /// A manifest's plugin, read from its path or downloaded and verified, compiled and linked.
    pub(crate) async fn load_plugin(
        &mut self,
        manifest: &Manifest,
        grants: runner_sandbox::Grants,
    ) -> Result<runner_sandbox::Plugin, RunnerError> {
        let wasm = plugin_wasm(self.settings(), &manifest.name, &manifest.plugin).await?;
        Ok(self.sandbox()?.load(&manifest.name, &wasm, manifest.limits, grants)?)
    }

    /// Loads the plugins of the data migrations `plan` runs, before anything runs: a missing
    /// manifest or a broken plugin stops the plan with nothing applied.
    pub(crate) async fn prepare_data_migrations(
        &mut self,
        plan: &runner_revisions::Plan,
    ) -> Result<crate::revisions::execute::DataMigrations, RunnerError> {
        let mut out = crate::revisions::execute::DataMigrations::new();
        for step in &plan.steps {
            let Some(name) = step
                .revision
                .data_migration
                .as_ref()
                .filter(|_| matches!(step.action, runner_revisions::Action::Apply { .. }))
            else {
                continue;
            };
            if out.contains_key(name) {
                continue;
            }
            let manifest = self.manifest(name).map_err(|e| RunnerError::DataMigration {
                revision: step.revision.id.clone(),
                file: step.revision.path.clone(),
                cause: Box::new(e),
            })?;
            let grants = manifest.grants(None);
            let plugin = self.load_plugin(&manifest, grants).await?;
            out.insert(name.clone(), (manifest, plugin));
        }
        Ok(out)
    }

    /// The lookup connection of `manifest`'s plugin: `lookup_url`, else the database URL, and
    /// refused when its role can do more than read (see `lookup.rs`).
    pub(crate) async fn open_lookup(&mut self, manifest: &Manifest) -> Result<crate::lookup::DbLookup, RunnerError> {
        let writer = runner_db::session_role(self.db_mut()).await?;
        let url = self.settings().lookup_url.clone().unwrap_or_else(|| self.settings().database_url.clone());
        crate::lookup::DbLookup::open(
            &manifest.name,
            &url,
            &self.settings().connect_options(runner_db::Access::ReadOnly),
            manifest.lookup_timeout,
            manifest.limits.memory_bytes,
            writer.as_deref(),
        )
        .await
    }

    /// Refuses, before anything runs, a backfill whose lookups would go through a role that can
    /// do more than read: a deploy finds out before its first revision, not at the backfill.
    pub(crate) async fn require_safe_lookups(&mut self) -> Result<(), RunnerError> {
        for m in self.backfill_manifests()? {
            if m.role == Role::Backfill && m.capabilities.contains(&runner_sandbox::Capability::Lookup) {
                self.open_lookup(&m).await?;
            }
        }
        Ok(())
    }

    fn sandbox(&mut self) -> Result<&Sandbox, RunnerError> {
        if self.sandbox.is_none() {
            self.sandbox = Some(Sandbox::new(sandbox_config(self.settings()))?);
        }
        Ok(self.sandbox.as_ref().expect("just set"))
    }

    /// Runs one backfill until it completes, is paused, or `options` stop it. It runs only once
    /// the revision it requires is applied. One process starts it (under the backfill's lock);
    /// then `workers` tasks, each with its own connection, claim its key ranges, alongside any
    /// other process doing the same.
    pub async fn run_backfill(
        &mut self,
        name: &str,
        options: BackfillOptions,
        observer: impl FnMut(&Progress) + Send + 'static,
    ) -> Result<RunReport, RunnerError> {
        let manifest = Arc::new(self.manifest(name)?);
        if manifest.role != Role::Backfill {
            return Err(Refusal::NotABackfill { name: name.to_string(), role: manifest.role }.into());
        }
        let history = self.history().await?;
        if let Some(rev) = manifest.requires.as_ref().filter(|r| !history.is_applied(r)) {
            return Err(Refusal::RequiresRevision { backfill: name.to_string(), revision: rev.clone() }.into());
        }
        let lookup: Option<Arc<dyn runner_sandbox::Lookup>> =
            if manifest.capabilities.contains(&runner_sandbox::Capability::Lookup) {
                Some(Arc::new(self.open_lookup(&manifest).await?))
            } else {
                None
            };
        let grants = manifest.grants(lookup);
        let plugin = Arc::new(self.load_plugin(&manifest, grants).await?);
        let state = self.state_table().clone();
        let workers = self.db_mut().dialect().writers(options.workers.unwrap_or(manifest.workers));

        let held = self.lock_scope(&Scope::Backfill(name.to_string())).await?;
        let prepared =
            Backfill { manifest: &manifest, plugin: &plugin, state: &state }.prepare(self.db_mut(), workers).await;
        // A signal landing while the run is prepared: nothing ran yet, and the run says it was
        // interrupted, as it does when the signal lands in a batch.
        let prepared = match prepared {
            Err(_) if runner_db::interrupt::requested().is_some() => Ok(Some(runner_backfill::Outcome::Interrupted)),
            other => other,
        };
        if let Some(outcome) = self.unlock(held, prepared.map_err(RunnerError::from)).await? {
            let engine = Backfill { manifest: &manifest, plugin: &plugin, state: &state };
            let now = std::time::Instant::now();
            return Ok(engine.report(self.db_mut(), outcome, WorkReport::default(), now).await?);
        }
        let run = runner_backfill::Run {
            manifest,
            plugin,
            state,
            url: self.settings().database_url.clone(),
            connect: self.settings().connect_options(runner_db::Access::ReadWrite),
            workers,
            options: options.run,
        };
        Ok(run.run(Arc::new(std::sync::Mutex::new(observer))).await?)
    }

    /// Pauses, resumes or retries a backfill (it only flips the state; a running worker sees a
    /// pause between batches).
    pub async fn change_backfill(&mut self, name: &str, change: StatusChange) -> Result<(), RunnerError> {
        self.manifest(name)?;
        let current = {
            let (state, db) = self.parts();
            state.load_backfill(db, name).await?
        };
        let chunks = {
            let (state, db) = self.parts();
            state.load_chunks(db, name).await?
        };
        let status = BackfillState::of(current.as_ref(), &chunks);
        let (to, from) = change.transition();
        if current.is_none() && change == StatusChange::Pause {
            // Pausing one that never ran: record it paused so it does not start.
            let (state, db) = self.parts();
            state.ensure(db).await?;
            let w = self.state_table().backfill_write(name, BackfillStatus::Paused, &serde_json::json!({}), None, None);
            self.db_mut().transaction_with(&[w]).await?;
            return Ok(());
        }
        if !from.contains(&status) {
            return Err(
                Refusal::BackfillState { name: name.to_string(), status, allowed: from.to_vec(), change }.into()
            );
        }
        let recorded: Vec<BackfillStatus> = from.iter().filter_map(|s| s.recorded()).collect();
        let mut sql = vec![self.state_table().backfill_set_status(name, to, &recorded)];
        if change == StatusChange::Retry {
            // Its failed ranges go back to be claimed again, from their checkpoints, in the same
            // transaction: a crash between the two would leave it running with failed ranges.
            sql.push(self.state_table().chunks_retry(name));
        }
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        self.db_mut().transaction(&sql).await?;
        Ok(())
    }

    /// `runner backfill retry`: a failed (or interrupted) backfill's failed ranges made ready
    /// again, then run on from their checkpoints, as [`Runner::run_backfill`] runs it.
    pub async fn retry_backfill(
        &mut self,
        name: &str,
        options: BackfillOptions,
        observer: impl FnMut(&Progress) + Send + 'static,
    ) -> Result<RunReport, RunnerError> {
        self.change_backfill(name, StatusChange::Retry).await?;
        self.run_backfill(name, options, observer).await
    }

    /// Forgets a backfill's progress, so that it starts over (the data it wrote stays).
    pub async fn reset_backfill(&mut self, name: &str) -> Result<(), RunnerError> {
        self.manifest(name)?;
        let held = self.lock_scope(&Scope::Backfill(name.to_string())).await?;
        // Both rows of the backfill go in one transaction, or neither does.
        let sql = [self.state_table().backfill_forget(name), self.state_table().chunks_forget(name)];
        let exists = {
            let (state, db) = self.parts();
            state.exists(db).await?
        };
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        let result =
            if exists { self.db_mut().transaction(&sql).await.map(|_| ()).map_err(RunnerError::from) } else { Ok(()) };
        self.unlock(held, result).await
    }
}
