//! The planner: revisions on disk + history in the database → what to do. No I/O.
//!
//! Every command that changes or previews the database goes through here, so the rules (what
//! blocks a run, what order revisions go in, what a target means) exist once.

use crate::checksum::Checksum;
use crate::error::RevisionError;
use crate::file::{Revision, TxMode};
use crate::graph::Graph;
use crate::history::{AppliedStatus, History};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Where a command should take the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The single head (an error if there are several).
    Head,
    /// Every head.
    Heads,
    /// This revision and everything it builds on (for `revert`/`stamp`: nothing after it).
    Revision(String),
    /// Nothing applied.
    Base,
    /// `revert` only: this many of the most recently applied revisions (`-N`).
    Steps(u32),
    /// `apply` only: the next this many pending revisions, in the order `apply` runs them (`+N`).
    Forward(u32),
}

impl Target {
    /// Parses `head`, `heads`, `base`, `+N` (the next N), `-N` (the last N), or a revision id
    /// (or unique prefix).
    pub fn parse(s: &str) -> Target {
        let count = |n: &str| n.parse::<u32>().ok().filter(|n| *n > 0);
        match s {
            "head" => Target::Head,
            "heads" => Target::Heads,
            "base" => Target::Base,
            _ => match (s.strip_prefix('+').and_then(count), s.strip_prefix('-').and_then(count)) {
                (Some(n), _) => Target::Forward(n),
                (_, Some(n)) => Target::Steps(n),
                _ => Target::Revision(s.to_string()),
            },
        }
    }
}

/// Whether `apply` may continue a no-transaction revision that stopped half-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unfinished {
    /// Stop and explain (the default: the operator should look first).
    #[default]
    Refuse,
    /// Continue from the first statement that did not complete.
    Resume,
}

/// Whether `apply` may run a revision that comes before one already applied (a file added
/// with an older id than the database's newest revision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Refuse and explain: running it would change history behind applied revisions.
    #[default]
    Strict,
    /// Run it anyway (Flyway's `outOfOrder`); history records it where it really ran.
    AllowOutOfOrder,
}

/// What `apply` allows beyond the plain case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyRules {
    /// What to do with an unfinished no-transaction revision.
    pub unfinished: Unfinished,
    /// Whether revisions added out of order may be applied.
    pub order: Order,
}

impl From<Unfinished> for ApplyRules {
    fn from(unfinished: Unfinished) -> ApplyRules {
        ApplyRules { unfinished, order: Order::Strict }
    }
}

/// What a step does to its revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Run the up script from statement `from` (0 unless resuming).
    Apply {
        /// The statement to start from.
        from: usize,
    },
    /// Run the down script.
    Revert,
    /// Record as applied without running anything.
    Stamp,
    /// Forget that it was applied without running anything.
    Unstamp,
}

/// One step of a plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
    /// To which revision.
    pub revision: Revision,
}

/// What a command will do, in order: the same for `--dry-run`, `--sql` and the run itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Plan {
    /// The steps.
    pub steps: Vec<Step>,
    /// `apply` stops before this revision: it requires backfills that are not complete.
    pub gate: Option<Gate>,
}

/// A revision waiting for backfills (expand → backfill → contract).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Gate {
    /// The revision.
    pub revision: String,
    /// The backfills it requires that are not complete.
    pub backfills: Vec<String>,
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped before revision `{}`: it requires backfill {} to complete; run `runner apply --with-backfills` (or `runner backfill run {}`)",
            self.revision,
            self.backfills.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", "),
            self.backfills[0]
        )
    }
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Something about the database's history that needs an operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Problem {
    /// An applied revision's file changed since it was applied.
    Drift {
        /// The revision id.
        id: String,
        /// Its file.
        file: PathBuf,
        /// The checksum recorded when it was applied.
        recorded: String,
        /// The file's checksum now.
        current: String,
    },
    /// The database records a revision no file defines.
    Missing {
        /// The revision id.
        id: String,
    },
    /// A no-transaction revision stopped half-way (failed, or the runner was killed).
    Unfinished {
        /// The revision id.
        id: String,
        /// Its file.
        file: PathBuf,
        /// Statements committed.
        done: usize,
        /// Statements in it.
        total: usize,
        /// The failure, if it failed.
        error: Option<String>,
    },
    /// A revision not applied, though one that comes after it is: it was added out of order.
    OutOfOrder {
        /// The revision id.
        id: String,
        /// Its file.
        file: PathBuf,
        /// An applied revision that comes after it.
        applied_after: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Drift { id, file, .. } => write!(
                f,
                "revision `{id}` was changed after it was applied ({}); revert the edit, or accept it with `runner repair`",
                file.display()
            ),
            Problem::Missing { id } => write!(
                f,
                "revision `{id}` is recorded as applied but no file defines it (an older checkout, or a deleted file?); restore it, or forget it with `runner repair`"
            ),
            Problem::OutOfOrder { id, file, applied_after } => write!(
                f,
                "revision `{id}` ({}) is not applied, but `{applied_after}`, which comes after it, is: it was added out of order. Apply it anyway with `runner apply --out-of-order`, or give it an id after the applied revisions",
                file.display()
            ),
            Problem::Unfinished { id, file, done, total, error } => {
                match error {
                    Some(e) => write!(
                        f,
                        "no-transaction revision `{id}` ({}) stopped after {done} of {total} statements: {e}",
                        file.display()
                    )?,
                    // No error recorded: the runner was killed, or (seen without the lock) is still at work.
                    None => write!(
                        f,
                        "no-transaction revision `{id}` ({}) stopped after {done} of {total} statements without recording an error (the runner was killed, or is still running it)",
                        file.display()
                    )?,
                }
                write!(
                    f,
                    "; fix the cause (statements not yet run may be edited), then continue it with `runner apply --resume`, or, if you completed it by hand, record it as done with `runner repair --mark-done {id}`"
                )
            }
        }
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The revision files are not a valid graph.
    #[error(transparent)]
    Revision(#[from] RevisionError),
    /// History problems that need an operator first.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Blocked(Vec<Problem>),
    /// A revision to revert has no down section.
    #[error(
        "revision `{id}` has no `-- runner:down` section, or one still marked `-- runner:todo` ({}), so it cannot be reverted",
        file.display()
    )]
    Irreversible {
        /// The revision id.
        id: String,
        /// Its file.
        file: PathBuf,
    },
    /// A target that does not apply to this command.
    #[error("`{0}` is not a valid target here")]
    BadTarget(String),
    /// A target this command cannot take, and what to do instead.
    #[error("{0}")]
    WrongDirection(String),
    /// `apply --to +N` where fewer than N revisions can be applied now.
    #[error("`--to +{asked}`: only {available} revision(s) can be applied now{}", .gate.as_ref().map(|g| format!(" ({g})")).unwrap_or_default())]
    TooFewPending {
        /// Revisions asked for.
        asked: u32,
        /// Revisions that can be applied.
        available: usize,
        /// Where applying stops, if a revision waits for a backfill.
        gate: Option<Gate>,
    },
    /// More steps asked than revisions applied.
    #[error(
        "`--steps {asked}` goes past the base: only {applied} revision(s) are applied; revert them all with `--to base`"
    )]
    TooManySteps {
        /// Steps asked for.
        asked: u32,
        /// Revisions applied.
        applied: usize,
    },
}

/// Problems that block `apply` and `revert`: drift, unknown applied revisions, unfinished
/// no-transaction revisions.
pub fn problems(graph: &Graph, history: &History) -> Vec<Problem> {
    let mut out = Vec::new();
    for a in history.present() {
        let Some(rev) = graph.get(&a.id) else {
            out.push(Problem::Missing { id: a.id.clone() });
            continue;
        };
        let unfinished = matches!(a.status, AppliedStatus::Running | AppliedStatus::Failed);
        // An unfinished revision drifts only if a statement that already ran changed: the ones
        // still to run may be fixed before `apply --resume` (that is the point of resuming).
        let drifted = match (&a.done_checksum, unfinished) {
            (Some(done), true) => {
                let n = a.statements_done.unwrap_or(0).min(rev.up.statements.len());
                let now = Checksum::of_statements(&rev.up.statements[..n]);
                (done != &now).then(|| (done.clone(), now))
            }
            _ => a.checksum.as_ref().filter(|c| *c != &rev.checksum).map(|c| (c.clone(), rev.checksum.clone())),
        };
        if let Some((recorded, current)) = drifted {
            out.push(Problem::Drift {
                id: a.id.clone(),
                file: rev.path.clone(),
                recorded: recorded.to_string(),
                current: current.to_string(),
            });
        }
        if unfinished {
            out.push(Problem::Unfinished {
                id: a.id.clone(),
                file: rev.path.clone(),
                done: a.statements_done.unwrap_or(0),
                total: a.statements_total.unwrap_or(rev.up.statements.len()),
                error: a.error.clone(),
            });
        }
    }
    out.extend(out_of_order(graph, history));
    out
}

/// Pending revisions that some applied revision comes after (builds on, directly or not).
fn out_of_order(graph: &Graph, history: &History) -> Vec<Problem> {
    let revs = graph.revisions();
    let mut out = Vec::new();
    for (i, r) in revs.iter().enumerate() {
        if history.is_applied(&r.id) {
            continue;
        }
        let mut stack = graph.children_positions(i).to_vec();
        let mut seen = BTreeSet::new();
        while let Some(c) = stack.pop() {
            if !seen.insert(c) {
                continue;
            }
            if history.is_applied(&revs[c].id) {
                out.push(Problem::OutOfOrder {
                    id: r.id.clone(),
                    file: r.path.clone(),
                    applied_after: revs[c].id.clone(),
                });
                break;
            }
            stack.extend_from_slice(graph.children_positions(c));
        }
    }
    out
}

/// Revisions not yet applied, in the order `apply` would run them.
pub fn pending<'g>(graph: &'g Graph, history: &History) -> Vec<&'g Revision> {
    graph.revisions().iter().filter(|r| !history.is_applied(&r.id)).collect()
}

/// Applied revisions that no other applied revision builds on: the database's current revision(s).
pub fn current<'g>(graph: &'g Graph, history: &History) -> Vec<&'g Revision> {
    graph
        .revisions()
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            history.is_applied(&r.id)
                && !graph.children_positions(*i).iter().any(|&c| history.is_applied(&graph.revisions()[c].id))
        })
        .map(|(_, r)| r)
        .collect()
}

fn target_positions(graph: &Graph, target: &Target) -> Result<BTreeSet<usize>, PlanError> {
    let tips: Vec<usize> = match target {
        Target::Head => graph.head()?.map(|r| graph.position(&r.id).expect("head is in graph")).into_iter().collect(),
        Target::Heads | Target::Forward(_) => {
            graph.heads().iter().map(|r| graph.position(&r.id).expect("in graph")).collect()
        }
        Target::Revision(id) => vec![graph.position(&graph.resolve(id)?.id).expect("resolved")],
        Target::Base => vec![],
        Target::Steps(n) => {
            return Err(PlanError::WrongDirection(format!("`--to -{n}` goes back: that is `runner revert --to -{n}`")));
        }
    };
    Ok(tips.into_iter().flat_map(|t| graph.ancestors_inclusive(t)).collect())
}

/// `apply`: every revision the target needs that is not applied, parents first.
pub fn plan_apply(
    graph: &Graph,
    history: &History,
    target: &Target,
    rules: impl Into<ApplyRules>,
) -> Result<Plan, PlanError> {
    let rules = rules.into();
    let wanted = target_positions(graph, target)?;
    let mut blocking = Vec::new();
    let mut resume = std::collections::HashMap::new();
    for p in problems(graph, history) {
        match (&p, rules.unfinished, rules.order) {
            (Problem::Unfinished { id, done, .. }, Unfinished::Resume, _) => {
                resume.insert(id.clone(), *done);
            }
            (Problem::OutOfOrder { .. }, _, Order::AllowOutOfOrder) => {}
            _ => blocking.push(p),
        }
    }
    if !blocking.is_empty() {
        return Err(PlanError::Blocked(blocking));
    }
    // In order; a revision whose backfills are not complete is held back, with everything that
    // builds on it.
    let mut steps = Vec::new();
    let mut gate = None;
    let mut held: BTreeSet<usize> = BTreeSet::new();
    for i in wanted {
        let r = &graph.revisions()[i];
        if history.is_applied(&r.id) {
            continue;
        }
        let waiting: Vec<String> =
            r.requires_backfills.iter().filter(|b| !history.completed_backfills.contains(*b)).cloned().collect();
        let parent_held = graph.parents_of(&r.id).iter().any(|p| graph.position(p).is_some_and(|j| held.contains(&j)));
        if !waiting.is_empty() || parent_held {
            held.insert(i);
            if gate.is_none() && !waiting.is_empty() {
                gate = Some(Gate { revision: r.id.clone(), backfills: waiting });
            }
            continue;
        }
        steps.push(Step {
            action: Action::Apply { from: resume.get(&r.id).copied().unwrap_or(0) },
            revision: r.clone(),
        });
    }
    if let Target::Forward(n) = target {
        let n = *n as usize;
        if steps.len() < n {
            return Err(PlanError::TooFewPending { asked: n as u32, available: steps.len(), gate });
        }
        steps.truncate(n);
        // What comes after the ones asked for is not held back: it was not asked for.
        gate = None;
    }
    Ok(Plan { steps, gate })
}

/// `revert`: children before parents, each with a down script.
pub fn plan_revert(graph: &Graph, history: &History, target: &Target) -> Result<Plan, PlanError> {
    // A revision added out of order is no reason not to revert applied ones.
    let blocking: Vec<Problem> =
        problems(graph, history).into_iter().filter(|p| !matches!(p, Problem::OutOfOrder { .. })).collect();
    if !blocking.is_empty() {
        return Err(PlanError::Blocked(blocking));
    }
    let applied: Vec<usize> =
        (0..graph.revisions().len()).filter(|&i| history.is_applied(&graph.revisions()[i].id)).collect();
    let chosen: Vec<usize> = match target {
        Target::Steps(n) => {
            let mut remaining: BTreeSet<usize> = applied.iter().copied().collect();
            let mut chosen = Vec::new();
            for _ in 0..*n {
                // The most recently applied revision that nothing still applied builds on.
                let leaf = remaining
                    .iter()
                    .copied()
                    .filter(|&i| !graph.children_positions(i).iter().any(|c| remaining.contains(c)))
                    .max_by_key(|&i| (history.get(&graph.revisions()[i].id).and_then(|a| a.seq), i));
                let Some(leaf) = leaf else {
                    // Asked to go further back than there is: say so rather than quietly
                    // reverting everything (nothing applied at all is simply nothing to do).
                    if applied.is_empty() {
                        break;
                    }
                    return Err(PlanError::TooManySteps { asked: *n, applied: applied.len() });
                };
                remaining.remove(&leaf);
                chosen.push(leaf);
            }
            chosen
        }
        Target::Head | Target::Heads => return Err(PlanError::BadTarget("head".into())),
        Target::Forward(n) => {
            return Err(PlanError::WrongDirection(format!(
                "`--to +{n}` goes forward: that is `runner apply --to +{n}`"
            )));
        }
        _ => {
            let keep = target_positions(graph, target)?;
            applied.into_iter().rev().filter(|i| !keep.contains(i)).collect()
        }
    };
    let mut steps = Vec::with_capacity(chosen.len());
    for i in chosen {
        let r = &graph.revisions()[i];
        if r.down.is_none() {
            return Err(PlanError::Irreversible { id: r.id.clone(), file: r.path.clone() });
        }
        steps.push(Step { action: Action::Revert, revision: r.clone() });
    }
    Ok(Plan { steps, gate: None })
}

/// `stamp`: make the history say the database is exactly at `target`, running nothing.
pub fn plan_stamp(graph: &Graph, history: &History, target: &Target) -> Result<Plan, PlanError> {
    if let Target::Forward(n) = target {
        return Err(PlanError::WrongDirection(format!("`+{n}`: stamp names a revision by its id")));
    }
    let wanted = target_positions(graph, target)?;
    let mut steps = Vec::new();
    for (i, r) in graph.revisions().iter().enumerate().rev() {
        if !wanted.contains(&i) && history.present().any(|a| a.id == r.id) {
            steps.push(Step { action: Action::Unstamp, revision: r.clone() });
        }
    }
    for i in wanted {
        let r = &graph.revisions()[i];
        if !history.is_applied(&r.id) {
            steps.push(Step { action: Action::Stamp, revision: r.clone() });
        }
    }
    Ok(Plan { steps, gate: None })
}

/// Whether a step runs inside one transaction together with its state write.
pub fn step_tx(step: &Step) -> TxMode {
    match step.action {
        Action::Stamp | Action::Unstamp => TxMode::PerRevision,
        Action::Apply { .. } | Action::Revert => step.revision.tx,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::Checksum;
    use crate::file::parse_native;
    use crate::history::Applied;
    use std::path::Path;

    fn rev(id: &str, parents: &str, down: bool) -> Revision {
        let text = format!(
            "-- id: {id}\n-- parents: {parents}\n-- runner:up\nCREATE TABLE t_{id} ();\n{}",
            if down { format!("-- runner:down\nDROP TABLE t_{id};\n") } else { String::new() }
        );
        parse_native(Path::new(&format!("m/{id}.sql")), &text).unwrap()
    }

    fn graph(revs: Vec<Revision>) -> Graph {
        Graph::build(Path::new("m"), revs, vec![]).unwrap()
    }

    fn applied(g: &Graph, ids: &[&str]) -> History {
        History::new(ids.iter().enumerate().map(|(n, id)| Applied {
            id: id.to_string(),
            status: AppliedStatus::Applied,
            checksum: Some(g.get(id).unwrap().checksum.clone()),
            description: None,
            seq: Some(n as i64 + 1),
            applied_at: None,
            applied_by: None,
            duration_ms: None,
            statements_done: None,
            statements_total: None,
            done_checksum: None,
            error: None,
            stamped: false,
            reverted_at: None,
            reverted_by: None,
        }))
    }

    fn ids(plan: &Plan) -> Vec<&str> {
        plan.steps.iter().map(|s| s.revision.id.as_str()).collect()
    }

    #[test]
    fn applies_pending_revisions_parents_first() {
        let g = graph(vec![rev("c", "b", true), rev("a", "none", true), rev("b", "a", true)]);
        let plan = plan_apply(&g, &applied(&g, &["a"]), &Target::Head, Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["b", "c"]);
    }

    #[test]
    fn apply_to_a_revision_stops_there() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true), rev("c", "b", true)]);
        let plan = plan_apply(&g, &History::default(), &Target::Revision("b".into()), Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["a", "b"]);
    }

    #[test]
    fn apply_plus_n_takes_the_next_n_and_refuses_more_than_there_are() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true), rev("c", "b", true)]);
        assert_eq!(Target::parse("+2"), Target::Forward(2));
        assert_eq!(Target::parse("+0"), Target::Revision("+0".into()), "no revision is +0");
        let plan = plan_apply(&g, &applied(&g, &["a"]), &Target::Forward(1), Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["b"]);
        let plan = plan_apply(&g, &applied(&g, &["a"]), &Target::Forward(2), Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["b", "c"]);
        let e = plan_apply(&g, &applied(&g, &["a"]), &Target::Forward(3), Unfinished::Refuse).unwrap_err();
        assert!(e.to_string().contains("`--to +3`: only 2 revision(s) can be applied now"), "{e}");
        assert!(plan_revert(&g, &applied(&g, &["a"]), &Target::Forward(1)).is_err());
        assert!(plan_apply(&g, &applied(&g, &["a"]), &Target::Steps(1), Unfinished::Refuse).is_err());
    }

    #[test]
    fn several_heads_need_a_merge_or_explicit_target() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true), rev("c", "a", true)]);
        let err = plan_apply(&g, &History::default(), &Target::Head, Unfinished::Refuse).unwrap_err();
        assert!(err.to_string().starts_with("several heads: b, c"), "{err}");
        let plan = plan_apply(&g, &History::default(), &Target::Heads, Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["a", "b", "c"]);
    }

    #[test]
    fn drift_blocks_apply_and_names_the_file() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true)]);
        let mut h = applied(&g, &["a"]);
        h.rows.get_mut("a").unwrap().checksum = Some(Checksum::from_stored("sha256-v1:00"));
        let err = plan_apply(&g, &h, &Target::Head, Unfinished::Refuse).unwrap_err().to_string();
        assert!(err.contains("revision `a` was changed after it was applied (m/a.sql)"), "{err}");
    }

    #[test]
    fn unfinished_no_transaction_revision_blocks_unless_resuming() {
        let g = graph(vec![rev("a", "none", true)]);
        let mut h = applied(&g, &["a"]);
        let row = h.rows.get_mut("a").unwrap();
        row.status = AppliedStatus::Failed;
        row.statements_done = Some(1);
        row.statements_total = Some(3);
        let err = plan_apply(&g, &h, &Target::Head, Unfinished::Refuse).unwrap_err().to_string();
        assert!(err.contains("stopped after 1 of 3 statements"), "{err}");
        let plan = plan_apply(&g, &h, &Target::Head, Unfinished::Resume).unwrap();
        assert_eq!(plan.steps[0].action, Action::Apply { from: 1 });
    }

    #[test]
    fn a_revision_waits_for_the_backfills_it_requires_and_so_do_its_children() {
        let mut b = rev("b", "a", true);
        b.requires_backfills = vec!["fill".into()];
        let g = graph(vec![rev("a", "none", true), b, rev("c", "b", true), rev("d", "a", true)]);
        let plan = plan_apply(&g, &History::default(), &Target::Heads, Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["a", "d"]);
        assert_eq!(plan.gate, Some(Gate { revision: "b".into(), backfills: vec!["fill".into()] }));
        let mut h = applied(&g, &["a", "d"]);
        h.completed_backfills.insert("fill".into());
        let plan = plan_apply(&g, &h, &Target::Heads, Unfinished::Refuse).unwrap();
        assert_eq!(ids(&plan), ["b", "c"]);
        assert_eq!(plan.gate, None);
    }

    #[test]
    fn revert_one_step_takes_the_latest_leaf() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true), rev("c", "a", true)]);
        let mut h = applied(&g, &["a", "c", "b"]);
        h.rows.get_mut("c").unwrap().seq = Some(2);
        h.rows.get_mut("b").unwrap().seq = Some(3);
        let plan = plan_revert(&g, &h, &Target::Steps(1)).unwrap();
        assert_eq!(Target::parse("-1"), Target::Steps(1), "revert --to -1");
        assert_eq!(ids(&plan), ["b"]);
        let plan = plan_revert(&g, &h, &Target::Steps(3)).unwrap();
        assert_eq!(ids(&plan), ["b", "c", "a"]);
    }

    #[test]
    fn revert_to_a_revision_and_to_base() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true), rev("c", "b", true)]);
        let h = applied(&g, &["a", "b", "c"]);
        assert_eq!(ids(&plan_revert(&g, &h, &Target::Revision("a".into())).unwrap()), ["c", "b"]);
        assert_eq!(ids(&plan_revert(&g, &h, &Target::Base).unwrap()), ["c", "b", "a"]);
    }

    #[test]
    fn revert_refuses_a_revision_without_down() {
        let g = graph(vec![rev("a", "none", false)]);
        let err = plan_revert(&g, &applied(&g, &["a"]), &Target::Steps(1)).unwrap_err().to_string();
        assert_eq!(
            err,
            "revision `a` has no `-- runner:down` section, or one still marked `-- runner:todo` (m/a.sql), so it cannot be reverted"
        );
    }

    #[test]
    fn stamp_moves_the_recorded_position_both_ways() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true), rev("c", "b", true)]);
        let plan = plan_stamp(&g, &History::default(), &Target::Revision("b".into())).unwrap();
        assert_eq!(ids(&plan), ["a", "b"]);
        let plan = plan_stamp(&g, &applied(&g, &["a", "b", "c"]), &Target::Revision("a".into())).unwrap();
        assert_eq!(ids(&plan), ["c", "b"]);
        assert!(plan.steps.iter().all(|s| s.action == Action::Unstamp));
    }

    #[test]
    fn unknown_applied_revision_is_reported() {
        let g = graph(vec![rev("a", "none", true)]);
        let mut h = applied(&g, &["a"]);
        let mut ghost = h.rows["a"].clone();
        ghost.id = "zz".into();
        h.rows.insert("zz".into(), ghost);
        assert_eq!(problems(&g, &h), vec![Problem::Missing { id: "zz".into() }]);
    }

    #[test]
    fn a_revision_added_before_an_applied_one_is_refused_unless_out_of_order_is_allowed() {
        // 10 and 20 applied, then 15 added: before, apply ran it and history showed 10 -> 15 -> 20.
        let g = graph(vec![rev("10", "none", true), rev("15", "10", true), rev("20", "15", true)]);
        let h = applied(&g, &["10", "20"]);
        let e = plan_apply(&g, &h, &Target::Head, Unfinished::Refuse).unwrap_err().to_string();
        assert!(e.contains("revision `15`") && e.contains("`20`, which comes after it, is"), "{e}");
        let rules = ApplyRules { order: Order::AllowOutOfOrder, ..ApplyRules::default() };
        let plan = plan_apply(&g, &h, &Target::Head, rules).unwrap();
        assert_eq!(plan.steps.iter().map(|s| s.revision.id.as_str()).collect::<Vec<_>>(), ["15"]);
        assert!(plan_revert(&g, &h, &Target::Steps(1)).is_ok(), "reverting is not blocked by it");
    }

    #[test]
    fn reverting_more_steps_than_are_applied_is_refused() {
        let g = graph(vec![rev("a", "none", true), rev("b", "a", true)]);
        let e = plan_revert(&g, &applied(&g, &["a", "b"]), &Target::Steps(99)).unwrap_err().to_string();
        assert!(e.contains("`--steps 99` goes past the base: only 2 revision(s) are applied"), "{e}");
        assert_eq!(plan_revert(&g, &applied(&g, &["a", "b"]), &Target::Steps(2)).unwrap().steps.len(), 2);
    }
}
