//! Files `runner` writes for the user: `init`, `new`, `merge`.

use crate::error::RunnerError;
use crate::refusal::Refusal;
use runner_revisions::Graph;
use runner_revisions::file::Format;
use std::path::{Path, PathBuf};

fn io(context: String) -> impl FnOnce(std::io::Error) -> RunnerError {
    move |cause| RunnerError::Io { context, cause }
}

const CONFIG_TEMPLATE: &str = r#"# runner configuration. Every key is optional.
#
# The database engine: with "postgres", a missing database URL is an error instead of the
# SQLite file runner.db in this folder.
{engine}
# Database URL. DATABASE_URL, POSTGRES_URL or --database-url override it; without any of
# these (and without PGHOST & co.), runner uses the SQLite file runner.db in this folder.
# database_url = "postgres://app@localhost:5432/app"

# Folder of revision files, relative to this file.
migrations = "migrations"

# The state table runner keeps its records in.
state_table = "runner_state"

# How long to wait for another runner to finish before giving up.
lock_timeout_secs = 60

# The schema you want, as plain DDL (a .sql file, or a folder of them loaded in name order):
# `runner new "message" --autogenerate` writes the revision from the revisions' head to it.
# schema = "schema.sql"
# Where autogenerate may create scratch databases (default: the database's own server; SQLite
# needs none).
# dev_url = "postgres://app@localhost:5432/postgres"
"#;

/// What `runner new` writes in the down section: until it is replaced with SQL, the revision is
/// irreversible and `revert` refuses it (an empty down section would mean "nothing to undo", and
/// `revert` would succeed and leave the change in place).
const DOWN_TODO: &str = "-- runner:todo\n\
-- Write the SQL that undoes the up section here, and delete the line above. Until then\n\
-- `runner revert` refuses this revision. (A down section with nothing in it, not even that\n\
-- line, means the revert has nothing to undo.)";

/// `runner init`: `runner.toml`, `migrations/`, `backfills/`, `plugins/`. Never overwrites.
pub fn init(dir: &Path, engine: Option<runner_db::Dialect>) -> Result<Vec<PathBuf>, RunnerError> {
    let mut created = Vec::new();
    let config = dir.join(crate::settings::CONFIG_FILE);
    if config.exists() {
        return Err(Refusal::AlreadyExists { path: config.to_path_buf() }.into());
    }
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let engine = match engine {
        Some(d) => format!("engine = \"{}\"", d.name()),
        None => "# engine = \"postgres\"".to_string(),
    };
    let text = CONFIG_TEMPLATE.replace("{engine}", &engine);
    std::fs::write(&config, text).map_err(io(format!("writing {}", config.display())))?;
    created.push(config);
    for sub in ["migrations", "backfills", "plugins"] {
        let p = dir.join(sub);
        if !p.exists() {
            std::fs::create_dir_all(&p).map_err(io(format!("creating {}", p.display())))?;
            std::fs::write(p.join(".gitkeep"), "").map_err(io(format!("writing in {}", p.display())))?;
            created.push(p);
        }
    }
    // What runner makes in the project and no one commits: the SQLite database of local work
    // and its journal files, and the compiled and built plugins.
    let ignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&ignore).unwrap_or_default();
    let missing: Vec<&str> = GITIGNORE.iter().copied().filter(|l| !existing.lines().any(|e| e.trim() == *l)).collect();
    if !missing.is_empty() {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# runner: the local database and what runner builds (plugins.lock is committed)\n");
        for l in missing {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&ignore, text).map_err(io(format!("writing {}", ignore.display())))?;
        created.push(ignore);
    }
    Ok(created)
}

/// The lines `init` puts in `.gitignore`.
const GITIGNORE: &[&str] = &["runner.db", "runner.db-journal", "runner.db-wal", "runner.db-shm", ".runner/"];

/// A new id: the UTC time to the second, which sorts in creation order in every layout.
pub fn new_id(now: std::time::SystemTime) -> String {
    let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A time-based id no revision in `graph` has yet (two `runner new` in one second get
/// consecutive ids instead of a duplicate).
pub fn unique_id(graph: &Graph, now: std::time::SystemTime) -> String {
    let mut t = now;
    loop {
        let id = new_id(t);
        if graph.get(&id).is_none() {
            return id;
        }
        t += std::time::Duration::from_secs(1);
    }
}

/// Days since 1970-01-01 → (year, month, day), from Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A file-name part from a message: letters and digits of any script kept (lower-cased), the
/// rest turned into `_` (before, `Überprüfung` became `berpr_fung`).
fn slug(message: &str) -> String {
    let s: String = message.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
    let s = s.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_");
    s.chars().take(60).collect()
}

/// Whether new revisions should declare parents: yes unless the folder is an existing name-ordered
/// chain (then the new file simply sorts last).
fn declares_parents(graph: &Graph) -> bool {
    graph.revisions().is_empty() || graph.revisions().iter().any(|r| r.parents.is_some())
}

/// `runner new MESSAGE`: a revision whose parent is the current head. Several heads must be merged first.
/// The SQL of a revision written for the user (`new --autogenerate`); without one, `new` writes
/// an empty up section and a down section that refuses to revert until it is written.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// The up section's SQL.
    pub up: String,
    /// The down section's SQL; `None`: the revision has no way back (no down section, which
    /// `revert` refuses).
    pub down: Option<String>,
}

/// What a new revision's header says besides its id, parents and description.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// How it runs.
    pub tx: runner_revisions::TxMode,
    /// Backfills that must have completed before it runs (`requires-backfill`).
    pub requires_backfills: Vec<String>,
}

/// Writes a new revision file (or pair) whose parent is the graph's head.
pub fn new_revision(
    graph: &Graph,
    message: &str,
    id: &str,
    header: &Header,
    body: Option<&Body>,
) -> Result<Vec<PathBuf>, RunnerError> {
    if message.trim().is_empty() {
        return Err(Refusal::NoMessage.into());
    }
    let dir = graph.dir();
    let head = graph.head()?;
    let name = format!("{id}_{}", slug(message));
    let last_format = graph.revisions().last().map(|r| r.format);
    let no_transaction = header.tx == runner_revisions::TxMode::None;
    let requires = if header.requires_backfills.is_empty() {
        String::new()
    } else {
        format!("-- requires-backfill: {}\n", header.requires_backfills.join(", "))
    };
    let tx_line = if no_transaction { format!("-- transaction: none\n{requires}") } else { requires.clone() };
    let write = |path: &PathBuf, text: &str| -> Result<(), RunnerError> {
        if path.exists() {
            return Err(Refusal::AlreadyExists { path: path.to_path_buf() }.into());
        }
        std::fs::write(path, text).map_err(io(format!("writing {}", path.display())))
    };
    match last_format {
        Some(Format::UpDownFiles) if !declares_parents(graph) => {
            let up = dir.join(format!("{name}.up.sql"));
            let down = dir.join(format!("{name}.down.sql"));
            let marker = format!("{}{requires}", if no_transaction { "-- no-transaction\n" } else { "" });
            let (up_sql, down_sql) =
                body.map_or((String::new(), Some(String::new())), |b| (b.up.clone(), b.down.clone()));
            write(&up, &format!("{marker}-- {message}\n{up_sql}"))?;
            let Some(down_sql) = down_sql else { return Ok(vec![up]) };
            write(&down, &format!("-- revert: {message}\n{down_sql}"))?;
            Ok(vec![up, down])
        }
        Some(Format::Diesel) if !declares_parents(graph) => {
            let d = dir.join(&name);
            std::fs::create_dir_all(&d).map_err(io(format!("creating {}", d.display())))?;
            let (up_sql, down_sql) =
                body.map_or((String::new(), Some(String::new())), |b| (b.up.clone(), b.down.clone()));
            write(&d.join("up.sql"), &format!("{requires}-- {message}\n{up_sql}"))?;
            if let Some(down_sql) = down_sql {
                write(&d.join("down.sql"), &format!("-- revert: {message}\n{down_sql}"))?;
            }
            if no_transaction {
                write(&d.join("metadata.toml"), "run_in_transaction = false\n")?;
            }
            Ok(vec![d])
        }
        _ => {
            let parents = if declares_parents(graph) {
                format!("-- parents: {}\n", head.map_or("none".to_string(), |h| h.id.clone()))
            } else {
                String::new()
            };
            let path = dir.join(format!("{name}.sql"));
            let (up_sql, down_sql) = match body {
                Some(b) => (format!("{}\n", b.up), b.down.clone()),
                None => ("\n\n".to_string(), Some(format!("{DOWN_TODO}\n"))),
            };
            let down = down_sql.map(|d| format!("-- runner:down\n{d}")).unwrap_or_default();
            write(
                &path,
                &format!(
                    "-- id: {id}\n{parents}-- description: {}\n{tx_line}\n-- runner:up\n{up_sql}{down}",
                    message.replace('\n', " ")
                ),
            )?;
            Ok(vec![path])
        }
    }
}

/// `runner merge`: a revision whose parents are all current heads, with nothing to run.
pub fn merge(graph: &Graph, message: &str, id: &str) -> Result<PathBuf, RunnerError> {
    let heads = graph.heads();
    if heads.len() < 2 {
        return Err(Refusal::NothingToMerge { heads: heads.len() }.into());
    }
    let ids: Vec<&str> = heads.iter().map(|h| h.id.as_str()).collect();
    let path = graph.dir().join(format!("{id}_{}.sql", slug(message)));
    std::fs::write(
        &path,
        format!(
            "-- id: {id}\n-- parents: {}\n-- description: {}\n\n-- runner:up\n\n-- runner:down\n",
            ids.join(", "),
            message.replace('\n', " ")
        ),
    )
    .map_err(io(format!("writing {}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_utc_timestamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(new_id(t), "20261118110640");
        assert_eq!(new_id(std::time::UNIX_EPOCH), "19700101000000");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Add user preferences!"), "add_user_preferences");
    }
}
