//! `runner refresh` and `runner cron`.

use super::OutputArgs;
use super::output::json;
use crate::error::{ExitCode, RunnerError};
use crate::refresh::RefreshOutcome;
use crate::refusal::Refusal;
use crate::runner::{Access, Runner};
use crate::settings::Settings;
use std::time::Duration;

pub async fn refresh(
    settings: Settings,
    name: Option<&str>,
    all: bool,
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = refresh_now(&mut runner, name, all).await;
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

async fn refresh_now(
    runner: &mut Runner,
    name: Option<&str>,
    all: bool,
) -> Result<Vec<(String, RefreshOutcome)>, RunnerError> {
    let specs = runner.refresh_specs()?;
    let chosen: Vec<_> = match (name, all) {
        (Some(n), false) => {
            let known: Vec<String> = specs.iter().map(|r| r.name.clone()).collect();
            let Some(r) = specs.iter().find(|r| r.name == n) else {
                return Err(RunnerError::UnknownRefresh { name: n.to_string(), known });
            };
            vec![r.clone()]
        }
        (None, true) => specs,
        _ => return Err(Refusal::Usage("name one refresh, or pass --all".into()).into()),
    };
    runner.check_refreshes(&chosen).await?;
    let mut out = Vec::new();
    for r in &chosen {
        out.push((r.name.clone(), runner.run_refresh(r, None).await?));
    }
    Ok(out)
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
    let mut ops = crate::refresh::CronOps::default();
    if let Some(addr) = listen.or_else(|| settings.cron.listen.clone()) {
        let metrics = crate::refresh::ops::SharedMetrics::default();
        if let (Some(n), Ok(mut m)) = (settings.cron.unhealthy_after_failures, metrics.lock()) {
            m.unhealthy_after_failures = n;
        }
        let bound = crate::refresh::ops::serve(&addr, metrics.clone())
            .await
            .map_err(|cause| RunnerError::Io { context: format!("listening on {addr}"), cause })?;
        tracing::info!(address = %bound, "serving /health and /metrics");
        ops.metrics = Some(metrics);
    }
    if let Some(url) = settings.cron.webhook_url.clone() {
        ops.webhook = Some(crate::refresh::ops::Webhook {
            url,
            timeout: Duration::from_secs(settings.cron.webhook_timeout_secs.unwrap_or(5)),
            retries: settings.cron.webhook_retries.unwrap_or(3),
        });
    }
    let mut runner = Runner::open(settings, Access::ReadWrite).await?;
    let result = runner.run_cron(stop_signal(run_for.map(Duration::from_secs)), &ops).await;
    runner.close().await;
    let runs = result?;
    outln!("cron stopped after {runs} refresh run(s)");
    Ok(ExitCode::Ok)
}
