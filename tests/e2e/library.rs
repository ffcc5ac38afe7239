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

/// A read command's runner (`status`, `history`, `--dry-run`, `--sql`) opens a read-only
/// session: it reads everything a status needs, and the database itself refuses a write on it,
/// so no bug in a read path can change the database.
#[test]
fn a_read_only_runner_reads_status_and_the_database_refuses_its_writes() {
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = TestDb::new(kind);
        let p = scores_project();
        rt().block_on(async {
            let settings =
                runner::Settings { migrations_dir: p.migrations(), ..runner::Settings::for_url(&db.url).unwrap() };
            let open = |access| runner::Runner::open(settings.clone(), access);
            let mut writer = open(runner::Access::ReadWrite).await.unwrap();
            writer.apply(runner::Target::Revision("001".into())).await.unwrap();
            writer.close().await;

            let mut reader = open(runner::Access::ReadOnly).await.unwrap();
            let status = reader.status().await.unwrap();
            assert_eq!(status.current, ["001"], "{kind:?}");
            assert_eq!(status.pending.len(), 2, "{kind:?}");
            assert!(reader.plan_apply(&runner::Target::Head, runner::ApplyRules::default()).await.is_ok());
            let refused = reader.apply(runner::Target::Head).await.expect_err("a read-only session cannot apply");
            let msg = refused.to_string().to_lowercase();
            assert!(msg.contains("read-only") || msg.contains("readonly"), "{kind:?}: {msg}");
            reader.close().await;

            let mut after = open(runner::Access::ReadWrite).await.unwrap();
            assert_eq!(after.status().await.unwrap().current, ["001"], "{kind:?}: nothing was applied");
            after.close().await;
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

/// Counts what a deploy told it.
#[derive(Default)]
struct Counted {
    steps: Vec<String>,
    progress_calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ran: Vec<String>,
}

impl runner::DeployObserver for Counted {
    fn steps(&mut self, steps: &[runner::StepDone]) {
        self.steps.extend(steps.iter().map(|s| s.revision.clone()));
    }
    fn progress(&mut self, _name: &str) -> Box<dyn FnMut(&runner::Progress) + Send> {
        let calls = self.progress_calls.clone();
        Box::new(move |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    }
    fn backfill_ran(&mut self, report: &runner::RunReport) {
        self.ran.push(report.name.clone());
    }
}

#[test]
fn applications_deploy_with_backfills_through_the_library() {
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = TestDb::new(kind);
        let p = crate::backfills::items_project(&db, 500, 1);
        p.file("002_contract.sql", "-- requires-backfill: items\nCREATE TABLE contracted (x integer);\n");
        rt().block_on(async {
            let env = std::collections::HashMap::from([("DATABASE_URL".to_string(), db.url.clone())]);
            let over = runner::settings::Overrides { project_dir: Some(p.path().to_path_buf()), ..Default::default() };
            let settings = runner::Settings::resolve(over, &env).unwrap();
            let mut r = runner::Runner::open(settings, runner::Access::ReadWrite).await.unwrap();
            let mut seen = Counted::default();
            let deploy = r
                .apply_with_backfills(
                    runner::Target::Head,
                    Default::default(),
                    runner::BackfillOptions::default(),
                    &mut seen,
                )
                .await
                .unwrap();
            r.close().await;
            assert!(deploy.report.gate.is_none() && deploy.reason.is_none() && deploy.failures.is_empty());
            assert_eq!(seen.steps, ["001", "002"], "the observer saw each revision as it was applied");
            assert_eq!(seen.ran, ["items"]);
            assert!(seen.progress_calls.load(std::sync::atomic::Ordering::Relaxed) > 0);
            assert_eq!(deploy.backfills[0].outcome, runner::Outcome::Completed);
        });
        assert!(db.table_exists("contracted"));
        crate::backfills::assert_each_row_changed_once(&db, 500);
    }
}
