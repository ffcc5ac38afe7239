//! A plugin folder's sources: the one rule for which files of a Python or JavaScript plugin's
//! folder are built, and the hash of exactly those.
//!
//! The build never reads the folder itself: runner copies these files into a build folder of its
//! own and the toolchain reads the copy. So what the hash of a kept build covers and what the
//! component is built from cannot differ (a hidden file or a `__pycache__` that the toolchain
//! would see but the hash would not), and nothing outside the folder gets in: a symbolic link
//! anywhere in it is refused, whichever language the plugin is in.

use std::path::{Path, PathBuf};

/// Whether a file or folder of a plugin's folder is left out of its sources: hidden ones
/// (`.git`, `.env`, editor files), Python's byte-code caches, and components built before.
pub fn is_left_out(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__" || name.ends_with(".wasm")
}

/// The most a plugin folder's sources may hold, so that a folder that is not what it seems (a
/// home folder named by mistake) fails at once instead of being copied.
const MAX_FILES: usize = 50_000;
const MAX_BYTES: u64 = 1 << 30;

/// The files of a plugin's folder that its build reads, by path relative to the folder.
#[derive(Debug)]
pub struct Sources {
    root: PathBuf,
    files: Vec<PathBuf>,
}

impl Sources {
    /// Lists `root`'s sources, refusing links and folders over the bounds.
    pub fn of(root: &Path) -> Result<Sources, String> {
        let mut files = Vec::new();
        let mut bytes = 0;
        walk(root, root, &mut files, &mut bytes)?;
        files.sort();
        Ok(Sources { root: root.to_path_buf(), files })
    }

    /// The files, relative to the folder, in order.
    #[cfg(test)]
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The hash of the files (names and contents) with `parts` (the toolchain's version, the
    /// SDK, the WIT world): what a kept build is kept under.
    pub fn hash(&self, parts: &[&str]) -> std::io::Result<String> {
        let mut all = Vec::new();
        for part in parts {
            push(&mut all, part.as_bytes());
        }
        for rel in &self.files {
            push(&mut all, rel.to_string_lossy().as_bytes());
            push(&mut all, &std::fs::read(self.root.join(rel))?);
        }
        Ok(runner_sandbox::content_hash(&all))
    }

    /// Copies the files into `to` (created), where the toolchain then reads them.
    pub fn copy_to(&self, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for rel in &self.files {
            let target = to.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(self.root.join(rel), target)?;
        }
        Ok(())
    }
}

/// Length-prefixed, so that no two different sets of files give the same bytes.
fn push(all: &mut Vec<u8>, part: &[u8]) {
    all.extend_from_slice(&(part.len() as u64).to_le_bytes());
    all.extend_from_slice(part);
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>, bytes: &mut u64) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if is_left_out(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let rel = path.strip_prefix(root).expect("under root").to_path_buf();
        if kind.is_symlink() {
            return Err(format!(
                "{} is a symbolic link: a plugin's files must be in its folder (copy the file in instead)",
                rel.display()
            ));
        }
        if kind.is_dir() {
            walk(root, &path, out, bytes)?;
        } else if kind.is_file() {
            *bytes += entry.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
            out.push(rel);
            if out.len() > MAX_FILES || *bytes > MAX_BYTES {
                return Err(format!(
                    "the folder holds more than {MAX_FILES} files or {} MiB: is it the plugin's folder?",
                    MAX_BYTES >> 20
                ));
            }
        } else {
            return Err(format!("{} is not a plain file or folder", rel.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("lib/__pycache__")).unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join("app.py"), "x = 1\n").unwrap();
        std::fs::write(d.path().join("lib/util.py"), "y = 2\n").unwrap();
        std::fs::write(d.path().join("lib/__pycache__/util.cpython-311.pyc"), "stale").unwrap();
        std::fs::write(d.path().join(".env"), "SECRET=1\n").unwrap();
        std::fs::write(d.path().join(".git/config"), "x").unwrap();
        std::fs::write(d.path().join("old.wasm"), "\0asm").unwrap();
        d
    }

    #[test]
    fn the_copy_holds_exactly_the_hashed_files() {
        let d = folder();
        let s = Sources::of(d.path()).unwrap();
        assert_eq!(s.files(), [PathBuf::from("app.py"), PathBuf::from("lib/util.py")]);
        let to = tempfile::tempdir().unwrap();
        s.copy_to(&to.path().join("plugin")).unwrap();
        let copied = Sources::of(&to.path().join("plugin")).unwrap();
        assert_eq!(copied.files(), s.files());
        assert!(!to.path().join("plugin/lib/__pycache__").exists() && !to.path().join("plugin/.env").exists());
        // What is left out changes no hash; what is built does.
        let before = s.hash(&["v1"]).unwrap();
        std::fs::write(d.path().join("lib/__pycache__/util.cpython-311.pyc"), "other").unwrap();
        std::fs::write(d.path().join(".env"), "SECRET=2\n").unwrap();
        assert_eq!(Sources::of(d.path()).unwrap().hash(&["v1"]).unwrap(), before);
        std::fs::write(d.path().join("lib/util.py"), "y = 3\n").unwrap();
        assert_ne!(Sources::of(d.path()).unwrap().hash(&["v1"]).unwrap(), before);
        assert_ne!(s.hash(&["v2"]).unwrap(), before);
    }

    #[test]
    fn a_link_anywhere_in_the_folder_is_refused_by_name() {
        let d = folder();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("lib/passwd.py")).unwrap();
        let e = Sources::of(d.path()).unwrap_err();
        assert!(e.contains("lib/passwd.py is a symbolic link"), "{e}");
        let d = folder();
        std::os::unix::fs::symlink("/etc", d.path().join("etc")).unwrap();
        assert!(Sources::of(d.path()).unwrap_err().contains("etc is a symbolic link"));
    }
}
