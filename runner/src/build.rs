//! Plugins built from source (`plugin = { build = "plugins/score-band" }`): the folder says what
//! it is, and `runner` builds it the way its language does. Rust (a `Cargo.toml`): `cargo build
//! --release --target wasm32-wasip2`, adding the target when it is missing. Cargo's own
//! fingerprints (sources, toolchain, flags) decide whether anything is rebuilt, so a built
//! plugin costs a fraction of a second to confirm; the compiled-module cache then skips
//! Cranelift.

use crate::error::RunnerError;
use crate::toolchain::{WASM_TARGET, ensure_wasm_target};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the plugin in `dir` (named `plugin` in messages) and returns its component's bytes.
pub fn build_plugin(plugin: &str, dir: &Path) -> Result<Vec<u8>, RunnerError> {
    let fail =
        |message: String| RunnerError::PluginBuild { plugin: plugin.to_string(), dir: dir.to_path_buf(), message };
    if !dir.is_dir() {
        return Err(fail("no such folder".into()));
    }
    if !dir.join("Cargo.toml").exists() {
        let hint = if dir.join("package.json").exists() {
            "a JavaScript plugin: build it with componentize-js (`jco componentize`)"
        } else if dir.join("pyproject.toml").exists() || dir.join("app.py").exists() {
            "a Python plugin: build it with componentize-py"
        } else {
            "not a plugin folder runner knows"
        };
        return Err(fail(format!(
            "no Cargo.toml: {hint}, and name the .wasm in the manifest (`plugin = \"path.wasm\"`); runner builds Rust plugins from source"
        )));
    }
    ensure_wasm_target(dir, &|s| tracing::info!(plugin, "{s}")).map_err(fail)?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (cargo build --release --target {WASM_TARGET})");
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", WASM_TARGET, "--message-format=json-render-diagnostics"])
        .current_dir(dir)
        .output()
        .map_err(|e| fail(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(fail(format!("cargo build failed:\n{}", tail.join("\n"))));
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
