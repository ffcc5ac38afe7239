//! SQLite schema changes done the way SQLite documents them.

use crate::harness::{Kind, Project, TestDb};

#[test]
fn table_rebuild_keeps_child_rows_and_fk_violations_roll_back() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file(
        "001_tables.sql",
        "CREATE TABLE teams (id integer PRIMARY KEY, name text);\n\
         CREATE TABLE members (id integer PRIMARY KEY, team_id integer NOT NULL REFERENCES teams (id) ON DELETE CASCADE);\n\
         INSERT INTO teams VALUES (1, 'a'), (2, 'b');\n\
         INSERT INTO members VALUES (1, 1), (2, 2);\n",
    )
    // The 12-step rebuild: create new, copy, drop old, rename. With foreign keys on, DROP TABLE
    // teams would cascade and delete every member.
    .file(
        "002_rebuild.sql",
        "CREATE TABLE teams_new (id integer PRIMARY KEY, name text NOT NULL DEFAULT '');\n\
         INSERT INTO teams_new SELECT id, coalesce(name, '') FROM teams;\n\
         DROP TABLE teams;\n\
         ALTER TABLE teams_new RENAME TO teams;\n",
    );
    p.run(&db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM members"), "2", "the rebuild cascaded");

    p.file("003_orphan.sql", "INSERT INTO members VALUES (3, 99);\n");
    p.run(&db, &["apply"]).fails_with(1).stderr_has("foreign keys violated");
    assert_eq!(db.scalar("SELECT count(*) FROM members"), "2");
    assert_eq!(db.revision_rows().len(), 2);
}
