//! Rust plugins (a `Cargo.toml`): `cargo build --release --target wasm32-wasip2`, adding the
//! target when it is missing. Cargo's own fingerprints (sources, toolchain, flags) decide whether
//! anything is rebuilt, so a built plugin costs a fraction of a second to confirm; the
//! compiled-module cache then skips Cranelift.

use crate::toolchain::{WASM_TARGET, ensure_wasm_target};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the crate in `dir`; the component's bytes, or why not.
pub fn build(
    plugin: &str,
    dir: &Path,
    fail: &dyn Fn(String) -> crate::RunnerError,
) -> Result<Vec<u8>, crate::RunnerError> {
    ensure_wasm_target(dir, &|s| tracing::info!(plugin, "{s}")).map_err(fail)?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (cargo build --release --target {WASM_TARGET})");
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", WASM_TARGET, "--message-format=json-render-diagnostics"])
        .current_dir(dir)
        .output()
        .map_err(|e| fail(format!("cannot run cargo: {e}")))?;
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
