//! JavaScript plugins (an `app.js` exporting `describe` and `process`): componentize-qjs, at the
//! version pinned here, snapshots the QuickJS engine with the plugin's module, the modules it
//! imports and runner's JavaScript SDK (`plugins/sdk-js`, importable as `runner-plugin`) into one
//! component, with the synchronous runtime (`--sync`): the sandbox leaves component-model async
//! off. The result is kept like a Python build ([`super::kept`]).
//!
//! QuickJS rather than componentize-js (StarlingMonkey): builds in about 2 s instead of 30–60 s,
//! components of 1.6 MB instead of 12 MB, a third of the time per row, and no `wasi:http` imports
//! to disable. Its price is that 64-bit integers are JS numbers; the SDK fails a batch that holds
//! an integer beyond 2^53 instead of passing on a neighbouring value.
//!
//! componentize-qjs comes from npm (a JS wrapper and a prebuilt native binary, no other
//! dependencies). runner installs its pinned version into its own toolchain folder the first
//! time (`npm install --prefix`, which needs `node` and `npm`), saying so.

use super::kept::{Kept, WorkDir, is_source};
use super::toolchain_dir::{self, Pinned};
use super::{BuildDirs, tail};
use crate::error::RunnerError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-qjs release plugins are built with: the one the SDK and the host are tested
/// against.
pub const COMPONENTIZE_QJS: &str = "0.4.5";

/// The JavaScript SDK, shipped inside runner so that a plugin folder needs only its own code.
const SDK: &str = include_str!("../../../plugins/sdk-js/runner-plugin/index.js");
const SDK_PACKAGE: &str = include_str!("../../../plugins/sdk-js/runner-plugin/package.json");

type Fail<'a> = &'a dyn Fn(String) -> RunnerError;

pub fn build(plugin: &str, dir: &Path, dirs: &BuildDirs, fail: Fail) -> Result<Vec<u8>, RunnerError> {
    if !dir.join("app.js").is_file() {
        return Err(fail("a JavaScript plugin's module is `app.js`, and there is none".into()));
    }
    let kept = Kept::new(dirs, "js", dir, &[COMPONENTIZE_QJS, SDK, SDK_PACKAGE, runner_sandbox::WORLD_WIT])
        .map_err(|e| fail(format!("cannot read the plugin's files: {e}")))?;
    if let Some(wasm) = kept.read() {
        tracing::debug!(plugin, "built before from the same sources");
        return Ok(wasm);
    }
    let tool = componentize_qjs(dirs, fail)?;
    let work = WorkDir::new().map_err(|e| fail(format!("cannot make a build folder: {e}")))?;
    // The entry module must lie under the module root, where bare imports (`runner-plugin`, the
    // plugin's own node_modules) are resolved: the plugin's files and the SDK, side by side.
    let (src, wit, out) = (work.0.join("plugin"), work.0.join("world.wit"), work.0.join("plugin.wasm"));
    let sdk = src.join("node_modules/runner-plugin");
    copy_sources(dir, &src)
        .and_then(|()| std::fs::write(&wit, runner_sandbox::WORLD_WIT))
        .and_then(|()| std::fs::create_dir_all(&sdk))
        .and_then(|()| std::fs::write(sdk.join("index.js"), SDK))
        .and_then(|()| std::fs::write(sdk.join("package.json"), SDK_PACKAGE))
        .map_err(|e| fail(format!("cannot write the build folder {}: {e}", work.0.display())))?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (componentize-qjs {COMPONENTIZE_QJS}; a few seconds)");
    let mut cmd = tool.command();
    cmd.args(["--sync", "--world", "backfill-columns", "--wit"]).arg(&wit).arg("--js").arg(src.join("app.js"));
    cmd.arg("--module-root").arg(&src).arg("-o").arg(&out);
    let wasm = match cmd.output() {
        Ok(o) if o.status.success() => {
            std::fs::read(&out).map_err(|e| fail(format!("componentize-qjs wrote nothing: {e}")))?
        }
        Ok(o) => {
            let said = [tail(&o.stderr, 20), tail(&o.stdout, 5)].join("\n");
            return Err(fail(format!("componentize-qjs failed:\n{}", said.trim())));
        }
        Err(e) => return Err(fail(format!("cannot run componentize-qjs: {e}"))),
    };
    kept.store(plugin, &wasm);
    Ok(wasm)
}

/// The plugin's sources (what its build hash covers) into `to`.
fn copy_sources(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if !is_source(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_sources(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// componentize-qjs, installed by runner into its own folder with npm.
struct Tool(PathBuf);

impl Tool {
    fn command(&self) -> Command {
        let mut c = Command::new(node());
        c.arg(self.0.join("node_modules/componentize-qjs/bin/componentize-qjs"));
        c
    }

    /// The version npm installed, from the package's own manifest.
    fn version(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.0.join("node_modules/componentize-qjs/package.json")).ok()?;
        let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
        doc["version"].as_str().map(str::to_string)
    }
}

fn node() -> std::ffi::OsString {
    std::env::var_os("NODE").unwrap_or_else(|| "node".into())
}

fn npm() -> std::ffi::OsString {
    std::env::var_os("NPM").unwrap_or_else(|| "npm".into())
}

/// componentize-qjs at [`COMPONENTIZE_QJS`]: in the toolchain folder, or installed there now.
fn componentize_qjs(dirs: &BuildDirs, fail: Fail) -> Result<Tool, RunnerError> {
    let Some(toolchains) = &dirs.toolchains else {
        return Err(fail(format!(
            "componentize-qjs {COMPONENTIZE_QJS} is needed, and runner has no home folder to install it into"
        )));
    };
    let pinned = Pinned { name: "componentize-qjs", version: COMPONENTIZE_QJS, via: "npm" };
    let works = |dir: &Path| Tool(dir.to_path_buf()).version().as_deref() == Some(COMPONENTIZE_QJS);
    let install = |into: &Path| match Command::new(npm())
        .args(["install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", "--prefix"])
        .arg(into)
        .arg(format!("componentize-qjs@{COMPONENTIZE_QJS}"))
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            Err(format!("installing componentize-qjs {COMPONENTIZE_QJS} with npm failed:\n{}", tail(&o.stderr, 10)))
        }
        Err(e) => Err(format!(
            "building a JavaScript plugin needs node and npm (to install componentize-qjs {COMPONENTIZE_QJS}): {e}"
        )),
    };
    toolchain_dir::ensure(toolchains, &pinned, &works, &install).map(Tool).map_err(fail)
}
