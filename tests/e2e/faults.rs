//! Fault injection and concurrency beyond the single-feature tests: many deploys at once.

use crate::harness::{Kind, Project, TestDb, plugin};
use crate::on_both;

on_both!(four_concurrent_deploys_with_backfills_do_everything_once, |db: &TestDb| {
    let p = Project::new();
    let (table, fill) = match db.kind {
        Kind::Postgres => (
            "CREATE TABLE items (id bigint PRIMARY KEY, cmd text NOT NULL DEFAULT 'noop', n bigint, out text, updates integer NOT NULL DEFAULT 0);\n\
             CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;\n\
             CREATE TRIGGER items_count BEFORE UPDATE OF out ON items FOR EACH ROW EXECUTE FUNCTION count_update();\n\
             INSERT INTO items (id) SELECT g FROM generate_series(1, 5000) g;\n",
            "",
        ),
        Kind::Sqlite => (
            "CREATE TABLE items (id integer PRIMARY KEY, cmd text NOT NULL DEFAULT 'noop', n integer, out text, updates integer NOT NULL DEFAULT 0);\n\
             CREATE TRIGGER items_count AFTER UPDATE OF out ON items BEGIN UPDATE items SET updates = updates + 1 WHERE id = NEW.id; END;\n\
             WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 5000) INSERT INTO items (id) SELECT x FROM g;\n",
            "",
        ),
    };
    p.file("001_items.sql", &format!("{table}{fill}"))
        .file("002_log.sql", "CREATE TABLE deploy_log (revision text NOT NULL);\nINSERT INTO deploy_log VALUES ('002');\n")
        .file("003_contract.sql", "-- requires-backfill: items\nCREATE INDEX items_out ON items (out);\nINSERT INTO deploy_log VALUES ('003');\n");
    p.backfill(
        "items",
        &format!(
            "plugin = \"{}\"\n[source]\ntable = \"items\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\"]\nfilter = \"out IS NULL\"\n[batch]\nsize = 200\nmin_size = 50\nmax_size = 1000\n",
            plugin("probe").display()
        ),
    );
    let deploys: Vec<_> = (0..4)
        .map(|_| {
            p.command(db, &["apply", "--with-backfills", "--lock-timeout", "120"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for d in deploys {
        let out = d.wait_with_output().unwrap();
        assert!(out.status.success(), "a deploy failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(db.scalar("SELECT count(*) FROM deploy_log"), "2", "a revision ran twice");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE updates <> 1"), "0", "a row was not changed exactly once");
    assert_eq!(db.revision_rows().len(), 3);
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'backfill'"), "completed");
    p.run(db, &["status", "--exit-code"]).ok();
});
