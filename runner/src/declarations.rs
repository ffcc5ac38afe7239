//! What a project declares beyond its revisions, checked against itself before anything runs:
//! the backfills and data migrations revisions name, the revisions manifests and refreshes
//! require, the plugins refreshes name. Pure: files in, problems out, so `check` (no database)
//! and `apply` share it.

use runner_backfill::{Manifest, Role};
use runner_revisions::{Graph, Revision};

/// One reference that does not hold, with what kind of reference it is, so that a caller picks
/// the ones it cares about by kind (`apply` refuses only broken `requires-backfill` markers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Which reference.
    pub kind: ProblemKind,
    /// What is wrong, naming the file that makes the reference.
    pub message: String,
}

/// The kinds of reference a project makes outside its revision graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A revision's `requires-backfill:` marker.
    RequiresBackfill,
    /// A revision's `data-migration:` marker.
    DataMigration,
    /// A manifest's `requires = "REV"`.
    ManifestRequires,
    /// A `[[refresh]]` in runner.toml: its spec, its required revision or its plugin.
    Refresh,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `out` with one more problem of `kind`.
fn push(out: &mut Vec<Problem>, kind: ProblemKind, message: String) {
    out.push(Problem { kind, message });
}

/// Every broken reference, one problem each, naming the file that makes it. `revisions` are the
/// ones whose references are checked (all of the graph's, or the pending ones).
pub fn problems(
    graph: &Graph,
    revisions: &[&Revision],
    manifests: &[Manifest],
    refreshes: &[runner_schedule::RefreshFile],
) -> Vec<Problem> {
    let declared = Manifests(manifests);
    let mut out = Vec::new();
    for r in revisions {
        revision_references(r, &declared, &mut out);
    }
    for m in manifests {
        if let Some(rev) = m.requires.as_ref().filter(|rev| graph.resolve(rev).is_err()) {
            push(
                &mut out,
                ProblemKind::ManifestRequires,
                format!("{}: `requires = \"{rev}\"` names no revision in the migrations folder", m.file.display()),
            );
        }
    }
    match runner_schedule::validate(refreshes.to_vec()) {
        Err(errors) => errors.iter().for_each(|e| push(&mut out, ProblemKind::Refresh, format!("runner.toml: {e}"))),
        Ok(specs) => specs.iter().for_each(|r| refresh_references(r, graph, &declared, &mut out)),
    }
    out
}

/// The project's manifests, looked up by name and role.
struct Manifests<'m>(&'m [Manifest]);

impl Manifests<'_> {
    fn find(&self, name: &str) -> Option<&Manifest> {
        self.0.iter().find(|m| m.name == name)
    }

    /// The names of role `role`, for an error's "known:" list.
    fn known(&self, role: Role) -> String {
        let names: Vec<&str> = self.0.iter().filter(|m| m.role == role).map(|m| m.name.as_str()).collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    }
}

/// A revision's `requires-backfill:` and `data-migration:` markers name manifests of that role.
fn revision_references(r: &Revision, manifests: &Manifests, out: &mut Vec<Problem>) {
    for b in &r.requires_backfills {
        match manifests.find(b) {
            Some(m) if m.role == Role::Backfill => {}
            Some(m) => push(
                out,
                ProblemKind::RequiresBackfill,
                format!(
                    "{}: `requires-backfill: {b}` names manifest {} of role {:?}, not a backfill",
                    r.path.display(),
                    m.file.display(),
                    m.role
                ),
            ),
            None => push(
                out,
                ProblemKind::RequiresBackfill,
                format!(
                    "{}: `requires-backfill: {b}` names no backfill in backfills/ (known: {}); the revision would wait for it forever",
                    r.path.display(),
                    manifests.known(Role::Backfill)
                ),
            ),
        }
    }
    if let Some(d) = &r.data_migration {
        match manifests.find(d) {
            Some(m) if m.role == Role::DataMigration => {}
            Some(m) => push(
                out,
                ProblemKind::DataMigration,
                format!(
                    "{}: `data-migration: {d}` names manifest {} of role {:?}; mark it `role = \"data-migration\"`",
                    r.path.display(),
                    m.file.display(),
                    m.role
                ),
            ),
            None => push(
                out,
                ProblemKind::DataMigration,
                format!(
                    "{}: `data-migration: {d}` names no manifest in backfills/ (known: {})",
                    r.path.display(),
                    manifests.known(Role::DataMigration)
                ),
            ),
        }
    }
}

/// A refresh's required revision exists, and a plugin refresh names a manifest of role refresh.
fn refresh_references(r: &runner_schedule::Refresh, graph: &Graph, manifests: &Manifests, out: &mut Vec<Problem>) {
    if let Some(rev) = r.requires.as_ref().filter(|rev| graph.resolve(rev).is_err()) {
        push(
            out,
            ProblemKind::Refresh,
            format!("runner.toml: refresh `{}` requires revision `{rev}`, which does not exist", r.name),
        );
    }
    if let runner_schedule::Target::Plugin { manifest } = &r.target {
        match manifests.find(manifest) {
            Some(m) if m.role == Role::Refresh => {}
            Some(m) => push(
                out,
                ProblemKind::Refresh,
                format!(
                    "runner.toml: refresh `{}` names manifest {} of role {:?}; mark it `role = \"refresh\"`",
                    r.name,
                    m.file.display(),
                    m.role
                ),
            ),
            None => push(
                out,
                ProblemKind::Refresh,
                format!(
                    "runner.toml: refresh `{}` names plugin manifest `{manifest}`, which is not in backfills/",
                    r.name
                ),
            ),
        }
    }
}

/// Everything the project in `settings` declares that does not hold together, for `check`: the
/// problems above for every revision, and every broken manifest.
#[cfg(feature = "cli")]
pub fn of_project(settings: &crate::settings::Settings) -> Result<Vec<String>, crate::error::RunnerError> {
    let graph = Graph::load(&settings.migrations_dir)?;
    let (manifests, mut out) = match crate::backfills::load_manifests(settings) {
        Ok(m) => (m, Vec::new()),
        Err(e) => (Vec::new(), vec![e.to_string()]),
    };
    let all: Vec<&Revision> = graph.revisions().iter().collect();
    out.extend(problems(&graph, &all, &manifests, &settings.refreshes).into_iter().map(|p| p.message));
    Ok(out)
}
