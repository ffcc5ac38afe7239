//! `runner diff --from SRC --to DST`: the SQL that turns one schema into another. A side is a
//! database (its URL), schema files (a `.sql` file, or a folder of them loaded in name order) or
//! `migrations` (the project's revisions applied to head). Files and migrations are loaded into a
//! scratch database of runner's own on the dev server (`--dev-url`/`dev_url`, else the target's
//! server), dropped afterwards on every path. Nothing is written to a database named as a side:
//! they are read through read-only connections.
//!
//! `runner new --autogenerate` (autogenerate.rs) builds on it.

use crate::error::RunnerError;
use crate::settings::Settings;
use runner_db::{Access, ConnectOptions, DatabaseUrl, Dialect, Driver};
use runner_schema::{Diff, Exclude, Name, Rows, Schema};
use std::path::{Path, PathBuf};

/// One side of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// A live database.
    Database(DatabaseUrl),
    /// A `.sql` file or a folder of them.
    Files(PathBuf),
    /// The project's revisions, applied to head.
    Migrations,
    /// The project's revisions up to this one (`migrations@REV`; a unique prefix will do).
    MigrationsAt(String),
}

impl SchemaSource {
    /// A URL (`postgres://`, `postgresql://`, `sqlite:`) is a database; anything else a path.
    pub fn parse(s: &str) -> Result<SchemaSource, RunnerError> {
        Ok(if s == "migrations" {
            SchemaSource::Migrations
        } else if let Some(rev) = s.strip_prefix("migrations@") {
            SchemaSource::MigrationsAt(rev.to_string())
        } else if Dialect::of_url(s).is_some() {
            SchemaSource::Database(DatabaseUrl::parse(s)?)
        } else {
            SchemaSource::Files(PathBuf::from(s))
        })
    }
}

/// The diff from `from`'s schema to `to`'s, with the tables and columns `renames` names (the
/// `--rename OLD=NEW` arguments) and the `-- runner:renamed-from` hints of schema files renamed
/// rather than dropped and added. Runner's own state table is not part of either side.
pub async fn diff_schemas(
    settings: &Settings,
    from: &SchemaSource,
    to: &SchemaSource,
    dev_url: Option<&str>,
    renames: &[String],
) -> Result<Diff, RunnerError> {
    let exclude = exclude(settings);
    let (from_hints, to_hints) = (source_hints(from)?, source_hints(to)?);
    // Each side may be a scratch database to load: loaded side by side, both to the end.
    let (from, to) = tokio::join!(
        Box::pin(read(settings, from, dev_url, &exclude)),
        Box::pin(read(settings, to, dev_url, &exclude))
    );
    let (from, to) = (from?, to?);
    same_engine(&from, &to)?;
    let mut said = flags(renames, &from)?;
    said.extend(to_hints);
    // A hint in the files diffed *from* says how they came to be: the other way round.
    let backwards = runner_schema::renames::resolve(&from_hints, &to, &from).map_err(RunnerError::Renames)?;
    said.extend(backwards.iter().map(|r| r.inverse(&backwards)));
    runner_schema::diff_with(&from, &to, &said).map_err(RunnerError::Renames)
}

pub(crate) fn flags(renames: &[String], from: &Schema) -> Result<Vec<runner_schema::Rename>, RunnerError> {
    let (ok, errors): (Vec<_>, Vec<_>) =
        renames.iter().map(|r| runner_schema::Rename::parse_flag(r, from)).partition(Result::is_ok);
    if !errors.is_empty() {
        return Err(RunnerError::Renames(errors.into_iter().filter_map(Result::err).collect()));
    }
    Ok(ok.into_iter().filter_map(Result::ok).collect())
}

/// Both sides of a diff on one engine: a PostgreSQL schema and a SQLite one do not diff.
pub(crate) fn same_engine(a: &Schema, b: &Schema) -> Result<(), RunnerError> {
    if a.engine == b.engine {
        return Ok(());
    }
    Err(RunnerError::SchemaDiff(
        "one side is a PostgreSQL schema and the other a SQLite one: a diff compares two schemas of one engine (is --dev-url or `dev_url` of the other engine than the database?)".into(),
    ))
}

/// The rename hints of a side given as schema files; none for the other kinds of side.
pub(crate) fn source_hints(source: &SchemaSource) -> Result<Vec<runner_schema::Rename>, RunnerError> {
    let SchemaSource::Files(path) = source else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for file in schema_files(path)? {
        let sql = std::fs::read_to_string(&file)
            .map_err(|cause| RunnerError::Io { context: format!("reading {}", file.display()), cause })?;
        match runner_schema::hints(&sql, &file.display().to_string()) {
            Ok(h) => out.extend(h),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(RunnerError::Renames(errors)) }
}

/// The objects where the live database differs from the revisions' head (`check --schema`).
pub async fn schema_drift(
    settings: &Settings,
    dev_url: Option<&str>,
) -> Result<Vec<runner_schema::ObjectDiff>, RunnerError> {
    let exclude = exclude(settings);
    let head = read(settings, &SchemaSource::Migrations, dev_url, &exclude).await?;
    let live = read(settings, &SchemaSource::Database(settings.database_url.clone()), dev_url, &exclude).await?;
    same_engine(&head, &live)?;
    Ok(runner_schema::objects(&head, &live))
}

/// Runner's own state table is not part of the user's schema, nor is what `[exclude]` lists.
pub(crate) fn exclude(settings: &Settings) -> Exclude {
    let name = match settings.state_table.split_once('.') {
        Some((schema, name)) => Name::new(schema, name),
        None => Name::new(settings.state_schema.as_deref().unwrap_or("public"), &settings.state_table),
    };
    // On SQLite every table is in `main`.
    let sqlite = Name::new(runner_schema::introspect::SQLITE_SCHEMA, &name.name);
    Exclude { tables: vec![name, sqlite], patterns: settings.exclude.clone() }
}

/// The dev server: `--dev-url`, else `dev_url` in runner.toml, else the target's server. On
/// SQLite, scratch databases are files of their own in a temporary folder.
pub(crate) fn dev_server(settings: &Settings, dev_url: Option<&str>) -> Result<DatabaseUrl, RunnerError> {
    Ok(match dev_url.or(settings.dev_url.as_deref()) {
        Some(u) => DatabaseUrl::parse(u)?,
        None => settings.database_url.clone(),
    })
}

/// Runs the project's revisions to head on the database at `url` (backfills included: on a
/// scratch database they have no rows to work on), so its schema is the revisions' head.
pub(crate) async fn replay(
    settings: &Settings,
    url: &DatabaseUrl,
    target: runner_revisions::Target,
) -> Result<(), RunnerError> {
    let mut s = settings.clone();
    s.database_url = url.clone();
    let mut r = crate::Runner::open(s, crate::Access::ReadWrite).await?;
    // A replay's steps are detail (`--log-level debug`), about the scratch database, and say so.
    r.step_log = crate::runner::StepLog::Scratch;
    let done = tracing::Instrument::instrument(
        r.apply_with_backfills(
            target,
            runner_revisions::plan::ApplyRules::default(),
            // Schemas only: a backfill runs if a revision waits for it, and no other (a manifest
            // may read a column the declared schema adds and the revisions do not have yet).
            crate::BackfillOptions { which: crate::backfills::Which::Gating, ..Default::default() },
            &mut crate::Quiet,
        ),
        tracing::info_span!("scratch", database = %url),
    )
    .await;
    r.close().await;
    let done = done?;
    match done.reason {
        Some(why) => Err(RunnerError::SchemaDiff(format!("replaying the revisions stopped before the head: {why}"))),
        None => Ok(()),
    }
}

pub(crate) async fn read(
    settings: &Settings,
    source: &SchemaSource,
    dev_url: Option<&str>,
    exclude: &Exclude,
) -> Result<Schema, RunnerError> {
    match source {
        SchemaSource::Database(url) => {
            let mut db = runner_db::connect(url, &settings.connect_options(Access::ReadOnly)).await?;
            let schema = introspect(db.as_mut(), exclude).await;
            db.close().await;
            schema
        }
        SchemaSource::Files(path) => {
            let files = schema_files(path)?;
            with_scratch_database(
                settings,
                &dev_server(settings, dev_url)?,
                async |_url: &DatabaseUrl, db: &mut dyn Driver| {
                    load_files(db, &files).await?;
                    introspect(db, exclude).await
                },
            )
            .await
        }
        SchemaSource::Migrations | SchemaSource::MigrationsAt(_) => {
            let target = match source {
                SchemaSource::MigrationsAt(rev) => runner_revisions::Target::Revision(rev.clone()),
                _ => runner_revisions::Target::Head,
            };
            with_scratch_database(
                settings,
                &dev_server(settings, dev_url)?,
                async |url: &DatabaseUrl, db: &mut dyn Driver| {
                    replay(settings, url, target).await?;
                    introspect(db, exclude).await
                },
            )
            .await
        }
    }
}

/// Loads declared schema files. Each file runs as one (it commits whole or not at all), in name
/// order, and one that fails (a foreign key to a table of a later file, a view over one) is tried
/// again after the others, until every file loaded or a round loads none: those left are named
/// with their errors (a cycle, when they need each other). Session settings a file makes
/// (pg_dump's empty `search_path`) do not carry over to the next.
async fn load_files(db: &mut dyn Driver, files: &[PathBuf]) -> Result<(), RunnerError> {
    let mut left = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|cause| RunnerError::Io { context: format!("reading {}", file.display()), cause })?;
        left.push((file.clone(), without_meta_commands(file, &text)));
    }
    loop {
        let tried = left.len();
        let mut failed = Vec::new();
        for (file, sql) in left {
            let result = db.execute(&sql).await;
            db.reset_session().await?;
            match result {
                Ok(()) => {}
                Err(e) if e.is_connection_lost() => return Err(e.into()),
                Err(e) => failed.push((file, sql, e)),
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() == tried {
            let shown: Vec<String> = failed.iter().map(|(file, sql, e)| rejected(file, sql, e)).collect();
            let cycle = if failed.len() > 1 {
                "\n(each file was tried again after the others loaded: these may need each other, in a cycle; move what one needs of another into it, or into a file of its own)"
            } else {
                ""
            };
            return Err(RunnerError::SchemaDiff(format!("{}{cycle}", shown.join("\n"))));
        }
        left = failed.into_iter().map(|(file, sql, _)| (file, sql)).collect();
    }
}

/// `file:line: the dev database rejected it: …` for a file that failed to load.
fn rejected(file: &Path, sql: &str, e: &runner_db::DbError) -> String {
    // The server reports where in the file it stopped (a character position): the line.
    let line = match e {
        runner_db::DbError::Statement { failure } => {
            failure.position.map(|p| sql.chars().take(p.saturating_sub(1)).filter(|c| *c == '\n').count() + 1)
        }
        _ => None,
    };
    let at = line.map(|l| format!(":{l}")).unwrap_or_default();
    format!("{}{at}: the dev database rejected it: {e}", file.display())
}

/// `text` with the psql meta-commands between its statements (`\restrict`, `\unrestrict` and
/// `\connect`, which current pg_dump writes) blanked out, lines kept so that positions still
/// name the right line; each one skipped is noted.
fn without_meta_commands(file: &Path, text: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    for statement in runner_revisions::splitter::split(text, 1) {
        // A meta-command has no `;`: it is read as the start of the statement after it.
        for (i, line) in statement.sql.lines().enumerate() {
            let n = statement.line - 1 + i;
            if !line.trim_start().starts_with('\\') || lines.get(n).is_none_or(|l| l.trim() != line.trim()) {
                break;
            }
            tracing::info!(file = %file.display(), line = n + 1, "skipped psql's `{}` (runner loads the SQL, not psql commands)", line.split_whitespace().next().unwrap_or(""));
            lines[n] = "";
        }
    }
    lines.join("\n")
}

pub(crate) async fn introspect(db: &mut dyn Driver, exclude: &Exclude) -> Result<Schema, RunnerError> {
    runner_schema::introspect(db, exclude).await.map_err(|e| RunnerError::SchemaDiff(e.to_string()))
}

/// The `.sql` files of `path`: the file itself, or a folder's, in name order.
fn schema_files(path: &Path) -> Result<Vec<PathBuf>, RunnerError> {
    let io = |cause| RunnerError::Io { context: format!("reading {}", path.display()), cause };
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(RunnerError::SchemaDiff(format!("{}: no .sql files", path.display())));
    }
    Ok(files)
}

/// Runs `work` on a database of its own on `server`, created for it and dropped after it,
/// whatever `work` returns; connections are made as `settings` says.
pub(crate) async fn with_scratch_database<T>(
    settings: &Settings,
    server: &DatabaseUrl,
    work: impl AsyncFnOnce(&DatabaseUrl, &mut dyn Driver) -> Result<T, RunnerError>,
) -> Result<T, RunnerError> {
    if server.dialect() == Dialect::Sqlite {
        return with_scratch_file(settings, work).await;
    }
    let options = settings.connect_options(Access::ReadWrite);
    // Two sides load at once: a counter keeps their names apart, the clock apart from a
    // process that had this id before.
    static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "runner_dev_{}_{}_{}",
        std::process::id(),
        MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() % 1_000_000)
    );
    let mut admin = runner_db::connect(server, &options).await?;
    if let Err(e) = admin.execute(&format!("CREATE DATABASE {}", runner_db::quote_part(&name))).await {
        admin.close().await;
        return Err(RunnerError::SchemaDiff(format!(
            "cannot create a scratch database on {server} ({e}); set --dev-url to a server where this role may create databases"
        )));
    }
    // Known to the abort path until it is dropped below.
    let live = crate::scratch::live(crate::scratch::Scratch::Database {
        server: server.clone(),
        name: name.clone(),
        options: options.clone(),
    });
    let result = async {
        let mut url = url::Url::parse(server.expose())
            .map_err(|_| RunnerError::SchemaDiff("the dev server must be given as a postgres:// URL".into()))?;
        url.set_path(&format!("/{name}"));
        let url = DatabaseUrl::parse(url.as_str())?;
        let mut db = runner_db::connect(&url, &options).await?;
        let out = work(&url, db.as_mut()).await;
        db.close().await;
        out
    }
    .await;
    let drop = format!("DROP DATABASE {} WITH (FORCE)", runner_db::quote_part(&name));
    let mut dropped = admin.execute(&drop).await;
    admin.close().await;
    // A stop request cancels what was running when it came, and a cancel can reach the server
    // after the statement it meant: then the drop is tried again on a connection of its own.
    for _ in 0..3 {
        match &dropped {
            Err(runner_db::DbError::Statement { failure }) if failure.is_cancelled() => {}
            _ => break,
        }
        dropped = match runner_db::connect(server, &options).await {
            Ok(mut again) => {
                let r = again.execute(&drop).await;
                again.close().await;
                r
            }
            Err(e) => Err(e),
        };
    }
    std::mem::drop(live);
    if let Err(e) = dropped {
        tracing::warn!(database = %name, error = %e, "could not drop the scratch database; drop it by hand");
    }
    result
}

/// [`with_scratch_database`] on SQLite: a database file in a folder of its own under the
/// system's temporary folder, removed afterwards whatever `work` returns.
async fn with_scratch_file<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&DatabaseUrl, &mut dyn Driver) -> Result<T, RunnerError>,
) -> Result<T, RunnerError> {
    static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "runner_dev_{}_{}",
        std::process::id(),
        MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|cause| RunnerError::Io { context: format!("creating {}", dir.display()), cause })?;
    let _live = crate::scratch::live(crate::scratch::Scratch::Folder(dir.clone()));
    let result = async {
        let url = DatabaseUrl::sqlite_file(&dir.join("scratch.db"));
        let mut db = runner_db::connect(&url, &settings.connect_options(Access::ReadWrite)).await?;
        let out = work(&url, db.as_mut()).await;
        db.close().await;
        out
    }
    .await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(folder = %dir.display(), error = %e, "could not remove the scratch database; remove it by hand");
    }
    result
}

/// How many rows each of `tables` holds in the database at `url`, for hazard notes: PostgreSQL's
/// planner estimate where the table was analyzed and found rows, else (never analyzed, or
/// analyzed while empty) a count up to a million and one; SQLite's count up to that bound.
/// Read-only (whatever `options` say); a database that cannot be read gives no sizes, not an error (the revision may be
/// written before its database exists), and a table not sized in time is said to be unknown.
pub async fn table_sizes(
    url: &DatabaseUrl,
    options: &ConnectOptions,
    tables: &[Name],
) -> std::collections::BTreeMap<Name, Rows> {
    let tables: std::collections::BTreeSet<&Name> = tables.iter().collect();
    let mut out = std::collections::BTreeMap::new();
    // Sizes are a courtesy: a database that is slow to answer does not hold the command up.
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(3), read_sizes(url, options, &tables, &mut out)).await;
    if read.is_err() {
        for t in tables {
            out.entry(t.clone()).or_insert(Rows::Unknown);
        }
    }
    out
}

/// A count stops here: enough to say a table is big.
const COUNT_BOUND: u64 = 1_000_000;

async fn read_sizes(
    url: &DatabaseUrl,
    options: &ConnectOptions,
    tables: &std::collections::BTreeSet<&Name>,
    out: &mut std::collections::BTreeMap<Name, Rows>,
) {
    // One query a table, however many statements touch it.
    if tables.is_empty() {
        return;
    }
    let options = ConnectOptions { access: Access::ReadOnly, ..options.clone() };
    let Ok(mut db) = runner_db::connect(url, &options).await else { return };
    let number = |rows: Result<Vec<Vec<Option<String>>>, runner_db::DbError>| -> Option<i64> {
        rows.ok()?.first()?.first()?.as_ref()?.parse::<f64>().ok().map(|n| n as i64)
    };
    for t in tables {
        let relation = match url.dialect() {
            Dialect::Postgres => t.sql(),
            Dialect::Sqlite => runner_db::quote_part(&t.name),
        };
        if url.dialect() == Dialect::Postgres {
            let estimate = number(
                db.query(&format!(
                    "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = {} AND c.relname = {}",
                    runner_db::quote_literal(&t.schema),
                    runner_db::quote_literal(&t.name)
                ))
                .await,
            );
            match estimate {
                // No such table (yet): nothing to say.
                None => continue,
                Some(n) if n > 0 => {
                    out.insert((*t).clone(), Rows::About(n as u64));
                    continue;
                }
                // -1: never analyzed; 0: analyzed while empty, which it may no longer be.
                Some(_) => {}
            }
        }
        // (PostgreSQL before 16 wants the subquery named.)
        let counted = number(
            db.query(&format!("SELECT count(*) FROM (SELECT 1 FROM {relation} LIMIT {}) AS bounded", COUNT_BOUND + 1))
                .await,
        );
        let rows = match counted {
            Some(n) if n as u64 > COUNT_BOUND => Rows::MoreThan(COUNT_BOUND),
            Some(n) => Rows::Exactly(n as u64),
            // A SQLite table that is not there (yet) has nothing to say.
            None if url.dialect() == Dialect::Sqlite => continue,
            None => Rows::Unknown,
        };
        out.insert((*t).clone(), rows);
    }
    db.close().await;
}
