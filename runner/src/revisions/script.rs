//! A plan step as the statements that carry it out, state-table writes included.
//!
//! Both the executor and `apply --sql` consume this, so the SQL a run executes and the offline
//! script it prints cannot drift apart.

use runner_revisions::Checksum;
use runner_revisions::{Action, AppliedStatus, Statement, Step, TxMode, plan::step_tx};
use runner_state::{AppliedBy, Expected, StateTable};

/// Where a statement came from, so that a failure can name the file and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The revision's own statement number `index` (of its up or down script).
    Revision { index: usize },
    /// A state-table write, or a script's check that what came before was recorded.
    State,
    /// The check that revision statement `index`, run outside a transaction, took effect.
    Check { index: usize },
}

#[derive(Debug, Clone)]
pub struct Sql {
    pub text: String,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Unit {
    /// Statements that commit together (the revision and its state write).
    Transaction(Vec<Sql>),
    /// One statement in its own implicit transaction (no-transaction revisions).
    Alone(Sql),
    /// One statement of a no-transaction revision and what may only follow its success: a check
    /// of its effect where runner can name one, and the state write that records it. Where the
    /// database can run the statement in a transaction (`together`), all of it commits as one;
    /// else the statement runs alone and `then` in a transaction of its own. In a script,
    /// `guard` (that the statement before was recorded done) opens that transaction.
    Statement { guard: Option<Sql>, stmt: Sql, together: bool, then: Vec<Sql> },
    /// Statements, then a data migration (a plugin over a table), then more statements, all in
    /// one transaction.
    DataTransaction { before: Vec<Sql>, migration: String, after: Vec<Sql> },
    /// Forget session settings (`SET …`) the revision made, before the next one.
    ResetSession,
}

/// The statements of a step's script that will run: the down script for reverts, the up script
/// from the resume point for applies, nothing for stamps.
pub fn body(step: &Step) -> &[Statement] {
    match step.action {
        Action::Apply { from } => &step.revision.up.statements[from.min(step.revision.up.statements.len())..],
        Action::Revert => step.revision.down.as_ref().map_or(&[][..], |d| &d.statements[..]),
        Action::Stamp | Action::Unstamp => &[],
    }
}

/// The index (in the full script) of the first statement of [`body`].
pub fn body_offset(step: &Step) -> usize {
    match step.action {
        Action::Apply { from } => from,
        _ => 0,
    }
}

/// Who consumes the units: the runner itself, which sees every statement's outcome, or an
/// offline script, which some client runs without runner watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer<'a> {
    /// `apply`, `revert`, `stamp`.
    Live,
    /// `--sql`: every transaction that must only follow what came before it first checks, in
    /// the state table, that it happened (PostgreSQL), so that a client that goes on after an
    /// error records nothing more: the previous step of the script, if any (its revision and
    /// what it left), and within a no-transaction revision, the statement before.
    Script { previous: Option<(&'a str, Expected)> },
}

/// What a step leaves in its revision's row, for the next step of a script to check.
pub fn leaves(step: &Step) -> Option<Expected> {
    match step.action {
        Action::Apply { .. } | Action::Stamp => Some(Expected::Status(AppliedStatus::Applied)),
        Action::Revert => Some(Expected::Status(AppliedStatus::Reverted)),
        Action::Unstamp => None,
    }
}

pub fn units(step: &Step, state: &StateTable, by: &AppliedBy, consumer: Consumer<'_>) -> Vec<Unit> {
    let rev = &step.revision;
    let d = state.dialect();
    let script = matches!(consumer, Consumer::Script { .. });
    // A check that the step before this one did what it should have.
    let guard_previous: Option<Sql> = match consumer {
        Consumer::Script { previous: Some((id, expected)) } => {
            state.expect(id, expected).map(|text| Sql { text, origin: Origin::State })
        }
        _ => None,
    };
    let with_guard = |mut stmts: Vec<Sql>| -> Vec<Sql> {
        if let Some(g) = &guard_previous {
            stmts.insert(0, g.clone());
        }
        stmts
    };
    let offset = body_offset(step);
    let body: Vec<Sql> = body(step)
        .iter()
        .enumerate()
        .map(|(i, s)| Sql { text: s.sql.clone(), origin: Origin::Revision { index: offset + i } })
        .collect();
    let state_sql = |text: String| Sql { text, origin: Origin::State };
    let total = rev.up.statements.len();
    let mut out = Vec::new();
    match (step.action, step_tx(step)) {
        (Action::Stamp, _) => out.push(Unit::Transaction(with_guard(vec![state_sql(state.record_stamped(
            &rev.id,
            &rev.checksum,
            &rev.description,
            by,
        ))]))),
        (Action::Unstamp, _) => out.push(Unit::Transaction(with_guard(vec![state_sql(state.forget(&rev.id))]))),
        (Action::Apply { .. }, TxMode::PerRevision) if rev.data_migration.is_some() => {
            out.push(Unit::DataTransaction {
                before: body,
                migration: rev.data_migration.clone().expect("checked"),
                after: vec![state_sql(state.record_applied(&rev.id, &rev.checksum, &rev.description, by, None))],
            });
        }
        (Action::Apply { .. }, TxMode::PerRevision) => {
            let mut stmts = with_guard(body);
            stmts.push(state_sql(state.record_applied(&rev.id, &rev.checksum, &rev.description, by, None)));
            out.push(Unit::Transaction(stmts));
        }
        (Action::Revert, TxMode::PerRevision) => {
            let mut stmts = with_guard(body);
            stmts.extend(state.record_reverted(&rev.id, by, None).into_iter().map(state_sql));
            out.push(Unit::Transaction(stmts));
        }
        (Action::Apply { from }, TxMode::None) => {
            // Progress is recorded before the first statement and after each one, so a failure or
            // a kill half-way is visible and resumable rather than silently re-run from the top.
            let progress = |done: usize| {
                let done_checksum = Checksum::of_statements(&rev.up.statements[..done.min(rev.up.statements.len())]);
                state_sql(state.record_progress(
                    &rev.id,
                    &rev.checksum,
                    &rev.description,
                    by,
                    AppliedStatus::Running,
                    done,
                    total,
                    &done_checksum,
                    None,
                ))
            };
            out.push(match &guard_previous {
                Some(_) => Unit::Transaction(with_guard(vec![progress(from)])),
                None => Unit::Alone(progress(from)),
            });
            // A resumed run is a new session: what the statements already done set for the
            // session (the `lock_timeout` an online revision starts with) is set again first.
            let settings = rev.up.statements[..from.min(total)]
                .iter()
                .enumerate()
                .filter(|(_, s)| d.is_session_setting(&s.sql))
                .map(|(index, s)| Unit::Alone(Sql { text: s.sql.clone(), origin: Origin::Revision { index } }));
            out.extend(settings);
            // Each statement, then what records it: never recorded unless it succeeded.
            for (i, stmt) in body.into_iter().enumerate() {
                let done = from + i + 1;
                let together = d.runs_in_transaction(&stmt.text);
                let guard = state.expect(&rev.id, Expected::Done(done - 1)).filter(|_| script).map(state_sql);
                let mut then = Vec::new();
                if !together && let Some(check) = d.effect_check(&stmt.text) {
                    let Origin::Revision { index } = stmt.origin else { unreachable!("a revision's statement") };
                    then.push(Sql { text: check, origin: Origin::Check { index } });
                }
                then.push(if done < total {
                    progress(done)
                } else {
                    state_sql(state.record_applied(&rev.id, &rev.checksum, &rev.description, by, None))
                });
                out.push(Unit::Statement { guard, stmt, together, then });
            }
            if from >= total {
                // Nothing left to run (every statement was done before): only the record.
                out.push(Unit::Alone(state_sql(state.record_applied(
                    &rev.id,
                    &rev.checksum,
                    &rev.description,
                    by,
                    None,
                ))));
            }
        }
        (Action::Revert, TxMode::None) => {
            if let Some(g) = &guard_previous {
                out.push(Unit::Transaction(vec![g.clone()]));
            }
            out.extend(body.into_iter().map(Unit::Alone));
            // One transaction: the revision's row and its audit row are written together.
            out.push(Unit::Transaction(state.record_reverted(&rev.id, by, None).into_iter().map(state_sql).collect()));
        }
    }
    if state.dialect().session_reset_sql().is_some() && !matches!(step.action, Action::Stamp | Action::Unstamp) {
        out.push(Unit::ResetSession);
    }
    out
}
