//! `runner plugin cache [prune]`: what the plugin caches hold and what can go. Three kinds of
//! things pile up: compiled plugins (35 MB for a Python one), kept builds from source, and the
//! toolchains runner installs. Prune removes what this runner can never use (compiled by another
//! runner version or settings, a toolchain version it does not pin, leftovers of killed writes)
//! and what has not been used for a while; `--all` empties the caches.

use crate::backfills::sandbox_config;
use crate::error::RunnerError;
use crate::settings::Settings;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What kind of cached thing an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CachedKind {
    /// A compiled plugin (`*.cwasm` in the plugin cache).
    Compiled,
    /// A component built from source (`builds/` in the plugin cache).
    Build,
    /// An installed toolchain (componentize-py, componentize-qjs).
    Toolchain,
    /// What a killed write or install left behind.
    Leftover,
}

/// One file or folder of the caches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CachedItem {
    /// What it is.
    pub kind: CachedKind,
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Seconds since it was last used (written, or loaded for compiled plugins).
    pub idle_secs: u64,
    /// Why this runner will never use it, if it will not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable: Option<&'static str>,
}

/// Everything in the caches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheReport {
    /// The compiled plugins' folder, if there is one.
    pub plugin_cache: Option<PathBuf>,
    /// The plugin toolchains' folder, if there is one.
    pub toolchains: Option<PathBuf>,
    /// What is in them.
    pub items: Vec<CachedItem>,
}

impl CacheReport {
    /// How many items of `kind` there are, and their size.
    pub fn bytes(&self, kind: CachedKind) -> (usize, u64) {
        let of: Vec<&CachedItem> = self.items.iter().filter(|i| i.kind == kind).collect();
        (of.len(), of.iter().map(|i| i.bytes).sum())
    }
}

/// The toolchain folders this runner installs and uses.
fn pinned_toolchains() -> [String; 2] {
    [
        format!("componentize-py-{}", crate::build::COMPONENTIZE_PY),
        format!("componentize-qjs-{}", crate::build::COMPONENTIZE_QJS),
    ]
}

/// What the plugin caches hold, for `runner plugin cache`.
pub fn cache_report(settings: &Settings) -> Result<CacheReport, RunnerError> {
    let now = SystemTime::now();
    let idle = |t: SystemTime| now.duration_since(t).unwrap_or_default().as_secs();
    let mut items = Vec::new();
    if settings.plugin_cache.is_some() {
        let sandbox = runner_sandbox::Sandbox::new(sandbox_config(settings))?;
        for c in sandbox.cached_plugins() {
            items.push(CachedItem {
                kind: CachedKind::Compiled,
                unusable: (!c.loadable).then_some("compiled by another runner version or with other settings"),
                path: c.path,
                bytes: c.bytes,
                idle_secs: idle(c.last_used),
            });
        }
    }
    let cache = settings.plugin_cache.as_deref();
    for (dir, kind) in [(cache, None), (cache.map(|c| c.join("builds")).as_deref(), Some(CachedKind::Build))] {
        let Some(dir) = dir else { continue };
        for (path, meta) in entries(dir) {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let item = |kind, unusable| CachedItem {
                kind,
                path: path.clone(),
                bytes: size(&path),
                idle_secs: meta.modified().map_or(0, idle),
                unusable,
            };
            if name.starts_with('.') || name.contains(".tmp") {
                items.push(item(CachedKind::Leftover, Some("left by a write that did not finish")));
            } else if kind == Some(CachedKind::Build) && name.ends_with(".wasm") {
                items.push(item(CachedKind::Build, None));
            }
        }
    }
    if let Some(dir) = &settings.toolchains {
        let pinned = pinned_toolchains();
        for (path, meta) in entries(dir) {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let (kind, unusable) = if name.starts_with('.') {
                (CachedKind::Leftover, Some("left by an install that did not finish"))
            } else if pinned.contains(&name) {
                (CachedKind::Toolchain, None)
            } else {
                (CachedKind::Toolchain, Some("a version this runner does not pin"))
            };
            items.push(CachedItem {
                kind,
                bytes: size(&path),
                idle_secs: meta.modified().map_or(0, idle),
                unusable,
                path,
            });
        }
    }
    Ok(CacheReport { plugin_cache: settings.plugin_cache.clone(), toolchains: settings.toolchains.clone(), items })
}

/// What `prune` removes besides what can never be used.
#[derive(Debug, Clone, Copy)]
pub enum Prune {
    /// Also what has not been used for this long (a pinned toolchain is kept however old).
    IdleFor(Duration),
    /// Everything.
    All,
}

/// A write that started less than this long ago may still be going on: its files stay.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// Removes from the caches what `how` says; the items removed.
pub fn prune(settings: &Settings, how: Prune) -> Result<Vec<CachedItem>, RunnerError> {
    let report = cache_report(settings)?;
    let mut removed = Vec::new();
    for item in report.items {
        let idle = Duration::from_secs(item.idle_secs);
        let goes = match how {
            Prune::All => true,
            Prune::IdleFor(_) if item.kind == CachedKind::Leftover => idle >= LEFTOVER_AGE,
            Prune::IdleFor(_) if item.unusable.is_some() => true,
            Prune::IdleFor(_) if item.kind == CachedKind::Toolchain => false,
            Prune::IdleFor(limit) => idle >= limit,
        };
        if !goes {
            continue;
        }
        let gone =
            if item.path.is_dir() { std::fs::remove_dir_all(&item.path) } else { std::fs::remove_file(&item.path) };
        match gone {
            Ok(()) => removed.push(item),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(cause) => {
                return Err(RunnerError::Io { context: format!("removing {}", item.path.display()), cause });
            }
        }
    }
    Ok(removed)
}

fn entries(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<_> = read.flatten().filter_map(|e| Some((e.path(), e.metadata().ok()?))).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Bytes of a file, or of everything under a folder (links not followed).
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |r| r.flatten().map(|e| size(&e.path())).sum())
}
