//! Several runners against one database: each revision is applied exactly once, nobody deadlocks.

use crate::harness::{Kind, Project, TestDb, busy_sql};
use crate::on_both;
use std::time::{Duration, Instant};

/// Five revisions that each log themselves; slow enough that two runners overlap.
fn logging_project(sleep: &str) -> Project {
    let p = Project::new();
    p.file(
        "001_log.sql",
        "CREATE TABLE applied_log (revision text NOT NULL);\nINSERT INTO applied_log VALUES ('001');\n",
    );
    for i in 2..=5 {
        p.file(&format!("00{i}_step.sql"), &format!("{sleep}\nINSERT INTO applied_log VALUES ('00{i}');\n"));
    }
    p
}

fn wait_all(children: Vec<std::process::Child>, limit: Duration) -> Vec<crate::harness::Run> {
    let started = Instant::now();
    let mut children: Vec<Option<std::process::Child>> = children.into_iter().map(Some).collect();
    let mut done: Vec<Option<crate::harness::Run>> = children.iter().map(|_| None).collect();
    while done.iter().any(Option::is_none) {
        for (i, c) in children.iter_mut().enumerate() {
            if c.as_mut().is_some_and(|child| child.try_wait().unwrap().is_some()) {
                done[i] = Some(c.take().unwrap().wait_with_output().unwrap().into());
            }
        }
        if started.elapsed() > limit {
            for c in children.iter_mut().flatten() {
                let _ = c.kill();
            }
            panic!("runners still running after {limit:?}: deadlock?");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done.into_iter().map(Option::unwrap).collect()
}

fn spawn(p: &Project, db: &TestDb, args: &[&str]) -> std::process::Child {
    p.command(db, args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
}

on_both!(two_runners_apply_each_revision_exactly_once, |db: &TestDb| {
    let sleep = busy_sql(db.kind, 0.2, 300_000);
    let p = logging_project(&sleep);
    let runs = wait_all(vec![spawn(&p, db, &["apply"]), spawn(&p, db, &["apply"])], Duration::from_secs(120));
    for r in runs {
        assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    }
    assert_eq!(db.scalar("SELECT count(*) FROM applied_log"), "5");
    assert_eq!(db.scalar("SELECT count(DISTINCT revision) FROM applied_log"), "5");
    assert_eq!(db.revision_rows().len(), 5);
    assert_eq!(db.scalar("SELECT count(DISTINCT seq) FROM runner_state WHERE kind = 'revision'"), "5");
});

#[test]
fn create_index_concurrently_applies_while_another_runner_waits() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_items.sql", "CREATE TABLE items (id bigint PRIMARY KEY, sku text);\nINSERT INTO items SELECT g, 'sku-' || g FROM generate_series(1, 20000) g;\n")
        .file(
            "002_index.sql",
            "-- transaction: none\n-- runner:up\nSELECT pg_sleep(1.5);\nCREATE INDEX CONCURRENTLY items_sku ON items (sku);\n-- runner:down\nDROP INDEX CONCURRENTLY items_sku;\n",
        );
    let first = spawn(&p, &db, &["apply"]);
    // Let the first runner take the lock and reach the no-transaction revision.
    let started = Instant::now();
    while db.advisory_locks() == 0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(db.advisory_locks() > 0, "the first runner never took the lock");
    let second = spawn(&p, &db, &["apply", "--lock-timeout", "60"]);
    let runs = wait_all(vec![first, second], Duration::from_secs(90));
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(runs[1].code, 0, "{}", runs[1].stderr);
    assert!(
        runs[1].stderr.contains("waiting for the runner lock"),
        "the second runner did not wait: {}",
        runs[1].stderr
    );
    assert!(runs[1].stdout.contains("Nothing to apply"), "{}", runs[1].stdout);
    assert_eq!(db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_sku'::regclass"), "t");
    assert_eq!(db.revision_rows(), [("001".into(), "applied".into()), ("002".into(), "applied".into())]);
    assert_eq!(db.advisory_locks(), 0);
}

on_both!(lock_timeout_names_the_holder, |db: &TestDb| {
    let sleep = busy_sql(db.kind, 4.0, 16_000_000);
    let p = Project::new();
    p.file("001_slow.sql", &format!("-- no-transaction\n{sleep}\n{sleep}\n"));
    let holder = spawn(&p, db, &["apply"]);
    // The second runner starts once the first holds the lock (a sleep here raced a loaded
    // machine), and the first's two long statements outlast the second's one-second wait.
    let started = std::time::Instant::now();
    let held = || match db.kind {
        Kind::Postgres => db.advisory_locks() > 0,
        Kind::Sqlite => {
            db.table_exists("runner_state") && db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'lock'") != "0"
        }
    };
    while !held() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(held(), "the first runner never took the lock");
    let r = p.run(db, &["apply", "--lock-timeout", "1"]);
    let runs = wait_all(vec![holder], Duration::from_secs(120));
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    let r = r.fails_with(4).stderr_has("timed out after 1s waiting for the runner lock");
    assert!(r.stderr.contains("runner pid") || r.stderr.contains("pid "), "{}", r.stderr);
});
