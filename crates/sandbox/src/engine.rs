//! One wasmtime engine per process, with every setting fixed here.

use crate::bindings::Backfill;
use crate::cache::{Cache, CacheUse};
use crate::error::SandboxError;
use crate::grants::Grants;
use crate::host::HostState;
use crate::plugin::{Limits, Plugin, PluginInfo, Pre};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

/// How often the epoch advances: the granularity of batch deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// How a [`Sandbox`] is set up: its cache, its allocator and the stack every plugin gets.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled plugins are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// The per-user key that signs cache entries, kept outside the cache (created on first
    /// use). Without one nothing is cached: an unsigned entry cannot be trusted.
    pub cache_key: Option<PathBuf>,
    /// Deepest wasm stack a plugin may use (engine-wide).
    pub max_stack_bytes: usize,
    /// How instances get their memories and tables.
    pub allocation: Allocation,
}

/// How a plugin instance gets its memories, tables and stack. Every batch gets a fresh instance,
/// so this is paid per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocation {
    /// Slots reserved once per process and reused: a fresh instance maps its memory image
    /// copy-on-write into a warm slot (wasmtime resets a slot before reuse, so nothing of one
    /// batch is seen by the next).
    #[default]
    Pooling,
    /// Memories mapped and unmapped for every instance (the baseline the benchmark compares).
    OnDemand,
}

/// Instances of plugins alive at once in one process: every worker's batch and the next one
/// being prepared, with room to spare (an instance lives only for its batch).
const POOL_INSTANCES: u32 = 4 * 64;
/// The largest memory a pool slot holds: a manifest's `memory_mb` above this cannot load.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

fn pooling() -> wasmtime::PoolingAllocationConfig {
    use crate::host::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLE_ELEMENTS, MAX_TABLES};
    let mut p = wasmtime::PoolingAllocationConfig::new();
    p.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 16)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_core_instances_per_component(MAX_INSTANCES as u32)
        .max_memories_per_component(MAX_MEMORIES as u32)
        .max_tables_per_component(MAX_TABLES as u32)
        .max_tables_per_module(4)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_memory_size(MAX_MEMORY_BYTES);
    p
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: None,
            cache_key: None,
            max_stack_bytes: 512 << 10,
            allocation: Allocation::default(),
        }
    }
}

/// The wasmtime engine and linker every plugin of a run is loaded into, with only runner's
/// host functions linked: a plugin gets nothing else.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    config: SandboxConfig,
    /// The compiled-module cache, or why there is none.
    cache: Result<Cache, String>,
}

impl Sandbox {
    /// An engine set up as `config` says (epoch interruption, fuel off, the pooling allocator
    /// where the address space allows it).
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let mut cfg = Config::new();
        cfg.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_stack_bytes)
            .cranelift_nan_canonicalization(true);
        let engine = match config.allocation {
            Allocation::Pooling => {
                let mut pooled = cfg.clone();
                pooled.allocation_strategy(pooling());
                // The pool reserves its address space up front; where a limit on virtual memory
                // forbids that, plugins still run, only with a slower start per batch.
                Engine::new(&pooled).or_else(|e| {
                    tracing::warn!(error = %e, "cannot reserve the plugin instance pool; allocating per instance");
                    Engine::new(&cfg)
                })
            }
            Allocation::OnDemand => Engine::new(&cfg),
        }
        .map_err(|e| SandboxError::Engine(e.to_string()))?;

        // Deadlines are counted in epochs; a ticker thread advances them for as long as the
        // engine lives.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("runner-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| SandboxError::Engine(e.to_string()))?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| SandboxError::Engine(e.to_string()))?;
        Backfill::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .and_then(|()| {
                crate::columns_bindings::runner::plugin::columns::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            })
            .map_err(|e| SandboxError::Engine(e.to_string()))?;
        let cache = match (&config.cache_dir, &config.cache_key) {
            (None, _) => Err("no cache folder is configured".to_string()),
            (Some(_), None) => Err("no cache key location (set HOME or XDG_CONFIG_HOME)".to_string()),
            (Some(dir), Some(key)) => Cache::open(dir, key),
        };
        if let (Some(_), Err(reason)) = (&config.cache_dir, &cache) {
            tracing::warn!(%reason, "not caching compiled plugins; each plugin is compiled every run");
        }
        Ok(Sandbox { engine, linker, config, cache })
    }

    /// The stack every plugin call gets, in bytes.
    pub fn max_stack_bytes(&self) -> usize {
        self.config.max_stack_bytes
    }

    /// Compiles (or loads from the cache) and pre-links a plugin. A component that does not
    /// implement the world, or imports anything beyond it and WASI, is rejected here, before
    /// anything runs.
    pub fn load(&self, name: &str, wasm: &[u8], limits: Limits, grants: Grants) -> Result<Plugin, SandboxError> {
        let compiled = match &self.cache {
            Ok(cache) => cache.compile(&self.engine, wasm),
            Err(reason) => Component::new(&self.engine, wasm).map(|c| (c, CacheUse::Uncached(reason.clone()))),
        };
        let (component, cache_use) = compiled.map_err(|e| {
            let message = root_cause(&e);
            pool_cap(name, &message).unwrap_or_else(|| SandboxError::Invalid {
                plugin: name.to_string(),
                message: with_build_hint(message),
            })
        })?;
        let pre = self.pre(&component).map_err(|e| SandboxError::WrongWorld {
            plugin: name.to_string(),
            message: with_build_hint(root_cause(&e)),
        })?;
        Ok(Plugin {
            name: Arc::from(name),
            engine: self.engine.clone(),
            pre,
            component,
            limits,
            grants: Arc::new(grants),
            stack_bytes: self.config.max_stack_bytes,
            cache_use,
        })
    }

    /// `component` linked against the world it implements. Which one that is shows in its imports:
    /// only the columns world uses the `columns` interface, so a component that fits neither is
    /// told what is wrong against the world it tried.
    fn pre(&self, component: &Component) -> wasmtime::Result<Pre> {
        let pre = self.linker.instantiate_pre(component)?;
        let columns = component
            .component_type()
            .imports(&self.engine)
            .any(|(name, _)| name.starts_with("runner:plugin/columns@"));
        Ok(if columns {
            Pre::Columns(crate::columns_bindings::BackfillColumnsPre::new(pre)?)
        } else {
            Pre::Rows(crate::bindings::BackfillPre::new(pre)?)
        })
    }

    /// The component at `path`, loaded as [`Sandbox::load`] loads bytes.
    pub fn load_file(&self, name: &str, path: &Path, limits: Limits, grants: Grants) -> Result<Plugin, SandboxError> {
        let wasm = std::fs::read(path).map_err(|cause| SandboxError::Read {
            plugin: name.to_string(),
            path: path.to_path_buf(),
            cause,
        })?;
        self.load(name, &wasm, limits, grants)
    }

    /// The compiled plugins in the cache folder, whether this runner can load them or not.
    pub fn cached_plugins(&self) -> Vec<crate::cache::CachedPlugin> {
        self.config.cache_dir.as_deref().map(|d| crate::cache::list(d, &self.engine)).unwrap_or_default()
    }

    /// `runner plugin check`: validates world, imports and exports without running anything.
    pub fn check(&self, name: &str, wasm: &[u8]) -> Result<PluginInfo, SandboxError> {
        let plugin = self.load(name, wasm, Limits::default(), Grants::default())?;
        Ok(plugin.info(&self.engine, wasm.len()))
    }
}

/// The pool checks a component's counts when it is loaded: over the per-plugin caps, that is the
/// same refusal as a store's limiter gives at instantiation, only earlier.
fn pool_cap(plugin: &str, message: &str) -> Option<SandboxError> {
    use crate::host::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
    if !message.contains("pooling allocator") {
        return None;
    }
    let (what, max) = if message.contains("core module instances") {
        ("instances", MAX_INSTANCES)
    } else if message.contains("memories") {
        ("memories", MAX_MEMORIES)
    } else if message.contains("tables") {
        ("tables", MAX_TABLES)
    } else {
        return None;
    };
    Some(SandboxError::LimitExceeded { plugin: plugin.to_string(), what, max })
}

/// `message`, with how to build the plugin so that it loads, where the cause is a toolchain's
/// default that the sandbox does not take: JavaScript runtimes import `wasi:http` for `fetch`
/// (never linked: plugins reach the network only through the granted `http` capability), and
/// QuickJS's default runtime uses component-model async (left off, so a batch stops when its
/// time is up).
fn with_build_hint(message: String) -> String {
    let hint = if message.contains("wasi:http") {
        "; the sandbox never links wasi:http (a plugin reaches the network through the host's `http` capability): \
         build without it (componentize-js: `-d http -d fetch-event`; runner builds app.js plugins itself with componentize-qjs, which does not import it)"
    } else if message.contains("component model async") || message.contains("component-model-async") {
        "; the sandbox runs plugins synchronously: build with the synchronous runtime \
         (componentize-qjs `--sync`, jco `--backend-qjs-disable-async`)"
    } else {
        return message;
    };
    message + hint
}

/// The innermost message of a wasmtime error chain (the outer ones repeat the context we add).
pub(crate) fn root_cause(e: &wasmtime::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}
