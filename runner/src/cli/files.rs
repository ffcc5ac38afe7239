//! Commands about files: init, new, merge, check.

use super::output::json;
use super::{GlobalArgs, OutputArgs};
use crate::error::{ExitCode, RunnerError};
use crate::refusal::Refusal;
use crate::runner::{Access, Runner};
use crate::scaffold;
use crate::settings::Settings;
use runner_revisions::Graph;

pub fn init(g: &GlobalArgs, engine: Option<runner_db::Dialect>) -> Result<ExitCode, RunnerError> {
    let dir = g.project_dir.clone().unwrap_or_else(|| ".".into());
    for p in scaffold::init(&dir, engine)? {
        outln!("created {}", p.display());
    }
    outln!("Next: `runner new \"first revision\"`, write its SQL, then `runner apply`.");
    Ok(ExitCode::Ok)
}

pub fn new(
    settings: &Settings,
    message: &str,
    header: &scaffold::Header,
    body: Option<&scaffold::Body>,
) -> Result<ExitCode, RunnerError> {
    // A backfill named here must be one of the project's (checked again by `runner check`).
    if !header.requires_backfills.is_empty() {
        let known: Vec<String> = crate::backfills::load_manifests(settings)?.into_iter().map(|m| m.name).collect();
        if let Some(unknown) = header.requires_backfills.iter().find(|b| !known.contains(b)) {
            return Err(RunnerError::UnknownBackfill {
                name: unknown.clone(),
                dir: settings.backfills_dir.clone(),
                known,
            });
        }
    }
    if !settings.migrations_dir.exists() {
        std::fs::create_dir_all(&settings.migrations_dir).map_err(|cause| RunnerError::Io {
            context: format!("creating {}", settings.migrations_dir.display()),
            cause,
        })?;
    }
    let graph = Graph::load(&settings.migrations_dir)?;
    let id = scaffold::unique_id(&graph, std::time::SystemTime::now());
    for p in scaffold::new_revision(&graph, message, &id, header, body)? {
        outln!("created {}", p.display());
    }
    Ok(ExitCode::Ok)
}

/// How `runner new --autogenerate` was asked to generate.
pub struct AutogenerateArgs<'a> {
    pub dev_url: Option<&'a str>,
    pub renames: &'a [String],
    pub locking: crate::Locking,
    /// Write even when the self-check fails or objects are not handled.
    pub force: bool,
}

/// `runner new --autogenerate`: revisions from the revisions' head to the declared schema.
pub async fn autogenerate(
    settings: &Settings,
    message: &str,
    header: &scaffold::Header,
    args: AutogenerateArgs<'_>,
) -> Result<ExitCode, RunnerError> {
    if message.trim().is_empty() {
        return Err(Refusal::NoMessage.into());
    }
    let found = {
        let _working = super::status_line::Working::show(
            "replaying the revisions and loading the declared schema on scratch databases…",
        );
        crate::autogenerate(settings, args.dev_url, args.renames, args.locking).await?
    };
    if found.revisions.is_empty() && found.unhandled.is_empty() {
        outln!("no changes: the revisions' head already has the declared schema; nothing was written");
        return Ok(ExitCode::Ok);
    }
    let mut refuse = false;
    if !found.unhandled.is_empty() {
        errln!("objects that differ and that the differ does not handle yet (their SQL must be written by hand):");
        for u in &found.unhandled {
            errln!("  {u}");
        }
        refuse = true;
    }
    if !found.self_check.is_empty() {
        errln!("the self-check on a copy of the head failed:");
        for line in &found.self_check {
            errln!("  {line}");
        }
        refuse = true;
    }
    if refuse && !args.force {
        errln!("nothing was written; --force writes the revision anyway, with these notes in it");
        return Ok(ExitCode::Failure);
    }
    // Only objects the differ does not handle: --force writes a revision of notes alone.
    let revisions = if found.revisions.is_empty() {
        vec![crate::Generated {
            up: Vec::new(),
            down: crate::Down::Statements(Vec::new()),
            tx: runner_revisions::TxMode::PerRevision,
        }]
    } else {
        found.revisions.clone()
    };
    let two = revisions.len() > 1;
    // The database the revision is for says how big the tables its hazards touch are.
    let touched: Vec<runner_schema::Name> =
        revisions.iter().flat_map(|r| r.up.iter().filter_map(|s| s.table().cloned())).collect();
    let sizes = crate::schema_diff::table_sizes(
        &settings.database_url,
        &settings.connect_options(runner_db::Access::ReadOnly),
        &touched,
    )
    .await;
    for (i, revision) in revisions.iter().enumerate() {
        // The notes about the whole change go into the first revision.
        let mut notes: Vec<String> = Vec::new();
        if i == 0 {
            notes.extend(found.candidates.iter().map(|c| format!("-- hazard: {c}")));
        }
        notes.extend(runner_schema::hazard_notes_sized(&revision.up, &sizes));
        for h in &notes {
            errln!("{}", h.trim_start_matches("-- "));
        }
        if i == 0 {
            notes.extend(found.unhandled.iter().map(|u| format!("-- runner: not handled, write it by hand: {u}")));
            notes.extend(found.self_check.iter().map(|l| format!("-- runner: self-check: {l}")));
        }
        if revision.tx == runner_revisions::TxMode::None && args.locking == crate::Locking::Online {
            notes.push("-- online: each statement commits on its own, so none holds a lock for long; a failed one can be rerun with `runner apply --resume`".into());
        }
        let down = match &revision.down {
            crate::Down::Statements(down) => Some(section(runner_schema::hazard_notes(down), down)),
            crate::Down::Irreversible(needs) => {
                // Said where it is read (the file) and where it is run (the terminal).
                errln!(
                    "this revision is written without a down section (`revert` refuses it): going back would need what runner cannot do safely:"
                );
                for u in needs {
                    errln!("  {u}");
                }
                notes.push("-- irreversible: written without a down section, since going back would need what runner cannot do safely:".into());
                notes.extend(needs.iter().map(|u| format!("--   {u}")));
                notes.push("-- Write a down section by hand if there is a safe way back; until then `runner revert` refuses this revision.".into());
                None
            }
        };
        let body = scaffold::Body { up: section(notes, &revision.up), down };
        let (message, tx) = match revision.tx {
            runner_revisions::TxMode::None if two => {
                (format!("{message}, concurrently"), runner_revisions::TxMode::None)
            }
            runner_revisions::TxMode::None => (message.to_string(), runner_revisions::TxMode::None),
            runner_revisions::TxMode::PerRevision => (message.to_string(), header.tx),
        };
        // The backfills it waits for: the first revision's (what follows builds on it).
        let requires_backfills = if i == 0 { header.requires_backfills.clone() } else { Vec::new() };
        new(settings, &message, &scaffold::Header { tx, requires_backfills }, Some(&body))?;
    }
    Ok(ExitCode::Ok)
}

/// A revision section: notes, a blank line, then the statements.
fn section(mut lines: Vec<String>, statements: &[runner_schema::Statement]) -> String {
    if !lines.is_empty() {
        lines.push(String::new());
    }
    lines.extend(statements.iter().map(|s| s.sql.clone()));
    lines.join("\n") + "\n"
}

pub fn merge(settings: &Settings, message: &str) -> Result<ExitCode, RunnerError> {
    let graph = Graph::load(&settings.migrations_dir)?;
    let id = scaffold::unique_id(&graph, std::time::SystemTime::now());
    let p = scaffold::merge(&graph, message, &id)?;
    outln!("created {}", p.display());
    Ok(ExitCode::Ok)
}

/// What `runner check` compares besides the files themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckScope {
    /// The recorded checksums against the files (`--db`).
    pub checksums: bool,
    /// The database's schema against the revisions' head (`--schema`).
    pub schema: bool,
}

pub async fn check(settings: Settings, scope: CheckScope, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let (graph, mut errors) = match Graph::load(&settings.migrations_dir) {
        Ok(g) => (Some(g), Vec::new()),
        Err(p) => (None, p.0.iter().map(ToString::to_string).collect::<Vec<_>>()),
    };
    let ignored = runner_revisions::layout::load_dir(&settings.migrations_dir).ignored;
    let mut count = 0;
    if let Some(g) = &graph {
        count = g.revisions().len();
        if let Err(e) = g.head() {
            errors.push(e.to_string());
        }
    }
    if graph.is_some() {
        // Backfill manifests, the names revisions give, refresh definitions: all at once.
        errors.extend(crate::declarations::of_project(&settings)?);
    }
    if scope.checksums && graph.is_some() {
        let mut runner = Runner::open(settings.clone(), Access::ReadOnly).await?;
        let status = runner.status().await;
        runner.close().await;
        errors.extend(status?.problems.iter().map(ToString::to_string));
    }
    let drift = if scope.schema && errors.is_empty() {
        let _working = super::status_line::Working::show("replaying the revisions on a scratch database to compare…");
        Some(crate::schema_drift(&settings, None).await?)
    } else {
        None
    };
    let drifted = drift.as_ref().is_some_and(|d| !d.is_empty());
    if out.json {
        json(&serde_json::json!({
            "ok": errors.is_empty() && !drifted, "revisions": count, "errors": errors, "ignored": ignored,
            "schema_drift": drift,
        }));
    } else {
        for p in &ignored {
            errln!(
                "warning: ignored {} (not a revision: revisions are .sql files or folders with up.sql)",
                p.display()
            );
        }
        for e in &errors {
            errln!("error: {e}");
        }
        for d in drift.iter().flatten() {
            errln!("schema drift: {d}");
        }
        if drifted {
            errln!("the database's schema differs from the revisions' head in the objects above");
        } else if errors.is_empty() {
            let schema = if drift.is_some() { ", and the database's schema is the revisions' head" } else { "" };
            outln!("OK: {count} revision{} checked{schema}.", if count == 1 { "" } else { "s" });
        }
    }
    Ok(if !errors.is_empty() {
        ExitCode::Invalid
    } else if drifted {
        ExitCode::Pending
    } else {
        ExitCode::Ok
    })
}
