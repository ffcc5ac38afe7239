//! Read commands: status, history, heads, current, show. None of them writes to the database.

use super::OutputArgs;
use super::output::{self, json};
use crate::error::{ExitCode, RunnerError};
use crate::refusal::Refusal;
use crate::runner::{Access, Runner};
use crate::settings::Settings;
use runner_revisions::plan;
use std::io::IsTerminal as _;

pub async fn status(settings: Settings, out: OutputArgs, exit_code: bool) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadOnly).await?;
    let s = runner.status().await?;
    runner.close().await;
    if out.json {
        json(&s);
    } else {
        outln!("database:   {} (from {})", s.database, s.database_source);
        outln!("state:      {}", s.state_table);
        outln!("migrations: {}", s.migrations_dir.display());
        outln!(
            "current:    {}",
            if s.current.is_empty() { "base (nothing applied)".into() } else { s.current.join(", ") }
        );
        outln!("heads:      {}", s.heads.join(", "));
        outln!("applied:    {}", s.applied);
        if s.pending.is_empty() {
            outln!("pending:    none");
        } else {
            outln!("pending:    {}", s.pending.len());
            for p in &s.pending {
                outln!("  {}  {}  ({})", p.id, p.description, p.file.display());
            }
        }
        for p in &s.problems {
            outln!("problem:    {p}");
        }
        for p in &s.backfill_problems {
            outln!("problem:    {p}");
        }
        for b in &s.backfills {
            let eta = b
                .progress
                .eta_s()
                .filter(|_| b.status == crate::backfills::BackfillState::Running)
                .map(|e| format!(", ETA {e:.0}s"))
                .unwrap_or_default();
            outln!(
                "backfill:   {} {} ({}/{} rows{eta})",
                b.name,
                b.status,
                b.progress.rows_done,
                b.progress.rows_total
            );
            if let Some(e) = &b.error {
                outln!("            error: {e}");
            }
        }
        if let Some(e) = &s.backfill_error {
            outln!("backfills:  cannot be listed: {e}");
        }
        for r in &s.refreshes {
            outln!(
                "refresh:    {} [{}] last {} at {}{}, next {}",
                r.name,
                r.schedule,
                r.last_outcome.map_or("never", |o| o.as_str()),
                r.last_run_at.as_deref().unwrap_or("-"),
                r.last_duration_ms.map(|d| format!(" ({d} ms)")).unwrap_or_default(),
                r.next_run.as_deref().unwrap_or("-")
            );
            if let Some(e) = &r.last_error {
                outln!("            error: {e}");
            }
        }
        if let Some(e) = &s.refresh_error {
            outln!("refreshes:  {e}");
        }
        if s.is_up_to_date() {
            outln!("Up to date.");
        }
    }
    Ok(if exit_code && !s.is_up_to_date() { ExitCode::Pending } else { ExitCode::Ok })
}

pub async fn history(settings: Settings, out: OutputArgs, verbose: bool) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadOnly).await?;
    let graph = runner.graph()?;
    let history = runner.history().await?;
    runner.close().await;
    let heads: Vec<String> = graph.heads().iter().map(|r| r.id.clone()).collect();
    let current: Vec<String> = plan::current(&graph, &history).iter().map(|r| r.id.clone()).collect();
    // Newest first, as they really happened: pending revisions (in the order apply would run
    // them, last first), then applied ones by when they were applied. A revision applied out of
    // order shows where it ran, not where its file sorts.
    let mut order: Vec<&runner_revisions::Revision> = graph.revisions().iter().rev().collect();
    order.sort_by_key(|r| {
        std::cmp::Reverse(
            history.get(&r.id).filter(|_| history.is_applied(&r.id)).map_or(i64::MAX, |a| a.seq.unwrap_or(0)),
        )
    });
    let rows: Vec<serde_json::Value> = order
        .iter()
        .map(|r| {
            let a = history.get(&r.id);
            serde_json::json!({
                "id": r.id,
                "parents": graph.parents_of(&r.id),
                "description": r.description,
                "file": r.path,
                "transaction": r.tx,
                "checksum": r.checksum,
                "head": heads.contains(&r.id),
                "current": current.contains(&r.id),
                "status": a.map_or("pending", |a| a.status.as_str()),
                "applied_at": a.and_then(|a| a.applied_at.clone()),
                "reverted_at": a.and_then(|a| a.reverted_at.clone()),
                "reverted_by": a.and_then(|a| a.reverted_by.clone()),
                "applied_by": a.and_then(|a| a.applied_by.clone()),
                "duration_ms": a.and_then(|a| a.duration_ms),
                "stamped": a.is_some_and(|a| a.stamped),
                "applied_seq": a.filter(|_| history.is_applied(&r.id)).and_then(|a| a.seq),
            })
        })
        .collect();
    if out.json {
        json(&rows);
        return Ok(ExitCode::Ok);
    }
    for (r, row) in order.iter().zip(&rows) {
        let parents = graph.parents_of(&r.id);
        let mut marks = Vec::new();
        if heads.contains(&r.id) {
            marks.push("head");
        }
        if current.contains(&r.id) {
            marks.push("current");
        }
        let marks = if marks.is_empty() { String::new() } else { format!(" ({})", marks.join(", ")) };
        let from = if parents.is_empty() { "<base>".to_string() } else { parents.join(", ") };
        outln!("{from} -> {}{marks}, {}  [{}]", r.id, r.description, row["status"].as_str().unwrap_or(""));
        if verbose {
            outln!("    file:        {}", r.path.display());
            outln!(
                "    transaction: {}",
                serde_json::to_value(r.tx).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            );
            outln!("    checksum:    {}", r.checksum);
            if let Some(a) = history.get(&r.id) {
                outln!("    state:       {}", state_line(a));
            }
        }
    }
    Ok(ExitCode::Ok)
}

/// "applied at T by U in N ms", and for a reverted revision who reverted it and when first.
fn state_line(a: &runner_revisions::Applied) -> String {
    let applied = format!(
        "applied at {} by {}{}",
        a.applied_at.as_deref().unwrap_or("?"),
        a.applied_by.as_deref().unwrap_or("?"),
        a.duration_ms.map(|d| format!(" in {d} ms")).unwrap_or_default()
    );
    match a.status {
        runner_revisions::AppliedStatus::Reverted => format!(
            "reverted at {} by {} (it was {applied})",
            a.reverted_at.as_deref().unwrap_or("?"),
            a.reverted_by.as_deref().unwrap_or("?")
        ),
        runner_revisions::AppliedStatus::Applied => applied,
        other => format!(
            "{} (started at {} by {})",
            other.as_str(),
            a.applied_at.as_deref().unwrap_or("?"),
            a.applied_by.as_deref().unwrap_or("?")
        ),
    }
}

pub async fn heads(settings: Settings, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let graph = runner_revisions::Graph::load(&settings.migrations_dir)?;
    let heads: Vec<serde_json::Value> = graph
        .heads()
        .iter()
        .map(|r| serde_json::json!({ "id": r.id, "description": r.description, "file": r.path }))
        .collect();
    if out.json {
        json(&heads);
    } else {
        for r in graph.heads() {
            outln!("{} (head), {}", r.id, r.description);
        }
    }
    Ok(ExitCode::Ok)
}

pub async fn current(settings: Settings, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadOnly).await?;
    let graph = runner.graph()?;
    let history = runner.history().await?;
    runner.close().await;
    let current = plan::current(&graph, &history);
    if out.json {
        json(
            &current
                .iter()
                .map(|r| serde_json::json!({ "id": r.id, "description": r.description }))
                .collect::<Vec<_>>(),
        );
    } else if current.is_empty() {
        outln!("base (nothing applied)");
    } else {
        for r in current {
            outln!("{}, {}", r.id, r.description);
        }
    }
    Ok(ExitCode::Ok)
}

pub async fn show(settings: Settings, revision: &str, out: OutputArgs) -> Result<ExitCode, RunnerError> {
    let mut runner = Runner::open(settings, Access::ReadOnly).await?;
    let graph = runner.graph()?;
    // `show head` (and `show current`), as Alembic users type them.
    let rev = match revision {
        "head" => graph.head()?.ok_or_else(|| RunnerError::from(Refusal::NoRevisions))?.clone(),
        other => graph.resolve(other)?.clone(),
    };
    let history = runner.history().await?;
    let reverts = {
        let (state, db) = runner.parts();
        state.load_reverts(db, &rev.id).await
    };
    runner.close().await;
    let reverts = reverts?;
    let applied = history.get(&rev.id).cloned();
    if out.json {
        json(&serde_json::json!({
            "revision": rev,
            "parents": graph.parents_of(&rev.id),
            "children": graph.children_of(&rev.id),
            "state": applied,
            "reverts": reverts.iter().map(|(at, by)| serde_json::json!({ "at": at, "by": by })).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::Ok);
    }
    let parents = graph.parents_of(&rev.id);
    outln!("Revision:    {}", rev.id);
    outln!("Description: {}", rev.description);
    outln!("Parents:     {}", if parents.is_empty() { "<base>".into() } else { parents.join(", ") });
    outln!("Children:    {}", graph.children_of(&rev.id).join(", "));
    outln!("File:        {}", rev.path.display());
    outln!("Transaction: {}", output::action_word_tx(rev.tx));
    outln!("Checksum:    {}", rev.checksum);
    match &applied {
        Some(a) => outln!("State:       {}", state_line(a)),
        None => outln!("State:       pending"),
    }
    for (at, by) in &reverts {
        outln!("Reverted:    at {at} by {by}");
    }
    let count = |n: usize| format!("{n} statement{}", if n == 1 { "" } else { "s" });
    outln!("\n-- up ({})", count(rev.up.statements.len()));
    for s in &rev.up.statements {
        outln!("{};", s.sql);
    }
    match &rev.down {
        Some(d) => {
            outln!("\n-- down ({})", count(d.statements.len()));
            for s in &d.statements {
                outln!("{};", s.sql);
            }
        }
        None => outln!("\n-- no down section: irreversible"),
    }
    Ok(ExitCode::Ok)
}

pub async fn diff(
    settings: &Settings,
    from: &str,
    to: &str,
    dev_url: Option<&str>,
    exit_code: bool,
    renames: &[String],
    out: OutputArgs,
) -> Result<ExitCode, RunnerError> {
    let (from, to) = (crate::SchemaSource::parse(from)?, crate::SchemaSource::parse(to)?);
    let diff = {
        let _working = super::status_line::Working::show("reading both schemas…");
        crate::diff_schemas(settings, &from, &to, dev_url, renames).await?
    };
    if out.json {
        json(&serde_json::json!({
            "statements": diff.statements.iter().map(|s| &s.sql).collect::<Vec<_>>(),
            "unhandled": diff.unhandled,
            "rename_candidates": diff.candidates,
            "hazards": diff.statements.iter().enumerate().filter_map(|(i, s)| {
                runner_schema::Hazard::of(s).map(|h| serde_json::json!({ "statement": i, "hazard": h, "advice": h.advice() }))
            }).collect::<Vec<_>>(),
            "differs": !diff.is_empty(),
        }));
    } else {
        // Where the first side is a database, it says how big the tables the hazards touch are.
        let sizes = match &from {
            crate::SchemaSource::Database(url) => {
                let touched: Vec<runner_schema::Name> =
                    diff.statements.iter().filter_map(|s| s.table().cloned()).collect();
                crate::schema_diff::table_sizes(url, &settings.connect_options(runner_db::Access::ReadOnly), &touched)
                    .await
            }
            _ => Default::default(),
        };
        let mut notes: Vec<String> = diff.candidates.iter().map(|c| format!("-- hazard: {c}")).collect();
        notes.extend(runner_schema::hazard_notes_sized(&diff.statements, &sizes));
        // The SQL carries its hazards (`diff > fix.sql` keeps them); the terminal is told too
        // when the SQL goes elsewhere.
        if !std::io::stdout().is_terminal() {
            for note in &notes {
                errln!("{}", note.trim_start_matches("-- "));
            }
        }
        notes.extend(diff.unhandled.iter().map(|u| format!("-- runner: not handled, write it by hand: {u}")));
        for note in &notes {
            outln!("{note}");
        }
        for s in &diff.statements {
            outln!("{s}");
        }
        if diff.statements.is_empty() && diff.unhandled.is_empty() {
            errln!("the schemas are the same");
        }
    }
    if !diff.unhandled.is_empty() {
        errln!(
            "{} object{} differ{} that the differ does not handle yet; the SQL leaves {} as {} {}, so write that part by hand:",
            diff.unhandled.len(),
            if diff.unhandled.len() == 1 { "" } else { "s" },
            if diff.unhandled.len() == 1 { "s" } else { "" },
            if diff.unhandled.len() == 1 { "it" } else { "them" },
            if diff.unhandled.len() == 1 { "it" } else { "they" },
            if diff.unhandled.len() == 1 { "is" } else { "are" },
        );
        for u in &diff.unhandled {
            errln!("  {u}");
        }
        return Ok(ExitCode::Failure);
    }
    Ok(if exit_code && !diff.is_empty() { ExitCode::Usage } else { ExitCode::Ok })
}
