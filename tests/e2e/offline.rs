//! Offline scripts (`apply --sql`) run by the database's own shell, as a DBA runs them: a failing
//! statement stops the script in every kind of revision, and the state table never records what
//! did not happen, even in a client that goes on after an error.

use crate::harness::{Kind, Project, TestDb};

/// Pipes `script` into `psql` (no options of the test's own: what the script says is what holds).
pub fn psql(url: &str, script: &str) -> std::process::Output {
    pipe(std::process::Command::new("psql").args([url, "-X", "-q"]), script)
}

/// Pipes `script` into the `sqlite3` shell on the database file of `url`.
pub fn sqlite3(url: &str, script: &str) -> std::process::Output {
    let file = url.trim_start_matches("sqlite://");
    pipe(std::process::Command::new("sqlite3").arg(file), script)
}

fn pipe(cmd: &mut std::process::Command, script: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A failing revision `002` of each kind, between one that works and one that must never run.
fn kinds() -> [(&'static str, &'static str); 3] {
    [
        ("transactional", "CREATE TABLE a (x int);\nINSERT INTO t VALUES (1, 1);\n"),
        (
            "no-transaction",
            "-- transaction: none\n\nCREATE TABLE b (x int);\nINSERT INTO t VALUES (1, 1);\nCREATE TABLE b2 (x int);\n",
        ),
        (
            "no-transaction, concurrently",
            "-- transaction: none\n\nCREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v);\nCREATE TABLE c2 (x int);\n",
        ),
    ]
}

fn project(revision: &str) -> Project {
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE t (id int PRIMARY KEY, v int);\nINSERT INTO t VALUES (1, 1), (2, 1);\n");
    p.file("002_fails.sql", revision);
    p.file("003_after.sql", "CREATE TABLE after_failure (x int);\n");
    p
}

/// What the state table says of revision `id` (empty: nothing).
fn status_of(db: &TestDb, id: &str) -> String {
    db.scalar(&format!("SELECT coalesce(max(status), '') FROM runner_state WHERE kind = 'revision' AND name = '{id}'"))
}

#[test]
fn a_script_piped_into_psql_stops_at_the_first_error_in_every_kind_of_revision() {
    // Before, psql went on after a failed statement of a no-transaction revision, the script
    // recorded the revision applied, psql exited 0 and `status` said "Up to date".
    for (kind, revision) in kinds() {
        let db = TestDb::new(Kind::Postgres);
        let p = project(revision);
        let script = p.run(&db, &["apply", "--sql"]).ok().stdout;
        assert!(script.contains("\\set ON_ERROR_STOP on") && script.contains("psql -X -f"), "{script}");
        let out = psql(&db.url, &script);
        assert!(!out.status.success(), "{kind}: psql exited 0:\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(status_of(&db, "001"), "applied", "{kind}");
        assert_ne!(status_of(&db, "002"), "applied", "{kind}");
        assert!(!db.table_exists("after_failure"), "{kind}: the script went on past the failure");
        let r = p.run(&db, &["status", "--exit-code"]).fails_with(3);
        assert!(!r.stdout.contains("Up to date"), "{kind}: {}", r.stdout);
    }
}

#[test]
fn a_client_that_goes_on_after_an_error_still_records_nothing_that_did_not_happen() {
    // The same scripts without the line that stops psql: each transaction first checks that
    // what came before it was recorded, so nothing after the failure is recorded or applied.
    for (kind, revision) in kinds() {
        let db = TestDb::new(Kind::Postgres);
        let p = project(revision);
        let script = p.run(&db, &["apply", "--sql"]).ok().stdout.replace("\\set ON_ERROR_STOP on", "");
        psql(&db.url, &script);
        assert_eq!(status_of(&db, "001"), "applied", "{kind}");
        assert_ne!(status_of(&db, "002"), "applied", "{kind}");
        assert_ne!(status_of(&db, "003"), "applied", "{kind}");
        assert!(!db.table_exists("after_failure"), "{kind}");
        if kind.starts_with("no-transaction") {
            // Recorded as far as it really got: the failing statement is not counted done.
            let done = db.scalar("SELECT progress->>'statements_done' FROM runner_state WHERE name = '002'");
            let expected = if kind == "no-transaction" { "1" } else { "0" };
            assert_eq!(done, expected, "{kind}");
            assert!(!db.table_exists("b2") && !db.table_exists("c2"), "{kind}: a statement after the failure was kept");
        }
        p.run(&db, &["status", "--exit-code"]).fails_with(3);
    }
}

#[test]
fn a_script_piped_into_the_sqlite3_shell_stops_at_the_first_error() {
    for (kind, revision) in kinds().into_iter().take(2) {
        let db = TestDb::new(Kind::Sqlite);
        let p = project(&revision.replace("CONCURRENTLY ", ""));
        let script = p.run(&db, &["apply", "--sql"]).ok().stdout;
        assert!(script.contains(".bail on"), "{script}");
        let out = sqlite3(&db.url, &script);
        assert!(!out.status.success(), "{kind}: sqlite3 exited 0");
        assert_eq!(status_of(&db, "001"), "applied", "{kind}");
        assert_ne!(status_of(&db, "002"), "applied", "{kind}");
        assert!(!db.table_exists("after_failure"), "{kind}");
        p.run(&db, &["status", "--exit-code"]).fails_with(3);
    }
}
