//! The sample project and the examples apply and revert cleanly, so the README never lies.

use crate::harness::{Kind, TestDb};
use crate::on_both;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn runner(dir: PathBuf, db: &TestDb, args: &[&str]) -> crate::harness::Run {
    crate::harness::Run::from(
        std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
            .arg("-C")
            .arg(dir)
            .args(args)
            .arg("--database-url")
            .arg(&db.url)
            .output()
            .unwrap(),
    )
}

on_both!(the_sample_project_round_trips, |db: &TestDb| {
    let before = db.schema_snapshot();
    crate::harness::plugin("score_band"); // builds the plugins the sample's backfill uses
    // Plain apply stops at the contract revision, which waits for the backfill.
    runner(repo(), db, &["apply"])
        .fails_with(3)
        .stdout_has("stopped before revision `20261101090500`: it requires backfill `score_bands`");
    let r = runner(repo(), db, &["apply", "--with-backfills"]).ok();
    assert!(
        r.stdout.contains("backfill score_bands: completed; 3 rows") && r.stdout.contains("apply    20261101090500"),
        "{}",
        r.stdout
    );
    assert_eq!(db.scalar("SELECT max(points) FROM scores"), "1350");
    assert_eq!(db.scalar("SELECT band FROM scores WHERE points = 1350"), "gold");
    runner(repo(), db, &["revert", "--to", "base"]).ok();
    assert_eq!(db.schema_snapshot(), before);
});

#[test]
fn the_postgres_entities_example_round_trips() {
    let db = TestDb::new(Kind::Postgres);
    let dir = repo().join("examples/entities-postgres");
    runner(dir.clone(), &db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT entity_path(id) FROM entities WHERE kind = 'person'"), "Acme / Platform / O'Brien");
    assert_eq!(db.scalar("SELECT entities FROM entity_counts WHERE kind = 'team'"), "1");
    runner(dir.clone(), &db, &["revert", "--to", "base"]).ok();
    assert!(db.schema_snapshot().is_empty(), "{:?}", db.schema_snapshot());
}

on_both!(the_sqlx_adoption_example, |db: &TestDb| {
    let dir = repo().join("examples/adopt-sqlx");
    db.execute("CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL)");
    db.execute("CREATE UNIQUE INDEX users_email ON users (email)");
    runner(dir.clone(), db, &["stamp", "20240102000000"]).ok();
    runner(dir, db, &["apply"]).ok().stdout_has("apply    20240103000000");
    assert!(db.table_exists("orders"));
});
