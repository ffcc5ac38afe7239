//! Plugins referenced by URL: downloaded once, verified against the manifest's SHA-256, and
//! cached under that hash. A mismatch is a hard error; nothing unverified is ever compiled.

use crate::error::RunnerError;
use runner_db::mask_url;
use std::path::Path;
use std::time::Duration;

const MAX_PLUGIN_BYTES: usize = 256 << 20;

/// The plugin at `url`, whose SHA-256 must be `sha256` (hex).
/// Downloads are cached in `cache_dir/downloads` when there is a cache folder.
pub async fn fetch_plugin(
    plugin: &str,
    url: &str,
    sha256: &str,
    cache_dir: Option<&Path>,
) -> Result<Vec<u8>, RunnerError> {
    // The URL may carry credentials (user-info, a token parameter): never shown.
    let fail = |message: String| RunnerError::Download {
        plugin: plugin.to_string(),
        url: mask_url(url),
        message: mask_url(&message),
    };
    let want = sha256.to_ascii_lowercase();
    if want.len() != 64 || !want.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(fail(format!("sha256 `{sha256}` is not 64 hex digits")));
    }
    let cached = cache_dir.map(|d| d.join("downloads").join(format!("{want}.wasm")));
    // The cache is trusted only as far as its bytes hash to what the manifest says.
    if let Some(bytes) =
        cached.as_ref().and_then(|c| std::fs::read(c).ok()).filter(|b| runner_sandbox::content_hash(b) == want)
    {
        return Ok(bytes);
    }
    runner_sandbox::install_tls_provider();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(120)).build().map_err(|e| fail(e.to_string()))?;
    let mut resp = client.get(url).send().await.map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
        if bytes.len() + chunk.len() > MAX_PLUGIN_BYTES {
            return Err(fail(format!("larger than {MAX_PLUGIN_BYTES} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    let got = runner_sandbox::content_hash(&bytes);
    if got != want {
        return Err(RunnerError::ChecksumMismatch {
            plugin: plugin.to_string(),
            url: mask_url(url),
            expected: want,
            actual: got,
        });
    }
    if let Some((cached, dir)) = cached.as_ref().and_then(|c| Some((c, c.parent()?))) {
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        let stored = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&tmp, &bytes))
            .and_then(|()| std::fs::rename(&tmp, cached));
        if let Err(e) = stored {
            tracing::warn!(path = %cached.display(), error = %e, "could not cache the downloaded plugin");
        }
    }
    Ok(bytes)
}
