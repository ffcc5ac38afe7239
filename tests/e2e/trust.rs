//! Trust: a hostile plugin and awkward tables against the backfill engine, on real databases.
//! Each test is named after the promise it holds the engine to, and each failed before its fix.

use crate::harness::{Kind, Project, TestDb, plugin};
use crate::on_both;
use std::io::BufRead;
use std::time::{Duration, Instant};

/// `t` (key `id` of `key_type`, `cmd`, `n`, `url` for the probe, `out`) and a probe manifest.
fn probe_project(db: &TestDb, key_type: &str, rows_sql: &str, extra: &str) -> Project {
    let p = Project::new();
    p.file(
        "001_t.sql",
        &format!(
            "CREATE TABLE t (id {key_type}, cmd text NOT NULL DEFAULT 'noop', n bigint, url text, out text);\n{rows_sql}\n"
        ),
    );
    p.backfill("fill", &probe_manifest("t", extra));
    let _ = db;
    p
}

fn probe_manifest(table: &str, extra: &str) -> String {
    format!(
        "plugin = \"{}\"\nrequires = \"001\"\n\n[source]\ntable = \"{table}\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\", \"url\"]\nfilter = \"out IS NULL\"\n\n[batch]\nsize = 7\nmin_size = 7\nmax_size = 7\n{extra}",
        plugin("probe").display()
    )
}

/// Rows `1..=n` as `(id, 'noop')`, in a way both databases take.
fn numbered(kind: Kind, n: usize) -> String {
    match kind {
        Kind::Postgres => format!("INSERT INTO t (id) SELECT g FROM generate_series(1, {n}) g;"),
        Kind::Sqlite => format!(
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {n}) INSERT INTO t (id) SELECT x FROM g;"
        ),
    }
}

on_both!(numeric_keys_are_paged_in_numeric_order_and_every_row_is_done, |db: &TestDb| {
    // Before, a numeric key was ordered by its text ('10' < '9') but compared as a number, and
    // rows were skipped while the backfill reported `completed`.
    let p = probe_project(db, "numeric(12,2) PRIMARY KEY", &numbered(db.kind, 200), "");
    p.run(db, &["apply", "--with-backfills"]).ok().stdout_has("backfill fill: completed; 200 rows");
    assert_eq!(db.scalar("SELECT count(*) FROM t WHERE out = 'ok'"), "200");
});

on_both!(text_keys_under_their_collation_and_composite_keys_are_paged_completely, |db: &TestDb| {
    let p = Project::new();
    let rows = match db.kind {
        Kind::Postgres => {
            "INSERT INTO t (a, b) SELECT chr(65 + (g % 26)) || lower(chr(65 + (g % 7))) || g, g % 3 FROM generate_series(1, 300) g;"
        }
        Kind::Sqlite => {
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 300) INSERT INTO t (a, b) SELECT char(65 + (x % 26)) || lower(char(65 + (x % 7))) || x, x % 3 FROM g;"
        }
    };
    p.file(
        "001_t.sql",
        &format!("CREATE TABLE t (a text NOT NULL, b integer NOT NULL, cmd text NOT NULL DEFAULT 'noop', n bigint, url text, out text, PRIMARY KEY (a, b));\n{rows}\n"),
    );
    p.backfill("fill", &probe_manifest("t", "").replace("key = [\"id\"]", "key = [\"a\", \"b\"]"));
    p.run(db, &["apply", "--with-backfills"]).ok().stdout_has("completed; 300 rows");
    assert_eq!(db.scalar("SELECT count(*) FROM t WHERE out IS NULL"), "0");
});

on_both!(a_key_that_may_be_null_is_refused_before_anything_is_written, |db: &TestDb| {
    let p = probe_project(
        db,
        "integer UNIQUE",
        &format!("{}\nINSERT INTO t (id) VALUES (NULL);", numbered(db.kind, 20)),
        "",
    );
    p.run(db, &["apply"]).ok();
    p.run(db, &["backfill", "run", "fill"]).fails_with(5).stderr_has("column `id` of `t` may be NULL");
    assert_eq!(db.scalar("SELECT count(*) FROM t WHERE out IS NOT NULL"), "0");
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind LIKE 'backfill%'"), "0");
});

on_both!(a_key_that_is_not_unique_is_refused_before_anything_is_written, |db: &TestDb| {
    // Before, 500 of 1,000 rows got another row's value.
    let p = probe_project(db, "integer NOT NULL", &format!("{}\n{}", numbered(db.kind, 20), numbered(db.kind, 20)), "");
    p.run(db, &["apply"]).ok();
    p.run(db, &["backfill", "run", "fill"]).fails_with(5).stderr_has("(id) of `t` is not unique");
    assert_eq!(db.scalar("SELECT count(*) FROM t WHERE out IS NOT NULL"), "0");
});

#[test]
fn sqlite_rowid_is_a_key() {
    let db = TestDb::new(Kind::Sqlite);
    let p = probe_project(&db, "integer", &numbered(db.kind, 30), "");
    p.backfill("fill", &probe_manifest("t", "").replace("key = [\"id\"]", "key = [\"rowid\"]"));
    p.run(&db, &["apply", "--with-backfills"]).ok().stdout_has("completed; 30 rows");
    assert_eq!(db.scalar("SELECT count(*) FROM t WHERE out = 'ok'"), "30");
}

on_both!(a_backfill_whose_rows_still_match_its_filter_is_never_completed, |db: &TestDb| {
    // The plugin leaves every third row as it is, so the filter keeps matching them. Before,
    // the backfill said `completed` and a revision gated on it ran on unfinished data.
    let p = probe_project(db, "integer PRIMARY KEY", &numbered(db.kind, 30), "");
    p.file("002_gated.sql", "-- requires-backfill: fill\nCREATE TABLE contracted (x integer);\n");
    p.run(db, &["apply"]).fails_with(3);
    db.execute("UPDATE t SET cmd = 'skip' WHERE id % 3 = 0");
    let r = p.run(db, &["apply", "--with-backfills"]);
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("10 rows up to the backfill's upper bound still match its filter"), "{}", r.stderr);
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'backfill' AND name = 'fill'"), "failed");
    assert!(!db.table_exists("contracted"), "the gated revision ran on unfinished data");
});

/// Starts `backfill run` and waits until the probe says it is sleeping inside the plugin.
fn run_until_plugin_sleeps(p: &Project, db: &TestDb) -> std::process::Child {
    let mut child = p
        .command(db, &["backfill", "run", "fill", "--log-level", "info"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("probe sleeping") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120)).expect("the plugin started sleeping");
    child
}

on_both!(a_row_the_application_changes_while_the_plugin_runs_is_computed_again_not_overwritten, |db: &TestDb| {
    // Row 1 asks the plugin to sleep; meanwhile the application changes it to `noop`. Before,
    // the plugin's stale result ("slept") overwrote the change; now the batch finds the row
    // changed, reads it again, and the plugin computes from what the application wrote.
    let p = probe_project(
        db,
        "integer PRIMARY KEY",
        &numbered(db.kind, 5),
        "\n[limits]\nplugin_timeout_ms = 60000\n\n[capabilities]\nlog = true\n",
    );
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE t SET cmd = 'log-sleep', n = 1500 WHERE id = 1");
    let mut child = run_until_plugin_sleeps(&p, db);
    db.execute("UPDATE t SET cmd = 'noop', n = 0 WHERE id = 1");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(db.scalar("SELECT out FROM t WHERE id = 1"), "ok", "the plugin's stale result overwrote the change");
    assert_eq!(db.scalar("SELECT count(*) FROM t WHERE out = 'ok'"), "5");
});

/// A table of hostile lookups: each row's `url` is SQL the plugin passes to `lookup`.
fn lookup_project(db: &TestDb, queries: &[&str], extra: &str) -> Project {
    let values: Vec<String> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| format!("({}, 'lookup-sql', '{}')", i + 1, q.replace('\'', "''")))
        .collect();
    let p = Project::new();
    p.file(
        "001_t.sql",
        &format!(
            "CREATE TABLE t (id integer PRIMARY KEY, cmd text NOT NULL, n bigint, url text, out text);\nCREATE TABLE secrets (s text);\nINSERT INTO secrets VALUES ('keep');\nINSERT INTO t (id, cmd, url) VALUES {};\n",
            values.join(", ")
        ),
    );
    p.backfill("fill", &probe_manifest("t", &format!("{extra}\n[capabilities]\nlookup = true\n")));
    reader_for_lookups(db, &p);
    p
}

/// On PostgreSQL, lookups through a role of their own that may only read (`lookup_url`).
fn reader_for_lookups(db: &TestDb, p: &Project) {
    if db.kind == Kind::Postgres {
        let (_, url) = db.role("reader", "");
        std::fs::write(p.path().join("runner.toml"), format!("lookup_url = \"{url}\"\n")).unwrap();
    }
}

#[test]
fn a_lookup_cannot_write_escape_its_transaction_or_reach_the_server_on_postgres() {
    let db = TestDb::new(Kind::Postgres);
    let hostile = [
        "SET default_transaction_read_only = off",
        "SELECT 1; DELETE FROM secrets",
        "WITH d AS (DELETE FROM secrets RETURNING 1) SELECT * FROM d",
        "COPY (SELECT 1) TO PROGRAM 'touch /tmp/runner-lookup-pwned'",
        "BEGIN READ WRITE",
        "SELECT * FROM secrets FOR UPDATE",
        "INSERT INTO secrets VALUES ('x') RETURNING s",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "LOCK TABLE secrets",
    ];
    let p = lookup_project(&db, &hostile, "");
    p.run(&db, &["apply", "--with-backfills"]).ok().stdout_has("completed");
    let outs: Vec<String> =
        db.query("SELECT out FROM t ORDER BY id").into_iter().map(|r| r[0].clone().unwrap_or_default()).collect();
    for (q, out) in hostile.iter().zip(&outs) {
        // `set_config` runs, but only inside the host's read-only transaction, rolled back.
        if q.starts_with("SELECT set_config") {
            continue;
        }
        assert!(out.starts_with("lookup error:"), "{q}: {out}");
    }
    assert_eq!(db.scalar("SELECT string_agg(s, ',') FROM secrets"), "keep");
    assert!(!std::path::Path::new("/tmp/runner-lookup-pwned").exists());
    // Nothing the plugin set or held survived into another lookup or blocks anyone.
    // (This database's sessions only: other tests run at the same time on the same server.)
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'"
        ),
        "0"
    );
}

#[test]
fn a_lookup_within_its_time_limit_answers_and_one_over_it_fails_the_batch() {
    let db = TestDb::new(Kind::Postgres);
    let p = lookup_project(&db, &["SELECT pg_sleep(0.01)::text"], "\n[limits]\nlookup_timeout_ms = 2000\n");
    p.run(&db, &["apply", "--with-backfills"]).ok();
    assert!(db.scalar("SELECT out FROM t WHERE id = 1").starts_with("1 rows"));
    // Before, a lookup of pg_sleep(20) ran 20 s per attempt, whatever the limits said.
    let db = TestDb::new(Kind::Postgres);
    let p =
        lookup_project(&db, &["SELECT pg_sleep(30)::text"], "\n[limits]\nlookup_timeout_ms = 200\nmax_attempts = 1\n");
    let started = Instant::now();
    p.run(&db, &["apply", "--with-backfills"])
        .fails_with(1)
        .stderr_has("a lookup could not be answered: the query took longer than its limit of 200ms");
    assert!(started.elapsed() < Duration::from_secs(30), "the lookup ran to its end");
}

#[test]
fn a_lookup_cannot_write_or_attach_on_sqlite() {
    let db = TestDb::new(Kind::Sqlite);
    let attached = std::env::temp_dir().join(format!("runner-attach-{}.db", std::process::id()));
    let attach = format!("ATTACH '{}' AS x", attached.display());
    let hostile = [
        "PRAGMA query_only = OFF",
        "SELECT 1); DELETE FROM secrets; --",
        attach.as_str(),
        "DELETE FROM secrets RETURNING s",
        "SELECT * FROM secrets; DELETE FROM secrets",
    ];
    let p = lookup_project(&db, &hostile, "");
    p.run(&db, &["apply", "--with-backfills"]).ok().stdout_has("completed");
    for r in db.query("SELECT url, out FROM t ORDER BY id") {
        let out = r[1].clone().unwrap_or_default();
        assert!(out.starts_with("lookup error:"), "{:?}: {out}", r[0]);
    }
    assert_eq!(db.scalar("SELECT group_concat(s) FROM secrets"), "keep");
    assert!(!attached.exists(), "ATTACH created a file");
}

on_both!(a_backfill_name_with_an_underscore_touches_only_its_own_ranges, |db: &TestDb| {
    // `_` was a LIKE wildcard over chunk names: `fill_1` took `fill11`'s ranges and its reset
    // deleted them.
    let p = probe_project(db, "integer PRIMARY KEY", &numbered(db.kind, 20), "");
    std::fs::remove_file(p.path().join("backfills/fill.toml")).unwrap();
    p.backfill("fill_1", &probe_manifest("t", "")).backfill("fill11", &probe_manifest("t", ""));
    p.run(db, &["apply"]).ok();
    p.run(db, &["backfill", "run", "fill11", "--max-batches", "1"]).ok();
    let theirs = "SELECT count(*) FROM runner_state WHERE kind = 'backfill-chunk' AND name LIKE 'fill11/%'";
    let before = db.scalar(theirs);
    assert_ne!(before, "0");
    p.run(db, &["backfill", "run", "fill_1"]).ok().stdout_has("completed");
    p.run(db, &["backfill", "reset", "fill_1", "--confirm"]).ok();
    assert_eq!(db.scalar(theirs), before, "fill_1 touched fill11's ranges");
    p.run(db, &["backfill", "run", "fill11"]).ok().stdout_has("completed");
});

#[test]
fn a_refresh_empties_its_own_quoted_table_and_no_other() {
    // Before, target `ScoreBands` ran `DELETE FROM ScoreBands`, which is `scorebands`.
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file(
        "001_t.sql",
        "CREATE TABLE \"ScoreBands\" (n integer);\nCREATE TABLE scorebands (n integer);\nINSERT INTO scorebands VALUES (1), (2);\n",
    );
    std::fs::write(
        p.path().join("runner.toml"),
        "[[refresh]]\nname = \"bands\"\nschedule = \"@hourly\"\ntable = \"ScoreBands\"\nquery = \"SELECT 7\"\n",
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["refresh", "bands"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM scorebands"), "2", "an unrelated table was emptied");
    assert_eq!(db.scalar("SELECT n FROM \"ScoreBands\""), "7");
}

on_both!(a_refresh_on_a_database_without_a_state_table_is_recorded, |db: &TestDb| {
    // Before, the refresh committed and then its record failed: no state table.
    let p = Project::new();
    std::fs::remove_dir(p.migrations()).unwrap();
    db.execute("CREATE TABLE summary (n integer)");
    std::fs::write(
        p.path().join("runner.toml"),
        "[[refresh]]\nname = \"s\"\nschedule = \"@hourly\"\ntable = \"summary\"\nquery = \"SELECT 1\"\n",
    )
    .unwrap();
    p.run(db, &["refresh", "s"]).ok();
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'refresh' AND name = 's'"), "ok");
});

on_both!(a_plugins_huge_error_message_is_bounded_in_the_log_and_state_table, |db: &TestDb| {
    let p = probe_project(db, "integer PRIMARY KEY", &numbered(db.kind, 3), "\n[limits]\nmax_attempts = 1\n");
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE t SET cmd = 'fail-big', n = 4000000 WHERE id = 2");
    let r = p.run(db, &["backfill", "run", "fill"]).fails_with(1);
    assert!(r.stderr.len() < 40_000, "{} bytes of stderr", r.stderr.len());
    let error = db.scalar("SELECT error FROM runner_state WHERE kind = 'backfill' AND name = 'fill'");
    assert!(error.len() < 10_000 && error.contains("bytes in all; cut"), "{} bytes: {}", error.len(), &error[..200]);
});

#[test]
fn passwords_never_reach_output_in_any_url_form() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    let status = |url: &str| p.run_bare(&["status", "--database-url", url]);
    for (url, secret) in [
        ("postgres://app:pa/ss#w?rd@127.0.0.1:1/db", "pa/ss#w?rd"),
        ("postgres://app:hunter2@127.0.0.1:1/db", "hunter2"),
        ("host=127.0.0.1 port=1 user=app password=s3cr3t dbname=db", "s3cr3t"),
        ("host=127.0.0.1 port=1 user=app password='with space' dbname=db", "with space"),
    ] {
        let r = status(url);
        assert_ne!(r.code, 0);
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "{url}:\n{}\n{}", r.stdout, r.stderr);
    }
    // The keyword form is accepted: it names the database runner then works on.
    let base = db.url.trim_start_matches("postgres://");
    let (userhost, name) = base.rsplit_once('/').unwrap();
    let (user, hostport) = userhost.split_once('@').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    let keywords = format!("host={host} port={port} user={user} dbname={name}");
    status(&keywords).ok().stdout_has("database:   postgres://");
}

/// A project whose first revision keeps the database busy for `secs`, then creates `second`.
fn slow_then_second(secs: u32) -> Project {
    let p = Project::new();
    p.file("001_slow.sql", &format!("SELECT pg_sleep({secs});\n"));
    p.file("002_second.sql", "CREATE TABLE second (x integer);\n");
    p
}

#[test]
fn the_runner_lock_survives_a_server_that_ends_idle_sessions() {
    // Before, the lock's idle connection was closed by the server after 1 s and a second runner
    // could take the lock while the first was still applying.
    let db = TestDb::new(Kind::Postgres);
    db.execute(&format!("ALTER DATABASE {} SET idle_session_timeout = '1s'", db.name));
    let p = slow_then_second(3);
    p.run(&db, &["apply"]).ok();
    assert!(db.table_exists("second"));
}

#[test]
fn a_runner_that_loses_its_lock_stops_before_the_next_revision() {
    let db = TestDb::new(Kind::Postgres);
    let p = slow_then_second(3);
    let child = p
        .command(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let handle = std::thread::spawn(move || child.wait_with_output());
    // Once the lock is held, end its session, as an operator's pg_terminate_backend would.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.advisory_locks() == 0 {
        assert!(Instant::now() < deadline, "the runner never took its lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    db.execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = '{}')",
        db.name
    ));
    let r = crate::harness::Run::from(handle.join().unwrap().unwrap());
    let r = r.fails_with(4).stderr_has("lost the runner lock");
    assert!(!db.table_exists("second"), "it went on after losing the lock:\n{}", r.stdout);
}

#[test]
fn a_lookup_answer_is_bounded_in_rows() {
    // Before, a plugin could have the host hold any number of rows for it.
    let db = TestDb::new(Kind::Postgres);
    let p = lookup_project(
        &db,
        &["SELECT g::text FROM generate_series(1, 10000) g", "SELECT g::text FROM generate_series(1, 20000) g"],
        "",
    );
    p.run(&db, &["apply", "--with-backfills"]).ok();
    assert!(db.scalar("SELECT out FROM t WHERE id = 1").starts_with("10000 rows"));
    let over = db.scalar("SELECT out FROM t WHERE id = 2");
    assert!(over.contains("more than 10000 rows"), "{over}");
}

on_both!(a_manifest_that_names_runner_s_state_table_is_refused_before_anything_runs, |db: &TestDb| {
    // Before, a plugin whose target was the state table marked the backfill a contract revision
    // waits for `completed`, and `apply` then ran that revision over rows never filled.
    let p = probe_project(db, "integer PRIMARY KEY", &numbered(db.kind, 5), "");
    p.file("002_contract.sql", "-- requires-backfill: fill\nALTER TABLE t ADD COLUMN contracted integer;\n");
    p.backfill(
        "forge",
        "plugin = \"x.wasm\"\n[source]\ntable = \"t\"\nkey = [\"id\"]\n[target]\ntable = \"Runner_State\"\nkey = [\"kind\"]\n",
    );
    p.run(db, &["apply", "--with-backfills"])
        .fails_with(5)
        .stderr_has("forge.toml:6: the target table `Runner_State` is runner's own state table");
    assert!(!db.table_exists("t"), "nothing ran");
    std::fs::remove_file(p.path().join("backfills/forge.toml")).unwrap();
    p.backfill("peek", "plugin = \"x.wasm\"\n[source]\ntable = \"public.runner_state\"\nkey = [\"kind\", \"name\"]\n");
    p.run(db, &["check"])
        .fails_with(5)
        .stderr_has("the source table `public.runner_state` is runner's own state table");
});

/// Row 1 of a `t` keyed by `key_type`, holding `id`, asks the plugin to sleep and then to change
/// it by the key spelt `spelt`; the application changes the row meanwhile. The plugin's stale
/// change must not overwrite the application's.
fn a_key_spelt_otherwise_is_still_guarded(kind: Kind, key_type: &str, id: &str, spelt: &str) {
    let db = &TestDb::new(kind);
    let p = probe_project(
        db,
        key_type,
        &format!("INSERT INTO t (id, cmd, n, url) VALUES ({id}, 'rekey-sleep', 1500, '{spelt}');"),
        "\n[limits]\nplugin_timeout_ms = 60000\n\n[capabilities]\nlog = true\n",
    );
    p.run(db, &["apply"]).ok();
    let mut child = run_until_plugin_sleeps(&p, db);
    // (`n` too: SQLite's guard compares the columns the plugin read.)
    db.execute("UPDATE t SET out = 'application', n = 0");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        db.scalar("SELECT out FROM t"),
        "application",
        "{key_type}: the change keyed `{spelt}` was written unguarded over the application's"
    );
}

on_both!(a_change_keyed_by_another_spelling_of_a_batch_key_is_guarded_like_the_row_itself, |db: &TestDb| {
    // Before, the guard matched a change to its batch row by the exact value returned: the
    // integer key 1 returned as the text '1' (or a uuid in capitals, 1.5 for 1.50) was written
    // unguarded and overwrote what the application had written meanwhile.
    a_key_spelt_otherwise_is_still_guarded(db.kind, "integer PRIMARY KEY", "1", "1");
    match db.kind {
        Kind::Postgres => {
            a_key_spelt_otherwise_is_still_guarded(
                db.kind,
                "uuid PRIMARY KEY",
                "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
                "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            );
            a_key_spelt_otherwise_is_still_guarded(db.kind, "numeric(12,2) PRIMARY KEY", "1.50", "1.5");
        }
        Kind::Sqlite => {
            a_key_spelt_otherwise_is_still_guarded(db.kind, "text COLLATE NOCASE PRIMARY KEY", "'abc'", "ABC");
        }
    }
});

/// The largest the runner process has been so far, in bytes (`VmHWM`).
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

on_both!(a_lookup_answer_is_bounded_in_bytes_and_the_host_never_holds_more, |db: &TestDb| {
    // Before, 10 rows of 100 MB took runner to 1.96 GB (SQLite) and 620 MB (PostgreSQL) with a
    // plugin of 16 MB: the answer was read whole, then found too big for the plugin.
    let huge = match db.kind {
        Kind::Postgres => "SELECT repeat('x', 100000000) FROM generate_series(1, 10)",
        Kind::Sqlite => {
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10) SELECT zeroblob(100000000) FROM g"
        }
    };
    let p = lookup_project(
        db,
        &[huge, "SELECT 'small'"],
        "\n[limits]\nmemory_mb = 16\nplugin_timeout_ms = 60000\nlookup_timeout_ms = 30000\n",
    );
    p.run(db, &["apply"]).ok();
    // Row 3 sleeps after the two lookups, while the peak is read.
    db.execute("INSERT INTO t (id, cmd, n) VALUES (3, 'log-sleep', 3000)");
    std::fs::write(
        p.path().join("backfills/fill.toml"),
        std::fs::read_to_string(p.path().join("backfills/fill.toml"))
            .unwrap()
            .replace("lookup = true", "lookup = true\nlog = true"),
    )
    .unwrap();
    let mut child = run_until_plugin_sleeps(&p, db);
    let peak = peak_memory(child.id());
    assert!(child.wait().unwrap().success());
    assert!(peak < 400 << 20, "runner grew to {} MB for a lookup answer", peak >> 20);
    let out = db.scalar("SELECT out FROM t WHERE id = 1");
    assert!(out.starts_with("lookup error:") && out.contains("more than 16777216 bytes"), "{out}");
    assert!(db.scalar("SELECT out FROM t WHERE id = 2").starts_with("1 rows"), "a lookup within the bound answers");
});

#[test]
fn a_lookup_on_sqlite_stops_at_its_time_limit() {
    // Before, only the batch's deadline stopped a runaway lookup on SQLite.
    let db = TestDb::new(Kind::Sqlite);
    let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let p = lookup_project(
        &db,
        &[endless],
        "\n[limits]\nlookup_timeout_ms = 300\nplugin_timeout_ms = 120000\nmax_attempts = 1\n",
    );
    p.run(&db, &["apply", "--with-backfills"])
        .fails_with(1)
        .stderr_has("a lookup could not be answered: the query took longer than its limit of 300ms");
}

#[test]
fn a_lookup_can_change_nothing_outside_its_transaction_whatever_it_calls() {
    // Before, a lookup's read-only transaction let functions act: through the deploy's
    // superuser `dblink_exec` inserted a row and `pg_create_physical_replication_slot` left a
    // slot holding WAL, and as a non-superuser `pg_terminate_backend` killed a session of the
    // application's (its own role's). Lookups now need a role that can only read.
    let db = TestDb::new(Kind::Postgres);
    db.execute("CREATE EXTENSION dblink");
    let (app, app_url) = db.role("app", "");
    let slot = format!("{}_slot", db.name);
    let payloads = [
        format!("SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE usename = '{app}'"),
        format!("SELECT dblink_exec('dbname={} user=postgres', 'INSERT INTO secrets VALUES (''pwned'')')", db.name),
        format!("SELECT pg_create_physical_replication_slot('{slot}')::text"),
        "SELECT pg_read_file('/etc/hostname')".to_string(),
        format!(
            "SELECT set_config('role', 'postgres', true) || pg_cancel_backend(pid)::text FROM pg_stat_activity WHERE usename = '{app}'"
        ),
    ];
    let p = lookup_project(&db, &payloads.iter().map(String::as_str).collect::<Vec<_>>(), "");
    let reader_toml = std::fs::read_to_string(p.path().join("runner.toml")).unwrap();
    let reader = format!("{}_reader", db.name);
    let mut application = crate::harness::session(&app_url);
    let nothing_changed = |db: &TestDb| {
        assert_eq!(db.scalar("SELECT string_agg(s, ',') FROM secrets"), "keep");
        assert_eq!(db.scalar(&format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'")), "0");
    };

    // Through the deploy's own role (no lookup_url): a superuser, and the role runner writes with.
    std::fs::remove_file(p.path().join("runner.toml")).unwrap();
    p.run(&db, &["apply", "--with-backfills"])
        .fails_with(5)
        .stderr_has("plugin fill: lookups through role `postgres` are refused: it is a superuser")
        .stderr_has("is the role runner writes with");
    assert!(!db.table_exists("t"), "nothing ran");

    // A role of its own, but one that may run dblink (granted to PUBLIC by the extension).
    std::fs::write(p.path().join("runner.toml"), &reader_toml).unwrap();
    p.run(&db, &["apply", "--with-backfills"])
        .fails_with(5)
        .stderr_has(&format!("lookups through role `{reader}` are refused: it may execute dblink, dblink_connect"));
    assert!(!db.table_exists("t"), "nothing ran");

    // Only reading: every payload fails at the database, and nothing outside changed.
    db.execute("REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC");
    p.run(&db, &["apply", "--with-backfills"]).ok().stdout_has("completed");
    for (q, r) in payloads.iter().zip(db.query("SELECT out FROM t ORDER BY id")) {
        let out = r[0].clone().unwrap_or_default();
        assert!(out.starts_with("lookup error:") && out.contains("SQLSTATE 42501"), "{q}: {out}");
    }
    nothing_changed(&db);
    let alive = |s: &mut Box<dyn runner_db::Driver>| crate::harness::rt().block_on(s.query("SELECT 1")).is_ok();
    assert!(alive(&mut application), "the application's session was ended");

    // Each power that acts outside is refused by name, before the backfill runs.
    p.run(&db, &["backfill", "reset", "fill", "--confirm"]).ok();
    for (grant, revoke, says) in [
        (
            format!("GRANT pg_signal_backend TO {reader}"),
            format!("REVOKE pg_signal_backend FROM {reader}"),
            "is a member of pg_signal_backend".to_string(),
        ),
        (
            format!("GRANT pg_read_server_files TO {reader}"),
            format!("REVOKE pg_read_server_files FROM {reader}"),
            "is a member of pg_read_server_files".to_string(),
        ),
        (
            format!("GRANT {app} TO {reader}"),
            format!("REVOKE {app} FROM {reader}"),
            format!("can take the privileges of {app} (SET ROLE)"),
        ),
        (
            format!("ALTER ROLE {reader} REPLICATION"),
            format!("ALTER ROLE {reader} NOREPLICATION"),
            "has REPLICATION".to_string(),
        ),
        (
            format!("GRANT EXECUTE ON FUNCTION dblink_exec(text, text) TO {reader}"),
            format!("REVOKE EXECUTE ON FUNCTION dblink_exec(text, text) FROM {reader}"),
            "may execute dblink_exec".to_string(),
        ),
    ] {
        db.execute(&grant);
        p.run(&db, &["backfill", "run", "fill"]).fails_with(5).stderr_has(&says);
        db.execute(&revoke);
    }
    nothing_changed(&db);
    assert!(alive(&mut application));
}
