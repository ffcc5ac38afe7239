//! What operators see of `runner cron`: a health and Prometheus metrics endpoint, and webhooks
//! on failure and on recovery. Neither ever delays the schedule: the endpoint serves from a
//! shared snapshot, and webhooks are delivered by tasks of their own.

use super::RefreshOutcome;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Counters per refresh, for `/metrics` and `/health`.
#[derive(Debug, Clone, Default)]
pub struct RefreshMetrics {
    /// Runs so far.
    pub runs: u64,
    /// Failed runs so far.
    pub failures: u64,
    /// Failed runs since the last success.
    pub failing_for: u64,
    /// `None` until a run succeeds: a refresh that never succeeded has no duration to report.
    pub last_duration_s: Option<f64>,
    /// When the last successful run ended (Unix seconds).
    pub last_success_unix: Option<f64>,
    /// The next slot plus the refresh's grace: past it with no run, the refresh is overdue.
    pub due_by_unix: Option<f64>,
    /// Slots that could not be claimed, run or recorded (a database error), so far.
    pub slot_errors: u64,
}

/// What `runner cron` serves on `/metrics` and `/health`.
#[derive(Debug)]
pub struct Metrics {
    /// Counters per refresh, by name.
    pub refreshes: BTreeMap<String, RefreshMetrics>,
    /// `/health` says 503 once a refresh has failed this many runs in a row.
    pub unhealthy_after_failures: u64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics { refreshes: BTreeMap::new(), unhealthy_after_failures: DEFAULT_UNHEALTHY_AFTER }
    }
}

/// Failed runs in a row before `/health` reports a refresh unhealthy (`[cron] unhealthy_after_failures`).
pub const DEFAULT_UNHEALTHY_AFTER: u64 = 3;

/// What `GET /health` answers.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Health {
    /// `ok`, or `unhealthy` when a refresh is failing or overdue.
    pub status: &'static str,
    /// Runs by this process, all refreshes together.
    pub refreshes_run: u64,
    /// Refreshes whose last `unhealthy_after_failures` runs failed.
    pub failing: Vec<String>,
    /// Refreshes whose next slot passed, grace included, without a run.
    pub overdue: Vec<String>,
}

/// The metrics the cron loop writes and the HTTP endpoint reads.
pub type SharedMetrics = Arc<Mutex<Metrics>>;

pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    /// Counts one run of `refresh` that ended with `outcome`.
    pub fn record(&mut self, refresh: &str, outcome: &RefreshOutcome) {
        let m = self.refreshes.entry(refresh.to_string()).or_default();
        match outcome {
            RefreshOutcome::Ok { duration_ms, .. } => {
                m.runs += 1;
                m.failing_for = 0;
                m.last_duration_s = Some(*duration_ms as f64 / 1000.0);
                m.last_success_unix = Some(unix_now());
            }
            RefreshOutcome::Failed { .. } => {
                m.runs += 1;
                m.failures += 1;
                m.failing_for += 1;
            }
            _ => {}
        }
    }

    /// Counts a slot of `refresh` that failed with a database error: cron goes on with the
    /// next slot, and operators see the count.
    pub fn slot_error(&mut self, refresh: &str) {
        self.refreshes.entry(refresh.to_string()).or_default().slot_errors += 1;
    }

    /// Sets when `refresh` must have run next (its next slot plus grace).
    pub fn expect(&mut self, refresh: &str, due_by_unix: Option<f64>) {
        self.refreshes.entry(refresh.to_string()).or_default().due_by_unix = due_by_unix;
    }

    /// What `/health` answers at `now_unix`.
    pub fn health(&self, now_unix: f64) -> Health {
        let failing: Vec<String> = self
            .refreshes
            .iter()
            .filter(|(_, m)| m.failing_for >= self.unhealthy_after_failures.max(1))
            .map(|(n, _)| n.clone())
            .collect();
        let overdue: Vec<String> = self
            .refreshes
            .iter()
            .filter(|(_, m)| m.due_by_unix.is_some_and(|d| now_unix > d))
            .map(|(n, _)| n.clone())
            .collect();
        Health {
            status: if failing.is_empty() && overdue.is_empty() { "ok" } else { "unhealthy" },
            refreshes_run: self.refreshes.values().map(|m| m.runs).sum(),
            failing,
            overdue,
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        type Series = (&'static str, &'static str, &'static str, fn(&RefreshMetrics) -> Option<f64>);
        let series: [Series; 5] = [
            ("runner_refresh_runs_total", "counter", "Refresh runs by this process.", |m| Some(m.runs as f64)),
            ("runner_refresh_failures_total", "counter", "Failed refresh runs by this process.", |m| {
                Some(m.failures as f64)
            }),
            ("runner_cron_slot_errors_total", "counter", "Slots that failed with a database error.", |m| {
                Some(m.slot_errors as f64)
            }),
            ("runner_refresh_last_duration_seconds", "gauge", "Duration of the last successful run.", |m| {
                m.last_duration_s
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

/// Connections the endpoint serves at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 32;

/// How long one connection may take, request and answer: a probe asks at once, so an idle
/// connection is dropped quickly instead of holding a file handle.
const CONNECTION_TIME: Duration = Duration::from_secs(2);

/// Where `--listen` binds: a port alone (`9187`) or `:9187` is on loopback; an address with a
/// host (`0.0.0.0:9187`) is taken as it is.
pub fn listen_address(addr: &str) -> String {
    if addr.parse::<u16>().is_ok() {
        format!("127.0.0.1:{addr}")
    } else if addr.starts_with(':') {
        format!("127.0.0.1{addr}")
    } else {
        addr.to_string()
    }
}

/// Serves `GET /health` and `GET /metrics` on `addr` (see [`listen_address`]) until the
/// process ends. At most [`MAX_CONNECTIONS`] at a time, each for at most two seconds; a failing
/// `accept` (no file handles left) is retried after a pause that grows to a second, so the
/// endpoint never spins nor takes the refreshes' handles with it.
pub async fn serve(addr: &str, metrics: SharedMetrics) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen_address(addr)).await?;
    let local = listener.local_addr()?;
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(10);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    pause = Duration::from_millis(10);
                    stream
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the /health endpoint cannot accept a connection; pausing");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let Some(slot) = Open::take(&open) else {
                drop(stream);
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let _ = tokio::time::timeout(CONNECTION_TIME, answer(stream, &metrics)).await;
            });
        }
    });
    Ok(local)
}

/// One of the endpoint's [`MAX_CONNECTIONS`], given back when dropped.
struct Open(Arc<std::sync::atomic::AtomicUsize>);

impl Open {
    fn take(count: &Arc<std::sync::atomic::AtomicUsize>) -> Option<Open> {
        use std::sync::atomic::Ordering;
        let taken = count.fetch_add(1, Ordering::SeqCst);
        let open = Open(count.clone());
        (taken < MAX_CONNECTIONS).then_some(open)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: tokio::net::TcpStream, metrics: &SharedMetrics) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The whole request head, however the client's writes were split into segments (closing
    // with part of it unread would reset the connection before the answer).
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf);
    let mut words = request.split_whitespace();
    let method = words.next().unwrap_or("");
    let path = words.next().unwrap_or("/");
    let (status, kind, body) = match (method, path) {
        ("GET", "/health") => {
            let health = metrics.lock().map(|m| m.health(unix_now())).ok();
            match health {
                Some(h) => {
                    let code = if h.status == "ok" { "200 OK" } else { "503 Service Unavailable" };
                    (code, "application/json", serde_json::to_string(&h).unwrap_or_default())
                }
                None => ("500 Internal Server Error", "text/plain", "metrics unavailable\n".into()),
            }
        }
        ("GET", "/metrics") => {
            ("200 OK", "text/plain; version=0.0.4", metrics.lock().map(|m| m.render()).unwrap_or_default())
        }
        (_, "/health" | "/metrics") => ("405 Method Not Allowed", "text/plain", "GET only\n".to_string()),
        _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
    };
    let allow = if status.starts_with("405") { "allow: GET\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n{allow}connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(format!("{head}{body}").as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Where and how to deliver webhooks.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to send it.
    pub url: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// Retries of a failed call.
    pub retries: u32,
}

impl Webhook {
    /// Sends `event` in a task of its own, retrying with backoff; failures are logged, never
    /// raised: a notification must not stop the schedule. Redirects are not followed: the event
    /// (an error text among it) goes to the configured address or nowhere, and a redirect is a
    /// failed delivery, not retried, since the same address would only redirect again.
    pub fn notify(&self, event: serde_json::Value) {
        let hook = self.clone();
        tokio::spawn(async move {
            runner_sandbox::install_tls_provider();
            let client =
                reqwest::Client::builder().timeout(hook.timeout).redirect(reqwest::redirect::Policy::none()).build();
            let client = match client {
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
                    Ok(r) if r.status().is_redirection() => {
                        return tracing::error!(
                            url = %runner_db::mask_url(&hook.url),
                            status = r.status().as_u16(),
                            "webhook not delivered: the receiver answered with a redirect, which runner does not follow; set webhook_url to the final address"
                        );
                    }
                    Ok(r) => {
                        tracing::warn!(url = %runner_db::mask_url(&hook.url), status = r.status().as_u16(), attempt, "webhook refused")
                    }
                    Err(e) => {
                        tracing::warn!(url = %runner_db::mask_url(&hook.url), error = %runner_db::mask_url(&e.to_string()), attempt, "webhook not delivered")
                    }
                }
                runner_db::backoff::Backoff::SERVICE.sleep(attempt + 1).await;
            }
            tracing::error!(url = %runner_db::mask_url(&hook.url), "webhook given up after retries");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> RefreshOutcome {
        RefreshOutcome::Failed { error: "boom".into() }
    }

    #[test]
    fn health_turns_unhealthy_after_the_configured_failures_in_a_row_and_recovers() {
        let mut m = Metrics { unhealthy_after_failures: 2, ..Metrics::default() };
        m.record("r", &failed());
        assert_eq!(m.health(0.0).status, "ok", "one failure is within the threshold");
        m.record("r", &failed());
        let h = m.health(0.0);
        assert_eq!((h.status, h.failing.clone(), h.refreshes_run), ("unhealthy", vec!["r".to_string()], 2));
        m.record("r", &RefreshOutcome::Ok { duration_ms: 5, rows: None });
        assert_eq!(m.health(0.0).status, "ok");
    }

    #[test]
    fn health_reports_a_refresh_overdue_past_its_grace() {
        let mut m = Metrics::default();
        m.expect("r", Some(100.0));
        assert_eq!(m.health(99.0).status, "ok");
        assert_eq!(m.health(101.0).overdue, vec!["r".to_string()]);
    }

    #[test]
    fn a_port_alone_listens_on_loopback_and_a_host_is_taken_as_given() {
        assert_eq!(listen_address("9187"), "127.0.0.1:9187");
        assert_eq!(listen_address(":9187"), "127.0.0.1:9187");
        assert_eq!(listen_address("0.0.0.0:9187"), "0.0.0.0:9187");
        assert_eq!(listen_address("[::1]:9187"), "[::1]:9187");
    }

    #[test]
    fn a_refresh_that_never_succeeded_has_no_duration() {
        let mut m = Metrics::default();
        m.record("r", &failed());
        assert!(!m.render().contains("runner_refresh_last_duration_seconds{"), "{}", m.render());
        m.record("r", &RefreshOutcome::Ok { duration_ms: 1500, rows: None });
        assert!(m.render().contains("runner_refresh_last_duration_seconds{refresh=\"r\"} 1.5"), "{}", m.render());
    }
}
