//! Plugins written in Python and JavaScript, built from source by runner itself (componentize-py
//! and componentize-qjs, installed on first use): the same backfill gives the same table as the
//! Rust plugin (row by row and a column at a time in each), and an exception reaches the operator
//! as one line.

use crate::harness::{Kind, Project, TestDb, plugin};
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

on_both!(rust_python_and_js_score_band_give_identical_tables, |db: &TestDb| {
    let p = Project::new();
    let tables = ["scores_rust", "scores_python", "scores_pycols", "scores_js", "scores_jscols"];
    p.file("001_scores.sql", &tables.map(|t| scores(db.kind, t)).concat());
    p.backfill("bands_rust", &bands_manifest(&format!("\"{}\"", plugin("score_band").display()), "scores_rust"));
    let source = |lang: &str| p.plugin_source(&format!("plugins/examples-{lang}/score-band"), &format!("band-{lang}"));
    p.backfill("bands_python", &bands_manifest(&source("py"), "scores_python"));
    // The same bands a column at a time (rows.ints, rows.set).
    let columns = |lang: &str| {
        p.plugin_source(&format!("plugins/examples-{lang}/score-band-columns"), &format!("band-cols-{lang}"))
    };
    p.backfill("bands_pycols", &bands_manifest(&columns("py"), "scores_pycols"));
    p.backfill("bands_jscols", &bands_manifest(&columns("js"), "scores_jscols"));
    p.backfill("bands_js", &bands_manifest(&source("js"), "scores_js"));
    p.run(db, &["apply", "--with-backfills"]).ok();
    for table in tables {
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM {table} WHERE band IS NULL")), "0", "{table}");
    }
    let differ = |a: &str, b: &str| {
        db.scalar(&format!("SELECT count(*) FROM (SELECT id, band FROM {a} EXCEPT SELECT id, band FROM {b}) d"))
    };
    for other in ["scores_python", "scores_pycols", "scores_js", "scores_jscols"] {
        assert_eq!(differ("scores_rust", other), "0", "{other}");
        assert_eq!(differ(other, "scores_rust"), "0", "{other}");
        assert_eq!(db.scalar(&format!("SELECT count(DISTINCT band) FROM {other}")), "5");
        assert_eq!(
            db.scalar(&format!("SELECT band FROM {other} WHERE id = 3002"))
                + "|"
                + &db.scalar(&format!("SELECT band FROM {other} WHERE id = 3001")),
            "silver|bronze"
        );
    }
    // Built once: the same sources are not built again.
    for name in ["bands_python", "bands_js"] {
        p.run(db, &["backfill", "reset", name, "--confirm"]).ok();
        let again = p.run(db, &["backfill", "run", name]).ok();
        assert!(!again.stderr.contains("building the plugin"), "{}", again.stderr);
    }
});

/// Items with these `cmd`s, applied, and the failing test plugin of `lang` (`py`, `js`) as
/// backfill `fails`, tried once.
fn fails_project(db: &TestDb, lang: &str, cmds: &[&str], limits: &str) -> Project {
    let p = Project::new();
    let rows: Vec<String> = cmds.iter().enumerate().map(|(i, c)| format!("({}, '{c}')", i + 1)).collect();
    p.file(
        "001_items.sql",
        &format!(
            "CREATE TABLE items (id integer PRIMARY KEY, cmd text, n bigint, out text);\nINSERT INTO items (id, cmd) VALUES {};\n",
            rows.join(", ")
        ),
    );
    p.backfill(
        "fails",
        &format!(
            "plugin = {}\n[source]\ntable = \"items\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\"]\n[limits]\nmax_attempts = 1\n{limits}",
            p.plugin_source(&format!("plugins/test-plugins-{lang}/fails"), "fails")
        ),
    );
    p.run(db, &["apply"]).ok();
    p
}

#[test]
fn a_python_exception_reaches_the_operator_as_one_line() {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, "py", &["fine", "divide", "fine"], "");
    // Raised inside the SDK: an error value with the exception and where it was raised.
    let r = p.run(&db, &["backfill", "run", "fails"]).fails_with(1);
    assert!(r.stderr.contains("ZeroDivisionError: division by zero (app.py:9 in divide)"), "{}", r.stderr);
    assert!(r.stderr.contains("(1 attempt):"), "{}", r.stderr);
    // Raised outside it: the component traps; the host still finds the exception in the traceback.
    db.execute("UPDATE items SET cmd = 'raw' WHERE id = 2");
    let r = p.run(&db, &["backfill", "retry", "fails"]).fails_with(1);
    assert!(r.stderr.contains("KeyError: 'missing-key' (app.py:"), "{}", r.stderr);
    assert!(r.stderr.contains(" in process)"), "{}", r.stderr);
    for noise in ["Traceback", "wasm backtrace", "0x"] {
        assert!(!r.stderr.contains(noise), "`{noise}` reached the operator: {}", r.stderr);
    }
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0", "a failed batch wrote");
}

/// The failing plugin of `lang` over rows with these `cmd`s fails its batch saying `message`, and
/// writes nothing.
fn refused(lang: &str, cmds: &[&str], message: &str) {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, lang, cmds, "");
    p.run(&db, &["backfill", "run", "fails"]).fails_with(1).stderr_has(message);
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0", "a failed batch wrote");
}

#[test]
fn the_python_sdk_refuses_columns_that_do_not_fit_the_batch_or_the_database() {
    refused("py", &["fine", "short-set", "fine"], "returned an error: set(`out`): 1 values for 3 rows (app.py:");
    refused("py", &["fine", "huge"], "returned an error: integer 1180591620717411303424 does not fit in 64 bits");
    refused("py", &["fine", "bad-rows"], "set(`out`): 99 is not a row of this batch (0 to 1, or a Row) (app.py:");
}

/// `rows.set(column, values, rows)` with the rows as `Row` objects, beside `row.update` for the
/// others, in both SDKs.
#[test]
fn rows_chosen_as_row_objects_are_set_by_column_beside_updates_by_row() {
    for lang in ["py", "js"] {
        let db = TestDb::new(Kind::Sqlite);
        let p = fails_project(&db, lang, &["fine", "picked", "fine"], "");
        p.run(&db, &["backfill", "run", "fails"]).ok();
        let outs = db.scalar("SELECT group_concat(out, ',') FROM (SELECT out FROM items ORDER BY id)");
        let fine = if lang == "py" { "ok" } else { "null" };
        assert_eq!(outs, format!("{fine},picked,{fine}"), "{lang}");
    }
}

#[test]
fn the_js_sdk_refuses_columns_that_do_not_fit_the_batch_or_javascript() {
    refused("js", &["fine", "short-set", "fine"], "set(`out`): 1 values for 3 rows");
    refused("js", &["fine", "huge"], "column `out`: an integer beyond 2^53");
    refused("js", &["fine", "bad-rows"], "set(`out`): 99 is not a row of this batch (0 to 1, or a Row)");
}

#[test]
fn a_memory_error_python_catches_is_still_the_memory_limit() {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, "py", &["fine", "alloc"], "memory_mb = 128\n");
    // Classified as the limit (so the batch is halved before a retry), not as the plugin's error.
    p.run(&db, &["backfill", "run", "fails"])
        .fails_with(1)
        .stderr_has("tried to use more than its memory limit of 134217728 bytes");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0");
}

#[test]
fn a_thrown_js_error_keeps_its_message_and_place() {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, "js", &["fine", "throw", "fine"], "");
    let r = p.run(&db, &["backfill", "run", "fails"]).fails_with(1);
    assert!(
        r.stderr.contains("TypeError: cannot read property 'value' of undefined (app.js:9 in deeper)"),
        "{}",
        r.stderr
    );
    // The SDK's own error names the column; an Error thrown outside the SDK keeps its message.
    db.execute("UPDATE items SET cmd = 'type' WHERE id = 2");
    p.run(&db, &["backfill", "retry", "fails"]).fails_with(1).stderr_has("column `cmd`: expected an integer, got text");
    db.execute("UPDATE items SET cmd = 'raw' WHERE id = 2");
    let r = p.run(&db, &["backfill", "retry", "fails"]).fails_with(1).stderr_has("thrown outside the SDK");
    assert!(!r.stderr.contains("[object"), "{}", r.stderr);
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0", "a failed batch wrote");
}

on_both!(an_integer_beyond_2_53_fails_a_js_plugin_instead_of_becoming_its_neighbour, |db: &TestDb| {
    let p = fails_project(db, "js", &["fine", "fine"], "");
    db.execute("UPDATE items SET n = 9007199254740993 WHERE id = 2");
    db.execute("UPDATE items SET n = 9007199254740991 WHERE id = 1");
    p.run(db, &["backfill", "run", "fails"])
        .fails_with(1)
        .stderr_has("column `n`: an integer beyond 2^53 (it arrived as 9007199254740992)");
    // (On PostgreSQL the two rows may be in batches of their own: only the one beyond fails.)
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE id = 2 AND out IS NOT NULL"), "0");
    // Within 2^53 it is exact.
    db.execute("UPDATE items SET n = -9007199254740991 WHERE id = 2");
    p.run(db, &["backfill", "retry", "fails"]).ok();
    assert_eq!(db.scalar("SELECT out FROM items WHERE id = 1"), "9007199254740991");
    assert_eq!(db.scalar("SELECT out FROM items WHERE id = 2"), "-9007199254740991");
});

#[test]
fn a_js_plugin_that_allocates_past_its_limit_is_stopped_at_the_memory_limit() {
    let db = TestDb::new(Kind::Sqlite);
    let p = fails_project(&db, "js", &["fine", "alloc"], "memory_mb = 64\n");
    p.run(&db, &["backfill", "run", "fails"])
        .fails_with(1)
        .stderr_has("tried to use more than its memory limit of 67108864 bytes");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0");
}
