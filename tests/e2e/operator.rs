//! Operator trust: what `runner` reports is what happened to the database, on every path.
//! Each test is named after the promise, and each failed before its fix.

use crate::harness::{Project, Run, TestDb};
use crate::on_both;

/// Runs `args` with stdout closed before anything is written: `runner … | head -0`.
fn with_stdout_closed(p: &Project, db: &TestDb, args: &[&str]) -> Run {
    let mut child =
        p.command(db, args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    Run::from(child.wait_with_output().unwrap())
}

on_both!(a_closed_output_pipe_never_interrupts_the_work_or_leaves_the_lock, |db: &TestDb| {
    // Before, `runner apply | head -1` panicked (exit 101) part-way, and on SQLite left its
    // lock row behind.
    let p = Project::new();
    for i in 1..=5 {
        p.file(&format!("00{i}_t{i}.sql"), &format!("CREATE TABLE t{i} (x integer);\n"));
    }
    let r = with_stdout_closed(&p, db, &["apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(db.revision_rows().len(), 5);
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'lock'"), "0");
    let r = with_stdout_closed(&p, db, &["history", "--verbose"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
});

on_both!(a_typo_in_a_section_marker_is_refused_and_nothing_runs, |db: &TestDb| {
    // Before, `-- runner:dwon` made the down SQL part of the up section: `check` said OK and
    // `apply` dropped the table it had just created.
    let p = Project::new();
    p.file("001_t.sql", "-- runner:up\nCREATE TABLE t (x integer);\n\n-- runner:dwon\nDROP TABLE t;\n");
    p.run(db, &["check"])
        .fails_with(5)
        .stderr_has("001_t.sql:4: unknown section marker `-- runner:dwon` (did you mean `-- runner:down`?)");
    p.run(db, &["apply"]).fails_with(5);
    assert!(db.revision_rows().is_empty());
    assert!(!db.table_exists("t"));
});

on_both!(a_new_revision_cannot_be_reverted_until_its_down_section_is_written, |db: &TestDb| {
    // Before, `runner new` wrote an empty down section, which means "nothing to undo": revert
    // succeeded and left the table in place.
    let p = Project::new();
    p.run(db, &["new", "create t"]).ok();
    let file = std::fs::read_dir(p.migrations()).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("-- runner:todo"), "{text}");
    std::fs::write(&file, text.replace("-- runner:up\n", "-- runner:up\nCREATE TABLE t (x integer);\n")).unwrap();
    p.run(db, &["apply"]).ok();
    p.run(db, &["revert"]).fails_with(5).stderr_has("still marked `-- runner:todo`");
    assert!(db.table_exists("t"));
    let text = std::fs::read_to_string(&file).unwrap();
    let written = text.split("-- runner:down").next().unwrap().to_string() + "-- runner:down\nDROP TABLE t;\n";
    std::fs::write(&file, written).unwrap();
    p.run(db, &["repair"]).ok();
    p.run(db, &["revert"]).ok();
    assert!(!db.table_exists("t"));
});

#[test]
fn on_sqlite_a_runner_behind_a_long_revision_gives_up_at_its_lock_timeout() {
    // Before, the second runner waited out SQLite's own 60 s busy timeout behind the first
    // one's revision, then said "Nothing to apply" and exited 0.
    let db = TestDb::new(crate::harness::Kind::Sqlite);
    let p = Project::new();
    p.file("001_slow.sql", &format!("{}\n", crate::harness::busy_sql(db.kind, 0.0, 25_000_000)));
    let holder = p
        .command(&db, &["apply"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !db.table_exists("runner_state") || db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'lock'") == "0"
    {
        assert!(std::time::Instant::now() < deadline, "the first runner never took its lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = p.run(&db, &["apply", "--lock-timeout", "1"]);
    let mut holder = holder;
    assert!(holder.wait().unwrap().success());
    r.fails_with(4).stderr_has("timed out after 1s waiting for the runner lock").stderr_has("pid ");
}

#[test]
fn a_postgres_project_without_a_url_is_an_error_not_a_fresh_sqlite_file() {
    // Before, the unset variable in CI meant a new runner.db, "Done: 5 steps", exit 0.
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE t (x integer);\n");
    p.run_bare(&["init", "--engine", "postgres"]).ok();
    assert!(std::fs::read_to_string(p.path().join("runner.toml")).unwrap().contains("engine = \"postgres\""));
    p.run_bare(&["apply"]).fails_with(5).stderr_has("engine = \"postgres\", but no database URL is set");
    assert!(!p.path().join("runner.db").exists(), "a SQLite file was created");
    p.run_bare(&["apply", "--database-url", "sqlite://x.db"]).fails_with(5).stderr_has("is sqlite");
}

on_both!(every_write_command_first_names_the_database_it_changes, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "-- runner:up\nCREATE TABLE t (x integer);\n-- runner:down\nDROP TABLE t;\n");
    let masked = db.url.clone();
    for args in [&["apply"][..], &["revert"], &["stamp", "head"], &["stamp", "base"], &["repair"]] {
        let r = p.run(db, args).ok();
        let first = r.stdout.lines().next().unwrap_or_default().to_string();
        assert!(first.starts_with(&format!("database: {masked} (from --database-url)")), "{args:?}: {first}");
    }
    let r = p.run(db, &["apply", "--json"]).ok();
    assert_eq!(r.json()["database"], masked.as_str());
});

on_both!(
    a_revision_added_before_an_applied_one_is_refused_unless_asked_and_history_shows_the_real_order,
    |db: &TestDb| {
        // Before, `apply` ran 15 silently and history claimed 10 -> 15 -> 20.
        let p = Project::new();
        p.file("10_a.sql", "CREATE TABLE a (x integer);\n").file("20_b.sql", "CREATE TABLE b (x integer);\n");
        p.run(db, &["apply"]).ok();
        p.file("15_c.sql", "CREATE TABLE c (x integer);\n");
        p.run(db, &["status"]).stdout_has("revision `15` (./migrations/15_c.sql) is not applied, but `20`");
        p.run(db, &["check", "--db"]).fails_with(5).stderr_has("added out of order");
        p.run(db, &["apply"]).fails_with(5).stderr_has("runner apply --out-of-order");
        assert!(!db.table_exists("c"));
        p.run(db, &["apply", "--out-of-order"]).ok();
        assert!(db.table_exists("c"));
        let ids: Vec<String> = p
            .run(db, &["history", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["15", "20", "10"], "history in the order things were applied");
    }
);

/// `t` and `u` (id, cmd, n, url, out) with `rows` rows each, a backfill `fill` of `t`, one
/// `other` of `u`, and a revision gated on `fill`.
fn gated_project(db: &TestDb, rows: usize) -> Project {
    let p = Project::new();
    let fill = match db.kind {
        crate::harness::Kind::Postgres => format!("INSERT INTO t (id) SELECT g FROM generate_series(1, {rows}) g;"),
        crate::harness::Kind::Sqlite => format!(
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {rows}) INSERT INTO t (id) SELECT x FROM g;"
        ),
    };
    p.file(
        "001_t.sql",
        &format!(
            "CREATE TABLE t (id integer PRIMARY KEY, cmd text NOT NULL DEFAULT 'noop', n bigint, url text, out text);\n{fill}\n\
             CREATE TABLE u (id integer PRIMARY KEY, cmd text NOT NULL DEFAULT 'noop', n bigint, url text, out text);\n{}\n",
            fill.replace("INTO t", "INTO u")
        ),
    );
    p.file("002_contract.sql", "-- requires-backfill: fill\nCREATE TABLE contracted (x integer);\n");
    let manifest = |table: &str, extra: &str| {
        format!(
            "plugin = \"{}\"\nrequires = \"001\"\n[source]\ntable = \"{table}\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\", \"url\"]\nfilter = \"out IS NULL\"\n{extra}",
            crate::harness::plugin("probe").display()
        )
    };
    p.backfill("fill", &manifest("t", ""));
    p.backfill("other", &manifest("u", "[limits]\nmax_attempts = 1\n"));
    let _ = db;
    p
}

on_both!(a_revision_requiring_a_backfill_that_does_not_exist_is_refused_by_check_and_apply, |db: &TestDb| {
    // Before, `check` said OK and `apply` exited 0 without reaching the head.
    let p = gated_project(db, 10);
    std::fs::write(
        p.migrations().join("002_contract.sql"),
        "-- requires-backfill: fil\nCREATE TABLE contracted (x integer);\n",
    )
    .unwrap();
    p.run(db, &["check"])
        .fails_with(5)
        .stderr_has("002_contract.sql: `requires-backfill: fil` names no backfill in backfills/ (known: fill, other)");
    p.run(db, &["apply"]).fails_with(5).stderr_has("names no backfill");
    assert!(db.revision_rows().is_empty(), "nothing may be applied");
});

on_both!(a_deploy_stopped_before_head_by_a_paused_backfill_exits_3_saying_so, |db: &TestDb| {
    let p = gated_project(db, 10);
    p.run(db, &["apply"]).fails_with(3).stdout_has("stopped before revision `002`");
    p.run(db, &["backfill", "pause", "fill"]).ok();
    p.run(db, &["apply", "--with-backfills"]).fails_with(3).stdout_has(
        "Stopped before head: revision `002` cannot run yet: backfill `fill` is paused; `runner backfill resume fill`",
    );
    assert!(!db.table_exists("contracted"));
});

on_both!(an_unrelated_failed_backfill_does_not_hold_back_the_one_a_revision_needs, |db: &TestDb| {
    // `a_other` fails on row 3 of `u` (and sorts before `fill`); `fill` is what 002 needs. Before, the
    // first failure stopped the deploy: `fill` never ran and the contract was never applied.
    let p = gated_project(db, 10);
    std::fs::write(
        p.path().join("backfills/a_other.toml"),
        std::fs::read_to_string(p.path().join("backfills/other.toml")).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(p.path().join("backfills/other.toml")).unwrap();
    p.run(db, &["apply"]).fails_with(3);
    db.execute("UPDATE u SET cmd = 'fail' WHERE id = 3");
    let r = p.run(db, &["apply", "--with-backfills"]).fails_with(1);
    assert!(
        db.table_exists("contracted"),
        "the revision that needed `fill` was held back:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.contains("backfill a_other"), "{}", r.stderr);
});

#[test]
fn logs_are_text_unless_json_is_asked_for_and_unknown_levels_are_refused() {
    let db = TestDb::new(crate::harness::Kind::Sqlite);
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE t (x integer);\n");
    // Not a terminal (as in CI): text logs on stderr, human lines on stdout.
    let r = p.run_bare(&["apply", "--database-url", &db.url]).ok();
    assert!(r.stderr.contains("INFO") && !r.stderr.contains("{\"timestamp\""), "{}", r.stderr);
    assert!(r.stdout.contains("apply    001"), "{}", r.stdout);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(p.path())
        .args(["status", "--database-url", &db.url])
        .env("RUNNER_LOG_FORMAT", "json")
        .args(["--log-level", "debug"])
        .output()
        .unwrap();
    assert!(out.status.success());
    p.run_bare(&["status", "--log-level", "verbose"]).fails_with(2).stderr_has("invalid value 'verbose'");
}

on_both!(a_failure_under_json_is_a_json_error_object_on_stdout, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE t (x integer);\n")
        .file("002_bad.sql", "SELECT 1;\nSELECT * FROM no_such_table;\n");
    let r = p.run(db, &["apply", "--json"]).fails_with(1);
    let e = &r.json()["error"];
    assert_eq!(e["kind"], "statement", "{e}");
    assert_eq!(e["file"], "./migrations/002_bad.sql");
    assert_eq!(e["line"], 2);
    assert_eq!(e["exit_code"], 1);
    assert_eq!(e["completed"], serde_json::json!(["001"]));
    std::fs::write(p.migrations().join("002_bad.sql"), "-- runner:dwon\n").unwrap();
    let r = p.run(db, &["status", "--json"]).fails_with(5);
    assert_eq!(r.json()["error"]["line"], 1);
    assert_eq!(r.json()["error"]["kind"], "files");
});

/// Starts `args`, waits for `ready` to hold, sends `signal`, and returns how the run ended.
fn signalled(p: &Project, db: &TestDb, args: &[&str], signal: &str, ready: impl Fn() -> bool) -> Run {
    let child =
        p.command(db, args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "the run never got going");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(killed.unwrap().success());
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn sigterm_mid_revision_cancels_it_on_the_server_rolls_back_and_releases_the_lock() {
    // Before, SIGTERM killed the runner at once (exit 143, no message) while its statement went
    // on running on the server.
    let db = TestDb::new(crate::harness::Kind::Postgres);
    let p = Project::new();
    p.file("001_slow.sql", "CREATE TABLE half (x integer);\nSELECT pg_sleep(60);\n");
    p.file("002_next.sql", "CREATE TABLE next (x integer);\n");
    let sleeping = || {
        db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()") != "0"
    };
    let r = signalled(&p, &db, &["apply"], "TERM", sleeping);
    let r = r.fails_with(7).stderr_has("received SIGTERM: stopping").stderr_has("stopped by SIGTERM");
    // The statement in flight is named (before, the revision's first one was).
    assert!(r.stderr.contains("001_slow.sql:2"), "{}", r.stderr);
    assert!(!sleeping(), "the revision went on running on the server:\n{}", r.stderr);
    assert_eq!(db.advisory_locks(), 0, "the lock was not released");
    assert!(!db.table_exists("half") && !db.table_exists("next"), "the revision was not rolled back");
    assert!(db.revision_rows().is_empty());
}

#[test]
fn sigint_between_statements_of_a_no_transaction_revision_records_how_far_it_got() {
    let db = TestDb::new(crate::harness::Kind::Sqlite);
    let p = Project::new();
    let busy = crate::harness::busy_sql(db.kind, 0.0, 25_000_000);
    p.file(
        "001_slow.sql",
        &format!("-- no-transaction\nCREATE TABLE first (x integer);\n{busy}\nCREATE TABLE second (x integer);\n"),
    );
    let started = || db.table_exists("first");
    let r = signalled(&p, &db, &["apply"], "INT", started).fails_with(7);
    assert!(!db.table_exists("second"), "a statement ran after the signal:\n{}", r.stderr);
    p.run(&db, &["status"]).stdout_has("stopped after 2 of 3 statements: not run: the runner was stopped by SIGINT");
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'lock'"), "0");
    p.run(&db, &["apply", "--resume"]).ok();
    assert!(db.table_exists("second"));
}

on_both!(an_interrupted_backfill_says_so_and_resumes, |db: &TestDb| {
    // Before, after Ctrl-C the status said `running` with no worker anywhere, and `retry`
    // refused: "is running".
    let p = crate::backfills::items_project(db, 20_000, 20_000);
    p.run(db, &["apply"]).ok();
    let some_done = || {
        db.table_exists("runner_state")
            && db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL").parse::<u64>().unwrap_or(0) > 0
    };
    let r = signalled(&p, db, &["backfill", "run", "items"], "INT", some_done);
    let r = r.fails_with(7);
    // Wherever the signal lands (in a batch, while the run is prepared or finished), the run
    // reports itself interrupted.
    assert!(r.stdout.contains("interrupted by a signal"), "{}\n{}", r.stdout, r.stderr);
    let s = p.run(db, &["backfill", "status", "items"]).ok();
    assert!(
        s.stdout.contains("interrupted") && s.stdout.contains("`runner backfill run items` resumes"),
        "{}",
        s.stdout
    );
    p.run(db, &["backfill", "resume", "items"]).ok();
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed");
    crate::backfills::assert_each_row_changed_once(db, 20_000);
});

on_both!(
    fixing_a_statement_that_has_not_run_then_resuming_is_not_drift_and_repair_never_marks_it_done,
    |db: &TestDb| {
        // Before: the printed advice (fix the file, `apply --resume`) hit the drift refusal, and
        // `repair` then accepted the edit *and* recorded the revision as done, indexes missing.
        let p = Project::new();
        p.file("001_idx.sql", "-- transaction: none\n-- runner:up\nCREATE TABLE t (x integer);\nCREATE INDEX t_x ON no_such (x);\nCREATE INDEX t_x2 ON t (x);\n");
        p.run(db, &["apply"]).fails_with(1);
        p.file("001_idx.sql", "-- transaction: none\n-- runner:up\nCREATE TABLE t (x integer);\nCREATE INDEX t_x ON t (x);\nCREATE INDEX t_x2 ON t (x);\n");
        p.run(db, &["apply", "--resume"]).ok();
        assert_eq!(db.revision_rows(), [("001".into(), "applied".into())]);
        p.run(db, &["status", "--exit-code"]).ok();
        // Editing a statement that did run is drift, as before.
        let p = Project::new();
        p.file("001_idx.sql", "-- transaction: none\nCREATE TABLE u (x integer);\nCREATE INDEX u_x ON no_such (x);\n");
        let db2 = TestDb::new(db.kind);
        p.run(&db2, &["apply"]).fails_with(1);
        p.file(
            "001_idx.sql",
            "-- transaction: none\nCREATE TABLE u (x integer, y integer);\nCREATE INDEX u_x ON u (x);\n",
        );
        p.run(&db2, &["apply", "--resume"]).fails_with(5).stderr_has("was changed after it was applied");
        p.run(&db2, &["repair"]).ok().stdout_has("left unfinished `001` as it is");
        assert_eq!(db2.revision_rows(), [("001".into(), "failed".into())], "repair marked it done");
    }
);

on_both!(alembic_words_work_and_empty_or_foreign_messages_are_handled, |db: &TestDb| {
    let p = Project::new();
    p.run(db, &["new", ""]).fails_with(1).stderr_has("a revision needs a message");
    p.run(db, &["new", "Überprüfung der Länder"]).ok();
    let name = std::fs::read_dir(p.migrations()).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    assert!(name.ends_with("_überprüfung_der_länder.sql"), "{name}");
    let file = p.migrations().join(&name);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("-- runner:up\n", "-- runner:up\nCREATE TABLE t (x integer);\n")
            .replace("-- runner:todo\n", "DROP TABLE t;\n"),
    )
    .unwrap();
    p.run(db, &["upgrade"]).ok();
    assert!(db.table_exists("t"));
    p.run(db, &["show", "head"]).ok().stdout_has("Überprüfung der Länder");
    p.run(db, &["downgrade"]).ok();
    assert!(!db.table_exists("t"));
});

on_both!(runner_toml_takes_variables_and_an_env_section_chosen_by_flag_or_runner_env, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE t (x integer);\n");
    std::fs::write(
        p.path().join("runner.toml"),
        "database_url = \"sqlite:dev.db\"\n\n[env.prod]\ndatabase_url = \"${PROD_URL}\"\nstate_table = \"${TABLE:-prod_state}\"\n",
    )
    .unwrap();
    let url = db.url.as_str();
    // No env selected: the top level, and a variable only prod uses need not be set.
    p.run_bare(&["apply"]).ok().stdout_has("(from runner.toml)");
    assert!(p.path().join("dev.db").exists());
    p.run_bare_with(&["--env", "prod", "apply"], &[("PROD_URL", url)]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM prod_state WHERE kind = 'revision'"), "1");
    p.run_bare_with(&["apply"], &[("PROD_URL", url), ("RUNNER_ENV", "prod")]).ok().stdout_has("Nothing to apply");
    p.run_bare_with(&["--env", "prod", "status"], &[])
        .fails_with(5)
        .stderr_has("runner.toml: line 4: ${PROD_URL} is not set in the environment");
    p.run_bare_with(&["--env", "staging", "status"], &[("PROD_URL", url)])
        .fails_with(5)
        .stderr_has("no [env.staging] section")
        .stderr_has("known: prod");
});

#[test]
fn every_command_has_examples_and_every_argument_a_description() {
    fn walk(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name()).trim().to_string();
        let leaves: Vec<&clap::Command> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
        if leaves.is_empty() {
            if !cmd.get_after_help().is_some_and(|h| h.to_string().contains("Examples:")) {
                problems.push(format!("`{path}` has no examples"));
            }
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && !["help", "version"].contains(&arg.get_id().as_str()) {
                    problems.push(format!("`{path}`: argument `{}` has no description", arg.get_id()));
                }
            }
        }
        for c in leaves {
            walk(c, &path, problems);
        }
    }
    let mut problems = Vec::new();
    let root = <runner::cli::Cli as clap::CommandFactory>::command();
    for c in root.get_subcommands().filter(|c| c.get_name() != "help") {
        walk(c, "runner", &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Global flags have their own heading; completions are a real script.
    let p = Project::new();
    let help = p.run_bare(&["apply", "--help"]).ok();
    assert!(help.stdout.contains("Global options:\n  -C, --project-dir"), "{}", help.stdout);
    p.run_bare(&["completions", "bash"]).ok().stdout_has("complete -F _runner");
    p.run_bare(&["completions", "fish"]).ok().stdout_has("complete -c runner");
    p.run_bare(&["completions", "tcsh"]).fails_with(2);
}

/// Runs the binary on a pseudo-terminal (util-linux `script`), as a person at a shell would.
fn on_a_terminal(p: &Project, db: &TestDb, args: &str) -> String {
    let line = format!("{} --database-url '{}' {args}", env!("CARGO_BIN_EXE_runner"), db.url);
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .env_remove("RUNNER_LOG_FORMAT")
        .output()
        .expect("util-linux `script` runs commands on a pseudo-terminal");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

on_both!(on_a_terminal_each_step_is_said_once_and_logs_never_land_on_the_progress_line, |db: &TestDb| {
    let p = gated_project(db, 3000);
    p.run(db, &["apply", "--to", "001"]).ok();
    db.execute("UPDATE u SET cmd = 'fail' WHERE id = 2500");
    let screen = on_a_terminal(&p, db, "apply --with-backfills");
    // Before: "INFO starting revision=001 …" and "INFO done …" besides "apply    001 …".
    assert!(!screen.contains("INFO starting") && !screen.contains("INFO done"), "{screen}");
    assert_eq!(screen.matches("apply    002").count(), 1, "{screen}");
    // What the terminal shows, line by line, once every "\r + clear line" has been honoured.
    let shown: Vec<&str> =
        screen.split('\n').map(|l| l.rsplit("\r\x1b[2K").next().unwrap_or(l).trim_end_matches('\r')).collect();
    let mixed: Vec<&&str> = shown
        .iter()
        .filter(|l| l.contains("rows/s") && (l.contains("WARN") || l.contains("INFO") || l.contains("backfill ")))
        .collect();
    assert!(mixed.is_empty(), "a log or result line landed on the progress line: {mixed:?}\n{screen:?}");
    assert!(screen.contains("rows/s"), "no progress shown: {screen:?}");
    // The same run with --log-level debug keeps the step events.
    let debug = on_a_terminal(&p, db, "--log-level debug stamp 001");
    assert!(debug.contains("starting"), "{debug}");
});

on_both!(apply_revert_stamp_and_their_plans_report_steps_in_one_shape, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "-- runner:up\nCREATE TABLE t (x integer);\n-- runner:down\nDROP TABLE t;\n");
    let keys = |step: &serde_json::Value| {
        let mut k: Vec<String> = step.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let done = ["action", "description", "duration_ms", "file", "resume_at_statement", "revision", "transaction"];
    let planned = ["action", "description", "file", "resume_at_statement", "revision", "statements", "transaction"];
    let plan = p.run(db, &["apply", "--dry-run", "--json"]).ok().json();
    assert_eq!(keys(&plan["steps"][0]), planned, "{plan}");
    for (args, action) in [
        (&["apply", "--json"][..], "apply"),
        (&["revert", "--json"], "revert"),
        (&["stamp", "head", "--json"], "stamp"),
        (&["stamp", "base", "--json"], "unstamp"),
        (&["apply", "--with-backfills", "--json"], "apply"),
    ] {
        let j = p.run(db, args).ok().json();
        let step = &j["steps"][0];
        assert_eq!(keys(step), done, "{args:?}: {j}");
        assert_eq!(step["action"], action, "{args:?}: {j}");
        assert_eq!(step["transaction"], "per-revision", "{args:?}: {j}");
        assert!(j.get("gate").is_some(), "{args:?}: {j}");
    }
    // What a step's `transaction` says is how that step ran: stamping a no-transaction
    // revision writes its row in one transaction; applying it does not.
    p.file("002_idx.sql", "-- no-transaction\nCREATE TABLE u (x integer);\n");
    let planned = p.run(db, &["stamp", "head", "--dry-run", "--json"]).ok().json();
    assert_eq!(planned["steps"][0]["transaction"], "per-revision", "{planned}");
    let shown = p.run(db, &["stamp", "head", "--dry-run"]).ok().stdout;
    assert!(shown.contains("002") && !shown.contains("[no transaction]"), "{shown}");
    let stamped = p.run(db, &["stamp", "head", "--json"]).ok().json();
    assert_eq!(stamped["steps"][0]["transaction"], "per-revision", "{stamped}");
    p.run(db, &["stamp", "001"]).ok();
    let applied = p.run(db, &["apply", "--json"]).ok().json();
    assert_eq!(applied["steps"][0]["transaction"], "none", "{applied}");
});

on_both!(a_state_table_name_that_is_an_application_table_is_refused_before_anything_runs, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "-- runner:up\nCREATE TABLE t (x integer);\n-- runner:down\nDROP TABLE t;\n");
    db.execute("CREATE TABLE app_users (id integer, name text)");
    // Before: `column "status" does not exist` (PostgreSQL), `no such column: status` (SQLite).
    for args in [&["--state-table", "app_users", "status"][..], &["--state-table", "app_users", "apply"]] {
        p.run(db, args)
            .fails_with(5)
            .stderr_has("app_users exists but is not a runner state table (it has no kind, status, checksum, applied_at, progress, updated_at columns)");
    }
    assert!(!db.table_exists("t"), "nothing may run");
    p.run(db, &["show", "001"]).ok().stdout_has("-- up (1 statement)\n");
});
