//! Real-world files are messy; these are applied as written.

use crate::harness::{Kind, Project, TestDb};
use crate::on_both;

#[test]
fn postgres_files_with_plpgsql_escape_strings_begin_atomic_and_no_trailing_newline() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file(
        "001_functions.sql",
        r#"CREATE TABLE audit (id serial PRIMARY KEY, note text, at timestamptz DEFAULT now());
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit (note) VALUES ('touched; ' || TG_OP);
  RETURN NEW;
END;
$$;
CREATE FUNCTION add_one(a integer) RETURNS integer LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a IS NULL THEN 0 ELSE a + 1 END;
END;
INSERT INTO audit (note) VALUES (E'it\'s; escaped'), ('plain ''quoted''; text');
/* a comment; with semicolons */ INSERT INTO audit (note) VALUES ($tag$dollar; $$ inside$tag$)
"#,
    )
    .file("002_empty.sql", "")
    .file("003_comments_only.sql", "-- nothing to do here;\n/* really; nothing */\n")
    .file("004_last_without_semicolon.sql", "CREATE TABLE last_one (id integer)");
    p.run(&db, &["apply"]).ok().stdout_has("Done: 4 steps.");
    assert_eq!(db.scalar("SELECT add_one(41)"), "42");
    assert_eq!(db.scalar("SELECT count(*) FROM audit"), "3");
    assert_eq!(db.scalar("SELECT note FROM audit WHERE note LIKE 'it%'"), "it's; escaped");
    assert_eq!(db.scalar("SELECT note FROM audit WHERE note LIKE 'dollar%'"), "dollar; $$ inside");
    assert_eq!(db.revision_rows().len(), 4, "empty and comment-only files still count as applied");
    assert!(db.table_exists("last_one"));
}

#[test]
fn session_settings_do_not_leak_into_the_next_revision_or_the_state_table() {
    let db = TestDb::new(Kind::Postgres);
    db.execute("CREATE SCHEMA elsewhere");
    let p = Project::new();
    p.file(
        "001_set.sql",
        "SET search_path = elsewhere;\nSET timezone = 'Pacific/Kiritimati';\nCREATE TABLE in_elsewhere (id integer);\n",
    )
    .file(
        "002_plain.sql",
        "CREATE TABLE in_public (id integer);\nCREATE TABLE tz_probe AS SELECT current_setting('TimeZone') AS tz;\n",
    );
    p.run(&db, &["apply"]).ok();
    // The state write of 001 went to public.runner_state although 001 changed search_path.
    assert_eq!(db.revision_rows().len(), 2);
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'elsewhere' AND tablename = 'in_elsewhere'"),
        "1"
    );
    assert!(db.table_exists("in_public"), "002 ran with 001's search_path");
    assert_ne!(db.scalar("SELECT tz FROM tz_probe"), "Pacific/Kiritimati");
}

on_both!(many_statements_and_crlf_files, |db: &TestDb| {
    let p = Project::new();
    let mut text = String::from("CREATE TABLE many (n integer);\r\n");
    for i in 0..200 {
        text.push_str(&format!("INSERT INTO many VALUES ({i});\r\n"));
    }
    p.file("001_many.sql", &text);
    p.run(db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM many"), "200");
});
