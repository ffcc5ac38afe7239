//! The everyday verbs, on both databases.

use crate::harness::{Kind, Project, TestDb};
use crate::on_both;

/// Three portable revisions with down sections, in runner's own format with declared parents.
pub fn scores_project() -> Project {
    let p = Project::new();
    p.file(
        "001_players.sql",
        "-- id: 001\n-- parents: none\n-- description: players\n\n-- runner:up\nCREATE TABLE players (id integer PRIMARY KEY, name text NOT NULL);\n\n-- runner:down\nDROP TABLE players;\n",
    )
    .file(
        "002_scores.sql",
        "-- id: 002\n-- parents: 001\n-- description: scores\n\n-- runner:up\nCREATE TABLE scores (id integer PRIMARY KEY, player_id integer NOT NULL REFERENCES players (id), points integer NOT NULL);\nCREATE INDEX scores_player ON scores (player_id);\n\n-- runner:down\nDROP TABLE scores;\n",
    )
    .file(
        "003_email.sql",
        "-- id: 003\n-- parents: 002\n-- description: player email\n\n-- runner:up\nALTER TABLE players ADD COLUMN email text;\n\n-- runner:down\nALTER TABLE players DROP COLUMN email;\n",
    );
    p
}

on_both!(apply_then_revert_to_base_restores_the_schema, |db: &TestDb| {
    let p = scores_project();
    let before = db.schema_snapshot();
    p.run(db, &["apply"]).ok().stdout_has("Done: 3 steps.");
    assert_eq!(
        db.revision_rows(),
        [("001".into(), "applied".into()), ("002".into(), "applied".into()), ("003".into(), "applied".into())]
    );
    assert!(db.schema_snapshot().iter().any(|l| l.contains("email")));
    p.run(db, &["revert", "--to", "base"]).ok().stdout_has("Done: 3 steps.");
    assert_eq!(db.schema_snapshot(), before);
    assert!(db.revision_rows().iter().all(|(_, s)| s == "reverted"));
    // And forward again: reverted rows are re-applied, not duplicated.
    p.run(db, &["apply"]).ok();
    assert_eq!(db.revision_rows().len(), 3);
    assert_eq!(db.scalar("SELECT count(DISTINCT seq) FROM runner_state WHERE kind = 'revision'"), "3");
});

on_both!(apply_twice_is_a_no_op, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["apply"]).ok();
    p.run(db, &["apply"]).ok().stdout_has("Nothing to apply");
});

on_both!(apply_to_a_revision_then_revert_one_step, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["apply", "--to", "002"]).ok();
    assert!(db.table_exists("scores"));
    assert_eq!(db.revision_rows().len(), 2);
    p.run(db, &["current"]).ok().stdout_has("002, scores");
    p.run(db, &["revert"]).ok().stdout_has("revert   002");
    assert!(!db.table_exists("scores"));
    assert!(db.table_exists("players"));
    // Past the base is refused (it used to revert everything quietly); `--to base` says so.
    p.run(db, &["revert", "--steps", "5"]).fails_with(5).stderr_has("goes past the base");
    assert!(db.table_exists("players"));
    p.run(db, &["revert", "--to", "base"]).ok();
    assert!(!db.table_exists("players"));
    p.run(db, &["revert"]).ok().stdout_has("Nothing to revert.");
});

on_both!(status_reports_pending_and_exit_code, |db: &TestDb| {
    let p = scores_project();
    let r = p.run(db, &["status", "--exit-code"]).fails_with(3);
    assert!(r.stdout.contains("pending:    3"), "{}", r.stdout);
    let j = p.run(db, &["status", "--json"]).ok().json();
    assert_eq!(j["pending"].as_array().unwrap().len(), 3);
    assert_eq!(j["current"].as_array().unwrap().len(), 0);
    // Read commands create nothing.
    assert!(!db.table_exists("runner_state"));
    p.run(db, &["apply"]).ok();
    p.run(db, &["status", "--exit-code"]).ok().stdout_has("Up to date.");
    let j = p.run(db, &["status", "--json"]).ok().json();
    assert_eq!(j["current"][0], "003");
});

on_both!(history_heads_show_and_json, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["apply", "--to", "002"]).ok();
    let h = p.run(db, &["history", "--json"]).ok().json();
    let rows = h.as_array().unwrap();
    assert_eq!(rows[0]["id"], "003");
    assert_eq!(rows[0]["status"], "pending");
    assert_eq!(rows[1]["status"], "applied");
    assert_eq!(rows[1]["current"], true);
    assert!(rows[1]["applied_by"].as_str().unwrap().contains('@'), "{}", rows[1]);
    p.run(db, &["history", "--verbose"]).ok().stdout_has("001 -> 002 (current), scores  [applied]");
    p.run(db, &["heads"]).ok().stdout_has("003 (head), player email");
    let s = p.run(db, &["show", "002", "--json"]).ok().json();
    assert_eq!(s["parents"][0], "001");
    assert_eq!(s["children"][0], "003");
    assert_eq!(s["state"]["status"], "applied");
    p.run(db, &["show", "003"]).ok().stdout_has("ALTER TABLE players ADD COLUMN email text;");
    p.run(db, &["show", "999"]).fails_with(5).stderr_has("no revision `999`");
});

on_both!(dry_run_and_sql_change_nothing_and_sql_is_runnable, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["apply", "--dry-run"]).ok().stdout_has("Plan (3 steps):");
    let plan = p.run(db, &["apply", "--dry-run", "--json"]).ok().json();
    assert_eq!(plan["steps"].as_array().unwrap().len(), 3);
    let script = p.run(db, &["apply", "--sql"]).ok().stdout;
    assert!(!db.table_exists("runner_state"), "--sql must not touch the database");
    assert!(script.contains("CREATE TABLE players") && script.contains("INSERT INTO"), "{script}");
    // The offline script does what apply does: feed it to the database and runner agrees.
    let out = match db.kind {
        Kind::Postgres => crate::offline::psql(&db.url, &script),
        Kind::Sqlite => crate::offline::sqlite3(&db.url, &script),
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    p.run(db, &["status", "--exit-code"]).ok();
    p.run(db, &["apply"]).ok().stdout_has("Nothing to apply");
});

on_both!(stamp_baselines_and_unstamps, |db: &TestDb| {
    let p = scores_project();
    // An existing database already has the first two revisions' tables.
    db.execute("CREATE TABLE players (id integer PRIMARY KEY, name text NOT NULL)");
    db.execute("CREATE TABLE scores (id integer PRIMARY KEY, player_id integer NOT NULL REFERENCES players (id), points integer NOT NULL)");
    p.run(db, &["stamp", "002"]).ok().stdout_has("stamp");
    p.run(db, &["apply"]).ok().stdout_has("apply    003");
    let h = p.run(db, &["history", "--json"]).ok().json();
    assert_eq!(h[2]["stamped"], true);
    assert_eq!(h[0]["stamped"], false);
    p.run(db, &["stamp", "001"]).ok().stdout_has("unstamp");
    assert_eq!(db.revision_rows(), [("001".into(), "applied".into())]);
    p.run(db, &["stamp", "base"]).ok();
    assert!(db.revision_rows().is_empty());
    // The tables were never touched by stamping.
    assert!(db.table_exists("scores"));
});

on_both!(reset_requires_confirm_then_reapplies, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["apply"]).ok();
    db.execute("INSERT INTO players (id, name) VALUES (1, 'a')");
    p.run(db, &["reset"]).fails_with(2).stderr_has("--confirm");
    assert_eq!(db.scalar("SELECT count(*) FROM players"), "1");
    p.run(db, &["reset", "--confirm"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM players"), "0");
    p.run(db, &["status", "--exit-code"]).ok();
});

on_both!(new_and_merge_write_files_that_chain, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["new", "add nickname"]).ok().stdout_has("_add_nickname.sql");
    let r = p.run(db, &["history", "--json"]).ok().json();
    assert_eq!(r[0]["parents"][0], "003");
    // Two branches off 003, then a merge joins them.
    p.file("900_branch.sql", "-- id: 900\n-- parents: 003\n-- runner:up\nSELECT 1;\n-- runner:down\n");
    p.run(db, &["check"]).fails_with(5).stderr_has("several heads");
    p.run(db, &["apply"]).fails_with(5).stderr_has("runner merge");
    p.run(db, &["merge", "-m", "join branches"]).ok();
    p.run(db, &["check"]).ok();
    p.run(db, &["apply"]).ok();
    p.run(db, &["status", "--exit-code"]).ok();
});

#[test]
fn init_scaffolds_a_project_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        crate::harness::Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
                .current_dir(dir.path())
                .args(args)
                .env_remove("DATABASE_URL")
                .output()
                .unwrap(),
        )
    };
    std::fs::write(dir.path().join(".gitignore"), "target/").unwrap();
    run(&["init"]).ok().stdout_has("created ./runner.toml");
    for d in ["migrations", "backfills", "plugins"] {
        assert!(dir.path().join(d).is_dir());
    }
    // The local database and what runner builds are not committed; a .gitignore is kept.
    let ignore = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(
        ignore.starts_with("target/\n") && ignore.contains("\nrunner.db\n") && ignore.contains("\n.runner/\n"),
        "{ignore}"
    );
    run(&["init"]).fails_with(1).stderr_has("already exists");
    // A newcomer's first run: the default SQLite file in the project folder.
    run(&["new", "first"]).ok();
    run(&["apply"]).ok();
    assert!(dir.path().join("runner.db").is_file());
    run(&["status"]).ok().stdout_has("from default (SQLite file in the project folder)");
}

on_both!(relative_targets_apply_the_next_n_and_revert_the_last_n, |db: &TestDb| {
    let p = scores_project();
    p.run(db, &["apply", "--to", "+1"]).ok();
    assert_eq!(db.revision_rows().len(), 1);
    p.run(db, &["apply", "--to", "+5"]).fails_with(5).stderr_has("`--to +5`: only 2 revision(s) can be applied now");
    assert_eq!(db.revision_rows().len(), 1, "nothing ran");
    p.run(db, &["apply", "--to", "+2"]).ok();
    p.run(db, &["revert", "--to", "-2"]).ok();
    let applied: Vec<String> =
        db.revision_rows().into_iter().filter(|(_, s)| s == "applied").map(|(id, _)| id).collect();
    assert_eq!(applied.len(), 1, "{applied:?}");
    p.run(db, &["revert", "--to", "+1"]).fails_with(5).stderr_has("that is `runner apply --to +1`");
    // What `apply` says a revision took is what `history` records.
    let applied = p.run(db, &["apply", "--json"]).ok().json();
    let history = p.run(db, &["history", "--json"]).ok().json();
    for step in applied["steps"].as_array().unwrap() {
        let row = history.as_array().unwrap().iter().find(|h| h["id"] == step["revision"]).unwrap();
        assert_eq!(row["duration_ms"], step["duration_ms"], "{row} {step}");
    }
});
