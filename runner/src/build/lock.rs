//! `plugins.lock`: the component each plugin source folder was built into, so that production
//! runs exactly what was built and reviewed, and builds nothing.
//!
//! `runner plugin build` builds every `build =` plugin of the project, writes each component to
//! the built-plugins folder under its own SHA-256 (`.runner/built/<sha256>.wasm` by default) and
//! records, per folder, the hash of its sources and the component's SHA-256 here. Where builds
//! are off (`builds = "never"`), a plugin is the locked component or nothing: its bytes must hash
//! to what the lock says and its folder's sources must still be the ones locked, or runner
//! refuses before anything runs. Where builds are allowed, a locked component whose sources are
//! unchanged is used as it is, and anything else is built.

use super::Language;
use std::path::{Path, PathBuf};

/// The lock file's name, in the project folder.
pub const LOCK_FILE: &str = "plugins.lock";

/// The layout version this runner writes and reads.
const VERSION: u32 = 1;

const HEADER: &str = "# Written by `runner plugin build`: the component each plugin source folder was built into.
# Commit it. Where builds are off (builds = \"never\"), runner loads exactly these components from
# the built-plugins folder, checked against `component`, and refuses a folder whose sources no
# longer hash to `sources`.
";

/// The lock file's contents.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    version: u32,
    #[serde(default, rename = "plugin")]
    plugins: Vec<Locked>,
}

/// One plugin folder, as built.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The folder, relative to the project, with `/` between names.
    pub build: String,
    /// What it is written in.
    pub language: LockedLanguage,
    /// The hash of everything its build reads (files, toolchain version, SDK, WIT world).
    pub sources: String,
    /// The component's SHA-256, in hex: its file name in the built-plugins folder.
    pub component: String,
}

/// [`Language`] as the lock file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockedLanguage {
    /// A Rust crate.
    Rust,
    /// A Python plugin.
    Python,
    /// A JavaScript plugin.
    Javascript,
}

impl From<Language> for LockedLanguage {
    fn from(l: Language) -> Self {
        match l {
            Language::Rust => LockedLanguage::Rust,
            Language::Python => LockedLanguage::Python,
            Language::JavaScript => LockedLanguage::Javascript,
        }
    }
}

impl Lock {
    /// The lock at `path`; none there is an empty lock.
    pub fn read(path: &Path) -> Result<Lock, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lock { version: VERSION, plugins: vec![] });
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| {
            format!("{}:{}: {}", path.display(), runner_revisions::toml_line::toml_error_line(&text, &e), e.message())
        })?;
        if lock.version != VERSION {
            return Err(format!(
                "{} has layout version {}; this runner reads version {VERSION}",
                path.display(),
                lock.version
            ));
        }
        Ok(lock)
    }

    /// Writes the lock to `path` (through a temporary file, so a reader never sees half of it).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let mut sorted = self.clone();
        sorted.plugins.sort_by(|a, b| a.build.cmp(&b.build));
        let text = format!("{HEADER}\n{}", toml::to_string(&sorted).map_err(|e| e.to_string())?);
        let tmp = path.with_extension(format!("lock.{}", std::process::id()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The entry of the folder `build` (relative to the project), if it is locked.
    pub fn find(&self, build: &str) -> Option<&Locked> {
        self.plugins.iter().find(|p| p.build == build)
    }

    /// Records `entry`, replacing the folder's earlier one.
    pub fn set(&mut self, entry: Locked) {
        self.plugins.retain(|p| p.build != entry.build);
        self.plugins.push(entry);
    }

    /// Every locked folder.
    #[cfg(test)]
    pub fn entries(&self) -> &[Locked] {
        &self.plugins
    }
}

/// `dir` relative to `project`, `/`-separated, if it lies inside it: how the lock names it.
pub fn relative(dir: &Path, project: &Path) -> Option<String> {
    let (d, p) = (dir.canonicalize().ok()?, project.canonicalize().ok()?);
    let rel = d.strip_prefix(&p).ok()?;
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    Some(if parts.is_empty() { ".".to_string() } else { parts.join("/") })
}

/// Where the component with SHA-256 `component` is kept in `built`.
pub fn artifact(built: &Path, component: &str) -> PathBuf {
    built.join(format!("{component}.wasm"))
}

/// The component `entry` locks, read from `built` and checked against its SHA-256.
pub fn read_artifact(built: &Path, entry: &Locked) -> Result<Vec<u8>, ArtifactProblem> {
    let path = artifact(built, &entry.component);
    let bytes = std::fs::read(&path).map_err(|_| ArtifactProblem::Missing(path.clone()))?;
    let actual = runner_sandbox::content_hash(&bytes);
    if actual != entry.component {
        return Err(ArtifactProblem::Mismatch { path, actual });
    }
    Ok(bytes)
}

/// Why a locked component cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactProblem {
    /// No file at the path.
    Missing(PathBuf),
    /// The file hashes to something else.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Its SHA-256.
        actual: String,
    },
}

/// Writes `wasm` into `built` under its SHA-256 (which it returns), through a temporary name.
pub fn store_artifact(built: &Path, wasm: &[u8]) -> Result<String, String> {
    let component = runner_sandbox::content_hash(wasm);
    std::fs::create_dir_all(built).map_err(|e| format!("cannot create {}: {e}", built.display()))?;
    let path = artifact(built, &component);
    let tmp = built.join(format!(".{component}.{}", std::process::id()));
    std::fs::write(&tmp, wasm)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_round_trips_and_a_component_is_checked_against_it() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(LOCK_FILE);
        assert_eq!(Lock::read(&path).unwrap().entries(), &[]);
        let built = d.path().join("built");
        let component = store_artifact(&built, b"\0asm component").unwrap();
        let mut lock = Lock::read(&path).unwrap();
        let entry = Locked {
            build: "plugins/x".into(),
            language: LockedLanguage::Python,
            sources: "abc".into(),
            component: component.clone(),
        };
        lock.set(entry.clone());
        lock.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Written by `runner plugin build`"), "{text}");
        let again = Lock::read(&path).unwrap();
        assert_eq!(again.find("plugins/x"), Some(&entry));
        assert_eq!(read_artifact(&built, &entry).unwrap(), b"\0asm component");
        std::fs::write(artifact(&built, &component), b"\0asm swapped").unwrap();
        assert!(matches!(read_artifact(&built, &entry), Err(ArtifactProblem::Mismatch { .. })));
        std::fs::remove_file(artifact(&built, &component)).unwrap();
        assert!(matches!(read_artifact(&built, &entry), Err(ArtifactProblem::Missing(_))));
        std::fs::write(&path, "version = 9\n").unwrap();
        assert!(Lock::read(&path).unwrap_err().contains("layout version 9"));
        std::fs::write(&path, "version = 1\n[[plugin]]\nbuild = \"x\"\n").unwrap();
        assert!(Lock::read(&path).unwrap_err().contains("plugins.lock:"), "names the file and line");
    }
}
