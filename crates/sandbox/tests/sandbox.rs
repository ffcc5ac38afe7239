//! The sandbox against real plugins compiled from `plugins/` for wasm32-wasip2. Every limit is
//! tested twice, once within it and once over it, and every capability denied and granted.

mod common;

use common::{batch, batch_url, limits, out, rt, run, sandbox, wasm};
use runner_sandbox::{Batch, Change, Grants, Limits, Lookup, LookupError, Sandbox, SandboxConfig, SandboxError, Value};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_batch_within_its_time_limit_completes() {
    let changes =
        run("work", 100_000, Limits { batch_timeout: Duration::from_secs(5), ..limits() }, Grants::default()).unwrap();
    assert!(matches!(out(&changes), Value::Integer(_)));
}

#[test]
fn an_endless_loop_is_stopped_at_the_time_limit() {
    let e = run("spin", 0, Limits { batch_timeout: Duration::from_millis(200), ..limits() }, Grants::default())
        .unwrap_err();
    assert!(matches!(e, SandboxError::Timeout { .. }), "{e:?}");
    assert_eq!(e.to_string(), "plugin probe: batch took longer than its limit of 200ms and was stopped");
}

#[test]
fn memory_within_the_limit_is_fine() {
    let changes = run("alloc", 8, Limits { memory_bytes: 64 << 20, ..limits() }, Grants::default()).unwrap();
    assert_eq!(out(&changes), Value::Integer(8 << 20));
}

#[test]
fn memory_over_the_limit_fails_the_batch() {
    let e = run("alloc", 128, Limits { memory_bytes: 32 << 20, ..limits() }, Grants::default()).unwrap_err();
    assert!(matches!(e, SandboxError::MemoryExceeded { limit_bytes, .. } if limit_bytes == 32 << 20), "{e:?}");
}

#[test]
fn recursion_within_the_stack_limit_is_fine() {
    let changes = run("recurse", 500, limits(), Grants::default()).unwrap();
    assert_eq!(out(&changes), Value::Integer(500));
}

#[test]
fn recursion_over_the_stack_limit_fails_the_batch() {
    let e = run("recurse", 10_000_000, limits(), Grants::default()).unwrap_err();
    assert!(matches!(e, SandboxError::StackOverflow { .. }), "{e:?}");
}

#[test]
fn a_panic_is_a_trap_with_the_plugins_message() {
    let e = run("trap", 0, limits(), Grants::default()).unwrap_err();
    assert!(matches!(e, SandboxError::Trapped { .. }), "{e:?}");
    assert!(e.to_string().contains("probe was told to trap"), "{e}");
}

#[test]
fn a_panic_after_much_stderr_keeps_its_message_and_the_output_stays_bounded() {
    // Within what is kept whole, and far over it (1 MiB): the panic message survives both.
    for kib in [2, 1024] {
        let e = run("shout", kib, limits(), Grants::default()).unwrap_err();
        assert!(matches!(e, SandboxError::Trapped { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("probe shouted, then trapped"), "{kib} KiB: {}", &text[text.len().saturating_sub(300)..]);
        assert!(text.len() <= runner_sandbox::MAX_PLUGIN_MESSAGE + 200, "{kib} KiB: {} bytes", text.len());
    }
}

#[test]
fn a_plugin_error_is_reported_as_such() {
    let e = run("fail", 7, limits(), Grants::default()).unwrap_err();
    assert_eq!(e.to_string(), "plugin probe: returned an error: probe refuses row 7");
}

#[test]
fn huge_output_within_memory_is_returned_and_beyond_it_fails() {
    let changes = run("many", 10_000, limits(), Grants::default()).unwrap();
    assert_eq!(changes.len(), 10_000);
    let e = run("many", 5_000_000, Limits { memory_bytes: 16 << 20, ..limits() }, Grants::default()).unwrap_err();
    assert!(matches!(e, SandboxError::MemoryExceeded { .. }), "{e:?}");
}

#[test]
fn the_host_keeps_working_after_a_plugin_fails() {
    let plugin = sandbox()
        .load(
            "probe",
            &wasm("probe"),
            Limits { batch_timeout: Duration::from_millis(100), ..limits() },
            Grants::default(),
        )
        .unwrap();
    let rt = rt();
    assert!(rt.block_on(plugin.process(&batch("spin", 0))).is_err());
    assert!(rt.block_on(plugin.process(&batch("trap", 0))).is_err());
    assert_eq!(out(&rt.block_on(plugin.process(&batch("noop", 0))).unwrap()), Value::Text("ok".into()));
}

#[test]
fn every_capability_is_denied_without_a_grant() {
    for (cmd, capability) in [
        ("log", "log"),
        ("config", "config"),
        ("lookup", "lookup"),
        ("http", "http"),
        ("clock", "clock"),
        ("random", "random"),
    ] {
        let e = run(cmd, 0, limits(), Grants::default()).unwrap_err();
        assert!(matches!(e, SandboxError::Denied { capability: c, .. } if c == capability), "{cmd}: {e:?}");
        assert_eq!(e.to_string(), format!("plugin probe: called `{capability}`, which its manifest does not grant"));
    }
}

struct OneRow;

#[async_trait::async_trait]
impl Lookup for OneRow {
    async fn lookup(&self, query: &str, _params: Vec<Value>) -> Result<Vec<Vec<Value>>, LookupError> {
        assert_eq!(query, "SELECT 1");
        Ok(vec![vec![Value::Integer(1)]])
    }
}

#[test]
fn granted_capabilities_work() {
    let g = Grants { log: true, ..Grants::default() };
    assert_eq!(out(&run("log", 3, limits(), g).unwrap()), Value::Text("logged".into()));
    let g = Grants { config: [("greeting".to_string(), "hello".to_string())].into(), ..Grants::default() };
    assert_eq!(out(&run("config", 0, limits(), g).unwrap()), Value::Text("hello".into()));
    let g = Grants { clock: true, ..Grants::default() };
    assert!(matches!(out(&run("clock", 0, limits(), g).unwrap()), Value::Integer(ms) if ms > 1_700_000_000_000));
    let g = Grants { random: true, ..Grants::default() };
    assert_eq!(out(&run("random", 0, limits(), g).unwrap()), Value::Integer(8));
    let g = Grants { lookup: Some(Arc::new(OneRow)), ..Grants::default() };
    assert_eq!(out(&run("lookup", 0, limits(), g).unwrap()), Value::Integer(1));
}

#[test]
fn wasi_has_no_clock_files_or_environment() {
    assert_eq!(out(&run("wasi-clock", 0, limits(), Grants::default()).unwrap()), Value::Integer(0));
    assert_eq!(out(&run("wasi-env", 0, limits(), Grants::default()).unwrap()), Value::Integer(0));
    match out(&run("wasi-file", 0, limits(), Grants::default()).unwrap()) {
        Value::Text(t) => assert!(t.starts_with("denied"), "{t}"),
        other => panic!("{other:?}"),
    }
    // With the clock granted, WASI's clock is the real one.
    let g = Grants { clock: true, ..Grants::default() };
    assert!(matches!(out(&run("wasi-clock", 0, limits(), g).unwrap()), Value::Integer(s) if s > 1_700_000_000));
}

/// A one-shot HTTP server on loopback that answers every request with `body`.
fn serve_once(body: &'static str) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (format!("http://127.0.0.1:{}", addr.port()), handle)
}

#[test]
fn http_reaches_allow_listed_origins_only() {
    let (origin, server) = serve_once("enriched");
    let g = Grants { http_origins: vec![origin.clone()], ..Grants::default() };
    let plugin = sandbox().load("probe", &wasm("probe"), limits(), g).unwrap();
    let rt = rt();
    let changes = rt.block_on(plugin.process(&batch_url("http", 0, &format!("{origin}/lookup?id=1")))).unwrap();
    assert_eq!(out(&changes), Value::Text("200 enriched".into()));
    server.join().unwrap();
    // Another port on the same host is another origin.
    let e = rt.block_on(plugin.process(&batch_url("http", 0, "http://127.0.0.1:9/x"))).unwrap_err();
    assert!(matches!(e, SandboxError::Denied { capability: "http", .. }), "{e:?}");
}

#[test]
fn components_of_another_world_and_garbage_are_rejected_at_load() {
    let e = sandbox().load("wrong", &wasm("wrong_world"), limits(), Grants::default()).err().unwrap();
    assert!(matches!(e, SandboxError::WrongWorld { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(
            "plugin wrong: implements neither runner:plugin/backfill@0.1.0 nor runner:plugin/backfill-columns@0.1.0"
        ),
        "{e}"
    );
    // A JavaScript runtime's default `fetch` support: the error says how to build without it.
    let http = wat::parse_str(
        r#"(component (import "wasi:http/types@0.2.10" (instance (export "fields" (type (sub resource))))))"#,
    )
    .unwrap();
    let e = sandbox().load("fetching", &http, limits(), Grants::default()).err().unwrap();
    assert!(matches!(e, SandboxError::WrongWorld { .. }), "{e:?}");
    assert!(e.to_string().contains("wasi:http"), "{e}");
    assert!(e.to_string().contains("build without it (componentize-js: `-d http -d fetch-event`"), "{e}");
    let e = sandbox().load("garbage", b"\0asm\x01\0\0\0garbage", limits(), Grants::default()).err().unwrap();
    assert!(matches!(e, SandboxError::Invalid { .. }), "{e:?}");
    let e = sandbox().load("text", b"not wasm at all", limits(), Grants::default()).err().unwrap();
    assert!(e.to_string().starts_with("plugin text: not a valid WebAssembly component"), "{e}");
}

#[test]
fn check_lists_world_imports_and_exports_without_running() {
    // (A component only imports what it calls; the probe calls every host function.)
    let info = sandbox().check("probe", &wasm("probe")).unwrap();
    assert_eq!(info.world, "runner:plugin/backfill@0.1.0");
    assert!(info.exports.contains(&"process".to_string()), "{:?}", info.exports);
    assert!(info.imports.iter().any(|i| i.starts_with("runner:plugin/host")), "{:?}", info.imports);
}

#[test]
fn compiled_plugins_are_cached_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let key = tempfile::tempdir().unwrap();
    let s = Sandbox::new(SandboxConfig {
        cache_dir: Some(dir.path().into()),
        cache_key: Some(key.path().join("cache.key")),
        ..SandboxConfig::default()
    })
    .unwrap();
    let bytes = wasm("score_band");
    s.load("a", &bytes, limits(), Grants::default()).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    // A second load uses the cached artifact; a corrupted one is recompiled, not trusted.
    let plugin = s.load("b", &bytes, limits(), Grants::default()).unwrap();
    assert_eq!(rt().block_on(plugin.describe()).unwrap(), "score-band 1.0.0");
    std::fs::write(&files[0], b"corrupt").unwrap();
    let plugin = s.load("c", &bytes, limits(), Grants::default()).unwrap();
    assert_eq!(rt().block_on(plugin.describe()).unwrap(), "score-band 1.0.0");
}

#[test]
fn an_entry_signed_with_a_retired_key_is_compiled_again_not_loaded() {
    use runner_sandbox::CacheUse;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("cache.key");
    let s = Sandbox::new(SandboxConfig {
        cache_dir: Some(dir.path().into()),
        cache_key: Some(key.clone()),
        ..SandboxConfig::default()
    })
    .unwrap();
    let bytes = wasm("score_band");
    assert_eq!(s.load("a", &bytes, limits(), Grants::default()).unwrap().cache_use(), &CacheUse::Stored);
    assert_eq!(s.load("a", &bytes, limits(), Grants::default()).unwrap().cache_use(), &CacheUse::Hit);
    // Whoever held the old key could have signed this entry: the same sandbox no longer trusts it.
    let old = std::fs::read(&key).unwrap();
    runner_sandbox::retire_key(&key).unwrap();
    assert_ne!(std::fs::read(&key).unwrap(), old);
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(s.load("a", &bytes, limits(), Grants::default()).unwrap().cache_use(), &CacheUse::Stored);
    assert_eq!(s.load("a", &bytes, limits(), Grants::default()).unwrap().cache_use(), &CacheUse::Hit);
}

#[test]
fn the_score_band_example_derives_bands() {
    let plugin = sandbox().load("score-band", &wasm("score_band"), limits(), Grants::default()).unwrap();
    let batch = Batch {
        columns: vec!["id".into(), "points".into()],
        key: vec!["id".into()],
        rows: vec![vec![Value::Integer(1), Value::Integer(2500)], vec![Value::Integer(2), Value::Null]],
    };
    let changes = rt().block_on(plugin.process(&batch)).unwrap();
    let bands: Vec<Value> = changes
        .iter()
        .map(|c| match c {
            Change::Update(u) => u.set[0].value.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(bands, [Value::Text("platinum".into()), Value::Text("unranked".into())]);
}

/// The hostile corpus, in one test: each plugin misbehaves in its own way, each batch fails with
/// its own clear message, and the host goes on to run a well-behaved batch afterwards.
#[test]
fn a_corpus_of_hostile_plugins_each_fails_with_its_own_message() {
    let tight = Limits { batch_timeout: Duration::from_millis(300), memory_bytes: 16 << 20, ..limits() };
    let cases: Vec<(&str, i64, &str)> = vec![
        ("spin", 0, "batch took longer than its limit of 300ms"),
        ("alloc", 512, "tried to use more than its memory limit of 16777216 bytes"),
        ("recurse", 10_000_000, "stack overflow"),
        ("many", 5_000_000, "tried to use more than its memory limit"),
        ("trap", 0, "probe was told to trap"),
        ("bad-utf8", 0, "utf-8"),
        ("log", 0, "called `log`, which its manifest does not grant"),
        ("http", 0, "called `http`, which its manifest does not grant"),
        ("lookup", 0, "called `lookup`, which its manifest does not grant"),
        ("random", 0, "called `random`, which its manifest does not grant"),
    ];
    let plugin = sandbox().load("probe", &wasm("probe"), tight, Grants::default()).unwrap();
    let rt = rt();
    for (cmd, n, message) in cases {
        let e = rt.block_on(plugin.process(&batch(cmd, n))).unwrap_err().to_string();
        assert!(e.starts_with("plugin probe: "), "{cmd}: {e}");
        assert!(e.to_lowercase().contains(&message.to_lowercase()), "{cmd}: expected {message:?} in {e}");
    }
    let e = sandbox().load("wrong", &wasm("wrong_world"), tight, Grants::default()).err().unwrap().to_string();
    assert!(e.contains("implements neither runner:plugin/backfill@0.1.0 nor"), "{e}");
    assert_eq!(out(&rt.block_on(plugin.process(&batch("noop", 0))).unwrap()), Value::Text("ok".into()));
}
