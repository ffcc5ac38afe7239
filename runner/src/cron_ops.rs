//! What operators see of `runner cron`: a health and Prometheus metrics endpoint, and webhooks
//! on failure and on recovery. Neither ever delays the schedule: the endpoint serves from a
//! shared snapshot, and webhooks are delivered by tasks of their own.

use crate::refresh::RefreshOutcome;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Counters per refresh, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct RefreshMetrics {
    pub runs: u64,
    pub failures: u64,
    pub last_duration_s: f64,
    pub last_success_unix: Option<f64>,
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub refreshes: BTreeMap<String, RefreshMetrics>,
}

pub type SharedMetrics = Arc<Mutex<Metrics>>;

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    pub fn record(&mut self, refresh: &str, outcome: &RefreshOutcome) {
        let m = self.refreshes.entry(refresh.to_string()).or_default();
        match outcome {
            RefreshOutcome::Ok { duration_ms, .. } => {
                m.runs += 1;
                m.last_duration_s = *duration_ms as f64 / 1000.0;
                m.last_success_unix = Some(unix_now());
            }
            RefreshOutcome::Failed { .. } => {
                m.runs += 1;
                m.failures += 1;
            }
            _ => {}
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        type Series = (&'static str, &'static str, &'static str, fn(&RefreshMetrics) -> Option<f64>);
        let series: [Series; 4] = [
            ("runner_refresh_runs_total", "counter", "Refresh runs by this process.", |m| Some(m.runs as f64)),
            ("runner_refresh_failures_total", "counter", "Failed refresh runs by this process.", |m| {
                Some(m.failures as f64)
            }),
            ("runner_refresh_last_duration_seconds", "gauge", "Duration of the last successful run.", |m| {
                Some(m.last_duration_s)
            }),
            ("runner_refresh_last_success_timestamp_seconds", "gauge", "Unix time of the last successful run.", |m| {
                m.last_success_unix
            }),
        ];
        for (name, kind, help, get) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (refresh, m) in &self.refreshes {
                if let Some(v) = get(m) {
                    let _ = writeln!(out, "{name}{{refresh=\"{refresh}\"}} {v}");
                }
            }
        }
        out
    }
}

/// Serves `GET /health` and `GET /metrics` on `addr` until the process ends.
pub async fn serve(addr: &str, metrics: SharedMetrics) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // The whole request head, however the client's writes were split into segments
                // (closing with part of it unread would reset the connection before the answer).
                let mut buf = Vec::with_capacity(1024);
                let read_head = async {
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), read_head).await;
                let request = String::from_utf8_lossy(&buf);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let (status, kind, body) = match path {
                    "/health" => {
                        let count = metrics.lock().map(|m| m.refreshes.len()).unwrap_or(0);
                        ("200 OK", "application/json", format!("{{\"status\":\"ok\",\"refreshes_run\":{count}}}"))
                    }
                    "/metrics" => {
                        ("200 OK", "text/plain; version=0.0.4", metrics.lock().map(|m| m.render()).unwrap_or_default())
                    }
                    _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
                };
                let _ = stream
                    .write_all(format!("HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(local)
}

/// Where and how to deliver webhooks.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub timeout: Duration,
    pub retries: u32,
}

impl Webhook {
    /// Sends `event` in a task of its own, retrying with backoff; failures are logged, never
    /// raised: a notification must not stop the schedule.
    pub fn notify(&self, event: serde_json::Value) {
        let hook = self.clone();
        tokio::spawn(async move {
            runner_sandbox::install_tls_provider();
            let client = match reqwest::Client::builder().timeout(hook.timeout).build() {
                Ok(c) => c,
                Err(e) => return tracing::warn!(error = %e, "webhook client"),
            };
            for attempt in 0..=hook.retries {
                let sent = client
                    .post(&hook.url)
                    .header("content-type", "application/json")
                    .body(event.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => {
                        tracing::warn!(url = %runner_db::mask_url(&hook.url), status = r.status().as_u16(), attempt, "webhook refused")
                    }
                    Err(e) => {
                        tracing::warn!(url = %runner_db::mask_url(&hook.url), error = %runner_db::mask_url(&e.to_string()), attempt, "webhook not delivered")
                    }
                }
                tokio::time::sleep(Duration::from_millis(500 * (1 << attempt.min(5)))).await;
            }
            tracing::error!(url = %runner_db::mask_url(&hook.url), "webhook given up after retries");
        });
    }
}
