//! Compiled plugins, cached on disk by content hash so that a plugin is compiled by Cranelift
//! once (≈0.5 s/MB) and afterwards loaded in milliseconds.
//!
//! Trust: wasmtime's `deserialize` runs whatever machine code its bytes contain, so a file in the
//! cache is code execution for whoever can write it. An entry is therefore used only when this
//! user's runner provably wrote it: it carries an HMAC-SHA256 over its name (the source's SHA-256
//! and the engine's settings) and its compiled bytes, under a per-user key kept outside the cache
//! (mode 0600). A planted file, a file copied from another plugin's entry, or one from another
//! machine fails the check and is compiled again, with a warning. A folder (for the cache or the
//! key) owned by another user or writable by group or others is not used at all.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

const KEY_BYTES: usize = 32;
const MAC_BYTES: usize = 32;

/// How a plugin's compiled form was obtained (shown by `plugin check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheUse {
    /// Loaded from a verified cache entry.
    Hit,
    /// Compiled now and stored in the cache.
    Stored,
    /// Compiled now, not cached; the text says why.
    Uncached(String),
}

/// A verified cache folder and the key that signs its entries.
pub(crate) struct Cache {
    dir: PathBuf,
    key_file: PathBuf,
}

/// The key as read for one use of the cache.
struct Signer {
    key: [u8; KEY_BYTES],
}

impl Cache {
    /// Opens the cache at `dir` with the key in `key_file` (created on first use). An error says
    /// why the cache cannot be trusted; the caller then compiles without it.
    pub(crate) fn open(dir: &Path, key_file: &Path) -> Result<Cache, String> {
        private_dir(dir)?;
        load_key(key_file)?;
        Ok(Cache { dir: dir.to_path_buf(), key_file: key_file.to_path_buf() })
    }

    /// Compiles `wasm`, or loads its compiled form from a verified entry. The key is read for
    /// every plugin, not once: a key retired meanwhile ([`retire_key`]) takes effect at once.
    pub(crate) fn compile(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, CacheUse)> {
        let signer = match load_key(&self.key_file) {
            Ok(key) => Signer { key },
            Err(e) => return Component::new(engine, wasm).map(|c| (c, CacheUse::Uncached(e))),
        };
        signer.compile(&self.dir, engine, wasm)
    }
}

impl Signer {
    fn compile(&self, dir: &Path, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, CacheUse)> {
        let name = entry_name(engine, wasm);
        let path = dir.join(&name);
        match std::fs::read(&path) {
            Ok(bytes) => match self.verified(&name, &bytes) {
                Some(compiled) => {
                    // When it was last used is what `plugin cache prune` goes by.
                    let _ = std::fs::File::options()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                    // SAFETY: `deserialize` trusts that the bytes came from wasmtime's own
                    // serialiser. They did: `verified` checked, on this copy in memory, the HMAC
                    // that only this user's key can produce, over this entry's name (the source's
                    // SHA-256 and the engine's settings) and these bytes. Bytes read into memory,
                    // not mapped, cannot change under us after the check.
                    #[allow(unsafe_code)]
                    let loaded = unsafe { Component::deserialize(engine, compiled) };
                    match loaded {
                        Ok(c) => return Ok((c, CacheUse::Hit)),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "unusable compiled plugin; recompiling")
                        }
                    }
                }
                None => tracing::warn!(
                    path = %path.display(),
                    "compiled plugin in the cache was not written by this user's runner (bad or missing signature); ignoring it and recompiling"
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the compiled plugin; recompiling")
            }
        }
        let component = Component::new(engine, wasm)?;
        let used = match self.store(&name, &path, &component) {
            Ok(()) => CacheUse::Stored,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled plugin");
                CacheUse::Uncached(format!("could not write {}: {e}", path.display()))
            }
        };
        Ok((component, used))
    }

    fn mac(&self, name: &str, compiled: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(compiled);
        mac
    }

    /// The compiled bytes of an entry whose signature checks out.
    fn verified<'b>(&self, name: &str, bytes: &'b [u8]) -> Option<&'b [u8]> {
        if bytes.len() < MAC_BYTES {
            return None;
        }
        let (tag, compiled) = bytes.split_at(MAC_BYTES);
        self.mac(name, compiled).verify_slice(tag).ok().map(|()| compiled)
    }

    fn store(&self, name: &str, path: &Path, component: &Component) -> std::io::Result<()> {
        let compiled = component.serialize().map_err(std::io::Error::other)?;
        let tag = self.mac(name, &compiled).finalize().into_bytes();
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(&tag)?;
        f.write_all(&compiled)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// The cache file for `wasm` under this engine's settings. The engine's compatibility hash is
/// part of the name, so a runner built with other settings never even tries a stale artifact.
fn entry_name(engine: &Engine, wasm: &[u8]) -> String {
    format!("{}{}", crate::content_hash(wasm), entry_suffix(engine))
}

/// How the names of entries this engine can load end.
pub(crate) fn entry_suffix(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("-{:016x}.cwasm", h.finish())
}

/// A compiled plugin in the cache folder, as `plugin cache` lists it.
#[derive(Debug, Clone)]
pub struct CachedPlugin {
    /// The cache file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// When it was last loaded (or written).
    pub last_used: std::time::SystemTime,
    /// Whether this runner can load it: compiled by a runner with other settings or another
    /// wasmtime, it never will be.
    pub loadable: bool,
}

/// `bytes` signed for storing under `name`: the HMAC of this user's cache key (created on first
/// use) over the name and the bytes, then the bytes. What runner keeps on disk and later runs
/// (components built from source) carries it, so that a file planted or swapped in the cache is
/// noticed instead of run.
pub fn seal(key_file: &Path, name: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let cache = Signer { key: load_key(key_file)? };
    let mut out = cache.mac(name, bytes).finalize().into_bytes().to_vec();
    out.extend_from_slice(bytes);
    Ok(out)
}

/// The bytes of what [`seal`] made for `name`, if its signature checks out with this user's key.
pub fn unseal(key_file: &Path, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    let cache = Signer { key: load_key(key_file).ok()? };
    cache.verified(name, sealed).map(<[u8]>::to_vec)
}

/// Creates the signing key at `key_file` if there is none yet (mode 0600, in a private folder):
/// done before a plugin build runs, so that the build finds a key it cannot reach rather than
/// room to put one of its own.
pub fn ensure_key(key_file: &Path) -> Result<(), String> {
    load_key(key_file).map(|_| ())
}

/// Replaces the signing key at `key_file` with a new one: everything signed with the old key
/// (compiled plugins, kept builds) is then compiled or built again rather than trusted. For
/// when something that could read the old key ran, such as a plugin build that could not be
/// kept away from it.
pub fn retire_key(key_file: &Path) -> Result<(), String> {
    let parent = key_file.parent().ok_or_else(|| format!("{} has no folder", key_file.display()))?;
    private_dir(parent)?;
    let fresh = fresh_key();
    let tmp = parent.join(format!(".cache.key.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(hex::encode(fresh).as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, key_file));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}: {e}", key_file.display())
    })
}

fn fresh_key() -> [u8; KEY_BYTES] {
    use rand::Rng;
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    key
}

/// The compiled plugins in `dir` (none if it cannot be read).
pub(crate) fn list(dir: &Path, engine: &Engine) -> Vec<CachedPlugin> {
    let suffix = entry_suffix(engine);
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<CachedPlugin> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some(CachedPlugin {
                loadable: e.file_name().to_string_lossy().ends_with(&suffix),
                path: e.path(),
                bytes: meta.len(),
                last_used: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

/// Creates `dir` (mode 0700) if needed, and refuses it unless this user owns it and nobody else
/// may write to it.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    if meta.uid() != euid() {
        return Err(format!("{} is owned by another user (uid {})", dir.display(), meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("{} is writable by other users (mode {:o})", dir.display(), meta.mode() & 0o7777));
    }
    Ok(())
}

/// The signing key: read from `path` (which must be this user's, mode 0600), or created there.
fn load_key(path: &Path) -> Result<[u8; KEY_BYTES], String> {
    let parent = path.parent().ok_or_else(|| format!("{} has no folder", path.display()))?;
    private_dir(parent)?;
    let fresh = fresh_key();
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => {
            f.write_all(hex::encode(fresh).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            return Ok(fresh);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
    if meta.uid() != euid() || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} must belong to this user with mode 0600 (it has {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == KEY_BYTES);
    let bytes = bytes.ok_or_else(|| format!("{} is not a runner cache key", path.display()))?;
    let mut key = [0u8; KEY_BYTES];
    key.copy_from_slice(&bytes);
    Ok(key)
}
