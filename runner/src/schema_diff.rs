//! `runner diff --from SRC --to DST`: the SQL that turns one schema into another. A side is a
//! database (its URL) or schema files (a `.sql` file, or a folder of them loaded in name order),
//! which runner loads into a scratch database of its own on the dev server (`--dev-url`, else the
//! target's server) and drops afterwards, on every path. Nothing is written to a database named
//! as a side: they are read through read-only connections.

use crate::error::RunnerError;
use crate::settings::Settings;
use runner_db::{Access, ConnectOptions, DatabaseUrl, Dialect, Driver};
use runner_schema::{Diff, Exclude, Name, Schema};
use std::path::{Path, PathBuf};

/// One side of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// A live database.
    Database(String),
    /// A `.sql` file or a folder of them.
    Files(PathBuf),
}

impl SchemaSource {
    /// A URL (`postgres://`, `postgresql://`, `sqlite:`) is a database; anything else a path.
    pub fn parse(s: &str) -> SchemaSource {
        let lower = s.to_ascii_lowercase();
        if ["postgres://", "postgresql://", "sqlite:"].iter().any(|p| lower.starts_with(p)) {
            SchemaSource::Database(s.to_string())
        } else {
            SchemaSource::Files(PathBuf::from(s))
        }
    }
}

/// The diff from `from`'s schema to `to`'s. Runner's own state table is not part of either.
pub async fn diff_schemas(
    settings: &Settings,
    from: &SchemaSource,
    to: &SchemaSource,
    dev_url: Option<&str>,
) -> Result<Diff, RunnerError> {
    let exclude = Exclude { tables: vec![state_table_name(&settings.state_table)] };
    let from = read(settings, from, dev_url, &exclude).await?;
    let to = read(settings, to, dev_url, &exclude).await?;
    Ok(runner_schema::diff(&from, &to))
}

fn state_table_name(table: &str) -> Name {
    match table.split_once('.') {
        Some((schema, name)) => Name::new(schema, name),
        None => Name::new("public", table),
    }
}

async fn read(
    settings: &Settings,
    source: &SchemaSource,
    dev_url: Option<&str>,
    exclude: &Exclude,
) -> Result<Schema, RunnerError> {
    match source {
        SchemaSource::Database(url) => {
            let url = DatabaseUrl::parse(url)?;
            let options = ConnectOptions { access: Access::ReadOnly, ..ConnectOptions::default() };
            let mut db = runner_db::connect(&url, &options).await?;
            let schema = introspect(db.as_mut(), exclude).await;
            db.close().await;
            schema
        }
        SchemaSource::Files(path) => {
            let files = schema_files(path)?;
            let server = match dev_url {
                Some(u) => DatabaseUrl::parse(u)?,
                None => settings.database_url.clone(),
            };
            if server.dialect() != Dialect::Postgres {
                return Err(RunnerError::SchemaDiff(
                    "loading schema files needs a PostgreSQL dev server: set --dev-url (or the target's URL) to postgres://…".into(),
                ));
            }
            with_scratch_database(&server, async |db: &mut dyn Driver| {
                for file in &files {
                    let sql = std::fs::read_to_string(file)
                        .map_err(|cause| RunnerError::Io { context: format!("reading {}", file.display()), cause })?;
                    db.execute(&sql).await.map_err(|e| {
                        RunnerError::SchemaDiff(format!("{}: the dev database rejected it: {e}", file.display()))
                    })?;
                }
                introspect(db, exclude).await
            })
            .await
        }
    }
}

async fn introspect(db: &mut dyn Driver, exclude: &Exclude) -> Result<Schema, RunnerError> {
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
/// whatever `work` returns.
async fn with_scratch_database<T>(
    server: &DatabaseUrl,
    work: impl AsyncFnOnce(&mut dyn Driver) -> Result<T, RunnerError>,
) -> Result<T, RunnerError> {
    let name = format!(
        "runner_dev_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
    );
    let mut admin = runner_db::connect(server, &ConnectOptions::default()).await?;
    if let Err(e) = admin.execute(&format!("CREATE DATABASE {}", runner_db::quote_part(&name))).await {
        admin.close().await;
        return Err(RunnerError::SchemaDiff(format!(
            "cannot create a scratch database on {server} ({e}); set --dev-url to a server where this role may create databases"
        )));
    }
    let result = async {
        let mut url = url::Url::parse(server.expose())
            .map_err(|_| RunnerError::SchemaDiff("the dev server must be given as a postgres:// URL".into()))?;
        url.set_path(&format!("/{name}"));
        let mut db = runner_db::connect(&DatabaseUrl::parse(url.as_str())?, &ConnectOptions::default()).await?;
        let out = work(db.as_mut()).await;
        db.close().await;
        out
    }
    .await;
    let dropped = admin.execute(&format!("DROP DATABASE {} WITH (FORCE)", runner_db::quote_part(&name))).await;
    admin.close().await;
    if let Err(e) = dropped {
        tracing::warn!(database = %name, error = %e, "could not drop the scratch database; drop it by hand");
    }
    result
}
