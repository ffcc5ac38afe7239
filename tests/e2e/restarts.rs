//! The PostgreSQL server restarted under a running runner. Each test has a cluster of its own,
//! so the shared server never goes down under other tests.

use crate::backfills::{assert_each_row_changed_once, items_project};
use crate::harness::{Cluster, Project, TestDb};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Waits until `probe` (a query) returns something other than 0, then restarts the server.
fn restart_when(cluster: &Cluster, db: &TestDb, child: &mut std::process::Child, probe: &str) {
    let started = Instant::now();
    loop {
        if db.scalar(probe) != "0" {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the runner ended ({status}) before {probe}:\n{err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the runner never got to {probe}: {:?}",
            db.query("SELECT application_name, state, query FROM pg_stat_activity")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.restart().expect("restart the server");
}

#[test]
fn a_server_restart_mid_revision_is_reported_and_a_rerun_completes() {
    let cluster = Cluster::start().expect("a cluster of the test's own");
    let db = TestDb::on_server(&cluster.url());
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE first (id integer);\n").file(
        "002_slow.sql",
        "CREATE TABLE half (id integer);\nSELECT pg_sleep(10);\nCREATE TABLE done (id integer);\n",
    );
    let mut child = p.command(&db, &["apply"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    restart_when(
        &cluster,
        &db,
        &mut child,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'runner pid%' AND query LIKE '%pg_sleep%'",
    );
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "a lost connection exits 6:\n{stderr}");
    assert!(
        stderr.contains("completed before the failure: 001")
            && stderr.contains("revision `002` (./migrations/002_slow.sql) was cut off")
            && stderr.contains("the connection to the database was lost")
            && stderr.contains("SQLSTATE 57P01")
            && stderr.contains("`runner status` shows which"),
        "{stderr}"
    );
    // The first revision committed; the second died with its transaction.
    assert_eq!(db.revision_rows(), [("001".into(), "applied".into())]);
    assert!(db.table_exists("first") && !db.table_exists("half"));
    p.run(&db, &["status", "--exit-code"]).fails_with(3).stdout_has("pending:    1");
    p.run(&db, &["apply"]).ok().stdout_has("apply    002");
    assert!(db.table_exists("done"));
    assert_eq!(db.revision_rows().len(), 2);
}

#[test]
fn backfill_workers_ride_through_a_server_restart() {
    let cluster = Cluster::start().expect("a cluster of the test's own");
    let db = TestDb::on_server(&cluster.url());
    let rows = 20_000;
    let p = items_project(&db, rows, 200_000);
    p.run(&db, &["apply"]).ok();
    let mut child = p
        .command(&db, &["backfill", "run", "items", "--workers", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run: some batches committed, most to do.
    restart_when(&cluster, &db, &mut child, "SELECT (count(*) > 1000)::int FROM items WHERE out IS NOT NULL");
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the backfill did not survive the restart:\n{stdout}\n{stderr}");
    assert!(stderr.contains("reconnecting") && stderr.contains("reconnected"), "{stderr}");
    assert!(stdout.contains("backfill items: completed"), "{stdout}");
    // The batches in flight were rolled back by the server and done again after: every row
    // exactly once, and the checkpoints agree.
    assert_each_row_changed_once(&db, rows);
}

#[test]
fn a_deploy_cut_off_by_a_restart_is_reported_and_a_rerun_completes() {
    let cluster = Cluster::start().expect("a cluster of the test's own");
    let db = TestDb::on_server(&cluster.url());
    let rows = 20_000;
    let p = items_project(&db, rows, 200_000);
    p.file("002_contract.sql", "-- requires-backfill: items\nALTER TABLE items ALTER COLUMN out SET NOT NULL;\n");
    p.run(&db, &["apply", "--to", "001"]).ok();
    let mut child =
        p.command(&db, &["apply", "--with-backfills"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    restart_when(&cluster, &db, &mut child, "SELECT (count(*) > 1000)::int FROM items WHERE out IS NOT NULL");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The backfill's workers reconnect; the deploy's own connection held the runner lock, which
    // died with it, so the deploy stops rather than carry on unlocked.
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("the connection to the database was lost")
            && stderr.contains("the same command continues the work"),
        "{stderr}"
    );
    assert_eq!(db.revision_rows(), [("001".into(), "applied".into())]);
    let r = p.run(&db, &["apply", "--with-backfills"]).ok();
    assert!(r.stdout.contains("apply    002"), "{}", r.stdout);
    assert_each_row_changed_once(&db, rows);
    p.run(&db, &["status", "--exit-code"]).ok();
}
