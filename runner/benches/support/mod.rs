//! What the benchmarks share: the repository's plugins, built from source as the tests build them.

use std::path::PathBuf;

/// Builds `plugins/` for wasm32-wasip2 (adding the target if missing) and returns where the
/// components are.
pub fn built_plugins() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    runner::toolchain::ensure_wasm_target(&root, &|s| eprintln!("{s}")).unwrap();
    let out = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "building plugins failed:\n{}", String::from_utf8_lossy(&out.stderr));
    root.join("../target/plugins/wasm32-wasip2/release").canonicalize().unwrap()
}
