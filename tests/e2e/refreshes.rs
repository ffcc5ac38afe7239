//! Scheduled refreshes: run now, bad configurations named at start-up, the cron loop, replicas.

use crate::harness::{Kind, Project, TestDb, free_port, http, wait_until};
use crate::on_both;

fn entities_project(refresh: &str) -> Project {
    let p = Project::new();
    p.file(
        "001_entities.sql",
        "CREATE TABLE entities (id integer PRIMARY KEY, kind text NOT NULL);\n\
         INSERT INTO entities VALUES (1, 'team'), (2, 'person');\n\
         CREATE MATERIALIZED VIEW entity_counts AS SELECT kind, count(*) AS n FROM entities GROUP BY kind;\n\
         CREATE UNIQUE INDEX entity_counts_kind ON entity_counts (kind);\n\
         CREATE MATERIALIZED VIEW no_index AS SELECT kind FROM entities;\n",
    );
    std::fs::write(p.path().join("runner.toml"), refresh).unwrap();
    p
}

const DOCUMENTED: &str = "[[refresh]]\nname = \"entity_counts\"\nschedule = \"*/5 * * * * *\"\nview = \"entity_counts\"\nconcurrently = true\n";

#[test]
fn a_materialized_view_is_refreshed_concurrently_on_demand() {
    let db = TestDb::new(Kind::Postgres);
    let p = entities_project(DOCUMENTED);
    p.run(&db, &["apply"]).ok();
    db.execute("INSERT INTO entities VALUES (3, 'person')");
    assert_eq!(db.scalar("SELECT n FROM entity_counts WHERE kind = 'person'"), "1");
    p.run(&db, &["refresh", "entity_counts"]).ok().stdout_has("entity_counts: refreshed");
    assert_eq!(db.scalar("SELECT n FROM entity_counts WHERE kind = 'person'"), "2");
    let j = p.run(&db, &["refresh", "--all", "--json"]).ok().json();
    assert_eq!(j[0]["result"]["outcome"], "ok");
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'refresh' AND name = 'entity_counts'"), "ok");
    let s = p.run(&db, &["status", "--json"]).ok().json();
    assert_eq!(s["refreshes"][0]["name"], "entity_counts");
    assert_eq!(s["refreshes"][0]["last_outcome"], "ok");
    assert_eq!(s["refreshes"][0]["runs"], 2);
    assert!(s["refreshes"][0]["next_run"].as_str().is_some());
    p.run(&db, &["status"]).ok().stdout_has("refresh:    entity_counts [*/5 * * * * *] last ok");
}

#[test]
fn bad_refreshes_are_reported_at_start_up_with_their_name() {
    let db = TestDb::new(Kind::Postgres);
    let p = entities_project(&DOCUMENTED.replace("*/5 * * * * *", "every five seconds"));
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["cron", "--for", "1"])
        .fails_with(5)
        .stderr_has("refresh `entity_counts`: invalid schedule `every five seconds`");
    let p = entities_project(&DOCUMENTED.replace("view = \"entity_counts\"", "view = \"nope\""));
    p.run(&db, &["cron", "--for", "1"])
        .fails_with(5)
        .stderr_has("refresh `entity_counts`: no materialized view `nope`");
    let p = entities_project(&DOCUMENTED.replace("view = \"entity_counts\"", "view = \"no_index\""));
    p.run(&db, &["refresh", "--all"])
        .fails_with(5)
        .stderr_has("refresh `entity_counts`: REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index");
    let p = entities_project(&format!(
        "{DOCUMENTED}\n[[refresh]]\nname = \"entity_counts\"\nschedule = \"* * * * * *\"\nview = \"x\"\n"
    ));
    p.run(&db, &["cron", "--for", "1"]).fails_with(5).stderr_has("refresh `entity_counts` is declared twice");
    let sqlite = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    std::fs::write(p.path().join("runner.toml"), DOCUMENTED).unwrap();
    p.run(&sqlite, &["refresh", "--all"]).fails_with(5).stderr_has("SQLite has no materialized views");
}

/// A table rebuilt from a query every second; on PostgreSQL each run also takes a number from
/// a sequence, so runs can be counted independently of runner's own records.
fn summary_project(db: &TestDb) -> Project {
    let p = Project::new();
    let (setup, query) = match db.kind {
        Kind::Postgres => (
            "CREATE TABLE scores (id integer PRIMARY KEY, points integer);\nINSERT INTO scores VALUES (1, 10), (2, 20);\n\
             CREATE SEQUENCE refresh_runs;\nCREATE TABLE score_summary (total bigint, run bigint);\n",
            "SELECT sum(points), nextval('refresh_runs') FROM scores",
        ),
        Kind::Sqlite => (
            "CREATE TABLE scores (id integer PRIMARY KEY, points integer);\nINSERT INTO scores VALUES (1, 10), (2, 20);\n\
             CREATE TABLE score_summary (total integer, run integer);\n",
            "SELECT sum(points), 0 FROM scores",
        ),
    };
    p.file("001_scores.sql", setup);
    std::fs::write(
        p.path().join("runner.toml"),
        format!("[[refresh]]\nname = \"summary\"\nschedule = \"* * * * * *\"\ntable = \"score_summary\"\nquery = \"{query}\"\n"),
    )
    .unwrap();
    p
}

fn ok_slots(db: &TestDb) -> usize {
    db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot' AND status = 'ok'").parse().unwrap()
}

on_both!(a_schedule_every_second_runs_about_once_a_second, |db: &TestDb| {
    let p = summary_project(db);
    p.run(db, &["apply"]).ok();
    let r = p.run(db, &["cron", "--for", "4"]).ok();
    let runs = ok_slots(db);
    // Generous bounds: the point is "about once per slot", not timing.
    assert!((2..=5).contains(&runs), "{runs} runs in 4 s\n{}", r.stderr);
    assert_eq!(db.scalar("SELECT total FROM score_summary"), "30");
    assert_eq!(db.scalar("SELECT count(*) FROM score_summary"), "1");
});

// A refresh whose SQL is wrong fails the same way every time: it is recorded failed after one
// attempt, not retried `retries` times with back-off in between (what may succeed later, a lost
// connection or a deadlock, still is: see `DbError::may_succeed_later`).
on_both!(a_refresh_with_bad_sql_is_not_retried, |db: &TestDb| {
    let p = summary_project(db);
    p.run(db, &["apply"]).ok();
    let config = std::fs::read_to_string(p.path().join("runner.toml")).unwrap();
    std::fs::write(
        p.path().join("runner.toml"),
        config.replace("sum(points)", "sum(no_such_column)") + "retries = 3\n",
    )
    .unwrap();
    let r = p.run(db, &["refresh", "summary", "--json"]);
    let progress: serde_json::Value = serde_json::from_str(
        &db.scalar("SELECT progress FROM runner_state WHERE kind = 'refresh' AND name = 'summary'"),
    )
    .unwrap();
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'refresh' AND name = 'summary'"), "failed");
    assert_eq!(progress["attempts"], 1, "{progress}\n{}", r.stderr);
    assert!(!r.stderr.contains("retrying"), "{}", r.stderr);
});

on_both!(three_replicas_run_each_slot_once, |db: &TestDb| {
    let p = summary_project(db);
    p.run(db, &["apply"]).ok();
    let spawn = || {
        p.command(db, &["cron", "--for", "4"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let replicas = [spawn(), spawn(), spawn()];
    for c in replicas {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let slots = ok_slots(db);
    assert!((2..=6).contains(&slots), "{slots} slots run");
    let progress: serde_json::Value = serde_json::from_str(
        &db.scalar("SELECT progress FROM runner_state WHERE kind = 'refresh' AND name = 'summary'"),
    )
    .unwrap();
    assert_eq!(progress["runs"].as_u64().unwrap() as usize, slots, "more runs than slots: {progress}");
    if db.kind == Kind::Postgres {
        // The database's own count of runs agrees: no slot ran twice.
        assert_eq!(db.scalar("SELECT last_value FROM refresh_runs"), slots.to_string());
    }
});

#[test]
fn a_replica_killed_mid_refresh_does_not_block_the_next_slots() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE slow_summary (x integer);\n");
    std::fs::write(
        p.path().join("runner.toml"),
        "[[refresh]]\nname = \"slow\"\nschedule = \"* * * * * *\"\ntable = \"slow_summary\"\nquery = \"SELECT 1 FROM pg_sleep(2)\"\nretries = 0\n",
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    let mut victim = p
        .command(&db, &["cron"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is inside a refresh (a slot claimed and running), then kill it.
    let started = std::time::Instant::now();
    while db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot' AND status = 'running'") == "0" {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the victim never started a refresh");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
    // Another replica carries on: later slots run and complete.
    p.run(&db, &["cron", "--for", "6"]).ok();
    let ok: usize =
        db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot' AND status = 'ok'").parse().unwrap();
    assert!(ok >= 1, "no slot completed after the kill");
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'refresh' AND name = 'slow'"), "ok");
}

#[test]
fn cron_serves_health_and_prometheus_metrics() {
    let db = TestDb::new(Kind::Sqlite);
    let p = summary_project(&db);
    p.run(&db, &["apply"]).ok();
    let port = free_port();
    let child = p
        // Long enough that /health is still served after /metrics first shows a run, on a
        // loaded machine (with 4 s, the process could be gone before /health was asked).
        .command(&db, &["cron", "--for", "10", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut metrics = String::new();
    // Generous: under a loaded machine the process may take seconds to start listening.
    for _ in 0..150 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        match http(port, "GET", "/metrics") {
            // Every refresh's series exist from the start (0 runs); wait for the first success.
            Some(m) if m.contains("runner_refresh_last_success_timestamp_seconds{refresh=\"summary\"}") => {
                metrics = m;
                break;
            }
            _ => {}
        }
    }
    // The server is up now (it answered /metrics).
    let health = http(port, "GET", "/health");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let health = health.expect("no answer on /health");
    assert!(health.starts_with("HTTP/1.1 200") && health.contains("\"status\":\"ok\""), "{health}");
    assert!(metrics.contains("# TYPE runner_refresh_failures_total counter"), "{metrics}");
    assert!(metrics.contains("runner_refresh_runs_total{refresh=\"summary\"}"), "{metrics}");
}

/// Records the bodies POSTed to it.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some((_, body)) = text.split_once("\r\n\r\n") {
                sink.lock().unwrap().push(body.to_string());
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn webhooks_announce_failure_and_recovery_and_a_dead_receiver_blocks_nothing() {
    let db = TestDb::new(Kind::Postgres);
    let (url, got) = webhook_receiver();
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE summary (n bigint);\n");
    let config = |hook: &str| {
        format!(
            "[cron]\nwebhook_url = \"{hook}\"\nwebhook_timeout_secs = 1\nwebhook_retries = 1\n\n[[refresh]]\nname = \"summary\"\nschedule = \"* * * * * *\"\ntable = \"summary\"\nquery = \"SELECT count(*) FROM source_table\"\nretries = 0\n"
        )
    };
    std::fs::write(p.path().join("runner.toml"), config(&url)).unwrap();
    p.run(&db, &["apply"]).ok();
    // The source table does not exist yet: runs fail. Create it half-way: the refresh recovers.
    let child = p
        .command(&db, &["cron", "--for", "5"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let notices = || got.lock().unwrap().len();
    wait_until(std::time::Duration::from_secs(5), "the failure notice", || notices() >= 1);
    db.execute("CREATE TABLE source_table (x integer)");
    assert!(child.wait_with_output().unwrap().status.success());
    // The receiver records a body after the runner has had its answer.
    wait_until(std::time::Duration::from_secs(5), "the recovery notice", || notices() >= 2);
    let events: Vec<serde_json::Value> = got.lock().unwrap().iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["failure", "recovery"], "one notice per transition: {events:?}");
    assert!(events[0]["error"].as_str().unwrap().contains("source_table"), "{events:?}");

    // A receiver that is down: the schedule runs on regardless.
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    std::fs::write(p.path().join("runner.toml"), config(&dead)).unwrap();
    db.execute("DROP TABLE source_table");
    let before: usize = db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot'").parse().unwrap();
    p.run(&db, &["cron", "--for", "4"]).ok();
    let after: usize = db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot'").parse().unwrap();
    assert!(after - before >= 2, "slots stopped while webhooks failed: {}", after - before);
}

on_both!(a_plugin_computes_a_summary_table_on_each_refresh, |db: &TestDb| {
    let p = Project::new();
    p.file(
        "001_scores.sql",
        "CREATE TABLE scores (id integer PRIMARY KEY, points integer);\nINSERT INTO scores VALUES (1, 1500), (2, 10);\n\
         CREATE TABLE score_bands (score_id integer PRIMARY KEY, band text NOT NULL);\n",
    );
    p.backfill(
        "bands_table",
        &format!(
            "plugin = \"{}\"\nrole = \"refresh\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\"]\n[target]\ntable = \"score_bands\"\nkey = [\"score_id\"]\n",
            crate::harness::plugin("score_band_table").display()
        ),
    );
    std::fs::write(
        p.path().join("runner.toml"),
        "[[refresh]]\nname = \"bands\"\nschedule = \"0 0 * * * *\"\nplugin = \"bands_table\"\n",
    )
    .unwrap();
    p.run(db, &["apply"]).ok();
    p.run(db, &["refresh", "bands"]).ok().stdout_has("bands: refreshed");
    assert_eq!(db.scalar("SELECT band FROM score_bands WHERE score_id = 1"), "gold");
    db.execute("INSERT INTO scores VALUES (3, NULL)");
    db.execute("UPDATE scores SET points = 5 WHERE id = 1");
    p.run(db, &["refresh", "bands"]).ok().stdout_has("3 rows");
    assert_eq!(db.scalar("SELECT string_agg(band, ',' ORDER BY score_id) FROM score_bands"), "silver,silver,unranked");
    // A manifest of another role is refused at start-up, with the refresh's name.
    p.backfill(
        "bands_table",
        &std::fs::read_to_string(p.path().join("backfills/bands_table.toml"))
            .unwrap()
            .replace("role = \"refresh\"", "role = \"backfill\""),
    );
    p.run(db, &["refresh", "--all"])
        .fails_with(5)
        .stderr_has("refresh `bands`: manifest `bands_table` must have role = \"refresh\"");
});

#[test]
fn a_refresh_waits_for_its_revision_and_sigterm_stops_cron_cleanly() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE src (x integer);\nINSERT INTO src VALUES (1);\n")
        .file("002_b.sql", "CREATE TABLE dst (n integer);\n");
    std::fs::write(
        p.path().join("runner.toml"),
        "[[refresh]]\nname = \"copy\"\nschedule = \"* * * * * *\"\ntable = \"dst\"\nquery = \"SELECT count(*) FROM src\"\nrequires = \"002\"\n",
    )
    .unwrap();
    p.run(&db, &["apply", "--to", "001"]).ok();
    p.run(&db, &["refresh", "copy"]).ok().stdout_has("copy: waiting for revision 002");
    p.run(&db, &["apply"]).ok();
    let child = p
        .command(&db, &["cron"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot' AND status = 'ok'") == "0" {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "cron never ran the refresh");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cron stopped after"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(db.scalar("SELECT n FROM dst"), "1");
}

on_both!(a_missed_slot_runs_once_within_its_grace_window_or_is_skipped, |db: &TestDb| {
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE hourly (n integer);\n");
    let config = |missed: &str| {
        format!(
            "[[refresh]]\nname = \"hourly\"\nschedule = \"0 0 * * * *\"\ntable = \"hourly\"\nquery = \"SELECT 1\"\nmissed = \"{missed}\"\ngrace_secs = 7200\n"
        )
    };
    p.run(db, &["apply"]).ok();
    // Skip (the default policy): the hour's slot passed while no runner was up; nothing runs now.
    // (Should these 2 s straddle the top of an hour, a live slot would run: a 1-in-1800 chance.)
    std::fs::write(p.path().join("runner.toml"), config("skip")).unwrap();
    p.run(db, &["cron", "--for", "2"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot'"), "0");
    // Run once: the latest missed slot (this hour's, within two hours) runs once at start-up.
    std::fs::write(p.path().join("runner.toml"), config("run-once")).unwrap();
    p.run(db, &["cron", "--for", "2"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot' AND status = 'ok'"), "1");
    // A second start within the window finds the slot claimed: still once.
    p.run(db, &["cron", "--for", "2"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot'"), "1");
});

on_both!(slot_rows_are_pruned_as_a_schedule_runs, |db: &TestDb| {
    // Before, every slot stayed: a 2-second schedule added 43,200 rows a day.
    let p = summary_project(db);
    let toml = std::fs::read_to_string(p.path().join("runner.toml")).unwrap();
    std::fs::write(p.path().join("runner.toml"), format!("{toml}grace_secs = 0\n")).unwrap();
    p.run(db, &["apply"]).ok();
    p.run(db, &["cron", "--for", "7"]).ok();
    let runs: u64 = serde_json::from_str::<serde_json::Value>(
        &db.scalar("SELECT progress FROM runner_state WHERE kind = 'refresh' AND name = 'summary'"),
    )
    .unwrap()["runs"]
        .as_u64()
        .unwrap();
    let slots: u64 = db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'refresh-slot'").parse().unwrap();
    assert!(runs >= 5, "{runs} runs");
    assert!(slots <= 4, "{slots} slot rows kept after {runs} runs");
});

#[test]
fn a_webhook_redirect_is_a_failed_delivery_and_sends_nothing_on() {
    // Before, a 307 re-sent the event, error text included, to wherever it pointed.
    let db = TestDb::new(Kind::Sqlite);
    let (elsewhere, got) = webhook_receiver();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.read(&mut [0u8; 8192]);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = s.write_all(answer.as_bytes());
        }
    });
    let p = Project::new();
    p.file("001_t.sql", "CREATE TABLE summary (n bigint);\n");
    std::fs::write(
        p.path().join("runner.toml"),
        format!("[cron]\nwebhook_url = \"{hook}\"\nwebhook_timeout_secs = 1\nwebhook_retries = 2\n\n[[refresh]]\nname = \"summary\"\nschedule = \"* * * * * *\"\ntable = \"summary\"\nquery = \"SELECT count(*) FROM missing_table\"\nretries = 0\n"),
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    let mut child = p
        .command(&db, &["cron", "--for", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    for line in std::io::BufRead::lines(stderr).map_while(Result::ok) {
        said.push_str(&line);
        said.push('\n');
        if line.contains("webhook not delivered") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(said.contains("answered with a redirect, which runner does not follow"), "{said}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1, "a redirect is not retried");
    assert!(got.lock().unwrap().is_empty(), "the event went on to the redirect's target");
}

#[test]
fn idle_connections_to_the_endpoint_cannot_take_cron_s_file_handles() {
    // Before, every idle connection held a file handle for 5 s: 300 of them used up the
    // process's handles, a refresh failed to open what it needed, and cron exited 1.
    let db = TestDb::new(Kind::Postgres);
    let p = summary_project(&db);
    p.run(&db, &["apply"]).ok();
    let port = free_port();
    let cmd = p.command(&db, &["cron", "--for", "12", "--listen", &format!("127.0.0.1:{port}")]);
    // The same command under a small handle limit.
    let mut limited = std::process::Command::new("sh");
    limited
        .arg("-c")
        .arg("ulimit -n 100 && exec \"$0\" \"$@\"")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = limited.spawn().unwrap();
    wait_until(std::time::Duration::from_secs(30), "the endpoint", || http(port, "GET", "/metrics").is_some());
    let idle: Vec<std::net::TcpStream> =
        (0..300).filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    let before = ok_slots(&db);
    wait_until(std::time::Duration::from_secs(30), "refreshes to go on beside 300 idle connections", || {
        ok_slots(&db) >= before + 2
    });
    wait_until(std::time::Duration::from_secs(30), "/health to answer beside them", || {
        http(port, "GET", "/health").is_some_and(|h| h.starts_with("HTTP/1.1 200"))
    });
    drop(idle);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_database_error_in_one_slot_is_logged_counted_and_the_next_slot_runs() {
    // Before, any database error in a slot (claiming it, recording it) ended the whole process.
    let db = TestDb::new(Kind::Postgres);
    let p = summary_project(&db);
    p.run(&db, &["apply"]).ok();
    let port = free_port();
    let child = p
        .command(&db, &["cron", "--for", "30", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(std::time::Duration::from_secs(30), "a first slot", || ok_slots(&db) >= 1);
    // Cut every connection cron holds, again and again, until one slot has failed for it.
    let errors = || {
        http(port, "GET", "/metrics")
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("runner_cron_slot_errors_total{refresh=\"summary\"} "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    wait_until(std::time::Duration::from_secs(25), "a slot to fail on a cut connection", || {
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'runner%' AND pid <> pg_backend_pid()",
        );
        errors() >= 1.0
    });
    let after_error = ok_slots(&db);
    wait_until(std::time::Duration::from_secs(25), "later slots to run", || ok_slots(&db) > after_error);
    let stderr = {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "cron ended on a slot's error:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(stderr.contains("the slot failed; cron goes on with the next one"), "{stderr}");
}
