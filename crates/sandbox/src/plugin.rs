//! A loaded plugin: pre-linked once, instantiated fresh for every batch.

use crate::bindings::{Backfill, BackfillPre};
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
    pub name: String,
    pub size_bytes: usize,
    pub world: &'static str,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

pub struct Plugin {
    name: Arc<str>,
    engine: Engine,
    pre: BackfillPre<HostState>,
    component: Component,
    limits: Limits,
    grants: Arc<Grants>,
    stack_bytes: usize,
}

impl Plugin {
    pub(crate) fn new(
        name: Arc<str>,
        engine: Engine,
        pre: BackfillPre<HostState>,
        component: Component,
        limits: Limits,
        grants: Arc<Grants>,
        stack_bytes: usize,
    ) -> Plugin {
        Plugin { name, engine, pre, component, limits, grants, stack_bytes }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    async fn instance(&self) -> Result<(Store<HostState>, Backfill), SandboxError> {
        let state =
            HostState::new(self.name.clone(), self.grants.clone(), self.limits.memory_bytes, self.limits.http_timeout);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        let ticks = (self.limits.batch_timeout.as_millis() / crate::engine::TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err(self.classify(&store, e)),
        }
    }

    /// The plugin's name and version, as it describes itself.
    pub async fn describe(&self) -> Result<String, SandboxError> {
        let (mut store, instance) = self.instance().await?;
        instance.call_describe(&mut store).await.map_err(|e| self.classify(&store, e))
    }

    /// Runs one batch in a fresh instance. Whatever the plugin does, the host gets either its
    /// changes or an error naming the plugin and what went wrong.
    pub async fn process(&self, batch: &Batch) -> Result<Vec<Change>, SandboxError> {
        let (mut store, instance) = self.instance().await?;
        match instance.call_process(&mut store, batch).await {
            Ok(Ok(changes)) => Ok(changes),
            Ok(Err(message)) => Err(SandboxError::PluginError { plugin: self.name.to_string(), message }),
            Err(e) => Err(self.classify(&store, e)),
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
        if state.memory_refused {
            return SandboxError::MemoryExceeded { plugin, limit_bytes: self.limits.memory_bytes };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => SandboxError::Timeout { plugin, limit: self.limits.batch_timeout },
            Some(Trap::StackOverflow) => SandboxError::StackOverflow { plugin, limit_bytes: self.stack_bytes },
            _ => {
                let stderr = String::from_utf8_lossy(&state.stderr.contents()).trim().to_string();
                let reason = if stderr.is_empty() {
                    crate::engine::root_cause(&e)
                } else {
                    format!(
                        "{} ({})",
                        stderr.lines().take(3).collect::<Vec<_>>().join(" "),
                        crate::engine::root_cause(&e)
                    )
                };
                SandboxError::Trapped { plugin, reason }
            }
        }
    }

    pub(crate) fn info(&self, engine: &Engine, size: usize) -> PluginInfo {
        let ty = self.component.component_type();
        PluginInfo {
            name: self.name.to_string(),
            size_bytes: size,
            world: "runner:plugin/backfill@0.1.0",
            imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
            exports: ty.exports(engine).map(|(n, _)| n.to_string()).collect(),
        }
    }
}
