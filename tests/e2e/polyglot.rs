//! Plugins written in Python, built from source by runner itself (componentize-py, installed
//! on first use): the same backfill gives the same table as the Rust plugin, and a Python
//! exception reaches the operator as one line.

use crate::harness::{Kind, Project, TestDb, plugin, repo_path};
use crate::on_both;

/// `scores_<lang>` tables with the same points: every band, both sides of each bound, NULLs
/// and negatives.
fn scores(kind: Kind, table: &str) -> String {
    let fill = match kind {
        Kind::Postgres => {
            "SELECT x, CASE WHEN x % 11 = 0 THEN NULL ELSE (x * 37) % 2600 - 50 END FROM generate_series(1, 3000) x"
        }
        Kind::Sqlite => {
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 3000) \
             SELECT x, CASE WHEN x % 11 = 0 THEN NULL ELSE (x * 37) % 2600 - 50 END FROM g"
        }
    };
    format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY, points integer, band text);\n\
         INSERT INTO {table} (id, points) {fill};\n\
         INSERT INTO {table} (id, points) VALUES (3001, 499), (3002, 500), (3003, 999), (3004, 1000), (3005, 1999), (3006, 2000), (3007, -1), (3008, 0);\n"
    )
}

fn bands_manifest(plugin: &str, table: &str) -> String {
    format!(
        "plugin = {plugin}\nrequires = \"001\"\n[source]\ntable = \"{table}\"\nkey = [\"id\"]\ncolumns = [\"points\"]\nfilter = \"band IS NULL\"\n[batch]\nsize = 500\n"
    )
}

on_both!(rust_and_python_score_band_give_identical_tables, |db: &TestDb| {
    let p = Project::new();
    p.file("001_scores.sql", &format!("{}{}", scores(db.kind, "scores_rust"), scores(db.kind, "scores_python")));
    p.backfill("bands_rust", &bands_manifest(&format!("\"{}\"", plugin("score_band").display()), "scores_rust"));
    let source = repo_path("plugins/examples-py/score-band");
    p.backfill("bands_python", &bands_manifest(&format!("{{ build = \"{}\" }}", source.display()), "scores_python"));
    p.run(db, &["apply", "--with-backfills"]).ok();
    for table in ["scores_rust", "scores_python"] {
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM {table} WHERE band IS NULL")), "0", "{table}");
    }
    let differ = |a: &str, b: &str| {
        db.scalar(&format!("SELECT count(*) FROM (SELECT id, band FROM {a} EXCEPT SELECT id, band FROM {b}) d"))
    };
    assert_eq!(differ("scores_rust", "scores_python"), "0");
    assert_eq!(differ("scores_python", "scores_rust"), "0");
    assert_eq!(db.scalar("SELECT count(DISTINCT band) FROM scores_python"), "5");
    assert_eq!(
        db.scalar("SELECT band FROM scores_python WHERE id = 3002")
            + "|"
            + &db.scalar("SELECT band FROM scores_python WHERE id = 3001"),
        "silver|bronze"
    );
    // Built once: the same sources are not built again.
    p.run(db, &["backfill", "reset", "bands_python", "--confirm"]).ok();
    let again = p.run(db, &["backfill", "run", "bands_python"]).ok();
    assert!(!again.stderr.contains("building the plugin"), "{}", again.stderr);
});

/// Items with these `cmd`s, applied, and the failing test plugin as backfill `fails`, tried once.
fn fails_project(db: &TestDb, cmds: &[&str], limits: &str) -> Project {
    let p = Project::new();
    let rows: Vec<String> = cmds.iter().enumerate().map(|(i, c)| format!("({}, '{c}')", i + 1)).collect();
    p.file(
        "001_items.sql",
        &format!(
            "CREATE TABLE items (id integer PRIMARY KEY, cmd text, out text);\nINSERT INTO items (id, cmd) VALUES {};\n",
            rows.join(", ")
        ),
    );
    p.backfill(
        "fails",
        &format!(
            "plugin = {{ build = \"{}\" }}\n[source]\ntable = \"items\"\nkey = [\"id\"]\ncolumns = [\"cmd\"]\n[limits]\nmax_attempts = 1\n{limits}",
            repo_path("plugins/test-plugins-py/fails").display()
        ),
    );
    p.run(db, &["apply"]).ok();
    p
}

#[test]
fn a_python_exception_reaches_the_operator_as_one_line() {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, &["fine", "divide", "fine"], "");
    // Raised inside the SDK: an error value with the exception and where it was raised.
    let r = p.run(&db, &["backfill", "run", "fails"]).fails_with(1);
    assert!(r.stderr.contains("ZeroDivisionError: division by zero (app.py:9 in divide)"), "{}", r.stderr);
    assert!(r.stderr.contains("(1 attempt):"), "{}", r.stderr);
    // Raised outside it: the component traps; the host still finds the exception in the traceback.
    db.execute("UPDATE items SET cmd = 'raw' WHERE id = 2");
    p.run(&db, &["backfill", "retry", "fails"]).ok();
    let r = p.run(&db, &["backfill", "run", "fails"]).fails_with(1);
    assert!(r.stderr.contains("KeyError: 'missing-key' (app.py:"), "{}", r.stderr);
    assert!(r.stderr.contains(" in process)"), "{}", r.stderr);
    for noise in ["Traceback", "wasm backtrace", "0x"] {
        assert!(!r.stderr.contains(noise), "`{noise}` reached the operator: {}", r.stderr);
    }
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0", "a failed batch wrote");
}

#[test]
fn a_memory_error_python_catches_is_still_the_memory_limit() {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, &["fine", "alloc"], "memory_mb = 128\n");
    // Classified as the limit (so the batch is halved before a retry), not as the plugin's error.
    p.run(&db, &["backfill", "run", "fails"])
        .fails_with(1)
        .stderr_has("tried to use more than its memory limit of 134217728 bytes");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0");
}
