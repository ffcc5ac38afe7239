//! What the sandbox test files share: plugins built from `plugins/`, one sandbox, probe batches.
#![allow(dead_code)]

use runner_sandbox::{Batch, Change, Grants, Limits, Sandbox, SandboxConfig, SandboxError, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "../../../../runner/src/toolchain.rs"]
mod toolchain;

/// Builds the plugin workspace once per test process and returns a plugin's bytes.
pub fn wasm(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins");
        toolchain::ensure_wasm_target(&root, &|s| eprintln!("{s}")).unwrap();
        let out = std::process::Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet"])
            .current_dir(&root)
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "building plugins failed:\n{}", String::from_utf8_lossy(&out.stderr));
        root.join("../target/plugins/wasm32-wasip2/release")
    });
    std::fs::read(dir.join(format!("{name}.wasm"))).unwrap_or_else(|e| panic!("{name}.wasm: {e}"))
}

pub fn sandbox() -> &'static Sandbox {
    static S: OnceLock<Sandbox> = OnceLock::new();
    S.get_or_init(|| Sandbox::new(SandboxConfig::default()).unwrap())
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// One row for the probe: `cmd`, `n` (and `url`), keyed by `id`.
pub fn batch(cmd: &str, n: i64) -> Batch {
    batch_url(cmd, n, "")
}

pub fn batch_url(cmd: &str, n: i64, url: &str) -> Batch {
    Batch {
        columns: vec!["id".into(), "cmd".into(), "n".into(), "url".into()],
        key: vec!["id".into()],
        rows: vec![vec![Value::Integer(1), Value::Text(cmd.into()), Value::Integer(n), Value::Text(url.into())]],
    }
}

pub fn run(cmd: &str, n: i64, limits: Limits, grants: Grants) -> Result<Vec<Change>, SandboxError> {
    let plugin = sandbox().load("probe", &wasm("probe"), limits, grants)?;
    rt().block_on(plugin.process(&batch(cmd, n)))
}

/// The `out` value of the probe's single update.
pub fn out(changes: &[Change]) -> Value {
    match &changes[0] {
        Change::Update(u) => {
            assert!(matches!(u.key[..], [Value::Integer(1)]), "key carried through: {:?}", u.key);
            u.set.iter().find(|a| a.column == "out").unwrap().value.clone()
        }
        other => panic!("expected an update, got {other:?}"),
    }
}

pub fn limits() -> Limits {
    Limits::default()
}
