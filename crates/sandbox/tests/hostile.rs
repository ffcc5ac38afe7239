//! A plugin written to break the sandbox, and a cache planted to run foreign code: each attempt
//! is tried within its bound (it works) and over it (it is stopped, with an error naming it).

mod common;

use common::{batch, batch_url, limits, out, rt, run, sandbox, wasm};
use runner_sandbox::{
    CacheUse, Grants, Limits, Lookup, LookupError, MAX_INSTANCES, MAX_MEMORIES, MAX_PLUGIN_MESSAGE, Sandbox,
    SandboxConfig, SandboxError, Value,
};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn cached_sandbox(dir: &Path, key: &Path) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: Some(dir.to_path_buf()),
        cache_key: Some(key.to_path_buf()),
        ..SandboxConfig::default()
    })
    .unwrap()
}

fn only_entry(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

#[test]
fn a_signed_cache_entry_is_reused() {
    let (dir, key) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = cached_sandbox(dir.path(), &key.path().join("cache.key"));
    let first = s.load("a", &wasm("score_band"), limits(), Grants::default()).unwrap();
    assert_eq!(first.cache_use(), &CacheUse::Stored);
    let again = s.load("b", &wasm("score_band"), limits(), Grants::default()).unwrap();
    assert_eq!(again.cache_use(), &CacheUse::Hit);
    assert_eq!(rt().block_on(again.describe()).unwrap(), "score-band 1.0.0");
    let mode = std::fs::metadata(key.path().join("cache.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");
}

#[test]
fn a_cache_hit_counts_as_a_use_and_entries_of_another_engine_are_listed_as_unloadable() {
    let (dir, key) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = cached_sandbox(dir.path(), &key.path().join("cache.key"));
    s.load("a", &wasm("score_band"), limits(), Grants::default()).unwrap();
    let entry = only_entry(dir.path());
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(90 * 86_400);
    std::fs::File::options().write(true).open(&entry).unwrap().set_modified(long_ago).unwrap();
    s.load("a", &wasm("score_band"), limits(), Grants::default()).unwrap();
    let listed = s.cached_plugins();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].loadable);
    assert!(listed[0].last_used > long_ago + Duration::from_secs(86_400), "a hit did not count as a use");
    // What a runner with other engine settings wrote: never loadable here.
    std::fs::copy(&entry, dir.path().join("0000-00000000deadbeef.cwasm")).unwrap();
    let listed = s.cached_plugins();
    assert_eq!(listed.iter().filter(|c| !c.loadable).count(), 1, "{listed:?}");
}

#[test]
fn compiled_code_planted_under_a_plugins_name_is_never_run() {
    let (dir, key) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = key.path().join("cache.key");
    // Another plugin's genuine, signed compiled code...
    let other = tempfile::tempdir().unwrap();
    cached_sandbox(other.path(), &key).load("band", &wasm("score_band"), limits(), Grants::default()).unwrap();
    let foreign = std::fs::read(only_entry(other.path())).unwrap();
    // ... planted under the probe's entry name.
    let s = cached_sandbox(dir.path(), &key);
    s.load("probe", &wasm("probe"), limits(), Grants::default()).unwrap();
    let entry = only_entry(dir.path());
    std::fs::write(&entry, &foreign).unwrap();
    let plugin = s.load("probe", &wasm("probe"), limits(), Grants::default()).unwrap();
    assert_eq!(plugin.cache_use(), &CacheUse::Stored, "recompiled, not loaded");
    assert_eq!(rt().block_on(plugin.describe()).unwrap(), "probe 0.1.0");
    assert_eq!(out(&rt().block_on(plugin.process(&batch("noop", 0))).unwrap()), Value::Text("ok".into()));

    // An unsigned serialised module (what wasmtime itself writes) is not trusted either.
    let unsigned = foreign[32..].to_vec();
    std::fs::write(&entry, &unsigned).unwrap();
    let plugin = s.load("probe", &wasm("probe"), limits(), Grants::default()).unwrap();
    assert_eq!(plugin.cache_use(), &CacheUse::Stored);
    assert_eq!(rt().block_on(plugin.describe()).unwrap(), "probe 0.1.0");

    // Signed with another user's key: not trusted.
    let stranger = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    cached_sandbox(theirs.path(), &stranger.path().join("cache.key"))
        .load("probe", &wasm("probe"), limits(), Grants::default())
        .unwrap();
    std::fs::copy(only_entry(theirs.path()), &entry).unwrap();
    let plugin = s.load("probe", &wasm("probe"), limits(), Grants::default()).unwrap();
    assert_eq!(plugin.cache_use(), &CacheUse::Stored);
}

#[test]
fn a_cache_folder_others_may_write_is_not_used() {
    let (dir, key) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let s = cached_sandbox(dir.path(), &key.path().join("cache.key"));
    let plugin = s.load("probe", &wasm("probe"), limits(), Grants::default()).unwrap();
    match plugin.cache_use() {
        CacheUse::Uncached(why) => assert!(why.contains("writable by other users"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written there");
    // A key that others can read cannot be trusted to sign.
    let (dir, key) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key_file = key.path().join("cache.key");
    cached_sandbox(dir.path(), &key_file);
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let plugin = cached_sandbox(dir.path(), &key_file).load("p", &wasm("probe"), limits(), Grants::default()).unwrap();
    assert!(
        matches!(plugin.cache_use(), CacheUse::Uncached(why) if why.contains("mode 0600")),
        "{:?}",
        plugin.cache_use()
    );
    // No key location at all: no cache.
    let s = Sandbox::new(SandboxConfig { cache_dir: Some(dir.path().into()), ..SandboxConfig::default() }).unwrap();
    let plugin = s.load("p", &wasm("probe"), limits(), Grants::default()).unwrap();
    assert!(matches!(plugin.cache_use(), CacheUse::Uncached(_)));
}

#[test]
fn a_sleep_within_the_time_limit_completes() {
    let changes = run("sleep", 20, Limits { batch_timeout: Duration::from_secs(5), ..limits() }, Grants::default());
    assert_eq!(out(&changes.unwrap()), Value::Text("slept".into()));
}

#[test]
fn a_sleep_in_a_host_call_is_stopped_at_the_time_limit() {
    // Before, the epoch deadline only stopped wasm that computes: a plugin sleeping in WASI slept
    // for as long as it liked. (The guard only tells "stopped" from "never stopped".)
    let plugin = sandbox()
        .load(
            "probe",
            &wasm("probe"),
            Limits { batch_timeout: Duration::from_millis(300), ..limits() },
            Grants::default(),
        )
        .unwrap();
    let sleepy = batch("sleep", 3_600_000);
    let call = plugin.process(&sleepy);
    let e = rt().block_on(async { tokio::time::timeout(Duration::from_secs(120), call).await });
    let e = e.expect("the batch's time limit never stopped a sleeping plugin").unwrap_err();
    assert!(matches!(e, SandboxError::Timeout { .. }), "{e:?}");
}

/// Answers after `delay`, and notes when it did: a lookup the database is slow to serve.
struct SlowLookup(Duration, Arc<std::sync::atomic::AtomicBool>);

#[async_trait::async_trait]
impl Lookup for SlowLookup {
    async fn lookup(&self, _query: &str, _params: Vec<Value>) -> Result<Vec<Vec<Value>>, LookupError> {
        tokio::time::sleep(self.0).await;
        self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(vec![vec![Value::Integer(1)]])
    }
}

#[test]
fn a_slow_lookup_counts_against_the_time_limit() {
    let limit = Limits { batch_timeout: Duration::from_millis(300), ..limits() };
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let quick =
        Grants { lookup: Some(Arc::new(SlowLookup(Duration::from_millis(1), answered.clone()))), ..Grants::default() };
    assert_eq!(out(&run("lookup", 0, limit, quick).unwrap()), Value::Integer(1));
    assert!(answered.load(std::sync::atomic::Ordering::SeqCst));
    // Over the limit, the lookup is cut off, not waited for (before, it ran to its end).
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow =
        Grants { lookup: Some(Arc::new(SlowLookup(Duration::from_secs(20), answered.clone()))), ..Grants::default() };
    let e = run("lookup", 0, limit, slow).unwrap_err();
    assert!(matches!(e, SandboxError::Timeout { .. }), "{e:?}");
    assert!(!answered.load(std::sync::atomic::Ordering::SeqCst), "the host waited for the lookup to finish");
}

struct Failing(LookupError);

#[async_trait::async_trait]
impl Lookup for Failing {
    async fn lookup(&self, _query: &str, _params: Vec<Value>) -> Result<Vec<Vec<Value>>, LookupError> {
        Err(self.0.clone())
    }
}

#[test]
fn a_refused_query_reaches_the_plugin_and_an_unanswered_lookup_fails_the_batch() {
    let refused =
        Grants { lookup: Some(Arc::new(Failing(LookupError::Query("not a query".into())))), ..Grants::default() };
    assert_eq!(out(&run("lookup", 0, limits(), refused).unwrap()), Value::Text("lookup error: not a query".into()));
    let down = Grants {
        lookup: Some(Arc::new(Failing(LookupError::Unavailable("connection lost".into())))),
        ..Grants::default()
    };
    let e = run("lookup", 0, limits(), down).unwrap_err();
    assert!(matches!(e, SandboxError::LookupFailed { .. }), "{e:?}");
    assert_eq!(e.to_string(), "plugin probe: a lookup could not be answered: connection lost");
}

#[test]
fn a_plugins_error_message_is_kept_whole_within_its_bound_and_cut_beyond_it() {
    let e = run("fail-big", 100, limits(), Grants::default()).unwrap_err();
    assert_eq!(e.to_string(), format!("plugin probe: returned an error: {}", "x".repeat(100)));
    let e = run("fail-big", 4_000_000, limits(), Grants::default()).unwrap_err().to_string();
    assert!(e.len() < MAX_PLUGIN_MESSAGE + 200, "{} bytes kept", e.len());
    assert!(e.ends_with("(4000000 bytes in all; cut)"), "{}", &e[e.len() - 60..]);
}

/// A one-shot HTTP server that answers with the `Host` header it received.
fn echo_host() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let host = request
                .lines()
                .find_map(|l| l.strip_prefix("host: ").or_else(|| l.strip_prefix("Host: ")))
                .unwrap_or("")
                .to_string();
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{host}", host.len());
        }
    });
    (format!("http://127.0.0.1:{}", addr.port()), handle)
}

#[test]
fn the_host_header_comes_from_the_url_not_the_plugin() {
    let (origin, server) = echo_host();
    let g = Grants { http_origins: vec![origin.clone()], ..Grants::default() };
    let plugin = sandbox().load("probe", &wasm("probe"), limits(), g).unwrap();
    let changes = rt().block_on(plugin.process(&batch_url("http-host", 0, &format!("{origin}/x")))).unwrap();
    server.join().unwrap();
    assert_eq!(out(&changes), Value::Text(origin.trim_start_matches("http://").into()));
}

/// A component implementing the world whose functions trap, with `inner` extra core instances,
/// each with a memory of `pages` × 64 KiB (or none): memory spread over many instances.
fn many_memories(inner: usize, pages: Option<u32>) -> Vec<u8> {
    let memory = pages.map_or(String::new(), |p| format!("(memory {p})"));
    let instances = "(core instance (instantiate $big))\n".repeat(inner);
    let text = format!(
        r#"(component
  (import "runner:plugin/types@0.1.0" (instance $types
    (type $value' (variant (case "null") (case "boolean" bool) (case "integer" s64) (case "float" f64) (case "text" string) (case "bytes" (list u8))))
    (export "value" (type $value (eq $value')))
    (type $batch' (record (field "columns" (list string)) (field "key" (list string)) (field "rows" (list (list $value)))))
    (export "batch" (type $batch (eq $batch')))
    (type $assignment' (record (field "column" string) (field "value" $value)))
    (export "assignment" (type $assignment (eq $assignment')))
    (type $update' (record (field "key" (list $value)) (field "set" (list $assignment))))
    (export "update" (type $update (eq $update')))
    (type $change' (variant (case "update" $update) (case "insert" (list $assignment)) (case "upsert" (list $assignment)) (case "delete" (list $value))))
    (export "change" (type $change (eq $change')))
  ))
  (alias export $types "batch" (type $batch))
  (alias export $types "change" (type $change))
  (core module $big {memory})
  {instances}
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
    (func (export "describe") (result i32) unreachable)
    (func (export "process") (param i32 i32 i32 i32 i32 i32) (result i32) unreachable))
  (core instance $i (instantiate $m))
  (func (export "describe") (result string)
    (canon lift (core func $i "describe") (memory $i "memory") (realloc (func $i "realloc"))))
  (func (export "process") (param "batch" $batch) (result (result (list $change) (error string)))
    (canon lift (core func $i "process") (memory $i "memory") (realloc (func $i "realloc")))))"#
    );
    wat::parse_str(text).unwrap()
}

/// How loading and running `wasm` fails: at load when the instance pool sees a cap exceeded,
/// else at instantiation or in the call.
fn instantiate(wasm: &[u8], memory_bytes: usize) -> SandboxError {
    match sandbox().load("many", wasm, Limits { memory_bytes, ..limits() }, Grants::default()) {
        Ok(plugin) => rt().block_on(plugin.process(&batch("noop", 0))).unwrap_err(),
        Err(e) => e,
    }
}

#[test]
fn memory_over_many_instances_within_the_budget_is_fine() {
    // 3 × 8 MiB under 64 MiB: it instantiates, then its function traps (as written).
    let e = instantiate(&many_memories(3, Some(128)), 64 << 20);
    assert!(matches!(e, SandboxError::Trapped { .. }), "{e:?}");
}

#[test]
fn memory_over_many_instances_counts_against_one_budget() {
    // 10 × 8 MiB: each memory is under 64 MiB, together they are not. Before, this instantiated.
    let e = instantiate(&many_memories(10, Some(128)), 64 << 20);
    assert!(matches!(e, SandboxError::MemoryExceeded { limit_bytes, .. } if limit_bytes == 64 << 20), "{e:?}");
}

#[test]
fn instances_are_capped() {
    let e = instantiate(&many_memories(MAX_INSTANCES - 2, None), 64 << 20);
    assert!(matches!(e, SandboxError::Trapped { .. }) && !e.to_string().contains("count"), "{e}");
    let e = instantiate(&many_memories(MAX_INSTANCES + 1, None), 64 << 20);
    assert!(matches!(e, SandboxError::LimitExceeded { .. }), "{e:?}");
    assert!(e.to_string().contains("instances"), "{e}");
}

#[test]
fn memories_are_capped() {
    let e = instantiate(&many_memories(MAX_MEMORIES - 1, Some(1)), 64 << 20);
    assert!(matches!(e, SandboxError::Trapped { .. }), "{e:?}");
    let e = instantiate(&many_memories(MAX_MEMORIES + 1, Some(1)), 64 << 20);
    assert!(matches!(e, SandboxError::LimitExceeded { .. }), "{e:?}");
}
