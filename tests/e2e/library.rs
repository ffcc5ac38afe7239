//! The embedding API, as an application uses it at start-up.

use crate::harness::{Kind, TestDb, rt};
use crate::lifecycle::scores_project;

#[test]
fn applications_migrate_at_startup_and_read_status() {
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = TestDb::new(kind);
        let p = scores_project();
        rt().block_on(async {
            let mut r = runner::Runner::connect(&db.url).await.unwrap().with_migrations(p.migrations());
            let report = r.apply(runner::Target::Head).await.unwrap();
            assert_eq!(report.steps.iter().map(|s| s.revision.as_str()).collect::<Vec<_>>(), ["001", "002", "003"]);
            let status = r.status().await.unwrap();
            assert!(status.is_up_to_date());
            assert_eq!(status.current, ["003"]);
            let again = r.apply(runner::Target::Head).await.unwrap();
            assert!(again.steps.is_empty());
            let back = r.revert(runner::Target::Steps(1)).await.unwrap();
            assert_eq!(back.steps[0].revision, "003");
            r.close().await;
        });
    }
}

#[test]
fn wrong_urls_fail_with_a_masked_message() {
    rt().block_on(async {
        let e = runner::Runner::connect("postgres://postgres:hunter2@127.0.0.1:1/none").await.err().unwrap();
        assert_eq!(e.exit_code(), runner::ExitCode::Connect);
        let msg = e.to_string();
        assert!(msg.contains("postgres://postgres:***@127.0.0.1:1/none") && !msg.contains("hunter2"), "{msg}");
        let e = runner::Runner::connect("mysql://root:pw@localhost/x").await.err().unwrap();
        assert!(e.to_string().contains("unsupported database URL"), "{e}");
    });
}
