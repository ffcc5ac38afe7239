//! Test support shared by the e2e harness and the sandbox tests (included with `#[path]`).

use std::path::Path;
use std::process::Command;

/// The target the plugins in `plugins/` are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Adds the WebAssembly target to the toolchain that builds in `dir` when it is missing, saying
/// so: a fresh machine has only the host target, and rustup installs a `rust-toolchain.toml`'s
/// targets on `rustup toolchain install`, not on a plain `cargo build`. Without rustup, nothing
/// is done and the build says what is missing.
pub fn ensure_wasm_target(dir: &Path) {
    let Ok(listed) = Command::new("rustup").args(["target", "list", "--installed"]).current_dir(dir).output() else {
        return;
    };
    if !listed.status.success() || String::from_utf8_lossy(&listed.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
        return;
    }
    eprintln!("adding the {WASM_TARGET} target to build the test plugins (rustup target add {WASM_TARGET})");
    let added = Command::new("rustup").args(["target", "add", WASM_TARGET]).current_dir(dir).status();
    assert!(added.is_ok_and(|s| s.success()), "`rustup target add {WASM_TARGET}` failed");
}
