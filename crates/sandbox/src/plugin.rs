//! A loaded plugin: pre-linked once, instantiated fresh for every batch.

use crate::bindings::{Backfill, BackfillPre};
use crate::cache::CacheUse;
use crate::columns_bindings::{BackfillColumns, BackfillColumnsPre};
use crate::error::SandboxError;
use crate::grants::Grants;
use crate::host::HostState;
use crate::{Batch, Change};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Engine, ResourceLimiter, Store, Trap};

/// Per-plugin limits, set by its manifest.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time one batch may take inside the plugin (host calls included).
    pub batch_timeout: Duration,
    /// Linear memory the plugin may grow to.
    pub memory_bytes: usize,
    /// Timeout of each granted HTTP request.
    pub http_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { batch_timeout: Duration::from_secs(5), memory_bytes: 64 << 20, http_timeout: Duration::from_secs(5) }
    }
}

/// What `runner plugin check` reports.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    /// The plugin's name.
    pub name: String,
    /// The component's size.
    pub size_bytes: usize,
    /// The world it was checked against.
    pub world: &'static str,
    /// What it imports (interfaces and functions).
    pub imports: Vec<String>,
    /// What it exports.
    pub exports: Vec<String>,
    /// Whether its compiled form came from the cache, went into it, or neither.
    pub cache: CacheUse,
}

/// Which of runner's worlds a plugin implements. Both take the same host, grants and limits;
/// they differ in the shape of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `runner:plugin/backfill`: a batch is a list of rows, the answer a list of changes.
    Rows,
    /// `runner:plugin/backfill-columns`: a batch is a list of columns, the answer columns to set
    /// on rows of the batch (and changes by key).
    Columns,
}

impl World {
    /// Its full name, with package and version.
    pub fn name(self) -> &'static str {
        match self {
            World::Rows => "runner:plugin/backfill@0.1.0",
            World::Columns => "runner:plugin/backfill-columns@0.1.0",
        }
    }
}

/// A component pre-linked against its world.
pub(crate) enum Pre {
    Rows(BackfillPre<HostState>),
    Columns(BackfillColumnsPre<HostState>),
}

enum Instance {
    Rows(Backfill),
    Columns(BackfillColumns),
}

/// Built by [`crate::Sandbox::load`].
pub struct Plugin {
    pub(crate) name: Arc<str>,
    pub(crate) engine: Engine,
    pub(crate) pre: Pre,
    pub(crate) component: Component,
    pub(crate) limits: Limits,
    pub(crate) grants: Arc<Grants>,
    pub(crate) stack_bytes: usize,
    pub(crate) cache_use: CacheUse,
}

impl Plugin {
    /// Whether its compiled form came from the cache, went into it, or neither (and why).
    pub fn cache_use(&self) -> &CacheUse {
        &self.cache_use
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limits every call gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The world it implements.
    pub fn world(&self) -> World {
        match self.pre {
            Pre::Rows(_) => World::Rows,
            Pre::Columns(_) => World::Columns,
        }
    }

    async fn instance(&self) -> Result<(Store<HostState>, Instance), SandboxError> {
        let state =
            HostState::new(self.name.clone(), self.grants.clone(), self.limits.memory_bytes, self.limits.http_timeout);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        let ticks = (self.limits.batch_timeout.as_millis() / crate::engine::TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let instance = match &self.pre {
            Pre::Rows(pre) => pre.instantiate_async(&mut store).await.map(Instance::Rows),
            Pre::Columns(pre) => pre.instantiate_async(&mut store).await.map(Instance::Columns),
        };
        match instance {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err(self.classify(&store, e)),
        }
    }

    /// Creates a fresh instance and drops it: what every batch pays before its call (measured
    /// by `cargo bench --bench plugins`).
    pub async fn instantiate(&self) -> Result<(), SandboxError> {
        self.instance().await.map(drop)
    }

    /// The plugin's name and version, as it describes itself.
    pub async fn describe(&self) -> Result<String, SandboxError> {
        self.within_time_limit(async {
            let (mut store, instance) = self.instance().await?;
            let described = match instance {
                Instance::Rows(i) => i.call_describe(&mut store).await,
                Instance::Columns(i) => i.call_describe(&mut store).await,
            };
            let described = described.map_err(|e| self.classify(&store, e))?;
            Ok(bounded(described))
        })
        .await
    }

    /// Runs one batch in a fresh instance. Whatever the plugin does, the host gets either its
    /// changes or an error naming the plugin and what went wrong.
    pub async fn process(&self, batch: &Batch) -> Result<Vec<Change>, SandboxError> {
        self.within_time_limit(async {
            let (mut store, instance) = self.instance().await?;
            let answer = match instance {
                Instance::Rows(i) => i.call_process(&mut store, batch).await,
                Instance::Columns(i) => {
                    let columns = crate::columns::batch(batch);
                    match i.call_process(&mut store, &columns).await {
                        Ok(Ok(output)) => {
                            let budget = crate::columns::answer_budget(self.limits.memory_bytes);
                            let changes = crate::columns::changes(batch, output, budget).map_err(|message| {
                                SandboxError::BadOutput { plugin: self.name.to_string(), message: bounded(message) }
                            })?;
                            Ok(Ok(changes))
                        }
                        Ok(Err(message)) => Ok(Err(message)),
                        Err(e) => Err(e),
                    }
                }
            };
            match answer {
                Ok(Ok(changes)) => Ok(changes),
                // A guest that catches a refused allocation (Python's MemoryError, through the
                // SDK) reports it as an error value: it is still the memory limit, and a smaller
                // batch may fit.
                Ok(Err(_)) if store.data().memory_refused => Err(SandboxError::MemoryExceeded {
                    plugin: self.name.to_string(),
                    limit_bytes: self.limits.memory_bytes,
                }),
                Ok(Err(message)) => {
                    Err(SandboxError::PluginError { plugin: self.name.to_string(), message: bounded(message) })
                }
                Err(e) => Err(self.classify(&store, e)),
            }
        })
        .await
    }

    /// The batch's wall-clock limit over everything the call does. The epoch deadline stops wasm
    /// that computes; this stops a plugin waiting in a host call (a slow lookup, a WASI sleep),
    /// which the epoch cannot interrupt. Dropping the call drops its store and instance.
    async fn within_time_limit<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, SandboxError>>,
    ) -> Result<T, SandboxError> {
        match tokio::time::timeout(self.limits.batch_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(SandboxError::Timeout { plugin: self.name.to_string(), limit: self.limits.batch_timeout }),
        }
    }

    /// Names a failure after its cause: a refused capability or memory growth first (the trap
    /// that follows is only its consequence), then the kind of trap.
    fn classify(&self, store: &Store<HostState>, e: wasmtime::Error) -> SandboxError {
        let plugin = self.name.to_string();
        let state = store.data();
        if let Some(capability) = state.denied {
            return SandboxError::Denied { plugin, capability };
        }
        if let Some(message) = &state.lookup_failed {
            return SandboxError::LookupFailed { plugin, message: message.clone() };
        }
        if let Some(message) = &state.http_unanswered {
            return SandboxError::HttpUnanswered { plugin, message: message.clone() };
        }
        if state.memory_refused {
            return SandboxError::MemoryExceeded { plugin, limit_bytes: self.limits.memory_bytes };
        }
        let cause = crate::engine::root_cause(&e);
        if let Some(desc) = cause.split("resource limit exceeded: ").nth(1) {
            let (what, max) = match desc.split_whitespace().next() {
                Some("memory") => ("memories", crate::host::MAX_MEMORIES),
                Some("table") => ("tables", crate::host::MAX_TABLES),
                _ => ("instances", crate::host::MAX_INSTANCES),
            };
            return SandboxError::LimitExceeded { plugin, what, max };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => SandboxError::Timeout { plugin, limit: self.limits.batch_timeout },
            Some(Trap::StackOverflow) => SandboxError::StackOverflow { plugin, limit_bytes: self.stack_bytes },
            _ => {
                // The trap itself (an `unreachable` after a panic or an uncaught exception) says
                // less than what the guest printed; the wasm backtrace says nothing to an operator.
                let trap = e
                    .downcast_ref::<Trap>()
                    .map_or_else(|| first_line(&crate::engine::root_cause(&e)), |t| t.to_string());
                let stderr = state.stderr.text();
                tracing::debug!(plugin, stderr, "the plugin's stderr when it trapped");
                let reason = match crate::guest_output::last_words(&stderr) {
                    Some(words) => format!("{words} ({trap})"),
                    None => trap,
                };
                SandboxError::Trapped { plugin, reason: bounded(reason) }
            }
        }
    }

    pub(crate) fn info(&self, engine: &Engine, size: usize) -> PluginInfo {
        let ty = self.component.component_type();
        PluginInfo {
            name: self.name.to_string(),
            size_bytes: size,
            world: self.world().name(),
            imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
            exports: ty.exports(engine).map(|(n, _)| n.to_string()).collect(),
            cache: self.cache_use.clone(),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The most of a plugin's own text (error, description) that the host keeps: it goes to the log,
/// the state table and the operator's terminal, so a plugin must not be able to flood them.
pub const MAX_PLUGIN_MESSAGE: usize = 4096;

/// `text` cut to [`MAX_PLUGIN_MESSAGE`] bytes (at a character boundary), saying so.
pub(crate) fn bounded(text: String) -> String {
    if text.len() <= MAX_PLUGIN_MESSAGE {
        return text;
    }
    let mut end = MAX_PLUGIN_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all; cut)", &text[..end], text.len())
}
