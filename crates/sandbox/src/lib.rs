//! The WASM plugin sandbox: the one place `runner` touches wasmtime.
//!
//! It fixes the engine's settings (component model, Cranelift, epoch interruption, no GC or
//! threads), and exposes only what the backfill engine needs: load a plugin (compiled once per
//! content hash, cached on disk, pre-linked), then run `process` on a batch in a fresh store with
//! its limits. Everything a plugin could reach is denied unless its manifest grants it:
//!
//! - host capabilities (`log`, `config`, `lookup`, `http`, `clock`, `random`) check their grant
//!   before acting; a denied call stops the batch with [`SandboxError::Denied`];
//! - WASI, which Rust's `wasm32-wasip2` standard library imports, is linked with nothing in it:
//!   no files, no environment, no sockets; its clocks read zero and its randomness is a fixed
//!   stream, so a plugin is deterministic unless granted `clock` or `random`.
//!
//! Limits per batch: wall-clock time over the whole call, host calls included (epoch deadline
//! plus a timer), one memory budget for all the store's memories, caps on instances, memories
//! and tables, wasm stack, and the size of anything the plugin hands back as text. A plugin that
//! loops, allocates without bound, recurses, traps or returns an error fails its batch with an
//! error naming the plugin; the host keeps running.

#![warn(missing_docs)]

mod cache;
mod columns;
mod engine;
mod error;
mod grants;
mod guest_output;
mod host;
mod plugin;

/// Host-side bindings of the `runner:plugin/backfill` world (`plugins/wit/world.wit`).
// Generated: the WIT file is where they are documented.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "backfill",
        path: "../../plugins/wit",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
    });
}

/// Host-side bindings of the `runner:plugin/backfill-columns` world, sharing the `types` and
/// `host` interfaces of [`bindings`]: one host implementation serves both worlds.
#[allow(missing_docs)]
pub mod columns_bindings {
    wasmtime::component::bindgen!({
        world: "backfill-columns",
        path: "../../plugins/wit",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "runner:plugin/types": crate::bindings::runner::plugin::types,
            "runner:plugin/host": crate::bindings::runner::plugin::host,
        },
    });
}

pub use bindings::runner::plugin::types::{Assignment, Batch, Change, HttpRequest, HttpResponse, Level, Update, Value};
pub use columns_bindings::runner::plugin::columns::{
    Batch as ColumnBatch, Column, NamedColumn, Output as ColumnOutput, Updates,
};
pub use engine::{Allocation, MAX_MEMORY_BYTES, Sandbox, SandboxConfig};
pub use error::SandboxError;

/// Installs ring as rustls' crypto provider (once per process; later calls are no-ops).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use cache::{CacheUse, CachedPlugin, ensure_key, private_dir, retire_key, seal, unseal};

/// The WIT world every plugin implements (`plugins/wit/world.wit`), for the builders that need
/// it as a file (componentize-py, componentize-js).
pub const WORLD_WIT: &str = include_str!("../../../plugins/wit/world.wit");

/// A plugin's identity: the SHA-256 of its bytes, in lowercase hex. What a manifest's `sha256`
/// pins and what the compile cache is keyed by.
pub fn content_hash(wasm: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(wasm))
}
pub use columns::{MAX_COLUMN_NAME, answer_budget};
pub use grants::{Capability, Grants, HttpAnswers, Lookup, LookupError};
pub use host::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
pub use plugin::{Limits, MAX_PLUGIN_MESSAGE, Plugin, PluginInfo, World};
