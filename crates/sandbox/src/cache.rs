//! Compiled plugins, cached on disk by content hash so that a plugin is compiled by Cranelift
//! once (≈0.5 s/MB) and afterwards loaded in milliseconds.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache file for `wasm` under this engine's settings. The engine's compatibility hash is
/// part of the key, so a runner built with other settings never even tries a stale artifact.
fn entry(dir: &Path, engine: &Engine, wasm: &[u8]) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let content = hex::encode(Sha256::digest(wasm));
    dir.join(format!("{content}-{:016x}.cwasm", h.finish()))
}

/// Compiles `wasm`, or loads its compiled form from `dir`.
pub fn compile(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else { return Component::new(engine, wasm) };
    let path = entry(dir, engine, wasm);
    if let Ok(bytes) = std::fs::read(&path) {
        // SAFETY: `deserialize` trusts that the bytes came from wasmtime's own serialiser. They
        // do: only this function writes this folder, under a name derived from the source's
        // SHA-256 and the engine's settings, via a temporary file renamed into place; wasmtime
        // also checks its version and configuration header. The bytes are read into memory
        // rather than mapped, so nothing done to the file later can fault this process.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, &bytes) };
        match loaded {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable compiled plugin; recompiling")
            }
        }
    }
    let component = Component::new(engine, wasm)?;
    if let Err(e) = store(dir, &path, &component) {
        tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled plugin");
    }
    Ok(component)
}

fn store(dir: &Path, path: &Path, component: &Component) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
