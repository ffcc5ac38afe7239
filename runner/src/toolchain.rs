//! The WebAssembly target plugins are built for, and making sure the toolchain has it. Used by
//! `runner` when it builds a plugin from source, and (included by path) by the test harnesses,
//! so that a fresh machine needs nothing installed by hand. Standard library only, for that.

use std::path::Path;
use std::process::Command;

/// The target the plugins in `plugins/` are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Adds [`WASM_TARGET`] to the toolchain that builds in `dir` when it is missing, telling `say`:
/// a fresh machine has only the host target, and rustup installs a `rust-toolchain.toml`'s
/// targets on `rustup toolchain install`, not on a plain `cargo build`. Without rustup nothing
/// is done (the build then says what is missing). `Err` says why the target could not be added.
pub fn ensure_wasm_target(dir: &Path, say: &dyn Fn(&str)) -> Result<(), String> {
    let Ok(listed) = Command::new("rustup").args(["target", "list", "--installed"]).current_dir(dir).output() else {
        return Ok(());
    };
    if !listed.status.success() || String::from_utf8_lossy(&listed.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    say(&format!("adding the {WASM_TARGET} target to the Rust toolchain (rustup target add {WASM_TARGET})"));
    let added = Command::new("rustup").args(["target", "add", WASM_TARGET]).current_dir(dir).output();
    match added {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            Err(format!("`rustup target add {WASM_TARGET}` failed: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
        Err(e) => Err(format!("`rustup target add {WASM_TARGET}` could not run: {e}")),
    }
}
