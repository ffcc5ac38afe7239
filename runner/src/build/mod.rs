//! Plugins built from source (`plugin = { build = "plugins/score-band" }`): the folder says what
//! it is, and `runner` builds it the way its language does, with a toolchain version it pins
//! (installed on first use, saying so), so that the same sources give the same component.
//!
//! Every toolchain process goes through [`run_tool`]: an environment of its own and, where the
//! system allows, no reach into runner's signing key and caches ([`confine`]).

pub mod confine;
mod js;
mod kept;
pub mod lock;
mod python;
mod rust;
mod sources;
mod toolchain_dir;

pub use js::COMPONENTIZE_QJS;
pub use python::COMPONENTIZE_PY;

use crate::error::RunnerError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What a plugin folder is written in, from the file that marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `Cargo.toml`
    Rust,
    /// `app.py`
    Python,
    /// `package.json` or `app.js`
    JavaScript,
}

impl Language {
    /// The language of the plugin source folder `dir`, by its files (`Cargo.toml`; `app.py`;
    /// `package.json` or `app.js`).
    pub fn of(dir: &Path) -> Option<Language> {
        if dir.join("Cargo.toml").is_file() {
            Some(Language::Rust)
        } else if dir.join("app.py").is_file() {
            Some(Language::Python)
        } else if dir.join("package.json").is_file() || dir.join("app.js").is_file() {
            Some(Language::JavaScript)
        } else {
            None
        }
    }
}

/// Where builds keep what they reuse: built components (by a hash of their sources and toolchain)
/// and the toolchains runner installs. `None`: no home folder; builds then start from scratch.
#[derive(Debug, Clone, Default)]
pub struct BuildDirs {
    /// The plugin cache (compiled plugins, kept builds, downloads): out of a build's reach.
    pub cache: Option<PathBuf>,
    pub builds: Option<PathBuf>,
    pub toolchains: Option<PathBuf>,
    /// The key kept builds are signed with (the compiled-plugin cache's); without one, builds
    /// are not kept. Its folder is out of a build's reach.
    pub key: Option<PathBuf>,
}

impl BuildDirs {
    /// The folders a build must not reach, made now if they are missing: a build that found no
    /// key could otherwise put one of its own in place.
    fn private(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(key) = &self.key
            && runner_sandbox::ensure_key(key).is_ok()
            && let Some(dir) = key.parent()
        {
            out.push(dir.to_path_buf());
        }
        if let Some(cache) = &self.cache
            && runner_sandbox::private_dir(cache).is_ok()
        {
            out.push(cache.clone());
        }
        out
    }
}

/// Runs one toolchain process of a build (made with [`confine::command`]) to completion. Where
/// it could not be kept from runner's signing key, the key is retired afterwards: the process
/// could have read it and signed compiled code of its own.
pub(crate) fn run_tool(cmd: &mut Command, dirs: &BuildDirs) -> std::io::Result<Output> {
    // A temporary folder of the process's own, made before the ruleset is: the shared one may
    // lie on the way to a private folder, where nothing new may be created.
    let tmp = kept::WorkDir::new()?;
    cmd.env("TMPDIR", &tmp.0).env("TMP", &tmp.0).env("TEMP", &tmp.0);
    let (out, confinement) = confine::output(cmd, &dirs.private())?;
    if let confine::Confinement::Unconfined(why) = confinement
        && let Some(key) = &dirs.key
    {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            tracing::warn!(
                "plugin builds cannot be kept away from runner's signing key here ({why}); the key is replaced after each build, so compiled plugins are compiled again"
            )
        });
        if let Err(e) = runner_sandbox::retire_key(key) {
            tracing::warn!("the signing key could not be replaced after a build: {e}");
        }
    }
    Ok(out)
}

/// Whether runner may build plugins from source (`builds` in runner.toml, `RUNNER_BUILDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Builds {
    /// Build a plugin folder whose sources are not the locked ones (development).
    Allow,
    /// Load locked components only, and refuse a plugin that has none (production).
    Never,
}

/// What loading a plugin from its source folder goes by: where builds keep things, the
/// project's lock, and whether it may build.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The caches and toolchains.
    pub dirs: BuildDirs,
    /// The project folder, which lock entries are relative to.
    pub project: PathBuf,
    /// `plugins.lock`.
    pub lock: PathBuf,
    /// Where locked components are kept.
    pub built: PathBuf,
    /// Whether building is allowed.
    pub builds: Builds,
}

/// The hash of what a build of `dir` reads: the lock's `sources`.
pub fn sources_hash(dir: &Path) -> Result<(Language, String), String> {
    let language = Language::of(dir).ok_or_else(|| NOT_A_PLUGIN_FOLDER.to_string())?;
    let hash = match language {
        Language::Rust => rust::sources_hash(dir)?,
        Language::Python => python::sources_hash(dir)?,
        Language::JavaScript => js::sources_hash(dir)?,
    };
    Ok((language, hash))
}

const NOT_A_PLUGIN_FOLDER: &str = "not a plugin folder runner knows: it builds a Rust crate (Cargo.toml), a Python plugin (app.py) or a JavaScript plugin (app.js)";

/// The component of the plugin folder `dir`: the locked one while the folder's sources are the
/// locked ones; otherwise built now where builds are allowed, and refused where they are not.
pub fn plugin_component(plugin: &str, dir: &Path, ctx: &BuildContext) -> Result<Vec<u8>, RunnerError> {
    let refuse = |why: String| RunnerError::PluginNotLocked { plugin: plugin.to_string(), dir: dir.to_path_buf(), why };
    match locked_component(dir, ctx) {
        Ok(wasm) => return Ok(wasm),
        Err(why) if ctx.builds == Builds::Never => return Err(refuse(why)),
        Err(why) => tracing::debug!(plugin, "building from source: {why}"),
    }
    build_plugin(plugin, dir, &ctx.dirs)
}

/// Whether the plugin folder `dir` has a usable locked component (its sources unchanged, its
/// bytes the locked ones); why not, if not. What a deploy that may not build checks of every
/// plugin before it starts.
pub fn check_locked(dir: &Path, ctx: &BuildContext) -> Result<(), String> {
    locked_component(dir, ctx).map(|_| ())
}

/// The locked component of `dir` if its sources are unchanged, else why not.
fn locked_component(dir: &Path, ctx: &BuildContext) -> Result<Vec<u8>, String> {
    let rel = lock::relative(dir, &ctx.project)
        .ok_or_else(|| format!("{} is not a folder inside the project", dir.display()))?;
    let lock = lock::Lock::read(&ctx.lock)?;
    let entry = lock.find(&rel).ok_or_else(|| format!("{} has no entry for {rel}", ctx.lock.display()))?;
    let (_, sources) = sources_hash(dir)?;
    if sources != entry.sources {
        return Err(format!("the sources in {rel} changed since they were locked"));
    }
    lock::read_artifact(&ctx.built, entry).map_err(|p| match p {
        lock::ArtifactProblem::Missing(path) => format!("its locked component {} is missing", path.display()),
        lock::ArtifactProblem::Mismatch { path, actual } => format!(
            "its locked component {} has SHA-256 {actual}, not the {} the lock names",
            path.display(),
            entry.component
        ),
    })
}

/// What `runner plugin build` did with one folder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LockedBuild {
    /// The folder, relative to the project.
    pub build: String,
    /// The manifests whose plugin it is.
    pub plugins: Vec<String>,
    /// The component's SHA-256.
    pub component: String,
    /// Its size.
    pub bytes: usize,
    /// Whether the lock entry changed.
    pub changed: bool,
}

/// Builds every folder of `folders` (each with the manifests that name it), keeps the
/// components in the built-plugins folder and records them in the lock: `runner plugin build`.
/// Folders already locked with their current sources are not built again.
pub fn lock_plugins(folders: &[(PathBuf, Vec<String>)], ctx: &BuildContext) -> Result<Vec<LockedBuild>, RunnerError> {
    let lock_error = |message: String| RunnerError::Io {
        context: format!("writing {}", ctx.lock.display()),
        cause: std::io::Error::other(message),
    };
    let mut lock = lock::Lock::read(&ctx.lock).map_err(lock_error)?;
    let mut out = Vec::new();
    for (dir, plugins) in folders {
        let name = plugins.first().cloned().unwrap_or_default();
        let fail = |message: String| RunnerError::PluginBuild { plugin: name.clone(), dir: dir.clone(), message };
        let rel = lock::relative(dir, &ctx.project)
            .ok_or_else(|| fail("the folder is not inside the project, so it cannot be locked".into()))?;
        let (language, sources) = sources_hash(dir).map_err(fail)?;
        let wasm = match locked_component(dir, ctx) {
            Ok(wasm) => wasm,
            Err(_) => build_plugin(&name, dir, &ctx.dirs)?,
        };
        let component = lock::store_artifact(&ctx.built, &wasm).map_err(fail)?;
        let entry =
            lock::Locked { build: rel.clone(), language: language.into(), sources, component: component.clone() };
        let changed = lock.find(&rel) != Some(&entry);
        lock.set(entry);
        out.push(LockedBuild { build: rel, plugins: plugins.clone(), component, bytes: wasm.len(), changed });
    }
    lock.write(&ctx.lock).map_err(lock_error)?;
    Ok(out)
}

/// Builds the plugin in `dir` (named `plugin` in messages) and returns its component's bytes.
pub fn build_plugin(plugin: &str, dir: &Path, dirs: &BuildDirs) -> Result<Vec<u8>, RunnerError> {
    let fail =
        |message: String| RunnerError::PluginBuild { plugin: plugin.to_string(), dir: dir.to_path_buf(), message };
    if !dir.is_dir() {
        return Err(fail("no such folder".into()));
    }
    // One build at a time in this process: both sides of a diff replay their revisions at once,
    // and the second build of a plugin then finds the first one kept instead of repeating it.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match Language::of(dir) {
        Some(Language::Rust) => rust::build(plugin, dir, dirs, &fail),
        Some(Language::Python) => python::build(plugin, dir, dirs, &fail),
        Some(Language::JavaScript) => js::build(plugin, dir, dirs, &fail),
        None => Err(fail(NOT_A_PLUGIN_FOLDER.into())),
    }
}

/// The last `n` lines of a tool's output: where a build tool says what went wrong.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
