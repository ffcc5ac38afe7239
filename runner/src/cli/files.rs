//! Commands about files: init, new, merge, check.

use super::output::json;
use super::{GlobalArgs, OutputArgs};
use crate::error::{ExitCode, RunnerError};
use crate::runner::{Access, Runner};
use crate::scaffold;
use crate::settings::Settings;
use runner_revisions::Graph;

pub fn init(g: &GlobalArgs, engine: Option<crate::settings::Engine>) -> Result<ExitCode, RunnerError> {
    let dir = g.project_dir.clone().unwrap_or_else(|| ".".into());
    for p in scaffold::init(&dir, engine)? {
        outln!("created {}", p.display());
    }
    outln!("Next: `runner new \"first revision\"`, write its SQL, then `runner apply`.");
    Ok(ExitCode::Ok)
}

pub fn new(settings: &Settings, message: &str, no_transaction: bool) -> Result<ExitCode, RunnerError> {
    if !settings.migrations_dir.exists() {
        std::fs::create_dir_all(&settings.migrations_dir).map_err(|cause| RunnerError::Io {
            context: format!("creating {}", settings.migrations_dir.display()),
            cause,
        })?;
    }
    let graph = Graph::load(&settings.migrations_dir)?;
    let id = scaffold::unique_id(&graph, std::time::SystemTime::now());
    for p in scaffold::new_revision(&graph, message, &id, no_transaction)? {
        outln!("created {}", p.display());
    }
    Ok(ExitCode::Ok)
}

pub fn merge(settings: &Settings, message: &str) -> Result<ExitCode, RunnerError> {
    let graph = Graph::load(&settings.migrations_dir)?;
    let id = scaffold::unique_id(&graph, std::time::SystemTime::now());
    let p = scaffold::merge(&graph, message, &id)?;
    outln!("created {}", p.display());
    Ok(ExitCode::Ok)
}

pub async fn check(settings: Settings, with_db: bool, out: OutputArgs) -> Result<ExitCode, RunnerError> {
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
    if with_db && graph.is_some() {
        let mut runner = Runner::open(settings, Access::ReadOnly).await?;
        let status = runner.status().await;
        runner.close().await;
        errors.extend(status?.problems.iter().map(ToString::to_string));
    }
    if out.json {
        json(&serde_json::json!({ "ok": errors.is_empty(), "revisions": count, "errors": errors, "ignored": ignored }));
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
        if errors.is_empty() {
            outln!("OK: {count} revision{} checked.", if count == 1 { "" } else { "s" });
        }
    }
    Ok(if errors.is_empty() { ExitCode::Ok } else { ExitCode::Invalid })
}
