//! Python plugins (an `app.py` binding `WitWorld`): componentize-py, at the version pinned here,
//! bundles CPython, the plugin's files and runner's Python SDK (`plugins/sdk-py`) into one
//! component. That takes about 20 seconds, so the result is kept ([`super::kept`]).
//!
//! componentize-py comes from PyPI. runner installs its pinned version into its own toolchain
//! folder the first time, saying so, unless the `componentize-py` on PATH is that version. The
//! install takes only the wheels whose SHA-256 is written below (`pip --require-hashes`, wheels
//! only, no dependencies), and every interpreter runs isolated (`python3 -I`: no current folder,
//! no `PYTHONPATH`, no user site) in a folder of runner's own, so that a `pip/` or
//! `componentize_py/` folder in the project can never stand in for the real one.

use super::kept::{Kept, WorkDir};
use super::sources::Sources;
use super::toolchain_dir::{self, Pinned};
use super::{BuildDirs, confine, run_tool, tail};
use crate::error::RunnerError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py release plugins are built with: the one the SDK and the host are tested
/// against (0.25 builds components of WASI 0.2.9, which the sandbox links).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The SHA-256 of every wheel of [`COMPONENTIZE_PY`] on PyPI (from its simple index): pip takes
/// none but these. The package has no dependencies.
const WHEELS: &[&str] = &[
    "65fbc4a94df1de8acf7da50a1f5ed1711230188844e53e6332d99029be4e0afa", // macosx_10_12_x86_64
    "a556991534cc496207a9d2ca733c4b0f17ed38ef56a8d6b5f1847fdf1225dd1b", // macosx_11_0_arm64
    "7b6a87c520358166843af0daa86d2312d7af4cbcbbf1e598951085cf7f2991ca", // manylinux_2_28_aarch64
    "8623cd8cab8453cb0cd8bf03f3c7103420d06f2f3d360186a280a70a1ca5e89f", // manylinux_2_28_x86_64
    "c7fd552fb0849858b0c1e8981543ed5dff4b0cc1597a8ea0bc26a495786dc0c6", // win_amd64
];

/// The Python SDK, shipped inside runner so that a plugin folder needs only its own code.
const SDK: &str = include_str!("../../../plugins/sdk-py/runner_plugin/__init__.py");

type Fail<'a> = &'a dyn Fn(String) -> RunnerError;

/// What a build reads besides the plugin's files.
const PARTS: [&str; 3] = [COMPONENTIZE_PY, SDK, runner_sandbox::WORLD_WIT];

/// The hash of everything a build of `dir` reads (what it is kept and locked under).
pub fn sources_hash(dir: &Path) -> Result<String, String> {
    Sources::of(dir)?.hash(&PARTS).map_err(|e| format!("cannot read the plugin's files: {e}"))
}

pub fn build(plugin: &str, dir: &Path, dirs: &BuildDirs, fail: Fail) -> Result<Vec<u8>, RunnerError> {
    let sources = Sources::of(dir).map_err(|e| fail(e.to_string()))?;
    let kept =
        Kept::new(dirs, "py", &sources, &PARTS).map_err(|e| fail(format!("cannot read the plugin's files: {e}")))?;
    if let Some(wasm) = kept.read() {
        tracing::debug!(plugin, "built before from the same sources");
        return Ok(wasm);
    }
    let tool = componentize_py(dirs, fail)?;
    let work = WorkDir::new().map_err(|e| fail(format!("cannot make a build folder: {e}")))?;
    let (src, wit, sdk, out) =
        (work.0.join("plugin"), work.0.join("wit"), work.0.join("sdk"), work.0.join("plugin.wasm"));
    sources
        .copy_to(&src)
        .and_then(|()| std::fs::create_dir_all(&wit))
        .and_then(|()| std::fs::write(wit.join("world.wit"), runner_sandbox::WORLD_WIT))
        .and_then(|()| std::fs::create_dir_all(sdk.join("runner_plugin")))
        .and_then(|()| std::fs::write(sdk.join("runner_plugin/__init__.py"), SDK))
        .map_err(|e| fail(format!("cannot write the build folder {}: {e}", work.0.display())))?;
    tracing::info!(plugin, dir = %dir.display(), "building the plugin (componentize-py {COMPONENTIZE_PY}; about 20 s)");
    let mut cmd = tool.command(&work.0);
    cmd.arg("-d").arg(&wit).args(["-w", "backfill-columns", "componentize", "-p"]).arg(&src).arg("-p").arg(&sdk);
    cmd.args(["app", "-o"]).arg(&out);
    let wasm = match run_tool(&mut cmd, dirs) {
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
    /// The command, run in `cwd` (a folder of runner's own).
    fn command(&self, cwd: &Path) -> Command {
        let mut c = match self {
            Tool::OnPath => confine::command("componentize-py"),
            Tool::Installed(dir) => {
                // Isolated: only the toolchain folder is added to the path, explicitly.
                let mut c = confine::command(python());
                c.args([
                    "-I",
                    "-c",
                    "import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'componentize-py'; \
                     from componentize_py import script; sys.exit(script())",
                ])
                .arg(dir);
                c
            }
        };
        c.current_dir(cwd);
        c
    }
}

fn python() -> std::ffi::OsString {
    std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into())
}

/// componentize-py at [`COMPONENTIZE_PY`]: on PATH, in the toolchain folder, or installed there now.
fn componentize_py(dirs: &BuildDirs, fail: Fail) -> Result<Tool, RunnerError> {
    let Some(toolchains) = &dirs.toolchains else {
        return Err(fail(format!(
            "componentize-py {COMPONENTIZE_PY} is needed: `pip install componentize-py=={COMPONENTIZE_PY}` (runner has no home folder to install it into)"
        )));
    };
    let version = |tool: Tool| {
        let mut c = tool.command(toolchains);
        c.arg("--version");
        run_tool(&mut c, dirs)
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let wanted = format!("componentize-py {COMPONENTIZE_PY}");
    toolchain_dir::private(toolchains).map_err(fail)?;
    if version(Tool::OnPath).as_deref() == Some(wanted.as_str()) {
        return Ok(Tool::OnPath);
    }
    let pinned = Pinned { name: "componentize-py", version: COMPONENTIZE_PY, via: "pip" };
    let works = |dir: &Path| version(Tool::Installed(dir.to_path_buf())).as_deref() == Some(wanted.as_str());
    let install = |into: &Path| {
        let work = WorkDir::new().map_err(|e| format!("cannot make an install folder: {e}"))?;
        let hashes: String = WHEELS.iter().map(|h| format!(" --hash=sha256:{h}")).collect();
        let requirements = work.0.join("requirements.txt");
        std::fs::write(&requirements, format!("componentize-py=={COMPONENTIZE_PY}{hashes}\n"))
            .map_err(|e| format!("cannot write {}: {e}", requirements.display()))?;
        let mut pip = confine::command(python());
        pip.args(["-I", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"])
            .args(["--require-hashes", "--only-binary=:all:", "--no-deps", "--no-cache-dir", "--target"])
            .arg(into)
            .arg("-r")
            .arg(&requirements)
            .current_dir(&work.0);
        match run_tool(&mut pip, dirs) {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "installing componentize-py {COMPONENTIZE_PY} with pip failed (install it yourself: `pip install componentize-py=={COMPONENTIZE_PY}`):\n{}",
                tail(&o.stderr, 10)
            )),
            Err(e) => Err(format!(
                "building a Python plugin needs python3 (to install componentize-py {COMPONENTIZE_PY}): {e}"
            )),
        }
    };
    toolchain_dir::ensure(toolchains, &pinned, &works, &install).map(Tool::Installed).map_err(fail)
}
