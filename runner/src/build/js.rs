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
//! time (which needs `node` and `npm`), saying so: `npm ci` from the lock file shipped in runner
//! (`js_toolchain/package-lock.json`, every package's integrity hash), with install scripts off.

use super::kept::{Kept, WorkDir};
use super::sources::Sources;
use super::toolchain_dir::{self, Pinned};
use super::{BuildDirs, confine, run_tool, tail};
use crate::error::RunnerError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-qjs release plugins are built with: the one the SDK and the host are tested
/// against.
pub const COMPONENTIZE_QJS: &str = "0.4.5";

/// The JavaScript SDK, shipped inside runner so that a plugin folder needs only its own code.
const SDK: &str = include_str!("../../../plugins/sdk-js/runner-plugin/index.js");
const SDK_PACKAGE: &str = include_str!("../../../plugins/sdk-js/runner-plugin/package.json");

/// What npm installs componentize-qjs from: its package file and lock (with each package's
/// integrity hash). A new [`COMPONENTIZE_QJS`] needs both regenerated (`npm install
/// --package-lock-only` on the package file).
const TOOL_PACKAGE: &str = include_str!("js_toolchain/package.json");
const TOOL_LOCK: &str = include_str!("js_toolchain/package-lock.json");

type Fail<'a> = &'a dyn Fn(String) -> RunnerError;

/// What a build reads besides the plugin's files.
const PARTS: [&str; 4] = [COMPONENTIZE_QJS, SDK, SDK_PACKAGE, runner_sandbox::WORLD_WIT];

/// The hash of everything a build of `dir` reads (what it is kept and locked under).
pub fn sources_hash(dir: &Path) -> Result<String, String> {
    Sources::of(dir)?.hash(&PARTS).map_err(|e| format!("cannot read the plugin's files: {e}"))
}

pub fn build(plugin: &str, dir: &Path, dirs: &BuildDirs, fail: Fail) -> Result<Vec<u8>, RunnerError> {
    if !dir.join("app.js").is_file() {
        return Err(fail("a JavaScript plugin's module is `app.js`, and there is none".into()));
    }
    let sources = Sources::of(dir).map_err(|e| fail(e.to_string()))?;
    let kept =
        Kept::new(dirs, "js", &sources, &PARTS).map_err(|e| fail(format!("cannot read the plugin's files: {e}")))?;
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
    sources
        .copy_to(&src)
        .and_then(|()| std::fs::write(&wit, runner_sandbox::WORLD_WIT))
        .and_then(|()| std::fs::create_dir_all(&sdk))
        .and_then(|()| std::fs::write(sdk.join("index.js"), SDK))
        .and_then(|()| std::fs::write(sdk.join("package.json"), SDK_PACKAGE))
        .map_err(|e| fail(format!("cannot write the build folder {}: {e}", work.0.display())))?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (componentize-qjs {COMPONENTIZE_QJS}; a few seconds)");
    let mut cmd = tool.command(&work.0);
    cmd.args(["--sync", "--world", "backfill-columns", "--wit"]).arg(&wit).arg("--js").arg(src.join("app.js"));
    cmd.arg("--module-root").arg(&src).arg("-o").arg(&out);
    let wasm = match run_tool(&mut cmd, dirs) {
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

/// componentize-qjs, installed by runner into its own folder with npm.
struct Tool(PathBuf);

impl Tool {
    /// The command, run in `cwd` (a folder of runner's own).
    fn command(&self, cwd: &Path) -> Command {
        let mut c = confine::command(node());
        c.arg(self.0.join("node_modules/componentize-qjs/bin/componentize-qjs")).current_dir(cwd);
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
    toolchain_dir::private(toolchains).map_err(fail)?;
    let pinned = Pinned { name: "componentize-qjs", version: COMPONENTIZE_QJS, via: "npm" };
    let works = |dir: &Path| Tool(dir.to_path_buf()).version().as_deref() == Some(COMPONENTIZE_QJS);
    let npm_cache = toolchains.join(".npm-cache");
    let install = |into: &Path| {
        std::fs::create_dir_all(into)
            .and_then(|()| std::fs::write(into.join("package.json"), TOOL_PACKAGE))
            .and_then(|()| std::fs::write(into.join("package-lock.json"), TOOL_LOCK))
            .map_err(|e| format!("cannot write {}: {e}", into.display()))?;
        let mut npm = confine::command(npm());
        npm.args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", "--cache"])
            .arg(&npm_cache)
            .current_dir(into);
        npm_result(run_tool(&mut npm, dirs))
    };
    toolchain_dir::ensure(toolchains, &pinned, &works, &install).map(Tool).map_err(fail)
}

fn npm_result(run: std::io::Result<std::process::Output>) -> Result<(), String> {
    match run {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            Err(format!("installing componentize-qjs {COMPONENTIZE_QJS} with npm failed:\n{}", tail(&o.stderr, 10)))
        }
        Err(e) => Err(format!(
            "building a JavaScript plugin needs node and npm (to install componentize-qjs {COMPONENTIZE_QJS}): {e}"
        )),
    }
}
