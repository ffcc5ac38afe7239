//! Bad input gets a clear error naming the file and line (or object), a non-zero exit code, and
//! leaves the database exactly as it was.

use crate::harness::{Project, TestDb};
use crate::on_both;

/// Runs `check` and `apply` on a broken project: both fail with `message` and exit code 5, and
/// the database gains nothing.
fn rejected(db: &TestDb, p: &Project, message: &str) {
    p.run(db, &["check"]).fails_with(5).stderr_has(message);
    p.run(db, &["apply"]).fails_with(5).stderr_has(message);
    assert!(!db.table_exists("runner_state"), "a rejected apply created the state table");
    assert!(!db.table_exists("t"), "a rejected apply ran SQL");
}

on_both!(duplicate_ids_name_both_files, |db: &TestDb| {
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE t (id integer);").file("001_b.sql", "CREATE TABLE u (id integer);");
    rejected(db, &p, "duplicate revision id `001`: ./migrations/001_a.sql and ./migrations/001_b.sql");
});

on_both!(missing_parent_names_the_file, |db: &TestDb| {
    let p = Project::new();
    p.file("a.sql", "-- id: a\n-- parents: none\n-- runner:up\nCREATE TABLE t (id integer);")
        .file("b.sql", "-- id: b\n-- parents: ghost\n-- runner:up\nSELECT 1;");
    rejected(db, &p, "./migrations/b.sql: revision `b` names parent `ghost`, which no revision file defines");
});

on_both!(cycles_are_named, |db: &TestDb| {
    let p = Project::new();
    p.file("a.sql", "-- id: a\n-- parents: b\n-- runner:up\nCREATE TABLE t (id integer);")
        .file("b.sql", "-- id: b\n-- parents: a\n-- runner:up\nSELECT 1;");
    rejected(db, &p, "revisions form a cycle:");
});

on_both!(malformed_headers_name_file_and_line, |db: &TestDb| {
    let p = Project::new();
    p.file("001_a.sql", "-- id: 001\n-- parent: none\n-- runner:up\nCREATE TABLE t (id integer);");
    rejected(db, &p, "./migrations/001_a.sql:2: unknown header key `parent` (did you mean `parents`?)");
    let p = Project::new();
    p.file("001_a.sql", "-- transaction: maybe\n-- runner:up\nCREATE TABLE t (id integer);");
    rejected(db, &p, "./migrations/001_a.sql:1: invalid transaction mode `maybe`");
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE t (id integer);\n-- runner:down\nDROP TABLE t;");
    rejected(db, &p, "./migrations/001_a.sql:2: `-- runner:down` without a `-- runner:up` section");
});

on_both!(several_heads_are_reported, |db: &TestDb| {
    let p = Project::new();
    p.file("a.sql", "-- id: a\n-- parents: none\n-- runner:up\nCREATE TABLE t (id integer);")
        .file("b.sql", "-- id: b\n-- parents: a\n-- runner:up\nSELECT 1;")
        .file("c.sql", "-- id: c\n-- parents: a\n-- runner:up\nSELECT 1;");
    rejected(db, &p, "several heads: b, c");
    // Applying every branch is still possible when asked for explicitly.
    p.run(db, &["apply", "--to", "heads"]).ok();
});

on_both!(non_utf8_files_are_rejected_with_their_line, |db: &TestDb| {
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE t (id integer);\n");
    std::fs::write(p.migrations().join("002_b.sql"), b"SELECT 1;\nSELECT '\xff';\n").unwrap();
    rejected(db, &p, "./migrations/002_b.sql:2: file is not valid UTF-8");
});

on_both!(check_json_lists_every_problem, |db: &TestDb| {
    let p = Project::new();
    p.file("001_a.sql", "SELECT 1;").file("001_b.sql", "SELECT 2;").file("notes.txt", "hello");
    let r = p.run(db, &["check", "--json"]).fails_with(5);
    let j = r.json();
    assert_eq!(j["ok"], false);
    assert!(j["errors"][0].as_str().unwrap().contains("duplicate revision id"));
    assert!(j["ignored"][0].as_str().unwrap().ends_with("notes.txt"));
});

#[test]
fn bad_config_and_urls_have_their_own_exit_codes() {
    let p = Project::new();
    std::fs::write(p.path().join("runner.toml"), "migrations = \"migrations\"\ndatabse_url = \"x\"\n").unwrap();
    let run = |args: &[&str]| {
        crate::harness::Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
                .current_dir(p.path())
                .args(args)
                .env_remove("DATABASE_URL")
                .env_remove("POSTGRES_URL")
                .output()
                .unwrap(),
        )
    };
    run(&["status"]).fails_with(5).stderr_has("runner.toml: line 2: unknown field `databse_url`");
    std::fs::remove_file(p.path().join("runner.toml")).unwrap();
    let r = run(&["status", "--database-url", "postgres://app:s3cret@127.0.0.1:1/app"]).fails_with(6);
    assert!(r.stderr.contains("postgres://app:***@127.0.0.1:1/app") && !r.stderr.contains("s3cret"), "{}", r.stderr);
    run(&["status", "--database-url", "oracle://x"]).fails_with(6).stderr_has("unsupported database URL");
    run(&["frobnicate"]).fails_with(2);
}
