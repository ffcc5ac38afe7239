//! Backfill manifests: `backfills/NAME.toml`.
//!
//! ```toml
//! description = "derive score bands"
//! plugin = "plugins/score_band.wasm"   # relative to the project folder
//! requires = "20261101090300"          # runs only once this revision is applied
//!
//! [source]
//! table = "scores"
//! key = ["id"]                         # keyset pagination, never OFFSET
//! columns = ["points"]                 # what the plugin reads (the key is always included)
//! filter = "band IS NULL"              # rows still to do
//! filter_is = "todo"                   # or "scope": rows to look at, some left as they are
//!
//! [target]                             # default: the source table and key
//! table = "scores"
//!
//! [batch]
//! size = 1000                          # first batch; then sized to take time_target_ms
//! time_target_ms = 500
//!
//! [limits]
//! plugin_timeout_ms = 5000            # wall-clock time of one batch in the plugin, host calls included
//! memory_mb = 64                       # all the plugin's memories together
//! lookup_timeout_ms = 1000             # one `lookup` query
//!
//! [capabilities]                       # all off unless listed
//! log = true
//! ```

use runner_revisions::{is_plain_name, is_plain_table};
use runner_sandbox::{Capability, Grants, Limits};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The manifest could not be read.
    #[error("{}: cannot read: {cause}", file.display())]
    Io {
        /// The manifest file.
        file: PathBuf,
        /// Why it could not be read.
        cause: std::io::Error,
    },
    /// The manifest does not parse, or says something it may not.
    #[error("{}:{line}: {message}", file.display())]
    Invalid {
        /// The manifest file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    #[error("backfills `{name}` are defined twice: {} and {}", first.display(), second.display())]
    /// Two manifests define one backfill.
    Duplicate {
        /// The backfill.
        name: String,
        /// The first manifest.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    #[serde(default)]
    description: String,
    plugin: PluginFile,
    requires: Option<String>,
    #[serde(default)]
    role: Role,
    source: SourceFile,
    target: Option<TargetFile>,
    #[serde(default)]
    batch: BatchFile,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    throttle: ThrottleFile,
    #[serde(default)]
    capabilities: CapabilitiesFile,
}

/// `plugin = "path.wasm"`, `plugin = { url = "https://…", sha256 = "…" }` or
/// `plugin = { build = "plugins/score-band" }`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
enum PluginFile {
    Path(PathBuf),
    Url { url: String, sha256: String },
    Build { build: PathBuf },
}

/// What a manifest is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Run by `backfill run` and `apply --with-backfills`, batch by batch, resumable.
    #[default]
    Backfill,
    /// Run inside the revision that names it (`-- data-migration: NAME`), atomically.
    DataMigration,
    /// Run by a `[[refresh]]` (`plugin = "NAME"`): rebuilds its target in one transaction.
    Refresh,
}

/// Where a backfill's plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A component file (relative to the project).
    Path(PathBuf),
    /// Downloaded once, verified against `sha256`, cached under it.
    Url {
        /// Where to download it.
        url: String,
        /// The SHA-256 it must have, in hex.
        sha256: String,
    },
    /// Built from its source folder (relative to the project) when it is needed.
    Build(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Path(p) => write!(f, "{}", p.display()),
            // A plugin URL may carry a token (`?token=…`, user-info): shown masked.
            PluginSource::Url { url, sha256 } => write!(f, "{} (sha256 {sha256})", runner_db::mask_url(url)),
            PluginSource::Build(dir) => write!(f, "built from {}", dir.display()),
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    table: String,
    key: Vec<String>,
    #[serde(default)]
    columns: Vec<String>,
    filter: Option<String>,
    #[serde(default)]
    filter_is: FilterIs,
}

/// What a manifest's `filter` means, which decides what "completed" has to prove.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterIs {
    /// The rows still to do (`band IS NULL`): the plugin's changes take a row out of it, so a
    /// completed backfill leaves no row up to its upper bound matching it (checked at the end).
    #[default]
    Todo,
    /// The rows to look at (`email IS NOT NULL`), some of which the plugin may leave as they
    /// are: completed means every such row up to the upper bound was read.
    Scope,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    table: String,
    key: Option<Vec<String>>,
}

/// How a worker holds back between batches, so a backfill leaves room for the application and
/// its replicas (`[throttle]`; off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttle {
    /// A pause after each batch.
    pub pause: Duration,
    /// PostgreSQL: wait before a batch while a replica has more WAL than this left to replay.
    pub max_replica_lag_bytes: Option<u64>,
}

/// Most workers a manifest may ask for: each holds two connections.
pub const MAX_WORKERS: usize = 64;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct BatchFile {
    size: usize,
    time_target_ms: u64,
    min_size: usize,
    max_size: usize,
    workers: usize,
}

impl Default for BatchFile {
    fn default() -> Self {
        BatchFile { size: 1000, time_target_ms: 500, min_size: 100, max_size: 100_000, workers: 1 }
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    plugin_timeout_ms: u64,
    memory_mb: usize,
    http_timeout_ms: u64,
    lock_timeout_ms: u64,
    statement_timeout_ms: u64,
    lookup_timeout_ms: u64,
    max_attempts: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            plugin_timeout_ms: 5000,
            memory_mb: 64,
            http_timeout_ms: 5000,
            lock_timeout_ms: 2000,
            statement_timeout_ms: 60_000,
            lookup_timeout_ms: 1000,
            max_attempts: 3,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ThrottleFile {
    pause_ms: u64,
    max_replica_lag_mb: u64,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CapabilitiesFile {
    log: bool,
    config: BTreeMap<String, String>,
    lookup: bool,
    http: Vec<String>,
    clock: bool,
    random: bool,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The backfill's name (`name`, or the file's stem).
    pub name: String,
    /// What it does.
    pub description: String,
    /// The manifest file.
    pub file: PathBuf,
    /// The plugin component: a path (relative to the project) or a URL with its SHA-256.
    pub plugin: PluginSource,
    /// The revision that must be applied before it runs.
    pub requires: Option<String>,
    /// Backfill, data migration or refresh; only backfills are listed and run as backfills.
    pub role: Role,
    /// The table it reads.
    pub source_table: String,
    /// The key columns it pages by.
    pub key: Vec<String>,
    /// Columns handed to the plugin: the key first, then the declared columns.
    pub columns: Vec<String>,
    /// A SQL condition rows must meet (`filter`).
    pub filter: Option<String>,
    /// What the filter means (rows to do, or rows done).
    pub filter_is: FilterIs,
    /// The table its changes go to (the source table unless said).
    pub target_table: String,
    /// The target's key columns.
    pub target_key: Vec<String>,
    /// Rows per batch to start with.
    pub batch_size: usize,
    /// The time a batch should take: the batch size adapts to it.
    pub time_target: Duration,
    /// The smallest batch size it adapts to.
    pub min_size: usize,
    /// The largest batch size it adapts to.
    pub max_size: usize,
    /// Workers a run uses unless told otherwise (PostgreSQL; SQLite uses one).
    pub workers: usize,
    /// How each worker holds back between batches.
    pub throttle: Throttle,
    /// What one plugin call may use (time, memory).
    pub limits: Limits,
    /// How long a batch's write waits for a row lock.
    pub lock_timeout: Duration,
    /// How long a batch's statements may run.
    pub statement_timeout: Duration,
    /// How long one `lookup` query may run (the server cancels it after that).
    pub lookup_timeout: Duration,
    /// Attempts per batch before the backfill fails.
    pub max_attempts: u32,
    /// Granted capabilities, by name (for `backfill status`), and the grants themselves.
    pub capabilities: Vec<Capability>,
    /// The `config` values its plugin may read.
    pub config: BTreeMap<String, String>,
    /// The origins its plugin may call.
    pub http_origins: Vec<String>,
}

impl Manifest {
    /// The sandbox grants, with `lookup` supplied by the engine.
    pub fn grants(&self, lookup: Option<std::sync::Arc<dyn runner_sandbox::Lookup>>) -> Grants {
        Grants {
            log: self.capabilities.contains(&Capability::Log),
            config: self.config.clone(),
            config_granted: self.capabilities.contains(&Capability::Config),
            lookup: if self.capabilities.contains(&Capability::Lookup) { lookup } else { None },
            http_origins: self.http_origins.clone(),
            http_answers: None,
            clock: self.capabilities.contains(&Capability::Clock),
            random: self.capabilities.contains(&Capability::Random),
        }
    }
}

/// The manifest `text` read from `file`, validated; paths in it are relative to `project_dir`.
pub fn parse(file: &Path, text: &str, project_dir: &Path) -> Result<Manifest, ManifestError> {
    let invalid = |line: usize, message: String| ManifestError::Invalid { file: file.to_path_buf(), line, message };
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1);
    let f: File = toml::from_str(text)
        .map_err(|e| invalid(runner_revisions::toml_line::toml_error_line(text, &e), e.message().to_string()))?;
    let at = |(line, message): (usize, String)| invalid(line, message);
    let name =
        f.name.clone().unwrap_or_else(|| file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string());
    let target_key = f.target.as_ref().and_then(|t| t.key.clone()).unwrap_or_else(|| f.source.key.clone());
    check_names(&f, &name, &target_key, &line_of).map_err(at)?;
    let b = &f.batch;
    check_batch(b, &line_of).map_err(at)?;
    let c = &f.capabilities;
    let capabilities = capabilities(c, &line_of).map_err(at)?;
    let plugin = plugin_source(f.plugin, project_dir, &line_of).map_err(at)?;
    let mut columns = f.source.key.clone();
    columns.extend(f.source.columns.iter().filter(|c| !f.source.key.contains(c)).cloned());
    let l = &f.limits;
    check_memory(l.memory_mb, &line_of).map_err(at)?;
    Ok(Manifest {
        name,
        description: f.description,
        file: file.to_path_buf(),
        plugin,
        requires: f.requires,
        role: f.role,
        source_table: f.source.table.clone(),
        key: f.source.key.clone(),
        columns,
        filter: f.source.filter,
        filter_is: f.source.filter_is,
        target_table: f.target.map_or(f.source.table, |t| t.table),
        target_key,
        batch_size: b.size,
        time_target: Duration::from_millis(b.time_target_ms),
        min_size: b.min_size,
        max_size: b.max_size,
        workers: b.workers,
        throttle: Throttle {
            pause: Duration::from_millis(f.throttle.pause_ms),
            max_replica_lag_bytes: (f.throttle.max_replica_lag_mb > 0)
                .then_some(f.throttle.max_replica_lag_mb.saturating_mul(1 << 20)),
        },
        limits: Limits {
            batch_timeout: Duration::from_millis(l.plugin_timeout_ms),
            memory_bytes: l.memory_mb << 20,
            http_timeout: Duration::from_millis(l.http_timeout_ms),
        },
        lock_timeout: Duration::from_millis(l.lock_timeout_ms),
        statement_timeout: Duration::from_millis(l.statement_timeout_ms),
        lookup_timeout: Duration::from_millis(l.lookup_timeout_ms.max(1)),
        max_attempts: l.max_attempts.max(1),
        capabilities,
        config: c.config.clone(),
        http_origins: c.http.clone(),
    })
}

/// A problem at a 1-based line of the manifest.
type LineError = (usize, String);

/// Names that go into SQL: plain identifiers only, and keys that pair up.
fn check_names(f: &File, name: &str, target_key: &[String], line_of: &dyn Fn(&str) -> usize) -> Result<(), LineError> {
    if !is_plain_name(name) {
        return Err((line_of("name"), format!("backfill name `{name}`: use letters, digits and `_`")));
    }
    for t in [Some(&f.source.table), f.target.as_ref().map(|t| &t.table)].into_iter().flatten() {
        if !is_plain_table(t) {
            return Err((
                line_of(t),
                format!("table `{t}` is not a plain identifier (letters, digits, `_`, optional schema)"),
            ));
        }
    }
    if f.source.key.is_empty() {
        return Err((line_of("key"), "`source.key` names no column".into()));
    }
    for c in f.source.key.iter().chain(&f.source.columns).chain(target_key) {
        if !is_plain_name(c) {
            return Err((line_of(c), format!("column `{c}` is not a plain identifier")));
        }
    }
    if target_key.len() != f.source.key.len() {
        return Err((line_of("key"), "`target.key` must have as many columns as `source.key`".into()));
    }
    Ok(())
}

fn check_batch(b: &BatchFile, line_of: &dyn Fn(&str) -> usize) -> Result<(), LineError> {
    if b.min_size == 0 || b.min_size > b.max_size || b.size < b.min_size || b.size > b.max_size {
        return Err((
            line_of("[batch]"),
            format!(
                "batch sizes must satisfy 0 < min_size ({}) <= size ({}) <= max_size ({})",
                b.min_size, b.size, b.max_size
            ),
        ));
    }
    if !(1..=MAX_WORKERS).contains(&b.workers) {
        return Err((
            line_of("workers"),
            format!("`batch.workers` is {}; it must be between 1 and {MAX_WORKERS}", b.workers),
        ));
    }
    Ok(())
}

/// A plugin's memory must fit a slot of the sandbox's instance pool.
fn check_memory(memory_mb: usize, line_of: &dyn Fn(&str) -> usize) -> Result<(), LineError> {
    let max = runner_sandbox::MAX_MEMORY_BYTES >> 20;
    if (1..=max).contains(&memory_mb) {
        return Ok(());
    }
    Err((line_of("memory_mb"), format!("`limits.memory_mb` is {memory_mb}; it must be between 1 and {max}")))
}

/// The capabilities the manifest grants; each http origin must be `scheme://host:port`.
fn capabilities(c: &CapabilitiesFile, line_of: &dyn Fn(&str) -> usize) -> Result<Vec<Capability>, LineError> {
    for origin in &c.http {
        let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
            && origin.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        if !ok {
            return Err((line_of(origin), format!("http origin `{origin}` must be scheme://host:port")));
        }
    }
    Ok([
        (c.log, Capability::Log),
        (!c.config.is_empty(), Capability::Config),
        (c.lookup, Capability::Lookup),
        (!c.http.is_empty(), Capability::Http),
        (c.clock, Capability::Clock),
        (c.random, Capability::Random),
    ]
    .into_iter()
    .filter_map(|(on, cap)| on.then_some(cap))
    .collect())
}

/// Where the plugin comes from; relative paths are relative to the project folder.
fn plugin_source(
    p: PluginFile,
    project_dir: &Path,
    line_of: &dyn Fn(&str) -> usize,
) -> Result<PluginSource, LineError> {
    Ok(match p {
        PluginFile::Path(p) if p.is_absolute() => PluginSource::Path(p),
        PluginFile::Path(p) => PluginSource::Path(project_dir.join(p)),
        PluginFile::Url { url, sha256 } => {
            if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err((line_of("sha256"), format!("sha256 `{sha256}` is not 64 hex digits")));
            }
            PluginSource::Url { url, sha256: sha256.to_ascii_lowercase() }
        }
        PluginFile::Build { build } => PluginSource::Build(build_dir(&build, project_dir, line_of)?),
    })
}

/// A `build` folder: inside the project, named relative to it. Building runs the folder's code,
/// so a manifest must not point the build at the rest of the machine: no absolute path, no
/// `..`, and no symbolic link out of the project on the way.
fn build_dir(build: &Path, project_dir: &Path, line_of: &dyn Fn(&str) -> usize) -> Result<PathBuf, LineError> {
    use std::path::Component;
    let shown = build.display();
    if build.is_absolute() || build.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err((
            line_of("build"),
            format!(
                "build = \"{shown}\" must name a folder inside the project, relative to it (no absolute path, no `..`)"
            ),
        ));
    }
    let dir = project_dir.join(build);
    if let (Ok(real), Ok(root)) = (dir.canonicalize(), project_dir.canonicalize())
        && !real.starts_with(&root)
    {
        return Err((
            line_of("build"),
            format!("build = \"{shown}\" leads out of the project through a symbolic link (to {})", real.display()),
        ));
    }
    Ok(dir)
}

/// Errors for the manifests that read or write one of runner's own tables (`runner_tables`: the
/// state table, which holds revisions, backfill progress, refresh slots and SQLite's lease). A
/// plugin that could write there could mark a backfill completed, so that a revision gated on
/// it runs over rows never filled, or a revision applied that never ran.
pub fn refuse_runner_tables(manifests: &[Manifest], runner_tables: &[&str]) -> Vec<ManifestError> {
    let is_runner_table = |t: &str| {
        // Plain identifiers fold to one case, and a schema may be put before any name.
        let name = t.rsplit('.').next().unwrap_or(t);
        runner_tables.iter().any(|r| r.eq_ignore_ascii_case(name))
    };
    let mut out = Vec::new();
    for m in manifests {
        for (what, table) in [("source", &m.source_table), ("target", &m.target_table)] {
            if is_runner_table(table) {
                let line = std::fs::read_to_string(&m.file)
                    .ok()
                    .and_then(|t| t.lines().position(|l| l.contains(table.as_str())))
                    .map_or(1, |i| i + 1);
                out.push(ManifestError::Invalid {
                    file: m.file.clone(),
                    line,
                    message: format!(
                        "the {what} table `{table}` is runner's own state table: a plugin may not read or write it"
                    ),
                });
                break;
            }
        }
    }
    out
}

/// Every manifest in `dir` (`*.toml`), sorted by name. A missing folder has none.
pub fn load_dir(dir: &Path, project_dir: &Path) -> Result<Vec<Manifest>, Vec<ManifestError>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out: Vec<Manifest> = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let parsed = std::fs::read_to_string(&p)
            .map_err(|cause| ManifestError::Io { file: p.clone(), cause })
            .and_then(|text| parse(&p, &text, project_dir));
        match parsed {
            Ok(m) => {
                if let Some(first) = out.iter().find(|o| o.name == m.name) {
                    errors.push(ManifestError::Duplicate {
                        name: m.name.clone(),
                        first: first.file.clone(),
                        second: p,
                    });
                } else {
                    out.push(m);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Manifest, ManifestError> {
        parse(Path::new("backfills/bands.toml"), text, Path::new("/proj"))
    }

    const OK: &str = "plugin = \"plugins/x.wasm\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\", \"id\"]\nfilter = \"band IS NULL\"\n";

    #[test]
    fn defaults_and_derived_fields() {
        let m = p(OK).unwrap();
        assert_eq!(m.name, "bands");
        assert_eq!(m.columns, ["id", "points"]);
        assert_eq!(m.target_table, "scores");
        assert_eq!(m.target_key, ["id"]);
        assert_eq!(m.plugin, PluginSource::Path("/proj/plugins/x.wasm".into()));
        let m = p(&OK.replace(
            "plugin = \"plugins/x.wasm\"",
            &format!("plugin = {{ url = \"https://h/x.wasm\", sha256 = \"{}\" }}", "A".repeat(64)),
        ))
        .unwrap();
        assert_eq!(m.plugin, PluginSource::Url { url: "https://h/x.wasm".into(), sha256: "a".repeat(64) });
        assert!(m.capabilities.is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_identifiers_name_the_line() {
        let e = p(&format!("{OK}[limits]\nmemory = 3\n")).unwrap_err().to_string();
        assert!(e.starts_with("backfills/bands.toml:8: unknown field `memory`"), "{e}");
        let e = p(&OK.replace("\"scores\"", "\"scores; DROP TABLE x\"")).unwrap_err().to_string();
        assert!(e.starts_with("backfills/bands.toml:3: table `scores; DROP TABLE x`"), "{e}");
        let e = p(&format!("{OK}[capabilities]\nhttp = [\"example.com\"]\n")).unwrap_err().to_string();
        assert!(e.contains(":8: http origin `example.com` must be scheme://host:port"), "{e}");
        let e = p(&format!("{OK}[batch]\nsize = 10\nmin_size = 100\n")).unwrap_err().to_string();
        assert!(e.contains("batch sizes must satisfy"), "{e}");
    }

    #[test]
    fn a_build_folder_stays_inside_the_project() {
        let with =
            |build: &str| OK.replace("plugin = \"plugins/x.wasm\"", &format!("plugin = {{ build = \"{build}\" }}"));
        assert_eq!(p(&with("plugins/x")).unwrap().plugin, PluginSource::Build("/proj/plugins/x".into()));
        for bad in ["/opt/evil", "../evil", "plugins/../../evil"] {
            let e = p(&with(bad)).unwrap_err().to_string();
            assert!(e.contains(":1: build = ") && e.contains("must name a folder inside the project"), "{bad}: {e}");
        }
        let project = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(project.path().join("plugins")).unwrap();
        std::os::unix::fs::symlink(outside.path(), project.path().join("plugins/x")).unwrap();
        let e = parse(Path::new("b.toml"), &with("plugins/x"), project.path()).unwrap_err().to_string();
        assert!(e.contains("leads out of the project through a symbolic link"), "{e}");
    }

    #[test]
    fn a_memory_limit_must_fit_the_sandbox_s_pool() {
        assert_eq!(p(&format!("{OK}[limits]\nmemory_mb = 4096\n")).unwrap().limits.memory_bytes, 4 << 30);
        for bad in ["0", "4097", "17592186044416"] {
            let e = p(&format!("{OK}[limits]\nmemory_mb = {bad}\n")).unwrap_err().to_string();
            assert!(e.contains(":8: `limits.memory_mb` is"), "{e}");
            assert!(e.ends_with("it must be between 1 and 4096"), "{e}");
        }
    }
}
