//! `runner backfill …` and `runner plugin check`.

use super::OutputArgs;
use super::output::json;
use crate::backfills::{BackfillSummary, StatusChange};
use crate::error::{ExitCode, RunnerError};
use crate::refusal::Refusal;
use crate::runner::{Access, Runner};
use crate::settings::Settings;
use runner_backfill::{Outcome, Progress, RunOptions, RunReport};
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Shows progress: rewritten in place on a terminal, a structured log line every few seconds
/// otherwise.
pub fn progress_printer(name: &str) -> impl FnMut(&Progress) + Send + use<> {
    let name = name.to_string();
    let terminal = std::io::stderr().is_terminal();
    let mut last = Instant::now() - Duration::from_secs(60);
    move |p: &Progress| {
        let every = if terminal { Duration::from_millis(200) } else { Duration::from_secs(5) };
        if last.elapsed() < every {
            return;
        }
        last = Instant::now();
        let pct = if p.rows_total > 0 { 100.0 * p.rows_done as f64 / p.rows_total as f64 } else { 0.0 };
        let eta = p.eta_s().map_or("?".to_string(), |s| format!("{s:.0}s"));
        if terminal {
            super::status_line::show(&format!(
                "{name}: {}/{} rows ({pct:.1}%), {:.0} rows/s, batch {}, ETA {eta}",
                p.rows_done, p.rows_total, p.rate, p.batch_size
            ));
        } else {
            tracing::info!(backfill = %name, rows_done = p.rows_done, rows_total = p.rows_total, rate = p.rate as u64, batch_size = p.batch_size, eta = %eta, "progress");
        }
    }
}

pub fn print_run(r: &RunReport) {
    // The summary below carries the final count; a throttled progress line may be behind it.
    super::status_line::clear();
    let what = match r.outcome {
        Outcome::Completed => "completed",
        Outcome::AlreadyComplete => "already complete",
        Outcome::Paused => "paused",
        Outcome::Stopped => "stopped (batch budget reached; run again to continue)",
        Outcome::Interrupted => {
            "interrupted by a signal; its ranges are handed back, and `runner backfill run` continues from the checkpoints"
        }
    };
    let batches = if r.batches == 1 { "batch" } else { "batches" };
    outln!(
        "backfill {}: {what}; {} rows in {} {batches} this run ({} ms); {} of {} rows done in all",
        r.name,
        r.rows,
        r.batches,
        r.elapsed_ms,
        r.progress.rows_done,
        r.progress.rows_total
    );
}

fn print_summaries(list: &[BackfillSummary]) {
    if list.is_empty() {
        outln!("No backfills.");
    }
    for b in list {
        let gate = match (&b.requires, b.ready) {
            (Some(r), false) => format!(" (waits for revision {r})"),
            _ => String::new(),
        };
        outln!(
            "{:<24} {:<10} {}/{} rows{gate}  {}",
            b.name,
            b.status.as_str(),
            b.progress.rows_done,
            b.progress.rows_total,
            b.description
        );
        if let Some(e) = &b.error {
            outln!("  error: {e}");
        }
        if b.status == crate::backfills::BackfillState::Interrupted {
            outln!("  interrupted: no worker holds it; `runner backfill run {}` resumes from its checkpoints", b.name);
        }
        if b.status == crate::backfills::BackfillState::Running && b.progress.rate > 0.0 {
            let eta = b.progress.eta_s().map_or("unknown".to_string(), |s| format!("{}s", s.round() as u64));
            outln!("  rate: {} rows/s, ETA {eta}", b.progress.rate.round() as u64);
        }
    }
}

pub async fn list(settings: Settings, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    status(settings, None, out).await
}

pub async fn status(settings: Settings, name: Option<&str>, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let dir = settings.backfills_dir.clone();
    let mut runner = Runner::open(settings, Access::ReadOnly).await?;
    let all = runner.backfill_status().await;
    runner.close().await;
    let all = all?;
    let known: Vec<String> = all.iter().map(|b| b.name.clone()).collect();
    let list: Vec<BackfillSummary> = all.into_iter().filter(|b| name.is_none_or(|n| b.name == n)).collect();
    if let (Some(n), true) = (name, list.is_empty()) {
        return Err(RunnerError::UnknownBackfill { name: n.to_string(), dir, known });
    }
    if out.json {
        json(&list);
    } else {
        print_summaries(&list);
    }
    Ok(ExitCode::Ok)
}

pub async fn run(
    settings: Settings,
    name: &str,
    max_batches: Option<u64>,
    workers: Option<usize>,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let options = crate::BackfillOptions { run: RunOptions { max_batches }, workers, ..Default::default() };
    let result = runner.run_backfill(name, options, progress_printer(name)).await;
    runner.close().await;
    let report = result?;
    if out.json {
        json(&report);
    } else {
        print_run(&report);
    }
    Ok(if report.outcome == Outcome::Interrupted { ExitCode::Stopped } else { ExitCode::Ok })
}

pub async fn retry(
    settings: Settings,
    name: &str,
    max_batches: Option<u64>,
    workers: Option<usize>,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let options = crate::BackfillOptions { run: RunOptions { max_batches }, workers, ..Default::default() };
    if !out.json {
        errln!("backfill {name}: retrying from its last checkpoint");
    }
    let result = runner.retry_backfill(name, options, progress_printer(name)).await;
    runner.close().await;
    let report = result?;
    if out.json {
        json(&report);
    } else {
        print_run(&report);
    }
    Ok(if report.outcome == Outcome::Interrupted { ExitCode::Stopped } else { ExitCode::Ok })
}

pub async fn change(settings: Settings, name: &str, change: StatusChange) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = runner.change_backfill(name, change).await;
    runner.close().await;
    result?;
    outln!(
        "backfill {name}: {}",
        match change {
            StatusChange::Pause => "paused (a running worker stops after its current batch)",
            StatusChange::Resume => "resumed; `runner backfill run` continues it",
            StatusChange::Retry => "ready to retry from its last checkpoint",
        }
    );
    Ok(ExitCode::Ok)
}

pub async fn reset(settings: Settings, name: &str, confirm: bool) -> Result<ExitCode, RunnerError> {
    if !confirm {
        return Err(RunnerError::from(Refusal::Usage(format!(
            "`runner backfill reset {name}` forgets its progress, so the next run starts over (rows already written stay written); add --confirm"
        ))));
    }
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = runner.reset_backfill(name).await;
    runner.close().await;
    result?;
    outln!("backfill {name}: progress forgotten; the next run starts from the beginning");
    Ok(ExitCode::Ok)
}

pub async fn plugin_check(settings: &Settings, path: &Path, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin").to_string();
    let source = if path.is_dir() {
        runner_backfill::PluginSource::Build(path.to_path_buf())
    } else {
        runner_backfill::PluginSource::Path(path.to_path_buf())
    };
    let started = Instant::now();
    let wasm = crate::backfills::plugin_wasm(settings, &name, &source).await?;
    let built = started.elapsed();
    let sandbox = runner_sandbox::Sandbox::new(crate::backfills::sandbox_config(settings))?;
    let started = Instant::now();
    // Compiling a Python component takes about a minute the first time: say so before, not after.
    if !out.json && wasm.len() > 4 << 20 {
        errln!("compiling {} ({} MB; the first time takes a while)...", path.display(), wasm.len() >> 20);
    }
    let info = tokio::task::block_in_place(|| sandbox.check(&name, &wasm))
        .map_err(|e| RunnerError::InvalidPlugin(Box::new(e)))?;
    let compiled = started.elapsed();
    let cache = match &info.cache {
        runner_sandbox::CacheUse::Hit => "compiled form read from the cache".to_string(),
        runner_sandbox::CacheUse::Stored => {
            format!(
                "compiled in {:.1} s and stored in the cache: the next run loads it at once",
                compiled.as_secs_f64()
            )
        }
        runner_sandbox::CacheUse::Uncached(why) => {
            format!("compiled in {:.1} s, not cached: {why}", compiled.as_secs_f64())
        }
    };
    if out.json {
        json(&serde_json::json!({
            "file": path, "ok": true, "world": info.world, "size_bytes": info.size_bytes,
            "imports": info.imports, "exports": info.exports,
            "built": matches!(source, runner_backfill::PluginSource::Build(_)), "build_ms": built.as_millis() as u64,
            "cache": match &info.cache {
                runner_sandbox::CacheUse::Hit => "hit",
                runner_sandbox::CacheUse::Stored => "stored",
                runner_sandbox::CacheUse::Uncached(_) => "uncached",
            },
            "compile_ms": compiled.as_millis() as u64,
        }));
    } else {
        outln!("{}: OK, implements {} ({} bytes)", path.display(), info.world, info.size_bytes);
        if matches!(source, runner_backfill::PluginSource::Build(_)) {
            outln!("  built from source ({:.1} s; kept until the sources change)", built.as_secs_f64());
        }
        outln!("  {cache}");
        outln!("  exports: {}", info.exports.join(", "));
        outln!("  imports: {}", info.imports.join(", "));
    }
    Ok(ExitCode::Ok)
}

pub async fn plugin_build(settings: &Settings, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let locked = crate::lock_plugins(settings).await?;
    if out.json {
        json(&serde_json::json!({
            "lock": settings.plugin_lock, "built_plugins": settings.built_plugins, "plugins": locked,
        }));
        return Ok(ExitCode::Ok);
    }
    if locked.is_empty() {
        outln!("no manifest builds a plugin from source: nothing to lock");
        return Ok(ExitCode::Ok);
    }
    outln!(
        "locked {} plugin folder{} in {} (components in {}):",
        locked.len(),
        if locked.len() == 1 { "" } else { "s" },
        settings.plugin_lock.display(),
        settings.built_plugins.display()
    );
    for l in &locked {
        outln!(
            "  {} ({}): sha256 {}, {} KB, {}",
            l.build,
            l.plugins.join(", "),
            &l.component[..16],
            l.bytes.div_ceil(1024),
            if l.changed { "locked now" } else { "unchanged" }
        );
    }
    Ok(ExitCode::Ok)
}

pub async fn plugin_test(
    settings: &Settings,
    test: &crate::PluginTest,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let report = crate::test_plugin(settings, test).await?;
    let code = if report.differs() { ExitCode::Failure } else { ExitCode::Ok };
    if out.json {
        json(&report);
        return Ok(code);
    }
    let s = |n: usize| if n == 1 { "" } else { "s" };
    outln!(
        "{}: {} row{} in {} batch{} -> {} change{}",
        report.plugin,
        report.rows,
        s(report.rows),
        report.batches,
        if report.batches == 1 { "" } else { "es" },
        report.changes.len(),
        s(report.changes.len())
    );
    for c in &report.changes {
        outln!("  {}", crate::change_line(c));
    }
    match &report.differences {
        Some(d) if d.is_empty() => outln!("as expected ({})", test.expect.as_ref().expect("compared").display()),
        Some(d) => {
            errln!("{} difference{} from {}:", d.len(), s(d.len()), test.expect.as_ref().expect("compared").display());
            for line in d {
                errln!("  {line}");
            }
        }
        None => {}
    }
    Ok(code)
}

pub fn plugin_new(
    settings: &Settings,
    name: &str,
    lang: super::Lang,
    dir: Option<std::path::PathBuf>,
) -> Result<ExitCode, RunnerError> {
    let language = match lang {
        super::Lang::Rust => crate::Language::Rust,
        super::Lang::Python => crate::Language::Python,
        super::Lang::Js => crate::Language::JavaScript,
    };
    // Shown as a manifest would name it: relative to the project, where the commands run.
    let dir = dir.unwrap_or_else(|| {
        let rel = std::path::Path::new("plugins").join(name);
        if settings.project_dir == std::path::Path::new(".") { rel } else { settings.project_dir.join(rel) }
    });
    let written = crate::new_plugin(&dir, name, language)?;
    let shown = dir.display();
    outln!("created plugin {name} in {shown}:");
    for f in &written {
        outln!("  {}", f.strip_prefix(&dir).unwrap_or(f).display());
    }
    outln!("test it: runner plugin test {shown} --rows {shown}/rows.json --expect {shown}/expected.json");
    outln!(
        "run it as a backfill: plugin = {{ build = \"{shown}\" }} in a manifest under backfills/ (see its README.md)"
    );
    Ok(ExitCode::Ok)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

pub fn plugin_cache(settings: &Settings, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let report = crate::cache_report(settings)?;
    if out.json {
        json(&report);
        return Ok(ExitCode::Ok);
    }
    let shown = |p: &Option<std::path::PathBuf>| {
        p.as_ref().map_or("none (no home folder)".to_string(), |p| p.display().to_string())
    };
    outln!("plugin cache: {}", shown(&report.plugin_cache));
    outln!("toolchains:   {}", shown(&report.toolchains));
    let kinds = [
        (crate::CachedKind::Compiled, "compiled plugins"),
        (crate::CachedKind::Build, "builds from source"),
        (crate::CachedKind::Toolchain, "toolchains"),
        (crate::CachedKind::Leftover, "leftovers"),
    ];
    for (kind, label) in kinds {
        let (n, bytes) = report.bytes(kind);
        let unusable: Vec<&crate::CachedItem> =
            report.items.iter().filter(|i| i.kind == kind && i.unusable.is_some()).collect();
        let tail = if unusable.is_empty() {
            String::new()
        } else {
            let b: u64 = unusable.iter().map(|i| i.bytes).sum();
            format!("; {} unusable by this runner ({})", unusable.len(), megabytes(b))
        };
        outln!("  {label}: {n}, {}{tail}", megabytes(bytes));
    }
    let total: u64 = report.items.iter().map(|i| i.bytes).sum();
    outln!(
        "  in all: {}; `runner plugin cache prune` removes what is unusable or unused for 30 days",
        megabytes(total)
    );
    Ok(ExitCode::Ok)
}

pub fn plugin_cache_prune(settings: &Settings, how: crate::Prune, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let removed = crate::prune_cache(settings, how)?;
    let freed: u64 = removed.iter().map(|i| i.bytes).sum();
    if out.json {
        json(&serde_json::json!({ "removed": removed, "freed_bytes": freed }));
        return Ok(ExitCode::Ok);
    }
    for item in &removed {
        let why = item.unusable.map_or_else(|| format!("unused for {} days", item.idle_secs / 86_400), str::to_string);
        outln!("removed {} ({}; {why})", item.path.display(), megabytes(item.bytes));
    }
    outln!("removed {} item{}, freed {}", removed.len(), if removed.len() == 1 { "" } else { "s" }, megabytes(freed));
    Ok(ExitCode::Ok)
}
