//! The state of one plugin instance and the host functions it may call.

use crate::bindings::runner::plugin::{host, types};
use crate::grants::{Capability, Grants, LookupError};
use crate::{HttpRequest, HttpResponse, Level, Value};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// Caps on what a plugin can push through host calls, so a hostile plugin cannot flood the log
/// or the network from inside its limits.
const MAX_LOG_LINES_PER_BATCH: usize = 1000;
const MAX_LOG_LINE: usize = 4096;
const MAX_HTTP_RESPONSE: usize = 1 << 20;

pub struct HostState {
    pub(crate) plugin: Arc<str>,
    pub(crate) grants: Arc<Grants>,
    wasi: WasiCtx,
    table: ResourceTable,
    /// The store's byte budget for all its memories together, and what they hold now.
    memory_limit: usize,
    memory_used: usize,
    /// Set when a host call was refused or a limit hit, so the trap that follows can be reported
    /// as what it is.
    pub(crate) denied: Option<&'static str>,
    pub(crate) memory_refused: bool,
    /// Set when a lookup could not be answered, which fails the batch.
    pub(crate) lookup_failed: Option<String>,
    /// An `http` call no test answer matched (`Grants::http_answers`).
    pub(crate) http_unanswered: Option<String>,
    log_lines: usize,
    http_timeout: Duration,
    /// The guest's stderr, kept (bounded) so a panic message or traceback can be reported.
    pub(crate) stderr: crate::guest_output::GuestOutput,
}

/// A clock that always reads zero: what WASI sees without the `clock` grant.
struct StoppedClock;

impl wasmtime_wasi::HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl HostState {
    pub fn new(plugin: Arc<str>, grants: Arc<Grants>, memory_limit: usize, http_timeout: Duration) -> HostState {
        use rand::SeedableRng;
        let mut wasi = WasiCtx::builder();
        let stderr = crate::guest_output::GuestOutput::default();
        wasi.stderr(stderr.clone());
        // Nothing is inherited: no stdio, environment, arguments, files or sockets (the builder's
        // defaults), and clocks and randomness are virtualised unless granted.
        if !grants.clock {
            wasi.wall_clock(StoppedClock).monotonic_clock(StoppedClock);
        }
        if !grants.random {
            wasi.secure_random(rand::rngs::StdRng::seed_from_u64(0))
                .insecure_random(rand::rngs::StdRng::seed_from_u64(0))
                .insecure_random_seed(0);
        }
        HostState {
            plugin,
            grants,
            wasi: wasi.build(),
            table: ResourceTable::new(),
            memory_limit,
            memory_used: 0,
            denied: None,
            memory_refused: false,
            lookup_failed: None,
            http_unanswered: None,
            log_lines: 0,
            http_timeout,
            stderr,
        }
    }

    fn require(&mut self, c: Capability) -> wasmtime::Result<()> {
        if self.grants.allows(c) {
            Ok(())
        } else {
            self.denied = Some(c.name());
            Err(wasmtime::Error::msg(format!("capability `{}` not granted", c.name())))
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps on what one plugin instance may create. A component is many core instances (a Python
/// one about a dozen), each with its memories and tables; without caps, a component of many
/// small instances escapes a per-memory limit.
pub const MAX_INSTANCES: usize = 64;
/// Memories one plugin instance may create.
pub const MAX_MEMORIES: usize = 16;
/// Tables one plugin instance may create.
pub const MAX_TABLES: usize = 64;
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for HostState {
    /// One budget for the whole store: every memory of every inner instance counts against it.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_used.saturating_sub(current).saturating_add(desired);
        if total > self.memory_limit {
            self.memory_refused = true;
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

impl types::Host for HostState {}

impl crate::columns_bindings::runner::plugin::columns::Host for HostState {}

impl host::Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.require(Capability::Log)?;
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_BATCH {
            return Ok(());
        }
        // One line, printable, bounded: a plugin must not forge log records or flood them.
        let mut clean: String =
            message.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_LOG_LINE).collect();
        if self.log_lines == MAX_LOG_LINES_PER_BATCH {
            clean.push_str(" (further log lines of this batch dropped)");
        }
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{clean}"),
            Level::Debug => tracing::debug!(plugin, "{clean}"),
            Level::Info => tracing::info!(plugin, "{clean}"),
            Level::Warn => tracing::warn!(plugin, "{clean}"),
            Level::Error => tracing::error!(plugin, "{clean}"),
        }
        Ok(())
    }

    async fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.require(Capability::Config)?;
        Ok(self.grants.config.get(&key).cloned())
    }

    async fn lookup(&mut self, query: String, params: Vec<Value>) -> wasmtime::Result<Result<Vec<Vec<Value>>, String>> {
        self.require(Capability::Lookup)?;
        let lookup = self.grants.lookup.clone().expect("granted means present");
        match lookup.lookup(&query, params).await {
            Ok(rows) => Ok(Ok(rows)),
            Err(LookupError::Query(message)) => {
                let message = crate::plugin::bounded(message);
                tracing::warn!(plugin = &*self.plugin, error = %message, "lookup failed");
                Ok(Err(message))
            }
            Err(LookupError::Unavailable(message)) => {
                self.lookup_failed = Some(message.clone());
                Err(wasmtime::Error::msg(message))
            }
        }
    }

    async fn http(&mut self, request: HttpRequest) -> wasmtime::Result<Result<HttpResponse, String>> {
        self.require(Capability::Http)?;
        let url = match reqwest::Url::parse(&request.url) {
            Ok(u) => u,
            Err(e) => return Ok(Err(format!("invalid URL `{}`: {e}", request.url))),
        };
        let origin =
            format!("{}://{}:{}", url.scheme(), url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0));
        if !self.grants.http_origins.iter().any(|o| o == &origin) {
            self.denied = Some("http");
            return Err(wasmtime::Error::msg(format!("origin {origin} is not in the plugin's http allow-list")));
        }
        if let Some(answers) = &self.grants.http_answers {
            return match answers.answer(&request) {
                Some(response) => Ok(Ok(response)),
                None => {
                    let message = format!("nothing answers {} {}", request.method, request.url);
                    self.http_unanswered = Some(message.clone());
                    Err(wasmtime::Error::msg(message))
                }
            };
        }
        Ok(fetch(request, url, self.http_timeout).await)
    }

    async fn now_ms(&mut self) -> wasmtime::Result<i64> {
        self.require(Capability::Clock)?;
        Ok(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
    }

    async fn random(&mut self, len: u32) -> wasmtime::Result<Vec<u8>> {
        self.require(Capability::Random)?;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
        let mut out = vec![0u8; len.min(1 << 16) as usize];
        rng.fill_bytes(&mut out);
        Ok(out)
    }
}

/// One request: no redirects (a redirect could leave the allow-list), a timeout, a size cap.
async fn fetch(request: HttpRequest, url: reqwest::Url, timeout: Duration) -> Result<HttpResponse, String> {
    crate::install_tls_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, url);
    for (k, v) in &request.headers {
        // The host sets these from the URL and the body: a plugin-chosen `Host` would reach other
        // virtual hosts behind an allowed origin, and framing headers could desynchronise a proxy.
        if ["host", "content-length", "transfer-encoding", "connection"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
            continue;
        }
        req = req.header(k, v);
    }
    if let Some(body) = request.body {
        req = req.body(body);
    }
    let mut resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_HTTP_RESPONSE {
            return Err(format!("response larger than {MAX_HTTP_RESPONSE} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpResponse { status, headers, body })
}
