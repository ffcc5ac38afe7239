//! `runner plugin test`: a plugin run over fixture rows, without a database, with the grants,
//! limits and config of a backfill's manifest (or none: every capability denied), batch by batch
//! in fresh instances as a backfill runs it. Teams unit-test their plugins with it in their own CI:
//! `--expect` compares the changes with a file of expected ones.

mod changes;
pub mod fixture;
mod http;
mod lookups;

/// One line of text for a change of a [`PluginTestReport`], as `plugin test` prints it.
pub use changes::line as change_line;

use crate::backfills::{find_manifest, plugin_wasm, sandbox_config};
use crate::error::RunnerError;
use crate::refusal::Refusal;
use crate::settings::Settings;
use runner_backfill::{Manifest, PluginSource};
use runner_sandbox::{Batch, Grants, Limits, Sandbox};
use std::path::PathBuf;
use std::sync::Arc;

/// Rows per batch when no manifest says: a backfill's default.
const DEFAULT_BATCH: usize = 1000;

/// What to test, and against what.
#[derive(Debug, Clone, Default)]
pub struct PluginTest {
    /// A `.wasm` component or a plugin's source folder; `None`: the backfill's plugin.
    pub plugin: Option<PathBuf>,
    /// The backfill whose manifest gives key, columns, grants, limits, config and batch size.
    pub backfill: Option<String>,
    /// Fixture rows (`.json` or `.csv`).
    pub rows: PathBuf,
    /// The key columns when no manifest names them; default `id`.
    pub key: Option<Vec<String>>,
    /// Answers to the plugin's `lookup` calls (granted only where the manifest grants `lookup`).
    pub lookups: Option<PathBuf>,
    /// Answers to the plugin's `http` calls, in place of the network (for the origins the
    /// manifest allows).
    pub http: Option<PathBuf>,
    /// The changes expected, as `plugin test --json` prints them (its `changes`, or the whole output).
    pub expect: Option<PathBuf>,
}

/// What the plugin did with the rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginTestReport {
    /// The plugin's own name and version (`describe`).
    pub plugin: String,
    /// Fixture rows run.
    pub rows: usize,
    /// Batches they made.
    pub batches: usize,
    /// The changes the plugin returned, as JSON.
    pub changes: Vec<serde_json::Value>,
    /// With `--expect`: where the changes differ from the expected ones (empty: as expected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differences: Option<Vec<String>>,
}

impl PluginTestReport {
    /// Whether `--expect` was given and the changes differ.
    pub fn differs(&self) -> bool {
        self.differences.as_ref().is_some_and(|d| !d.is_empty())
    }
}

/// Runs the plugin `t` names over its fixture rows, with no database.
pub async fn test_plugin(settings: &Settings, t: &PluginTest) -> Result<PluginTestReport, RunnerError> {
    let manifest = t.backfill.as_deref().map(|name| find_manifest(settings, name)).transpose()?;
    let fixture = fixture::read(&t.rows)?;
    let (key, target_key, batch_size, limits) = match &manifest {
        Some(m) => {
            check_columns(&t.rows, &fixture, m)?;
            (m.key.clone(), m.target_key.clone(), m.batch_size, m.limits)
        }
        None => {
            let key = t.key.clone().unwrap_or_else(|| vec!["id".to_string()]);
            (key.clone(), key, DEFAULT_BATCH, Limits::default())
        }
    };
    if let Some(k) = key.iter().find(|k| !fixture.columns.contains(k)) {
        return Err(RunnerError::Fixture {
            file: t.rows.clone(),
            line: 1,
            message: format!("no key column `{k}` in the rows (columns: {})", fixture.columns.join(", ")),
        });
    }
    let lookup = t.lookups.as_deref().map(lookups::FixtureLookups::read).transpose()?;
    let mut grants = match &manifest {
        Some(m) => m.grants(lookup.map(|l| Arc::new(l) as Arc<dyn runner_sandbox::Lookup>)),
        None => Grants::default(),
    };
    if let Some(path) = &t.http {
        grants.http_answers = Some(Arc::new(http::FixtureHttp::read(path)?));
    }
    let (name, source) = subject(t, manifest.as_ref())?;
    let wasm = plugin_wasm(settings, &name, &source).await?;
    let plugin = Sandbox::new(sandbox_config(settings))?.load(&name, &wasm, limits, grants)?;
    let described = plugin.describe().await?;
    let mut changes = Vec::new();
    let mut batches = 0;
    for (n, rows) in fixture.rows.chunks(batch_size.max(1)).enumerate() {
        let first = n * batch_size.max(1) + 1;
        let batch = Batch { columns: fixture.columns.clone(), key: key.clone(), rows: rows.to_vec() };
        let failed = |cause: String| RunnerError::PluginTest {
            plugin: name.clone(),
            first,
            last: first + rows.len() - 1,
            cause,
        };
        let out = plugin.process(&batch).await.map_err(|e| failed(e.to_string()))?;
        for c in &out {
            changes.push(changes::to_json(c, &target_key).map_err(|e| failed(format!("plugin {name}: {e}")))?);
        }
        batches += 1;
    }
    let differences =
        t.expect.as_deref().map(|path| expected(path).map(|e| changes::differences(&e, &changes))).transpose()?;
    Ok(PluginTestReport { plugin: described, rows: fixture.rows.len(), batches, changes, differences })
}

/// The plugin to run and the name messages give it.
fn subject(t: &PluginTest, manifest: Option<&Manifest>) -> Result<(String, PluginSource), RunnerError> {
    match (&t.plugin, manifest) {
        (Some(p), m) => {
            let name = m.map(|m| m.name.clone()).unwrap_or_else(|| {
                p.file_stem().or(p.file_name()).map_or("plugin".into(), |s| s.to_string_lossy().into_owned())
            });
            Ok((name, if p.is_dir() { PluginSource::Build(p.clone()) } else { PluginSource::Path(p.clone()) }))
        }
        (None, Some(m)) => Ok((m.name.clone(), m.plugin.clone())),
        (None, None) => Err(Refusal::Usage(
            "name the plugin (a .wasm file or a plugin folder) or `--backfill NAME` to test its plugin".into(),
        )
        .into()),
    }
}

/// A backfill hands the plugin exactly the manifest's columns: the fixture must have them all.
fn check_columns(rows: &std::path::Path, f: &fixture::Fixture, m: &Manifest) -> Result<(), RunnerError> {
    let missing: Vec<&str> = m.columns.iter().filter(|c| !f.columns.contains(c)).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(RunnerError::Fixture {
        file: rows.to_path_buf(),
        line: 1,
        message: format!(
            "backfill `{}` reads column(s) {} that the rows do not have (a backfill hands the plugin {})",
            m.name,
            missing.join(", "),
            m.columns.join(", ")
        ),
    })
}

/// Expected changes: the `changes` of a saved `plugin test --json`, or a bare array of them.
fn expected(path: &std::path::Path) -> Result<Vec<serde_json::Value>, RunnerError> {
    let doc = fixture::json_file(path)?;
    let list = doc.get("changes").unwrap_or(&doc);
    list.as_array().cloned().ok_or_else(|| {
        fixture::bad(path, 1, "expected changes are a JSON array, or the output of `runner plugin test --json`".into())
    })
}
