//! Plugins built from source (`plugin = { build = "plugins/score-band" }`): the folder says what
//! it is, and `runner` builds it the way its language does, with a toolchain version it pins
//! (installed on first use, saying so), so that the same sources give the same component.

mod js;
mod kept;
mod python;
mod rust;
mod toolchain_dir;

pub use js::COMPONENTIZE_QJS;
pub use python::COMPONENTIZE_PY;

use crate::error::RunnerError;
use std::path::Path;

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
    pub builds: Option<std::path::PathBuf>,
    pub toolchains: Option<std::path::PathBuf>,
    /// The key kept builds are signed with (the compiled-plugin cache's); without one, builds
    /// are not kept.
    pub key: Option<std::path::PathBuf>,
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
        Some(Language::Rust) => rust::build(plugin, dir, &fail),
        Some(Language::Python) => python::build(plugin, dir, dirs, &fail),
        Some(Language::JavaScript) => js::build(plugin, dir, dirs, &fail),
        None => Err(fail(
            "not a plugin folder runner knows: it builds a Rust crate (Cargo.toml), a Python plugin (app.py) or a JavaScript plugin (app.js)".into(),
        )),
    }
}

/// The last `n` lines of a tool's output: where a build tool says what went wrong.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
