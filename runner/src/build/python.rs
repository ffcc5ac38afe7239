//! Python plugins (an `app.py` binding `WitWorld`): componentize-py, at the version pinned here,
//! bundles CPython, the plugin's folder and runner's Python SDK (`plugins/sdk-py`) into one
//! component. That takes about 20 seconds, so the result is kept ([`super::kept`]).
//!
//! componentize-py comes from PyPI. runner installs its pinned version into its own toolchain
//! folder (`pip install --target`, which needs only `python3`) the first time, saying so, unless
//! the `componentize-py` on PATH is that version.

use super::kept::{Kept, WorkDir};
use super::toolchain_dir::{self, Pinned};
use super::{BuildDirs, tail};
use crate::error::RunnerError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py release plugins are built with: the one the SDK and the host are tested
/// against (0.25 builds components of WASI 0.2.9, which the sandbox links).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The Python SDK, shipped inside runner so that a plugin folder needs only its own code.
const SDK: &str = include_str!("../../../plugins/sdk-py/runner_plugin/__init__.py");

type Fail<'a> = &'a dyn Fn(String) -> RunnerError;

pub fn build(plugin: &str, dir: &Path, dirs: &BuildDirs, fail: Fail) -> Result<Vec<u8>, RunnerError> {
    let kept = Kept::new(dirs, "py", dir, &[COMPONENTIZE_PY, SDK, runner_sandbox::WORLD_WIT])
        .map_err(|e| fail(format!("cannot read the plugin's files: {e}")))?;
    if let Some(wasm) = kept.read() {
        tracing::debug!(plugin, "built before from the same sources");
        return Ok(wasm);
    }
    let tool = componentize_py(dirs, fail)?;
    let work = WorkDir::new().map_err(|e| fail(format!("cannot make a build folder: {e}")))?;
    let (wit, sdk, out) = (work.0.join("wit"), work.0.join("sdk"), work.0.join("plugin.wasm"));
    std::fs::create_dir_all(&wit)
        .and_then(|()| std::fs::write(wit.join("world.wit"), runner_sandbox::WORLD_WIT))
        .and_then(|()| std::fs::create_dir_all(sdk.join("runner_plugin")))
        .and_then(|()| std::fs::write(sdk.join("runner_plugin/__init__.py"), SDK))
        .map_err(|e| fail(format!("cannot write the build folder {}: {e}", work.0.display())))?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (componentize-py {COMPONENTIZE_PY}; about 20 s)");
    let mut cmd = tool.command();
    cmd.arg("-d").arg(&wit).args(["-w", "backfill-columns", "componentize", "-p"]).arg(dir).arg("-p").arg(&sdk);
    cmd.args(["app", "-o"]).arg(&out);
    let wasm = match cmd.output() {
        Ok(o) if o.status.success() => {
            std::fs::read(&out).map_err(|e| fail(format!("componentize-py wrote nothing: {e}")))?
        }
        Ok(o) => return Err(fail(format!("componentize-py failed:\n{}", tail(&o.stderr, 20)))),
        Err(e) => return Err(fail(format!("cannot run componentize-py: {e}"))),
    };
    kept.store(plugin, &wasm);
    Ok(wasm)
}

/// How to run componentize-py.
enum Tool {
    /// The pinned version on PATH.
    OnPath,
    /// Installed by runner with `pip install --target` into this folder.
    Installed(PathBuf),
}

impl Tool {
    fn command(&self) -> Command {
        match self {
            Tool::OnPath => Command::new("componentize-py"),
            Tool::Installed(dir) => {
                let mut c = Command::new(python());
                c.env("PYTHONPATH", dir).args([
                    "-c",
                    "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())",
                ]);
                c
            }
        }
    }
}

fn python() -> std::ffi::OsString {
    std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into())
}

/// componentize-py at [`COMPONENTIZE_PY`]: on PATH, in the toolchain folder, or installed there now.
fn componentize_py(dirs: &BuildDirs, fail: Fail) -> Result<Tool, RunnerError> {
    let version = |mut c: Command| {
        c.arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let wanted = format!("componentize-py {COMPONENTIZE_PY}");
    if version(Tool::OnPath.command()).as_deref() == Some(wanted.as_str()) {
        return Ok(Tool::OnPath);
    }
    let Some(toolchains) = &dirs.toolchains else {
        return Err(fail(format!(
            "componentize-py {COMPONENTIZE_PY} is needed: `pip install componentize-py=={COMPONENTIZE_PY}` (runner has no home folder to install it into)"
        )));
    };
    let pinned = Pinned { name: "componentize-py", version: COMPONENTIZE_PY, via: "pip" };
    let works = |dir: &Path| version(Tool::Installed(dir.to_path_buf()).command()).as_deref() == Some(wanted.as_str());
    let install = |into: &Path| match Command::new(python())
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "--target"])
        .arg(into)
        .arg(format!("componentize-py=={COMPONENTIZE_PY}"))
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "installing componentize-py {COMPONENTIZE_PY} with pip failed (install it yourself: `pip install componentize-py=={COMPONENTIZE_PY}`):\n{}",
            tail(&o.stderr, 10)
        )),
        Err(e) => {
            Err(format!("building a Python plugin needs python3 (to install componentize-py {COMPONENTIZE_PY}): {e}"))
        }
    };
    toolchain_dir::ensure(toolchains, &pinned, &works, &install).map(Tool::Installed).map_err(fail)
}
