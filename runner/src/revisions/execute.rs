//! Carries out a plan step against a driver: the only place revisions touch a database.

use crate::error::{Committed, FailedStatement, RunnerError};
use crate::revisions::script::{Consumer, Origin, Sql, Unit, units};
use runner_db::{DbError, Driver, StatementFailure};
use runner_revisions::{Action, AppliedStatus, Step};
use runner_state::{AppliedBy, StateTable};
use std::time::{Duration, Instant};

/// Plugins of the data migrations a plan runs, by manifest name.
pub type DataMigrations = std::collections::HashMap<String, (runner_backfill::Manifest, runner_sandbox::Plugin)>;

pub async fn run_step(
    db: &mut dyn Driver,
    state: &StateTable,
    by: &AppliedBy,
    step: &Step,
    data: &DataMigrations,
) -> Result<Duration, RunnerError> {
    let started = Instant::now();
    for unit in units(step, state, by, Consumer::Live) {
        match unit {
            Unit::Transaction(stmts) => {
                let texts: Vec<&str> = stmts.iter().map(|s| s.text.as_str()).collect();
                if let Err(e) = db.transaction(&texts).await {
                    return Err(statement_error(step, e, |i| stmts.get(i).map(|s| s.origin), Committed::Nothing));
                }
            }
            Unit::Alone(sql) => {
                if let Err(e) = stopped_before(&sql) {
                    return Err(alone_failed(db, state, by, step, &sql, &[&sql], e).await);
                }
                if let Err(e) = db.execute(&sql.text).await {
                    return Err(alone_failed(db, state, by, step, &sql, &[&sql], e).await);
                }
            }
            Unit::Statement { guard, stmt, together, then } => {
                if let Err(e) = stopped_before(&stmt) {
                    return Err(alone_failed(db, state, by, step, &stmt, &[&stmt], e).await);
                }
                if together {
                    // The statement and its record commit together, or neither does.
                    let all: Vec<&Sql> = guard.iter().chain([&stmt]).chain(&then).collect();
                    let texts: Vec<&str> = all.iter().map(|s| s.text.as_str()).collect();
                    if let Err(e) = db.transaction(&texts).await {
                        return Err(alone_failed(db, state, by, step, &stmt, &all, e).await);
                    }
                } else {
                    if let Err(e) = db.execute(&stmt.text).await {
                        return Err(alone_failed(db, state, by, step, &stmt, &[&stmt], e).await);
                    }
                    // Its effect checked (where it can be named) and recorded: a failed check
                    // counts as the statement's own failure.
                    let rest: Vec<&Sql> = guard.iter().chain(&then).collect();
                    let texts: Vec<&str> = rest.iter().map(|s| s.text.as_str()).collect();
                    if let Err(e) = db.transaction(&texts).await {
                        return Err(alone_failed(db, state, by, step, &stmt, &rest, e).await);
                    }
                }
            }
            Unit::DataTransaction { before, migration, after } => {
                db.begin().await?;
                let result = data_transaction(db, step, &before, &migration, &after, data).await;
                match result {
                    Ok(()) => db.commit().await?,
                    Err(e) => {
                        let _ = db.rollback().await;
                        return Err(e);
                    }
                }
            }
            Unit::ResetSession => db.reset_session().await?,
        }
    }
    // How long it took is recorded with the rest of the run's when the run ends
    // (`Runner::record_durations`): the state write in the revision's own transaction can only
    // measure up to itself, and `apply` reports the runner's measure.
    Ok(started.elapsed())
}

/// The body of a revision with a data migration, inside the transaction the caller opened.
async fn data_transaction(
    db: &mut dyn Driver,
    step: &Step,
    before: &[Sql],
    migration: &str,
    after: &[Sql],
    data: &DataMigrations,
) -> Result<(), RunnerError> {
    for s in before {
        if let Err(e) = db.execute(&s.text).await {
            return Err(statement_error(step, e, |_| Some(s.origin), Committed::Nothing));
        }
    }
    let (manifest, plugin) = data.get(migration).expect("prepared for every planned data migration");
    let rows = runner_backfill::run_in_transaction(db, manifest, plugin).await?;
    tracing::info!(revision = %step.revision.id, migration, rows, "data migration");
    for s in after {
        db.execute(&s.text).await?;
    }
    Ok(())
}

/// A stop requested before `sql`, a no-transaction revision's statement, would start: as a
/// failure of it, so that how far the revision got is recorded rather than another statement run.
fn stopped_before(sql: &Sql) -> Result<(), DbError> {
    match (runner_db::interrupt::requested(), sql.origin) {
        (Some(signal), Origin::Revision { .. }) => Err(DbError::Statement {
            failure: StatementFailure {
                index: 0,
                message: format!("not run: the runner was stopped by {} before this statement", signal.name()),
                code: None,
                detail: None,
                hint: None,
                position: None,
            },
        }),
        _ => Ok(()),
    }
}

/// A no-transaction statement `sql` failed (or, run in `ran`, what had to commit with it): what
/// ran before it stays committed, so record how far the revision got (apply) before reporting.
async fn alone_failed(
    db: &mut dyn Driver,
    state: &StateTable,
    by: &AppliedBy,
    step: &Step,
    sql: &Sql,
    ran: &[&Sql],
    e: DbError,
) -> RunnerError {
    let rev = &step.revision;
    let Origin::Revision { index } = sql.origin else {
        return e.into();
    };
    let committed = match step.action {
        Action::Revert => {
            Committed::RevertStatements { done: index, total: rev.down.as_ref().map_or(0, |d| d.statements.len()) }
        }
        _ => Committed::Statements { done: index, total: rev.up.statements.len() },
    };
    let err = statement_error(step, e, |i| ran.get(i).map(|s| s.origin), committed);
    if let (Committed::Statements { done, total }, RunnerError::Statement(failed)) = (committed, &err) {
        let failure = &failed.failure;
        let done_checksum =
            runner_revisions::Checksum::of_statements(&rev.up.statements[..done.min(rev.up.statements.len())]);
        let record = state.record_progress(
            &rev.id,
            &rev.checksum,
            &rev.description,
            by,
            AppliedStatus::Failed,
            done,
            total,
            &done_checksum,
            Some(&failure.to_string()),
        );
        if let Err(write_err) = db.execute(&record).await {
            tracing::error!(revision = %rev.id, error = %write_err, "could not record the failure in the state table");
        }
    }
    err
}

/// Maps a driver error to one that names the revision file and line.
fn statement_error(
    step: &Step,
    e: DbError,
    origin_of: impl Fn(usize) -> Option<Origin>,
    committed: Committed,
) -> RunnerError {
    let rev = &step.revision;
    // A revert runs the down script; a plan only reverts revisions that have one.
    let script = match (step.action, &rev.down) {
        (Action::Revert, Some(down)) => down,
        _ => &rev.up,
    };
    let failed = |line: usize, failure: StatementFailure, connection_lost: bool| {
        RunnerError::Statement(Box::new(FailedStatement {
            revision: rev.id.clone(),
            file: script.file.clone(),
            line,
            failure,
            committed,
            connection_lost,
        }))
    };
    let failure = match e {
        DbError::ConnectionLost { reason } => {
            let message = format!("the connection to the database was lost: {reason}");
            let failure = StatementFailure { index: 0, message, code: None, detail: None, hint: None, position: None };
            return failed(0, failure, true);
        }
        DbError::Statement { failure } => failure,
        other => return other.into(),
    };
    let statements = &script.statements;
    if failure.index == usize::MAX && failure.is_cancelled() {
        // Cancelled while the transaction ran (the driver does not know which statement).
        let message = format!("the revision was cancelled while it ran: {}", failure.message);
        return failed(
            statements.first().map_or(1, |s| s.line),
            StatementFailure { message, index: 0, ..failure },
            false,
        );
    }
    match origin_of(failure.index) {
        Some(Origin::Revision { index } | Origin::Check { index }) if index < statements.len() => {
            let s = &statements[index];
            let line = s.line + lines_before(&s.sql, failure.position);
            failed(line, failure, false)
        }
        _ => {
            // The state write or COMMIT failed, or a failure did not recur when the statements
            // were re-run one by one to find it: say what is known, not more.
            let message = format!(
                "the revision's transaction failed outside its own statements (state write or COMMIT): {}",
                failure.message
            );
            failed(rev.up.statements.last().map_or(1, |s| s.line), StatementFailure { message, ..failure }, false)
        }
    }
}

/// Lines inside a statement before the database's 1-based character position.
fn lines_before(sql: &str, position: Option<usize>) -> usize {
    position.map_or(0, |p| sql.chars().take(p.saturating_sub(1)).filter(|&c| c == '\n').count())
}
