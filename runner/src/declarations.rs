//! What a project declares beyond its revisions, checked against itself before anything runs:
//! the backfills and data migrations revisions name, the revisions manifests and refreshes
//! require, the plugins refreshes name. Pure: files in, problems out, so `check` (no database)
//! and `apply` share it.

use runner_backfill::{Manifest, Role};
use runner_revisions::{Graph, Revision};

/// Every broken reference, one message each, naming the file that makes it. `revisions` are the
/// ones whose references are checked (all of the graph's, or the pending ones).
pub fn problems(
    graph: &Graph,
    revisions: &[&Revision],
    manifests: &[Manifest],
    refreshes: &[runner_schedule::RefreshFile],
) -> Vec<String> {
    let mut out = Vec::new();
    let known = |role: Role| -> Vec<&str> {
        manifests.iter().filter(|m| m.role == role).map(|m| m.name.as_str()).collect::<Vec<_>>()
    };
    let listed = |names: Vec<&str>| if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let find = |name: &str| manifests.iter().find(|m| m.name == name);
    for r in revisions {
        for b in &r.requires_backfills {
            match find(b) {
                Some(m) if m.role == Role::Backfill => {}
                Some(m) => out.push(format!(
                    "{}: `requires-backfill: {b}` names manifest {} of role {:?}, not a backfill",
                    r.path.display(),
                    m.file.display(),
                    m.role
                )),
                None => out.push(format!(
                    "{}: `requires-backfill: {b}` names no backfill in backfills/ (known: {}); the revision would wait for it forever",
                    r.path.display(),
                    listed(known(Role::Backfill))
                )),
            }
        }
        if let Some(d) = &r.data_migration {
            match find(d) {
                Some(m) if m.role == Role::DataMigration => {}
                Some(m) => out.push(format!(
                    "{}: `data-migration: {d}` names manifest {} of role {:?}; mark it `role = \"data-migration\"`",
                    r.path.display(),
                    m.file.display(),
                    m.role
                )),
                None => out.push(format!(
                    "{}: `data-migration: {d}` names no manifest in backfills/ (known: {})",
                    r.path.display(),
                    listed(known(Role::DataMigration))
                )),
            }
        }
    }
    for m in manifests {
        if let Some(rev) = m.requires.as_ref().filter(|rev| graph.resolve(rev).is_err()) {
            out.push(format!(
                "{}: `requires = \"{rev}\"` names no revision in the migrations folder",
                m.file.display()
            ));
        }
    }
    match runner_schedule::validate(refreshes.to_vec()) {
        Err(errors) => out.extend(errors.iter().map(|e| format!("runner.toml: {e}"))),
        Ok(specs) => {
            for r in specs {
                if let Some(rev) = r.requires.as_ref().filter(|rev| graph.resolve(rev).is_err()) {
                    out.push(format!(
                        "runner.toml: refresh `{}` requires revision `{rev}`, which does not exist",
                        r.name
                    ));
                }
                if let runner_schedule::Target::Plugin { manifest } = &r.target {
                    match find(manifest) {
                        Some(m) if m.role == Role::Refresh => {}
                        Some(m) => out.push(format!(
                            "runner.toml: refresh `{}` names manifest {} of role {:?}; mark it `role = \"refresh\"`",
                            r.name,
                            m.file.display(),
                            m.role
                        )),
                        None => out.push(format!(
                            "runner.toml: refresh `{}` names plugin manifest `{manifest}`, which is not in backfills/",
                            r.name
                        )),
                    }
                }
            }
        }
    }
    out
}

/// Everything the project in `settings` declares that does not hold together, for `check`: the
/// problems above for every revision, and every broken manifest.
pub fn of_project(settings: &crate::settings::Settings) -> Result<Vec<String>, crate::error::RunnerError> {
    let graph = Graph::load(&settings.migrations_dir)?;
    let (manifests, mut out) = match crate::backfills::load_manifests(settings) {
        Ok(m) => (m, Vec::new()),
        Err(e) => (Vec::new(), vec![e.to_string()]),
    };
    let all: Vec<&Revision> = graph.revisions().iter().collect();
    out.extend(problems(&graph, &all, &manifests, &settings.refreshes));
    Ok(out)
}
