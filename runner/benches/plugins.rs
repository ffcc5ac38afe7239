//! Plugin benchmark, no database: the score-band plugin in Rust, Python and JavaScript, each
//! under both of the sandbox's instance allocators, side by side in one run:
//!
//! - per-batch instantiation: a fresh store and instance, as every batch gets (`describe`);
//! - per-row time in the plugin, over batches of 5,000 rows (`process`).
//!
//! Ratios: pooling against on-demand allocation, and each language against Rust. Python and
//! JavaScript are built by runner from `plugins/examples-{py,js}/score-band` (and a column at a
//! time, `py-cols` and `js-cols`, from `score-band-columns` beside them), installing their
//! toolchains on first use; a language whose build fails is reported as null with the reason.
//! Compiled forms come from the user's plugin cache. `BENCH_ITERS` scales the repetitions
//! (default 1). Prints a table, then one JSON line.

mod support;

use runner::Settings;
use runner_backfill::PluginSource;
use runner_sandbox::{Allocation, Batch, Limits, Sandbox, SandboxConfig, Value};
use std::path::PathBuf;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: usize = 5000;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn batch() -> Batch {
    let rows = (0..ROWS as i64)
        .map(|i| vec![Value::Integer(i), if i % 11 == 0 { Value::Null } else { Value::Integer((i * 37) % 2600) }])
        .collect();
    Batch { columns: vec!["id".into(), "points".into()], key: vec!["id".into()], rows }
}

/// Mean microseconds per instantiation, per smallest call (`describe`, on its own instance) and
/// per row, for one component under one allocator.
async fn measure(sandbox: &Sandbox, name: &str, wasm: &[u8], iters: usize) -> (f64, f64, f64) {
    let p = sandbox.load(name, wasm, Limits::default(), Default::default()).unwrap();
    p.describe().await.unwrap();
    let n = 100 * iters;
    let t = Instant::now();
    for _ in 0..n {
        p.instantiate().await.unwrap();
    }
    let instantiate_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        p.describe().await.unwrap();
    }
    let call_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let b = batch();
    assert_eq!(p.process(&b).await.unwrap().len(), ROWS, "{name}: every row gets its band");
    let n = 4 * iters;
    let t = Instant::now();
    for _ in 0..n {
        p.process(&b).await.unwrap();
    }
    let row_us = t.elapsed().as_secs_f64() * 1e6 / (n * ROWS) as f64;
    (instantiate_us, call_us, row_us)
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let settings = Settings::for_url("sqlite::memory:").unwrap();
        let mut components: Vec<(&str, Result<Vec<u8>, String>)> =
            vec![("rust", Ok(std::fs::read(support::built_plugins().join("score_band.wasm")).unwrap()))];
        for (lang, dir) in [
            ("python", "plugins/examples-py/score-band"),
            ("py-cols", "plugins/examples-py/score-band-columns"),
            ("js", "plugins/examples-js/score-band"),
            ("js-cols", "plugins/examples-js/score-band-columns"),
        ] {
            let built = runner::plugin_component(&settings, lang, &PluginSource::Build(repo(dir))).await;
            components.push((lang, built.map_err(|e| e.to_string())));
        }
        let sandbox = |allocation| {
            Sandbox::new(SandboxConfig {
                cache_dir: settings.plugin_cache.clone(),
                cache_key: settings.cache_key.clone(),
                allocation,
                ..SandboxConfig::default()
            })
            .unwrap()
        };
        let (pooled, on_demand) = (sandbox(Allocation::Pooling), sandbox(Allocation::OnDemand));
        let mut results = serde_json::Map::new();
        println!("plugin benchmark: score-band, batches of {ROWS} rows");
        println!(
            "{:<8} {:>14} {:>14} {:>8} {:>16} {:>12} {:>9}",
            "plugin", "instance, OD µs", "pooling µs", "ratio", "+ call, pool µs", "µs per row", "vs Rust"
        );
        let mut rust_row = None;
        for (lang, wasm) in &components {
            let Ok(wasm) = wasm else {
                let why = wasm.as_ref().err().cloned().unwrap_or_default();
                println!("{lang:<8} not built: {why}");
                results.insert(
                    lang.to_string(),
                    serde_json::json!({ "instantiate_us": null, "row_us": null, "not_built": why }),
                );
                continue;
            };
            // Interleaved, so that a slow moment of a shared machine hits both alike.
            let (od, od_call, _) = measure(&on_demand, lang, wasm, iters).await;
            let (pool, call, row) = measure(&pooled, lang, wasm, iters).await;
            let (od2, od_call2, _) = measure(&on_demand, lang, wasm, iters).await;
            let (od, od_call) = (od.min(od2), od_call.min(od_call2));
            let vs_rust = *rust_row.get_or_insert(row);
            println!(
                "{lang:<8} {od:>14.1} {pool:>14.1} {:>7.2}x {call:>16.1} {row:>12.2} {:>8.1}x",
                od / pool,
                row / vs_rust
            );
            results.insert(
                lang.to_string(),
                serde_json::json!({
                    "instantiate_on_demand_us": od,
                    "instantiate_pooling_us": pool,
                    "pooling_speedup": od / pool,
                    "instantiate_and_call_on_demand_us": od_call,
                    "instantiate_and_call_pooling_us": call,
                    "row_us": row,
                    "row_vs_rust": row / vs_rust,
                    "component_bytes": wasm.len(),
                }),
            );
        }
        println!("{}", serde_json::Value::Object(results));
    });
}
