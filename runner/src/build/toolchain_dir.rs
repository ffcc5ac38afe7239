//! The toolchains runner installs for building plugins (componentize-py, componentize-qjs): each
//! pinned version in a folder of its own under the toolchain folder, installed once per machine.

use std::path::{Path, PathBuf};

/// A pinned toolchain: what it is called, its version, and what installs it (for messages).
pub struct Pinned<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub via: &'a str,
}

/// `<toolchains>/<name>-<version>`, used as it is when `works` says it does, else installed by
/// `install` (given the folder to install into). The install goes into a folder of its own
/// first, so a killed install leaves no half toolchain behind, and is then moved into place.
pub fn ensure(
    toolchains: &Path,
    t: &Pinned,
    works: &dyn Fn(&Path) -> bool,
    install: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let Pinned { name, version, via } = t;
    let dir = toolchains.join(format!("{name}-{version}"));
    if dir.is_dir() {
        if works(&dir) {
            return Ok(dir);
        }
        tracing::warn!(dir = %dir.display(), "the installed {name} does not work; installing it again");
        let _ = std::fs::remove_dir_all(&dir);
    }
    tracing::info!("installing {name} {version} into {} ({via}; once per machine)", dir.display());
    std::fs::create_dir_all(toolchains).map_err(|e| format!("cannot create {}: {e}", toolchains.display()))?;
    let partial = toolchains.join(format!(".{name}-{version}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let installed = install(&partial).and_then(|()| {
        if works(&partial) { Ok(()) } else { Err(format!("{via} installed a {name} that does not work")) }
    });
    if let Err(e) = installed {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    // Another runner may have finished the same install meanwhile: then its copy is used.
    if std::fs::rename(&partial, &dir).is_err() && !dir.is_dir() {
        return Err(format!("cannot move the installed {name} into {}", dir.display()));
    }
    let _ = std::fs::remove_dir_all(&partial);
    Ok(dir)
}

/// Holds the toolchains folder to the plugin cache's rule: this user's, and writable by nobody
/// else (created so if missing). A toolchain is native code that runner runs, so a folder that
/// another user could write into would let them swap it.
pub fn private(toolchains: &Path) -> Result<(), String> {
    runner_sandbox::private_dir(toolchains).map_err(|why| format!("the plugin toolchains folder cannot be used: {why}"))
}
