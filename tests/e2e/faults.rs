//! Fault injection and concurrency beyond the single-feature tests: many deploys at once.

use crate::harness::{Kind, Project, TestDb, busy_sql, plugin};
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
        assert!(
            out.status.success(),
            "a deploy failed ({:?}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(db.scalar("SELECT count(*) FROM deploy_log"), "2", "a revision ran twice");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE updates <> 1"), "0", "a row was not changed exactly once");
    assert_eq!(db.revision_rows().len(), 3);
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'backfill'"), "completed");
    p.run(db, &["status", "--exit-code"]).ok();
});

on_both!(a_runner_killed_inside_a_transactional_revision_leaves_nothing_behind, |db: &TestDb| {
    let slow = busy_sql(db.kind, 3.0, 30_000_000);
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE first (id integer);\n")
        .file("002_b.sql", &format!("CREATE TABLE half (id integer);\n{slow}\nCREATE TABLE done (id integer);\n"));
    p.run(db, &["apply", "--to", "001"]).ok();
    let mut child = p
        .command(db, &["apply"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once it is inside the revision's transaction: on PostgreSQL, once its slow
    // statement is seen running; SQLite's writer holds the file, so there it is given time.
    match db.kind {
        Kind::Postgres => {
            let started = std::time::Instant::now();
            let running = || {
                db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(%' AND pid <> pg_backend_pid()")
                    != "0"
            };
            while !running() && started.elapsed() < std::time::Duration::from_secs(30) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert!(running(), "the revision never started its slow statement");
        }
        Kind::Sqlite => std::thread::sleep(std::time::Duration::from_millis(800)),
    }
    child.kill().unwrap(); // SIGKILL inside the revision's transaction
    child.wait().unwrap();
    // The transaction died with the process: no table, no state row, no lock.
    assert!(!db.table_exists("half") && !db.table_exists("done"));
    assert_eq!(db.revision_rows(), [("001".into(), "applied".into())]);
    p.run(db, &["status", "--exit-code"]).fails_with(3).stdout_has("pending:    1");
    p.run(db, &["apply", "--lock-timeout", "10"]).ok().stdout_has("apply    002");
    assert!(db.table_exists("done"));
    assert_eq!(db.revision_rows().len(), 2);
});

#[test]
fn a_connection_cut_mid_revision_is_reported_and_a_rerun_completes() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_slow.sql", "CREATE TABLE half (id integer);\nSELECT pg_sleep(5);\nCREATE TABLE done (id integer);\n");
    let child = p
        .command(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Cut the runner's connection from the server side while the revision runs.
    let started = std::time::Instant::now();
    loop {
        let cut = db.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name LIKE 'runner pid%' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
        );
        if cut != "0" {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the revision never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("revision `001` (./migrations/001_slow.sql) was cut off")
            && stderr.contains("the connection to the database was lost")
            && stderr.contains("terminating connection"),
        "{stderr}"
    );
    assert!(!db.table_exists("half"), "a cut connection left half a revision behind");
    assert!(db.revision_rows().is_empty());
    p.run(&db, &["apply"]).ok().stdout_has("apply    001");
    assert!(db.table_exists("done"));
}
