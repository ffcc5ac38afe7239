//! Backfill benchmark: the same computed column (a score's band from its points) written by
//!
//! - (a) one set-based SQL `UPDATE` (the floor: no batching, no resumability, one long lock);
//! - (b) the row-by-row pattern of hand-written backfill scripts (select ids, then one `UPDATE`
//!   per row, each committed), timed on a sample of rows and extrapolated;
//! - (c) `runner` with the score-band WASM plugin, 1 worker and 2 workers;
//! - (d) `runner`, 1 worker, with the same plugin written in Python and in JavaScript, each row by
//!   row and a column at a time (`plugins/examples-{py,js}/score-band{,-columns}`, built by
//!   runner; null when a toolchain is missing).
//!
//! Each variant gets its own freshly built, identical table, so none inherits another's dead
//! tuples. Environment: `BENCH_DATABASE_URL` (a PostgreSQL server; the benchmark creates and
//! drops its own database there), `BENCH_ROWS` (default 1,000,000), `BENCH_SAMPLE` (rows timed
//! for (b), default 5,000), `BENCH_RUNS` (runs of every variant, interleaved; medians are reported;
//! default 3). Prints a table, then one JSON line.

mod support;

use runner::{Access, BackfillOptions, Runner, Settings};
use runner_db::{ConnectOptions, DatabaseUrl, Driver};
use std::path::Path;
use std::time::{Duration, Instant};

/// The allocator of the `runner` binary, so that the in-process runs measure what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BAND_SQL: &str = "CASE WHEN points IS NULL THEN 'unranked' WHEN points >= 2000 THEN 'platinum' \
                        WHEN points >= 1000 THEN 'gold' WHEN points >= 500 THEN 'silver' ELSE 'bronze' END";

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

async fn connect(url: &str) -> Box<dyn Driver> {
    runner_db::connect(&DatabaseUrl::parse(url).expect("BENCH_DATABASE_URL"), &ConnectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn scalar(db: &mut dyn Driver, sql: &str) -> String {
    db.query(sql).await.unwrap()[0][0].clone().unwrap_or_default()
}

/// A fresh table `name` with `rows` scores.
async fn make_table(db: &mut dyn Driver, name: &str, rows: u64) {
    db.execute(&format!("DROP TABLE IF EXISTS {name}")).await.unwrap();
    db.execute(&format!(
        "CREATE TABLE {name} AS SELECT g::bigint AS id, ((g::bigint * 7919) % 3000)::int AS points, NULL::text AS band FROM generate_series(1, {rows}) g"
    ))
    .await
    .unwrap();
    db.execute(&format!("ALTER TABLE {name} ADD PRIMARY KEY (id)")).await.unwrap();
    db.execute(&format!("VACUUM ANALYZE {name}")).await.unwrap();
}

fn project(dir: &Path, table: &str, plugin: &Path) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::create_dir_all(dir.join("backfills")).unwrap();
    std::fs::write(
        dir.join("backfills").join(format!("{table}.toml")),
        format!(
            "plugin = \"{}\"\n[source]\ntable = \"{table}\"\nkey = [\"id\"]\ncolumns = [\"points\"]\nfilter = \"band IS NULL\"\n\
             [batch]\nsize = 5000\nmin_size = 1000\nmax_size = 50000\ntime_target_ms = 1000\n",
            plugin.display()
        ),
    )
    .unwrap();
}

async fn runner_run(url: &str, dir: &Path, table: &str, workers: usize) -> (Duration, runner::RunReport) {
    let mut settings = Settings::for_url(url).unwrap();
    settings.project_dir = dir.to_path_buf();
    settings.migrations_dir = dir.join("migrations");
    settings.backfills_dir = dir.join("backfills");
    settings.plugin_cache = Some(dir.join("cache"));
    settings.cache_key = Some(dir.join("key").join("cache.key"));
    let mut r = Runner::open(settings, Access::ReadWrite).await.unwrap();
    let t = Instant::now();
    let report =
        r.run_backfill(table, BackfillOptions { workers: Some(workers), ..Default::default() }, |_| {}).await.unwrap();
    let took = t.elapsed();
    r.close().await;
    (took, report)
}

fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn main() {
    let base = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        eprintln!("BENCH_DATABASE_URL is not set; using postgres://postgres@127.0.0.1:5432/postgres");
        "postgres://postgres@127.0.0.1:5432/postgres".into()
    });
    let rows: u64 = env("BENCH_ROWS", "1000000").parse().expect("BENCH_ROWS is a number");
    let sample: u64 = env("BENCH_SAMPLE", "5000").parse::<u64>().expect("BENCH_SAMPLE is a number").min(rows);
    let runs: usize = env("BENCH_RUNS", "3").parse::<usize>().expect("BENCH_RUNS is a number").max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let plugin = support::built_plugins().join("score_band.wasm");
        let dbname = format!("runner_bench_{}", std::process::id());
        let mut admin = connect(&base).await;
        admin.execute(&format!("CREATE DATABASE {dbname}")).await.unwrap();
        let url = format!("{}/{dbname}", base.rsplit_once('/').unwrap().0);
        let mut db = connect(&url).await;

        // Every variant runs `runs` times, interleaved, each time on a freshly built table; the
        // medians are reported, so one slow moment of a shared machine does not decide a ratio.
        let dir = tempfile::tempdir().unwrap();
        // (d)'s plugins, built from source and compiled into the runs' cache before any is timed.
        let mut polyglot: Vec<(&str, Option<std::path::PathBuf>, Vec<Duration>)> = Vec::new();
        for (lang, src) in [
            ("python", "plugins/examples-py/score-band"),
            ("python-columns", "plugins/examples-py/score-band-columns"),
            ("js", "plugins/examples-js/score-band"),
            ("js-columns", "plugins/examples-js/score-band-columns"),
        ] {
            let settings = Settings::for_url(&url).unwrap();
            let source = runner_backfill::PluginSource::Build(
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(src),
            );
            let path = match runner::plugin_component(&settings, lang, &source).await {
                Ok(wasm) => {
                    let path = dir.path().join(format!("score_band_{lang}.wasm"));
                    std::fs::write(&path, &wasm).unwrap();
                    let config = runner_sandbox::SandboxConfig {
                        cache_dir: Some(dir.path().join("cache")),
                        cache_key: Some(dir.path().join("key").join("cache.key")),
                        ..Default::default()
                    };
                    std::fs::create_dir_all(dir.path().join("cache")).unwrap();
                    runner_sandbox::Sandbox::new(config).unwrap().load(lang, &wasm, runner_sandbox::Limits::default(), Default::default()).unwrap();
                    Some(path)
                }
                Err(e) => {
                    eprintln!("{lang}: not built ({e}); its variant is null");
                    None
                }
            };
            polyglot.push((lang, path, Vec::new()));
        }
        let (mut sql_runs, mut rbr_runs, mut w1_runs, mut w2_runs) = (vec![], vec![], vec![], vec![]);
        let mut report_1w = None;
        for run in 1..=runs {
            // (a) One set-based UPDATE.
            make_table(db.as_mut(), "t_sql", rows).await;
            let t = Instant::now();
            db.execute(&format!("UPDATE t_sql SET band = {BAND_SQL}")).await.unwrap();
            sql_runs.push(t.elapsed());

            // (b) Row by row: the ids, then one UPDATE (one transaction) per row, on a sample.
            make_table(db.as_mut(), "t_rows", rows).await;
            let t = Instant::now();
            let ids = db.fetch(&format!("SELECT id FROM t_rows ORDER BY id LIMIT {sample}"), &[]).await.unwrap();
            for row in &ids.rows {
                let id = row[0].clone();
                db.fetch(&format!("UPDATE t_rows SET band = {BAND_SQL} WHERE id = $1"), &[id]).await.unwrap();
            }
            rbr_runs.push(t.elapsed().mul_f64(rows as f64 / sample as f64));

            // (c) runner, 1 and 2 workers; each run its own tables and state.
            let (t1, t2) = (format!("t_runner1_{run}"), format!("t_runner2_{run}"));
            make_table(db.as_mut(), &t1, rows).await;
            project(dir.path(), &t1, &plugin);
            let (took, report) = runner_run(&url, dir.path(), &t1, 1).await;
            w1_runs.push(took);
            report_1w.get_or_insert((took, report));
            make_table(db.as_mut(), &t2, rows).await;
            project(dir.path(), &t2, &plugin);
            w2_runs.push(runner_run(&url, dir.path(), &t2, 2).await.0);

            // (d) the same with the Python and JavaScript plugins, 1 worker.
            for (lang, path, times) in polyglot.iter_mut() {
                let Some(path) = path else { continue };
                let t = format!("t_{}_{run}", lang.replace('-', "_"));
                make_table(db.as_mut(), &t, rows).await;
                project(dir.path(), &t, path);
                times.push(runner_run(&url, dir.path(), &t, 1).await.0);
                let same = scalar(db.as_mut(), &format!("SELECT count(*) FROM t_sql a JOIN {t} b USING (id) WHERE a.band IS DISTINCT FROM b.band")).await;
                assert_eq!(same, "0", "the {lang} plugin and SQL disagree on bands");
                db.execute(&format!("DROP TABLE {t}")).await.unwrap();
            }

            for t in ["t_sql", t1.as_str(), t2.as_str()] {
                assert_eq!(scalar(db.as_mut(), &format!("SELECT count(*) FROM {t} WHERE band IS NULL")).await, "0", "{t} incomplete");
            }
            let same = scalar(db.as_mut(), &format!("SELECT count(*) FROM t_sql a JOIN {t1} b USING (id) WHERE a.band IS DISTINCT FROM b.band")).await;
            assert_eq!(same, "0", "runner and SQL disagree on bands");
            for t in [t1, t2] {
                db.execute(&format!("DROP TABLE {t}")).await.unwrap();
            }
            eprintln!(
                "run {run}/{runs}: sql {:.2}s, runner 1w {:.2}s, 2w {:.2}s",
                sql_runs[run - 1].as_secs_f64(),
                w1_runs[run - 1].as_secs_f64(),
                w2_runs[run - 1].as_secs_f64()
            );
        }
        let (sql_update, row_by_row, runner_1w, runner_2w) =
            (median(&sql_runs), median(&rbr_runs), median(&w1_runs), median(&w2_runs));
        let (first_1w, report_1w) = report_1w.expect("at least one run");

        // Plugin start: a cold compile (empty cache), then a start from the compiled-module cache.
        let cache = tempfile::tempdir().unwrap();
        let config = runner_sandbox::SandboxConfig {
            cache_dir: Some(cache.path().join("plugins")),
            cache_key: Some(cache.path().join("key").join("cache.key")),
            ..Default::default()
        };
        let wasm = std::fs::read(&plugin).unwrap();
        let t = Instant::now();
        runner_sandbox::Sandbox::new(config.clone()).unwrap().load("cold", &wasm, runner_sandbox::Limits::default(), Default::default()).unwrap();
        let plugin_cold = t.elapsed();
        let cached_sandbox = runner_sandbox::Sandbox::new(config).unwrap();
        let t = Instant::now();
        cached_sandbox.load("cached", &wasm, runner_sandbox::Limits::default(), Default::default()).unwrap();
        let plugin_cached = t.elapsed();

        // Plugin instantiation per batch: a fresh store and instance, as every batch gets.
        let sandbox = runner_sandbox::Sandbox::new(runner_sandbox::SandboxConfig::default()).unwrap();
        let p = sandbox.load_file("score-band", &plugin, runner_sandbox::Limits::default(), Default::default()).unwrap();
        p.describe().await.unwrap();
        let n = 200;
        let t = Instant::now();
        for _ in 0..n {
            p.describe().await.unwrap();
        }
        let instantiate_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        // Against the whole run (1 worker): `batch_ms` in the checkpoint cannot include the
        // commit of the transaction that records it.
        let plugin_share = report_1w.progress.plugin_ms as f64 / first_1w.as_secs_f64().max(1e-9) / 1000.0;

        db.close().await;
        admin.execute(&format!("DROP DATABASE {dbname} WITH (FORCE)")).await.unwrap();
        admin.close().await;

        let s = |d: Duration| d.as_secs_f64();
        let rate = |d: Duration| rows as f64 / d.as_secs_f64();
        println!(
            "backfill benchmark: {rows} rows, median of {runs} run(s) (row-by-row timed on {sample} rows and extrapolated)"
        );
        println!("{:<34} {:>10} {:>14} {:>12}", "variant", "seconds", "rows/s", "vs SQL");
        for (name, d) in [
            ("(a) one SQL UPDATE", sql_update),
            ("(b) row by row (extrapolated)", row_by_row),
            ("(c) runner + WASM, 1 worker", runner_1w),
            ("(c) runner + WASM, 2 workers", runner_2w),
        ] {
            println!("{name:<34} {:>10.2} {:>14.0} {:>11.2}x", s(d), rate(d), s(d) / s(sql_update));
        }
        let polyglot_s: Vec<(&str, Option<f64>)> =
            polyglot.iter().map(|(lang, _, times)| (*lang, (!times.is_empty()).then(|| s(median(times))))).collect();
        for (lang, secs) in &polyglot_s {
            match secs {
                Some(d) => println!(
                    "{:<34} {:>10.2} {:>14.0} {:>11.2}x   ({:.2}x the Rust plugin's 1 worker)",
                    format!("(d) runner + {lang}, 1 worker"),
                    d,
                    rows as f64 / d,
                    d / s(sql_update),
                    d / s(runner_1w)
                ),
                None => println!("(d) runner + {lang}, 1 worker: not built"),
            }
        }
        println!(
            "runner 1 worker vs row by row: {:.1}x faster; plugin instantiation {instantiate_us:.1} µs per batch; plugin share of the run {:.1}%",
            s(row_by_row) / s(runner_1w),
            plugin_share * 100.0
        );
        println!(
            "plugin start: cold compile {:.1} ms, from the compiled-module cache {:.1} ms ({:.0}x)",
            s(plugin_cold) * 1e3,
            s(plugin_cached) * 1e3,
            s(plugin_cold) / s(plugin_cached).max(1e-9)
        );
        println!(
            "{}",
            serde_json::json!({
                "rows": rows,
                "runs": runs,
                "sql_update_runs_s": sql_runs.iter().map(|d| s(*d)).collect::<Vec<_>>(),
                "runner_1w_runs_s": w1_runs.iter().map(|d| s(*d)).collect::<Vec<_>>(),
                "runner_2w_runs_s": w2_runs.iter().map(|d| s(*d)).collect::<Vec<_>>(),
                "sql_update_s": s(sql_update),
                "row_by_row_s": s(row_by_row),
                "row_by_row_sampled_rows": sample,
                "runner_1w_s": s(runner_1w),
                "runner_2w_s": s(runner_2w),
                "instantiate_us": instantiate_us,
                "plugin_cold_ms": s(plugin_cold) * 1e3,
                "plugin_cached_ms": s(plugin_cached) * 1e3,
                "plugin_share": plugin_share,
                "python_1w_s": polyglot_s.iter().find(|(l, _)| *l == "python").and_then(|(_, d)| *d),
                "python_columns_1w_s": polyglot_s.iter().find(|(l, _)| *l == "python-columns").and_then(|(_, d)| *d),
                "python_columns_vs_rust_1w": polyglot_s.iter().find(|(l, _)| *l == "python-columns").and_then(|(_, d)| d.map(|d| d / s(runner_1w))),
                "js_columns_1w_s": polyglot_s.iter().find(|(l, _)| *l == "js-columns").and_then(|(_, d)| *d),
                "js_columns_vs_rust_1w": polyglot_s.iter().find(|(l, _)| *l == "js-columns").and_then(|(_, d)| d.map(|d| d / s(runner_1w))),
                "js_1w_s": polyglot_s.iter().find(|(l, _)| *l == "js").and_then(|(_, d)| *d),
                "python_vs_rust_1w": polyglot_s.iter().find(|(l, _)| *l == "python").and_then(|(_, d)| d.map(|d| d / s(runner_1w))),
                "js_vs_rust_1w": polyglot_s.iter().find(|(l, _)| *l == "js").and_then(|(_, d)| d.map(|d| d / s(runner_1w))),
            })
        );
    });
}
