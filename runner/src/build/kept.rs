//! Builds kept for next time. A Python build takes about 20 seconds, so a component built from
//! source is kept under a hash of everything that goes into it (the plugin's files as
//! [`Sources`] lists them, the SDK, the WIT world and the toolchain version): a second build of
//! the same sources is a file read. Kept builds are run as they are found, so they are read and
//! written only in a folder of this user's that nobody else can write, and signed with the
//! user's cache key (as compiled plugins are), which builds cannot reach ([`super::confine`]):
//! a file swapped or planted there is built again, not run.

use super::BuildDirs;
use super::sources::Sources;
use std::path::{Path, PathBuf};

/// Where a build of these sources is kept, if it can be.
pub struct Kept {
    path: Option<PathBuf>,
    key: Option<PathBuf>,
}

impl Kept {
    /// The place for the build of `dir` with `parts` (toolchain version, SDK files, WIT world),
    /// under `<builds>/<prefix>-<hash>.wasm`.
    pub fn new(dirs: &BuildDirs, prefix: &str, sources: &Sources, parts: &[&str]) -> std::io::Result<Kept> {
        let hash = sources.hash(parts)?;
        let path = dirs
            .builds
            .as_ref()
            .filter(|_| dirs.key.is_some())
            .filter(|b| private_dir(b))
            .map(|b| b.join(format!("{prefix}-{hash}.wasm")));
        Ok(Kept { path, key: dirs.key.clone() })
    }

    /// The component built before from the same sources.
    pub fn read(&self) -> Option<Vec<u8>> {
        let (path, key) = (self.path.as_ref()?, self.key.as_ref()?);
        let sealed = std::fs::read(path).ok()?;
        let wasm = runner_sandbox::unseal(key, &entry_name(path), &sealed);
        if wasm.is_none() {
            tracing::warn!(path = %path.display(), "a kept build is not signed by this user's runner; building again");
        }
        wasm
    }

    /// Keeps `wasm`; best effort: a build that cannot be kept is built again next time.
    pub fn store(&self, plugin: &str, wasm: &[u8]) {
        let (Some(path), Some(key)) = (&self.path, &self.key) else { return };
        let sealed = match runner_sandbox::seal(key, &entry_name(path), wasm) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(plugin, "the built plugin is not kept for next time: {e}");
                return;
            }
        };
        if let Err(e) = store(path, &sealed) {
            tracing::warn!(plugin, "the built plugin is not kept for next time: {e}");
        }
    }
}

/// What a kept build is signed under: its file name (the language and the sources' hash), so
/// that one entry copied over another does not verify.
fn entry_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// Whether kept builds may be read from and written to `dir`: the compiled-plugin cache's rule
/// (this user's, writable by nobody else), since a kept build is run as it is found.
fn private_dir(dir: &Path) -> bool {
    match runner_sandbox::private_dir(dir) {
        Ok(()) => true,
        Err(why) => {
            tracing::warn!("not keeping built plugins: {why}");
            false
        }
    }
}

/// Writes `wasm` to `path` through a temporary name, so a reader never sees half a file.
fn store(path: &Path, wasm: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("a file in a folder");
    // Unique per write: two threads of one process may store at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial =
        dir.join(format!(".{}.{}.{n}", path.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    std::fs::write(&partial, wasm)?;
    std::fs::rename(&partial, path)
}

/// A fresh build folder of this user's: created here (never an existing one, which someone else
/// could have made in the shared temporary folder and filled), mode 0700. Removed when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new() -> std::io::Result<WorkDir> {
        use std::os::unix::fs::DirBuilderExt;
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "runner-build-{}-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_folders_are_fresh_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let (a, b) = (WorkDir::new().unwrap(), WorkDir::new().unwrap());
        assert_ne!(a.0, b.0);
        assert_eq!(std::fs::metadata(&a.0).unwrap().permissions().mode() & 0o777, 0o700);
        let path = a.0.clone();
        drop(a);
        assert!(!path.exists());
    }

    #[test]
    fn concurrent_stores_leave_one_whole_file_and_no_partial_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.wasm");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1 << 20]).collect();
        std::thread::scope(|s| {
            for c in &contents {
                let path = &path;
                s.spawn(move || store(path, c).unwrap());
            }
        });
        let kept = std::fs::read(&path).unwrap();
        assert!(contents.contains(&kept), "a whole file of one writer");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
