//! Rust plugins (a `Cargo.toml`): `cargo build --release --target wasm32-wasip2`, adding the
//! target when it is missing. Cargo's own fingerprints (sources, toolchain, flags) decide whether
//! anything is rebuilt, so a built plugin costs a fraction of a second to confirm; the
//! compiled-module cache then skips Cranelift.
//!
//! cargo runs the crate's build scripts and proc macros natively: it runs through
//! [`super::run_tool`], like every toolchain.

use super::{BuildDirs, confine, run_tool};
use crate::toolchain::{WASM_TARGET, ensure_wasm_target};
use std::path::{Path, PathBuf};

/// Builds the crate in `dir`; the component's bytes, or why not.
pub fn build(
    plugin: &str,
    dir: &Path,
    dirs: &BuildDirs,
    fail: &dyn Fn(String) -> crate::RunnerError,
) -> Result<Vec<u8>, crate::RunnerError> {
    ensure_wasm_target(dir, &|s| tracing::info!(plugin, "{s}")).map_err(fail)?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (cargo build --release --target {WASM_TARGET})");
    let mut cargo = confine::command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["build", "--release", "--target", WASM_TARGET, "--message-format=json-render-diagnostics"])
        .current_dir(dir);
    let out = run_tool(&mut cargo, dirs).map_err(|e| fail(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!("cargo build failed:\n{}", super::tail(&out.stderr, 20))));
    }
    let manifest = dir.join("Cargo.toml").canonicalize().map_err(|e| fail(e.to_string()))?;
    let wasm = artifact(&String::from_utf8_lossy(&out.stdout), &manifest)
        .ok_or_else(|| fail("cargo built no .wasm for this package (is it a `cdylib`?)".into()))?;
    std::fs::read(&wasm).map_err(|e| fail(format!("cannot read {}: {e}", wasm.display())))
}

/// The `.wasm` cargo reports for the package of `manifest`, from its JSON messages.
fn artifact(messages: &str, manifest: &Path) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"].as_str().and_then(|p| Path::new(p).canonicalize().ok()).as_deref() == Some(manifest)
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
}

/// The hash of what a build of the crate in `dir` reads, for the lock file: every file of its
/// workspace (the nearest folder above with a `[workspace]` manifest, else the crate's own),
/// but build output (`target/`) and `.git/`; the folders of path dependencies outside it; and
/// the cargo configuration and toolchain files of the folders above it, which cargo reads too.
/// Registry dependencies are pinned by `Cargo.lock`, which is among the files.
pub fn sources_hash(dir: &Path) -> Result<String, String> {
    let root = workspace_root(dir);
    let mut trees = vec![root.clone()];
    let mut i = 0;
    while i < trees.len() {
        for dep in path_dependencies(&trees[i])? {
            if !trees.iter().any(|t| dep.starts_with(t)) {
                trees.push(dep);
            }
        }
        i += 1;
    }
    let mut files = Vec::new();
    for tree in &trees {
        walk(tree, &mut files)?;
    }
    for above in root.ancestors().skip(1) {
        for name in [".cargo/config.toml", ".cargo/config", "rust-toolchain.toml", "rust-toolchain"] {
            let f = above.join(name);
            if f.is_file() {
                files.push(f);
            }
        }
    }
    let mut all = Vec::new();
    for f in &files {
        let contents = match std::fs::symlink_metadata(f) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::read_link(f).map(|t| t.into_os_string().into_encoded_bytes())
            }
            _ => std::fs::read(f),
        }
        .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        // Paths relative to the workspace, so that the same sources elsewhere hash the same.
        let name = f.strip_prefix(&root).unwrap_or(f);
        for part in [name.to_string_lossy().as_bytes(), &contents] {
            all.extend_from_slice(&(part.len() as u64).to_le_bytes());
            all.extend_from_slice(part);
        }
    }
    Ok(runner_sandbox::content_hash(&all))
}

/// The folder cargo treats as the workspace of the crate in `dir`.
fn workspace_root(dir: &Path) -> PathBuf {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    for d in dir.ancestors() {
        let is_workspace = std::fs::read_to_string(d.join("Cargo.toml"))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .is_some_and(|t| t.contains_key("workspace"));
        if is_workspace {
            return d.to_path_buf();
        }
    }
    dir
}

/// Folders of `path =` dependencies (and patches) named by the manifests under `tree`.
fn path_dependencies(tree: &Path) -> Result<Vec<PathBuf>, String> {
    let mut manifests = Vec::new();
    walk(tree, &mut manifests)?;
    let mut out = Vec::new();
    for m in manifests.iter().filter(|m| m.file_name().is_some_and(|n| n == "Cargo.toml")) {
        let Some(table) = std::fs::read_to_string(m).ok().and_then(|t| t.parse::<toml::Table>().ok()) else {
            continue;
        };
        let base = m.parent().expect("a file in a folder");
        collect_paths(&toml::Value::Table(table), false, &mut |p| {
            if let Ok(real) = base.join(p).canonicalize() {
                out.push(real);
            }
        });
    }
    Ok(out)
}

fn collect_paths(v: &toml::Value, in_deps: bool, found: &mut dyn FnMut(&str)) {
    if let toml::Value::Table(t) = v {
        if in_deps && let Some(toml::Value::String(p)) = t.get("path") {
            found(p);
        }
        for (k, child) in t {
            collect_paths(child, in_deps || k.contains("dependencies") || k == "patch" || k == "replace", found);
        }
    }
}

/// Every file under `dir`, but `target/` and `.git/`; links are listed, not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if name != "target" && name != ".git" {
                walk(&e.path(), out)?;
            }
        } else {
            out.push(e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_the_workspace_and_path_dependencies_but_not_build_output() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path().join("ws");
        std::fs::create_dir_all(ws.join("plugin/src")).unwrap();
        std::fs::create_dir_all(ws.join("target/release")).unwrap();
        std::fs::create_dir_all(d.path().join("sdk/src")).unwrap();
        std::fs::write(ws.join("Cargo.toml"), "[workspace]\nmembers = [\"plugin\"]\n").unwrap();
        std::fs::write(
            ws.join("plugin/Cargo.toml"),
            "[package]\nname = \"p\"\n[dependencies]\nsdk = { path = \"../../sdk\" }\n",
        )
        .unwrap();
        std::fs::write(ws.join("plugin/src/lib.rs"), "fn a() {}").unwrap();
        std::fs::write(d.path().join("sdk/src/lib.rs"), "pub fn s() {}").unwrap();
        let h = |_: &str| sources_hash(&ws.join("plugin")).unwrap();
        let before = h("");
        std::fs::write(ws.join("target/release/x.wasm"), "built").unwrap();
        assert_eq!(h(""), before, "build output changes nothing");
        std::fs::write(d.path().join("sdk/src/lib.rs"), "pub fn s2() {}").unwrap();
        let after_sdk = h("");
        assert_ne!(after_sdk, before, "a path dependency outside the workspace counts");
        std::fs::create_dir_all(ws.join(".cargo")).unwrap();
        std::fs::write(ws.join(".cargo/config.toml"), "[build]\nrustflags = []\n").unwrap();
        assert_ne!(h(""), after_sdk, "cargo configuration counts");
    }
}
