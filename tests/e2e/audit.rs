//! What the state table remembers about who did what and when: a refresh's latest run, and
//! every revert of a revision (`/health` reflects failing and overdue refreshes).

use crate::harness::{Kind, Project, TestDb, free_port, http};
use crate::on_both;

fn counting_project() -> Project {
    let p = Project::new();
    p.file("001_counts.sql", "CREATE TABLE items (id integer PRIMARY KEY);\nCREATE TABLE item_count (n bigint);\n");
    std::fs::write(
        p.path().join("runner.toml"),
        "[[refresh]]\nname = \"counts\"\nschedule = \"0 0 * * * *\"\ntable = \"item_count\"\nquery = \"SELECT count(*) FROM items\"\n",
    )
    .unwrap();
    p
}

on_both!(status_shows_a_refresh_s_latest_run_not_its_first, |db: &TestDb| {
    let p = counting_project();
    p.run(db, &["apply"]).ok();
    p.run(db, &["refresh", "counts"]).ok();
    let first = p.run(db, &["status", "--json"]).ok().json()["refreshes"][0]["last_run_at"].clone();
    // Not a wait for anything: the clock must move on for the two runs' times to differ.
    std::thread::sleep(std::time::Duration::from_millis(50));
    p.run(db, &["refresh", "counts"]).ok();
    let s = p.run(db, &["status", "--json"]).ok().json();
    let second = &s["refreshes"][0]["last_run_at"];
    assert!(first.is_string() && second.is_string(), "{s}");
    assert!(second.as_str() > first.as_str(), "the second run ({second}) is not later than the first ({first})");
    assert_eq!(s["refreshes"][0]["runs"], 2);
    let progress: serde_json::Value = serde_json::from_str(
        &db.scalar("SELECT progress FROM runner_state WHERE kind = 'refresh' AND name = 'counts'"),
    )
    .unwrap();
    assert!(progress["last_started"].as_str() <= progress["last_finished"].as_str(), "{progress}");
    assert_eq!(progress["last_started"], *second, "{progress}");
});

on_both!(a_revert_keeps_who_applied_it_and_records_every_revert_with_who_and_when, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "-- runner:up\nCREATE TABLE t (id integer);\n-- runner:down\nDROP TABLE t;\n");
    p.run(db, &["apply"]).ok();
    let applied_at = db.scalar("SELECT applied_at FROM runner_state WHERE kind = 'revision' AND name = '001'");
    // Not a wait for anything: the clock must move on for the revert's time to differ.
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.run(db, &["revert"]).ok();
    let show = p.run(db, &["show", "001", "--json"]).ok().json();
    let state = &show["state"];
    assert_eq!(state["status"], "reverted", "{show}");
    assert!(state["reverted_at"].is_string() && state["reverted_by"].is_string(), "{show}");
    assert_ne!(state["reverted_at"], state["applied_at"], "the revert time is not the apply time: {show}");
    assert_eq!(
        db.scalar("SELECT applied_at FROM runner_state WHERE kind = 'revision' AND name = '001'"),
        applied_at,
        "the apply's time was overwritten by the revert"
    );
    p.run(db, &["show", "001"]).ok().stdout_has("State:       reverted at ").stdout_has("(it was applied at ");
    // Again: the audit keeps both reverts, while the revision row holds the latest apply.
    p.run(db, &["apply"]).ok();
    p.run(db, &["revert"]).ok();
    let show = p.run(db, &["show", "001", "--json"]).ok().json();
    assert_eq!(show["reverts"].as_array().map(Vec::len), Some(2), "{show}");
    assert!(show["reverts"][0]["at"].as_str() < show["reverts"][1]["at"].as_str(), "{show}");
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'revert'"), "2");
    p.run(db, &["history", "--verbose"]).ok().stdout_has("state:       reverted at ");
});

#[test]
fn health_is_503_naming_a_refresh_that_keeps_failing_and_is_get_only() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE summary (n bigint);\n");
    std::fs::write(
        p.path().join("runner.toml"),
        "[cron]\nunhealthy_after_failures = 2\n\n[[refresh]]\nname = \"summary\"\nschedule = \"* * * * * *\"\n\
         table = \"summary\"\nquery = \"SELECT count(*) FROM missing_table\"\nretries = 0\n",
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    let port = free_port();
    let child = p
        .command(&db, &["cron", "--for", "10", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut health = None;
    let mut first = None;
    for _ in 0..150 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        match http(port, "GET", "/health") {
            Some(h) if h.contains("\"refreshes_run\":1,") && first.is_none() => first = Some(h),
            Some(h) if h.starts_with("HTTP/1.1 503") => {
                health = Some(h);
                break;
            }
            _ => {}
        }
    }
    let post = http(port, "POST", "/health");
    let metrics = http(port, "GET", "/metrics");
    let _ = child.wait_with_output();
    if let Some(first) = first {
        assert!(first.starts_with("HTTP/1.1 200"), "one failure is within the threshold of two: {first}");
    }
    let health = health.expect("/health never turned unhealthy");
    assert!(health.contains("\"status\":\"unhealthy\"") && health.contains("\"failing\":[\"summary\"]"), "{health}");
    let post = post.expect("no answer to POST");
    assert!(post.starts_with("HTTP/1.1 405") && post.to_lowercase().contains("allow: get"), "{post}");
    let metrics = metrics.expect("no answer on /metrics");
    assert!(
        !metrics.contains("runner_refresh_last_duration_seconds{"),
        "a refresh that never succeeded reports no duration: {metrics}"
    );
}
