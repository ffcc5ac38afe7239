//! Raw configuration (flags, environment, `runner.toml`) turned into validated [`Settings`] before
//! anything runs.
//!
//! Where the database URL comes from, first match wins:
//! 1. `--database-url`
//! 2. `DATABASE_URL`
//! 3. `POSTGRES_URL`
//! 4. `database_url` in `runner.toml`
//! 5. the libpq variables `PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE` (any of them set)
//! 6. SQLite `runner.db` in the project folder.
//!
//! `runner.toml` comes before the PG* variables because those are often set for `psql` on a
//! developer's machine, while a project's own file names the project's database deliberately.

use crate::build::Builds;
use crate::error::RunnerError;
use runner_db::{Access, ConnectOptions, DatabaseUrl, Dialect};
use serde::Deserialize as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The project's configuration file, in the project folder.
pub const CONFIG_FILE: &str = "runner.toml";

/// `runner.toml`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The database engine this project is for; with `postgres`, no URL is an error rather than
    /// a fresh SQLite file.
    pub engine: Option<Dialect>,
    /// The database URL.
    pub database_url: Option<String>,
    /// The migrations folder (default `migrations`).
    pub migrations: Option<PathBuf>,
    /// The backfill manifests' folder (default `backfills`).
    pub backfills: Option<PathBuf>,
    /// Where compiled plugins are cached.
    pub plugin_cache: Option<PathBuf>,
    /// Whether plugins may be built from source here (`allow` or `never`).
    pub builds: Option<Builds>,
    /// Where `runner plugin build` keeps the components `plugins.lock` names.
    pub built_plugins: Option<PathBuf>,
    /// Where plugins' `lookup` queries connect (a role that may read only what plugins need);
    /// default: the database URL.
    pub lookup_url: Option<String>,
    /// The state table's name.
    pub state_table: Option<String>,
    /// The schema the state table is in (PostgreSQL).
    pub state_schema: Option<String>,
    /// The declared schema (`runner new --autogenerate`): a `.sql` file or a folder of them.
    pub schema: Option<PathBuf>,
    /// A PostgreSQL server where runner may create scratch databases (diff, autogenerate).
    pub dev_url: Option<String>,
    /// How long to wait for another runner's lock, in seconds.
    pub lock_timeout_secs: Option<u64>,
    /// `[[refresh]]` entries: scheduled refreshes for `runner cron`.
    #[serde(default)]
    pub refresh: Vec<runner_schedule::RefreshFile>,
    /// `[cron]`: operations settings of `runner cron`.
    pub cron: Option<CronConfig>,
    /// `[exclude]`: what `diff`, `check --schema` and autogenerate leave out.
    pub exclude: Option<ExcludeConfig>,
    /// `[env.NAME]` sections, merged over the rest before this is read (see `config_env`).
    #[serde(default)]
    pub env: Option<toml::Table>,
}

/// `[cron]` in `runner.toml`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronConfig {
    /// Serve `/health` and `/metrics` here (e.g. `127.0.0.1:9187`); `--listen` overrides.
    pub listen: Option<String>,
    /// POSTed a JSON event when a refresh fails, and when it recovers.
    pub webhook_url: Option<String>,
    /// How long one webhook call may take, in seconds.
    pub webhook_timeout_secs: Option<u64>,
    /// Retries of a failed webhook call.
    pub webhook_retries: Option<u32>,
    /// `/health` answers 503 once a refresh fails this many runs in a row (default 3).
    pub unhealthy_after_failures: Option<u64>,
}

/// `[exclude]` in `runner.toml`: names and globs, per kind (`tables = ["audit_*", "legacy.*"]`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcludeConfig {
    #[serde(default)]
    tables: Vec<String>,
    #[serde(default)]
    views: Vec<String>,
    #[serde(default)]
    indexes: Vec<String>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    functions: Vec<String>,
    #[serde(default)]
    sequences: Vec<String>,
    #[serde(default)]
    triggers: Vec<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    schemas: Vec<String>,
    #[serde(default)]
    extensions: Vec<String>,
    /// Whether other migration tools' history tables (`alembic_version`, …) are left out
    /// (default `true`).
    other_tools_history: Option<bool>,
}

impl ExcludeConfig {
    /// The patterns it lists, with other tools' history tables unless it keeps them; the
    /// error names the first pattern that is not one.
    fn patterns(&self) -> Result<Vec<runner_schema::Pattern>, String> {
        use runner_schema::ExcludeKind as K;
        let mut out = Vec::new();
        if self.other_tools_history.unwrap_or(true) {
            for name in runner_schema::OTHER_TOOLS_HISTORY {
                out.push(runner_schema::Pattern::parse(K::Table, name)?);
            }
        }
        for kind in K::ALL {
            let listed = match kind {
                K::Table => &self.tables,
                K::View => &self.views,
                K::Index => &self.indexes,
                K::Type => &self.types,
                K::Function => &self.functions,
                K::Sequence => &self.sequences,
                K::Trigger => &self.triggers,
                K::Policy => &self.policies,
                K::Schema => &self.schemas,
                K::Extension => &self.extensions,
            };
            for text in listed {
                out.push(runner_schema::Pattern::parse(kind, text)?);
            }
        }
        Ok(out)
    }
}

/// How long a runner waits for another runner's lock unless told (`lock_timeout_secs`,
/// `--lock-timeout`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the database URL came from (shown by `status`, so a surprise is visible).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlSource {
    /// `--database-url`.
    Flag,
    /// `DATABASE_URL`.
    DatabaseUrl,
    /// `POSTGRES_URL`.
    PostgresUrl,
    /// `database_url` in runner.toml.
    ConfigFile,
    /// The `PG*` variables (`PGHOST`, `PGDATABASE`, …).
    PgEnv,
    /// Nothing said: a SQLite file in the project folder.
    Default,
}

impl UrlSource {
    /// Where the URL came from, as `status` prints it.
    pub fn describe(self) -> &'static str {
        match self {
            UrlSource::Flag => "--database-url",
            UrlSource::DatabaseUrl => "DATABASE_URL",
            UrlSource::PostgresUrl => "POSTGRES_URL",
            UrlSource::ConfigFile => "runner.toml",
            UrlSource::PgEnv => "PG* environment variables",
            UrlSource::Default => "default (SQLite file in the project folder)",
        }
    }
}

/// Validated settings for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The project folder.
    pub project_dir: PathBuf,
    /// The database URL.
    pub database_url: DatabaseUrl,
    /// Where the URL came from.
    pub url_source: UrlSource,
    /// The migrations folder.
    pub migrations_dir: PathBuf,
    /// Folder of backfill manifests.
    pub backfills_dir: PathBuf,
    /// Where compiled plugins are cached (by content hash); `None` (no home folder): nowhere.
    pub plugin_cache: Option<PathBuf>,
    /// Where runner installs the plugin toolchains it pins (componentize-py), once per machine:
    /// `$XDG_CACHE_HOME/runner/toolchains`, else `~/.cache/runner/toolchains`.
    pub toolchains: Option<PathBuf>,
    /// The per-user key that signs compiled plugins in the cache, kept outside it.
    pub cache_key: Option<PathBuf>,
    /// Whether plugins may be built from source: `builds` in runner.toml or `RUNNER_BUILDS`;
    /// by default `never` where the selected `[env.NAME]` is a PostgreSQL one, else `allow`.
    pub builds: Builds,
    /// `plugins.lock`, in the project folder.
    pub plugin_lock: PathBuf,
    /// Where the components `plugins.lock` names are kept (`built_plugins`, default `.runner/built`).
    pub built_plugins: PathBuf,
    /// Where `lookup` queries connect; `None`: the database URL.
    pub lookup_url: Option<DatabaseUrl>,
    /// The state table's name.
    pub state_table: String,
    /// PostgreSQL schema of the state table; `None`: the connection's `current_schema()`.
    pub state_schema: Option<String>,
    /// The declared schema `runner new --autogenerate` writes revisions towards.
    pub schema_path: Option<PathBuf>,
    /// Where scratch databases go (`dev_url`); `None`: the target database's server.
    pub dev_url: Option<String>,
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// Scheduled refreshes as written in `runner.toml` (validated when used).
    pub refreshes: Vec<runner_schedule::RefreshFile>,
    /// `runner cron`'s settings (`[cron]` in runner.toml).
    pub cron: CronConfig,
    /// What `diff`, `check --schema` and autogenerate leave out (`[exclude]`, and other tools'
    /// history tables unless it says `other_tools_history = false`).
    pub exclude: Vec<runner_schema::Pattern>,
}

/// What the command line contributes.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The project folder.
    pub project_dir: Option<PathBuf>,
    /// The database URL.
    pub database_url: Option<String>,
    /// The migrations folder.
    pub migrations_dir: Option<PathBuf>,
    /// The state table's name.
    pub state_table: Option<String>,
    /// How long to wait for another runner's lock.
    pub lock_timeout: Option<Duration>,
    /// `[env.NAME]` of runner.toml to use (`--env`); `None`: `RUNNER_ENV`, else the top level.
    pub env: Option<String>,
}

impl Settings {
    /// How every connection runner opens to the project's databases presents itself and
    /// behaves: its timeouts, its name in `pg_stat_activity` (the process and host, so an
    /// operator can tell whose lock or worker it is), and whether it may write. Read commands
    /// (`status`, `history`, `--dry-run`, `--sql`) pass [`Access::ReadOnly`], so that nothing
    /// they run can change the database.
    pub fn connect_options(&self, access: Access) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: self.connect_timeout,
            application_name: format!("runner pid {} on {}", std::process::id(), crate::host::hostname()),
            access,
            busy_timeout: self.lock_timeout,
        }
    }

    /// Settings for an application that embeds `runner`: this URL, `migrations/` in the current
    /// directory, default table and timeouts.
    pub fn for_url(url: &str) -> Result<Settings, RunnerError> {
        Ok(Settings {
            project_dir: PathBuf::from("."),
            database_url: DatabaseUrl::parse(url)?,
            url_source: UrlSource::Flag,
            migrations_dir: PathBuf::from("migrations"),
            backfills_dir: PathBuf::from("backfills"),
            plugin_cache: default_plugin_cache(),
            toolchains: default_toolchains(),
            cache_key: default_cache_key(),
            builds: Builds::Allow,
            plugin_lock: PathBuf::from(crate::build::lock::LOCK_FILE),
            built_plugins: PathBuf::from(DEFAULT_BUILT_PLUGINS),
            lookup_url: None,
            state_table: "runner_state".into(),
            state_schema: None,
            schema_path: None,
            dev_url: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            connect_timeout: ConnectOptions::default().connect_timeout,
            refreshes: Vec::new(),
            cron: CronConfig::default(),
            exclude: ExcludeConfig::default().patterns().map_err(crate::refusal::Refusal::Usage)?,
        })
    }

    /// Resolves settings from flags, the given environment, and `runner.toml` in the project folder.
    pub fn resolve(over: Overrides, env: &HashMap<String, String>) -> Result<Settings, RunnerError> {
        let project_dir = over.project_dir.clone().unwrap_or_else(|| PathBuf::from("."));
        let config_path = project_dir.join(CONFIG_FILE);
        let env_get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let selected = over.env.clone().or_else(|| env_get("RUNNER_ENV"));
        let config = read_config(&config_path, env, selected.as_deref())?;

        let (raw_url, url_source) = if let Some(u) = over.database_url.clone() {
            (Some(u), UrlSource::Flag)
        } else if let Some(u) = env_get("DATABASE_URL") {
            (Some(u), UrlSource::DatabaseUrl)
        } else if let Some(u) = env_get("POSTGRES_URL") {
            (Some(u), UrlSource::PostgresUrl)
        } else if let Some(u) = config.database_url.clone() {
            (Some(u), UrlSource::ConfigFile)
        } else if let Some(u) = pg_env_url(&env_get) {
            (Some(u), UrlSource::PgEnv)
        } else {
            (None, UrlSource::Default)
        };
        let database_url = match (raw_url, config.engine) {
            (Some(u), _) if url_source == UrlSource::ConfigFile => DatabaseUrl::parse(&u)?.relative_to(&project_dir),
            (Some(u), _) => DatabaseUrl::parse(&u)?,
            // A PostgreSQL project with its URL unset (a CI variable missing) must not quietly
            // migrate a fresh SQLite file and report success.
            (None, Some(Dialect::Postgres)) => {
                return Err(RunnerError::Config {
                    path: config_path,
                    message: "engine = \"postgres\", but no database URL is set: pass --database-url, or set DATABASE_URL, POSTGRES_URL, database_url in runner.toml, or the PG* variables".into(),
                });
            }
            (None, _) => DatabaseUrl::sqlite_file(&project_dir.join("runner.db")),
        };
        if let Some(engine) = config.engine.filter(|e| *e != database_url.dialect()) {
            return Err(RunnerError::Config {
                path: config_path,
                message: format!(
                    "engine = \"{}\", but the database URL (from {}) is {}: {database_url}",
                    engine.name(),
                    url_source.describe(),
                    database_url.dialect().name()
                ),
            });
        }
        let migrations_dir = over
            .migrations_dir
            .or_else(|| config.migrations.as_ref().map(|m| project_dir.join(m)))
            .unwrap_or_else(|| project_dir.join("migrations"));
        let backfills_dir =
            config.backfills.as_ref().map_or_else(|| project_dir.join("backfills"), |b| project_dir.join(b));
        let plugin_cache =
            config.plugin_cache.as_ref().map_or_else(default_plugin_cache, |c| Some(project_dir.join(c)));
        let builds = match env_get("RUNNER_BUILDS").as_deref() {
            Some("allow") => Builds::Allow,
            Some("never") => Builds::Never,
            Some(other) => {
                return Err(RunnerError::Config {
                    path: config_path,
                    message: format!("RUNNER_BUILDS is `{other}`; it must be `allow` or `never`"),
                });
            }
            // A named PostgreSQL environment is a deploy: it runs what was built and locked.
            None => config.builds.unwrap_or(if selected.is_some() && config.engine == Some(Dialect::Postgres) {
                Builds::Never
            } else {
                Builds::Allow
            }),
        };
        let lookup_url = match env_get("RUNNER_LOOKUP_URL").or(config.lookup_url.clone()) {
            Some(u) => Some(DatabaseUrl::parse(&u)?.relative_to(&project_dir)),
            None => None,
        };
        let exclude = config
            .exclude
            .clone()
            .unwrap_or_default()
            .patterns()
            .map_err(|message| RunnerError::Config { path: config_path.clone(), message })?;
        Ok(Settings {
            database_url,
            url_source,
            migrations_dir,
            backfills_dir,
            plugin_cache,
            toolchains: default_toolchains(),
            cache_key: default_cache_key(),
            builds,
            plugin_lock: project_dir.join(crate::build::lock::LOCK_FILE),
            built_plugins: project_dir
                .join(config.built_plugins.as_deref().unwrap_or(Path::new(DEFAULT_BUILT_PLUGINS))),
            lookup_url,
            state_table: over.state_table.or(config.state_table).unwrap_or_else(|| "runner_state".into()),
            state_schema: config.state_schema,
            schema_path: config.schema.as_ref().map(|p| project_dir.join(p)),
            dev_url: env_get("RUNNER_DEV_URL").or(config.dev_url.clone()),
            lock_timeout: over
                .lock_timeout
                .or(config.lock_timeout_secs.map(Duration::from_secs))
                .unwrap_or(DEFAULT_LOCK_TIMEOUT),
            connect_timeout: ConnectOptions::default().connect_timeout,
            refreshes: config.refresh,
            cron: config.cron.unwrap_or_default(),
            exclude,
            project_dir,
        })
    }
}

/// Where `runner plugin build` keeps components, relative to the project.
const DEFAULT_BUILT_PLUGINS: &str = ".runner/built";

/// `$XDG_CACHE_HOME/runner/plugins`, else `~/.cache/runner/plugins`, else none: never a shared
/// folder such as `/tmp`, where another user could plant compiled code.
fn default_plugin_cache() -> Option<PathBuf> {
    user_dir("XDG_CACHE_HOME", ".cache").map(|d| d.join("runner").join("plugins"))
}

fn default_toolchains() -> Option<PathBuf> {
    user_dir("XDG_CACHE_HOME", ".cache").map(|d| d.join("runner").join("toolchains"))
}

/// `$XDG_CONFIG_HOME/runner/cache.key`, else `~/.config/runner/cache.key`: the key that signs
/// compiled plugins lives apart from them, so that whoever can write the cache cannot sign.
fn default_cache_key() -> Option<PathBuf> {
    user_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("runner").join("cache.key"))
}

fn user_dir(xdg: &str, under_home: &str) -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os(xdg)
        .and_then(absolute)
        .or_else(|| std::env::var_os("HOME").and_then(absolute).map(|h| h.join(under_home)))
}

fn read_config(path: &Path, env: &HashMap<String, String>, selected: Option<&str>) -> Result<ConfigFile, RunnerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(name) = selected {
                return Err(RunnerError::Config {
                    path: path.to_path_buf(),
                    message: format!(
                        "--env {name} (or RUNNER_ENV) names an [env.{name}] section, but there is no runner.toml"
                    ),
                });
            }
            return Ok(ConfigFile::default());
        }
        Err(cause) => {
            return Err(RunnerError::Io { context: format!("reading {}", path.display()), cause });
        }
    };
    let bad = |line: usize, message: String| RunnerError::Config {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let table = crate::config_env::prepare(&text, &crate::config_env::from_map(env), selected)
        .map_err(|(line, message)| bad(line, message))?;
    ConfigFile::deserialize(toml::Value::Table(table)).map_err(|e| {
        // The merged table has no positions: the file as written names the line, when the same
        // error is in it (a wrong type or key not coming from a variable or an [env] section).
        if let Err(raw) = toml::from_str::<ConfigFile>(&text)
            && raw.message() == e.message()
        {
            return bad(runner_revisions::toml_line::toml_error_line(&text, &raw), e.message().to_string());
        }
        let key = e.message().split('`').nth(1).unwrap_or("");
        let line = text
            .lines()
            .position(|l| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
            .map_or(1, |i| i + 1);
        bad(line, e.message().to_string())
    })
}

/// A URL built from libpq's variables, so that `PGHOST=db PGUSER=app runner status` works as it does for psql.
fn pg_env_url(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let keys = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"];
    if keys.iter().all(|k| get(k).is_none()) {
        return None;
    }
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    let user = get("PGUSER").unwrap_or_else(|| "postgres".into());
    let auth = match get("PGPASSWORD") {
        Some(p) => format!("{}:{}", enc(&user), enc(&p)),
        None => enc(&user),
    };
    let host = get("PGHOST").unwrap_or_else(|| "localhost".into());
    let port = get("PGPORT").unwrap_or_else(|| "5432".into());
    let db = get("PGDATABASE").unwrap_or_else(|| user.clone());
    // A PGHOST that is a directory means a Unix socket.
    Some(if host.starts_with('/') {
        format!("postgres://{auth}@localhost:{port}/{}?host={}", enc(&db), enc(&host))
    } else {
        format!("postgres://{auth}@{host}:{port}/{}", enc(&db))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn resolve(dir: &Path, over: Overrides, pairs: &[(&str, &str)]) -> Settings {
        Settings::resolve(Overrides { project_dir: Some(dir.into()), ..over }, &env(pairs)).unwrap()
    }

    #[test]
    fn precedence_flag_env_config_pgenv_default() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("runner.toml"), "database_url = \"sqlite://app.db\"\n").unwrap();
        let flag = Overrides { database_url: Some("postgres://f/db".into()), ..Default::default() };
        assert_eq!(resolve(d.path(), flag, &[("DATABASE_URL", "postgres://e/db")]).url_source, UrlSource::Flag);
        let s = resolve(
            d.path(),
            Overrides::default(),
            &[("DATABASE_URL", "postgres://e/db"), ("POSTGRES_URL", "postgres://p/db")],
        );
        assert_eq!(s.url_source, UrlSource::DatabaseUrl);
        let s = resolve(d.path(), Overrides::default(), &[("POSTGRES_URL", "postgres://p/db"), ("PGHOST", "x")]);
        assert_eq!(s.url_source, UrlSource::PostgresUrl);
        let s = resolve(d.path(), Overrides::default(), &[("PGHOST", "x")]);
        assert_eq!(s.url_source, UrlSource::ConfigFile);
        assert_eq!(s.database_url.expose(), format!("sqlite://{}", d.path().join("app.db").display()));
        std::fs::remove_file(d.path().join("runner.toml")).unwrap();
        let s = resolve(
            d.path(),
            Overrides::default(),
            &[("PGHOST", "db.internal"), ("PGUSER", "app"), ("PGPASSWORD", "p@ss"), ("PGDATABASE", "shop")],
        );
        assert_eq!(s.url_source, UrlSource::PgEnv);
        assert_eq!(s.database_url.expose(), "postgres://app:p%40ss@db.internal:5432/shop");
        assert_eq!(s.database_url.to_string(), "postgres://app:***@db.internal:5432/shop");
        let s = resolve(d.path(), Overrides::default(), &[]);
        assert_eq!(s.url_source, UrlSource::Default);
        assert!(s.database_url.expose().ends_with("runner.db"));
    }

    #[test]
    fn unix_socket_pghost() {
        let d = tempfile::tempdir().unwrap();
        let s = resolve(d.path(), Overrides::default(), &[("PGHOST", "/var/run/postgresql")]);
        assert_eq!(
            s.database_url.expose(),
            "postgres://postgres@localhost:5432/postgres?host=%2Fvar%2Frun%2Fpostgresql"
        );
    }

    #[test]
    fn unknown_config_keys_are_errors_with_a_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("runner.toml"), "migrations = \"m\"\ndatabase = \"x\"\n").unwrap();
        let e = Settings::resolve(Overrides { project_dir: Some(d.path().into()), ..Default::default() }, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("runner.toml: line 2: unknown field `database`"), "{e}");
        // A key that only starts like another, and a wrong type, are both named on their line.
        std::fs::write(
            d.path().join("runner.toml"),
            "database_url = \"x\"\nlock_timeout_secs = \"ten\"\ndatabase = 1\n",
        )
        .unwrap();
        let e = Settings::resolve(Overrides { project_dir: Some(d.path().into()), ..Default::default() }, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("runner.toml: line 2:") || e.contains("runner.toml: line 3:"), "{e}");
        assert!(!e.contains("line 1:"), "{e}");
    }
}
