//! `runner refresh` and `runner cron`.

use super::OutputArgs;
use super::output::json;
use crate::error::{ExitCode, RunnerError};
use crate::refresh::{RefreshOutcome, RefreshSelection};
use crate::runner::{Access, Runner};
use crate::settings::Settings;
use std::time::Duration;

pub async fn refresh(settings: Settings, which: RefreshSelection, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = runner.refresh_now(&which).await;
    runner.close().await;
    let outcomes = result?;
    let failed = outcomes.iter().any(|(_, o)| matches!(o, RefreshOutcome::Failed { .. }));
    if out.json {
        json(&outcomes.iter().map(|(n, o)| serde_json::json!({ "refresh": n, "result": o })).collect::<Vec<_>>());
    } else {
        for (n, o) in &outcomes {
            match o {
                RefreshOutcome::Ok { duration_ms, rows } => {
                    outln!(
                        "{n}: refreshed in {duration_ms} ms{}",
                        rows.map(|r| format!(", {r} rows")).unwrap_or_default()
                    )
                }
                RefreshOutcome::Failed { error } => outln!("{n}: failed: {error}"),
                RefreshOutcome::Overlapping => outln!("{n}: skipped, another run of it is in progress"),
                RefreshOutcome::Waiting { revision } => outln!("{n}: waiting for revision {revision}"),
            }
        }
    }
    Ok(if failed { ExitCode::Failure } else { ExitCode::Ok })
}

/// Resolves on SIGINT or SIGTERM, or after `limit`.
async fn stop_signal(limit: Option<Duration>) {
    let term = async {
        #[cfg(unix)]
        {
            if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await
    };
    let limit = async {
        match limit {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = limit => {}
    }
}

pub async fn cron(settings: Settings, run_for: Option<u64>, listen: Option<String>) -> Result<ExitCode, RunnerError> {
    let ops = crate::refresh::CronOps::start(&settings.cron, listen).await?;
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = runner.run_cron(stop_signal(run_for.map(Duration::from_secs)), &ops).await;
    runner.close().await;
    let runs = result?;
    outln!("cron stopped after {runs} refresh run(s)");
    Ok(ExitCode::Ok)
}
