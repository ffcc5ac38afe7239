//! Backfills end to end: a real plugin built from `plugins/`, real databases, killed runners.

use crate::harness::{Kind, Project, TestDb, plugin};
use crate::on_both;
use std::time::Duration;

/// `items` with `rows` rows for the probe plugin, and a trigger that counts updates of each row:
/// the database itself witnesses that every row is changed exactly once.
pub(crate) fn items_project(db: &TestDb, rows: usize, work: i64) -> Project {
    let p = Project::new();
    let (table, fill) = match db.kind {
        Kind::Postgres => (
            "CREATE TABLE items (id bigint PRIMARY KEY, cmd text NOT NULL DEFAULT 'noop', n bigint, out text, updates integer NOT NULL DEFAULT 0);\n\
             CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;\n\
             CREATE TRIGGER items_count BEFORE UPDATE OF out ON items FOR EACH ROW EXECUTE FUNCTION count_update();\n",
            format!("INSERT INTO items (id, cmd, n) SELECT g, 'work', {work} FROM generate_series(1, {rows}) g;\n"),
        ),
        Kind::Sqlite => (
            "CREATE TABLE items (id integer PRIMARY KEY, cmd text NOT NULL DEFAULT 'noop', n integer, out text, updates integer NOT NULL DEFAULT 0);\n\
             CREATE TRIGGER items_count AFTER UPDATE OF out ON items BEGIN UPDATE items SET updates = updates + 1 WHERE id = NEW.id; END;\n",
            format!(
                "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {rows}) INSERT INTO items (id, cmd, n) SELECT x, 'work', {work} FROM g;\n"
            ),
        ),
    };
    p.file("001_items.sql", &format!("{table}{fill}"));
    p.backfill("items", &manifest(""));
    p
}

fn manifest(extra: &str) -> String {
    format!(
        "description = \"probe every item\"\nplugin = \"{}\"\nrequires = \"001\"\n\n[source]\ntable = \"items\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\"]\nfilter = \"out IS NULL\"\n\n[batch]\nsize = 200\nmin_size = 50\nmax_size = 2000\ntime_target_ms = 50\n{extra}",
        plugin("probe").display()
    )
}

/// The probe's manifest with every batch exactly `size` rows.
fn fixed_batches(size: usize, extra: &str) -> String {
    let (m, sizes) = (manifest(extra), "size = 200\nmin_size = 50\nmax_size = 2000");
    assert!(m.contains(sizes), "the probe's manifest changed: {m}");
    m.replace(sizes, &format!("size = {size}\nmin_size = {size}\nmax_size = {size}"))
}

pub(crate) fn assert_each_row_changed_once(db: &TestDb, rows: usize) {
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NULL"), "0");
    assert_eq!(
        db.scalar("SELECT count(*) FROM items WHERE updates = 1"),
        rows.to_string(),
        "some rows were changed twice or never"
    );
    let done: u64 = db
        .query("SELECT progress FROM runner_state WHERE kind = 'backfill-chunk' AND name LIKE 'items/%'")
        .into_iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r[0].as_deref().unwrap()).unwrap()["rows_done"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(done, rows as u64, "checkpoints disagree with the data");
}

on_both!(apply_with_backfills_runs_everything_once, |db: &TestDb| {
    let p = items_project(db, 3000, 10);
    p.run(db, &["backfill", "list"]).ok().stdout_has("waits for revision 001");
    p.run(db, &["backfill", "run", "items"]).fails_with(1).stderr_has("requires revision `001`, which is not applied");
    let r = p.run(db, &["apply", "--with-backfills"]).ok();
    assert!(r.stdout.contains("backfill items: completed; 3000 rows"), "{}", r.stdout);
    assert_each_row_changed_once(db, 3000);
    let s = p.run(db, &["backfill", "status", "items", "--json"]).ok().json();
    assert_eq!(s[0]["status"], "completed");
    assert_eq!(s[0]["progress"]["rows_total"], 3000);
    // Running it again does nothing.
    p.run(db, &["apply", "--with-backfills"]).ok().stdout_has("Backfills: nothing to run.");
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("already complete");
    assert_each_row_changed_once(db, 3000);
});

on_both!(a_backfill_killed_again_and_again_resumes_without_redoing_anything, |db: &TestDb| {
    let rows = 20_000;
    let p = items_project(db, rows, 20_000);
    p.run(db, &["apply"]).ok();
    let mut interrupted = 0;
    for delay in [400, 700, 1000] {
        let mut child = p
            .command(db, &["backfill", "run", "items"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill points spread on purpose, not a wait for a condition.
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL, mid-batch or between batches
        child.wait().unwrap();
        let status = db.scalar("SELECT status FROM runner_state WHERE kind = 'backfill' AND name = 'items'");
        if status == "running" {
            interrupted += 1;
        }
        // Whatever was committed is consistent: every row changed at most once, and the
        // checkpoint counts exactly the rows changed.
        let changed: usize = db.scalar("SELECT count(*) FROM items WHERE updates = 1").parse().unwrap();
        assert_eq!(db.scalar("SELECT count(*) FROM items WHERE updates > 1"), "0");
        let checkpointed: u64 = db
            .query("SELECT progress FROM runner_state WHERE kind = 'backfill-chunk'")
            .into_iter()
            .map(|r| {
                serde_json::from_str::<serde_json::Value>(r[0].as_deref().unwrap()).unwrap()["rows_done"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(checkpointed as usize, changed, "checkpoints and data disagree after a kill");
    }
    assert!(interrupted > 0, "no kill landed while the backfill was running; make it slower");
    // (It may have finished during the last round; either way the run reports it complete.)
    p.run(db, &["backfill", "run", "items", "--lock-timeout", "10"]).ok().stdout_has("complete");
    assert_each_row_changed_once(db, rows);
});

on_both!(a_failing_batch_stops_the_backfill_with_its_error_until_retried, |db: &TestDb| {
    let p = items_project(db, 1000, 10);
    p.backfill("items", &manifest("\n[limits]\nmax_attempts = 2\n"));
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE items SET cmd = 'fail', n = 777 WHERE id = 777");
    let r = p.run(db, &["backfill", "run", "items"]).fails_with(1);
    assert!(
        r.stderr.contains("backfill `items` failed at the batch after key")
            && r.stderr.contains("probe refuses row 777"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("runner backfill retry items"), "{}", r.stderr);
    let s = p.run(db, &["backfill", "status", "items", "--json"]).ok().json();
    assert_eq!(s[0]["status"], "failed");
    assert!(s[0]["error"].as_str().unwrap().contains("probe refuses row 777"));
    // Batches before the failing one are committed; the failing one is not; nothing twice.
    assert_ne!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE id = 777 AND out IS NULL"), "1");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE updates > 1"), "0");
    p.run(db, &["backfill", "run", "items"]).fails_with(1).stderr_has("backfill `items` has failed");
    // A failed backfill is work left to do: `status` says so in every form (before, it said
    // "Up to date.", exited 0 and listed no problem).
    let st = p.run(db, &["status", "--exit-code"]).fails_with(3);
    assert!(!st.stdout.contains("Up to date"), "{}", st.stdout);
    assert!(
        st.stdout.contains("problem:    backfill `items` has failed: ")
            && st.stdout.contains("`runner backfill retry items`"),
        "{}",
        st.stdout
    );
    let j = p.run(db, &["status", "--json"]).ok().json();
    assert_eq!(j["backfill_problems"][0]["backfill"], "items", "{j}");
    assert_eq!(j["backfill_problems"][0]["state"], "failed", "{j}");
    db.execute("UPDATE items SET cmd = 'noop' WHERE id = 777");
    // `retry` continues from the checkpoint and runs it to the end, as README says (before, it
    // only re-armed it).
    p.run(db, &["backfill", "retry", "items"]).ok().stdout_has("completed");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NULL"), "0");
    assert_each_row_changed_once(db, 1000);
    p.run(db, &["status", "--exit-code"]).ok().stdout_has("Up to date.");
});

on_both!(pause_resume_and_reset, |db: &TestDb| {
    let p = items_project(db, 500, 10);
    p.run(db, &["apply"]).ok();
    p.run(db, &["backfill", "pause", "items"]).ok();
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("paused");
    p.run(db, &["apply", "--with-backfills"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0");
    // Paused with no revision waiting for it: shown, and no problem.
    p.run(db, &["status", "--exit-code"]).ok().stdout_has("backfill:   items paused");
    p.run(db, &["backfill", "retry", "items"])
        .fails_with(1)
        .stderr_has("only failed or interrupted backfills can be retried");
    p.run(db, &["backfill", "resume", "items"]).ok();
    p.run(db, &["backfill", "run", "items", "--max-batches", "1"]).ok().stdout_has("stopped");
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed");
    assert_each_row_changed_once(db, 500);
    p.run(db, &["backfill", "reset", "items"]).fails_with(2).stderr_has("--confirm");
    p.run(db, &["backfill", "reset", "items", "--confirm"]).ok();
    // The filter (`out IS NULL`) makes a reset backfill find nothing left to do.
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed; 0 rows");
});

on_both!(a_plugin_over_its_time_limit_fails_its_batch_and_leaves_the_data, |db: &TestDb| {
    let p = items_project(db, 300, 10);
    p.backfill("items", &manifest("\n[limits]\nplugin_timeout_ms = 200\nmax_attempts = 1\n"));
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE items SET cmd = 'spin' WHERE id = 1");
    p.run(db, &["backfill", "run", "items"]).fails_with(1).stderr_has("batch took longer than its limit of 200ms");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), "0");
});

on_both!(an_ungranted_capability_names_plugin_and_capability, |db: &TestDb| {
    let p = items_project(db, 10, 10);
    p.backfill("items", &manifest("\n[limits]\nmax_attempts = 1\n"));
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE items SET cmd = 'log'");
    p.run(db, &["backfill", "run", "items"])
        .fails_with(1)
        .stderr_has("plugin items: called `log`, which its manifest does not grant");
    p.backfill("items", &manifest("\n[capabilities]\nlog = true\n"));
    p.run(db, &["backfill", "retry", "items"]).ok().stdout_has("completed");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out = 'logged'"), "10");
});

#[test]
fn bad_manifests_name_file_and_line() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.backfill("broken", "plugin = \"x.wasm\"\n[source]\ntable = \"t\"\nkey = [\"id\"]\nbatchsize = 3\n");
    let r = p.run(&db, &["backfill", "list"]).fails_with(5);
    assert!(r.stderr.contains("backfills/broken.toml:5: unknown field `batchsize`"), "{}", r.stderr);
}

#[test]
fn plugin_check_validates_without_running() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    let probe = plugin("probe");
    let r = p.run(&db, &["plugin", "check", probe.to_str().unwrap()]).ok();
    assert!(r.stdout.contains("OK, implements runner:plugin/backfill@0.1.0"), "{}", r.stdout);
    let j = p.run(&db, &["plugin", "check", probe.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(j["ok"], true);
    let wrong = plugin("wrong_world");
    p.run(&db, &["plugin", "check", wrong.to_str().unwrap()])
        .fails_with(5)
        .stderr_has("implements neither runner:plugin/backfill@0.1.0 nor runner:plugin/backfill-columns@0.1.0");
    let junk = p.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    p.run(&db, &["plugin", "check", junk.to_str().unwrap()])
        .fails_with(5)
        .stderr_has("not a valid WebAssembly component");
}

on_both!(a_revision_that_requires_a_backfill_waits_for_it, |db: &TestDb| {
    let p = items_project(db, 2000, 10);
    p.file("002_contract.sql", "-- requires-backfill: items\nCREATE INDEX items_out ON items (out);\n");
    // Stopped before the head: not success (exit 3), saying why.
    let r = p.run(db, &["apply"]).fails_with(3);
    assert!(
        r.stdout.contains("stopped before revision `002`: it requires backfill `items` to complete"),
        "{}",
        r.stdout
    );
    assert_eq!(db.revision_rows(), [("001".into(), "applied".into())]);
    p.run(db, &["status", "--exit-code"]).fails_with(3).stdout_has("pending:    1");
    let r = p.run(db, &["apply", "--with-backfills"]).ok();
    // In the order it happened: the backfill, then the revision it gated.
    let (backfill, contract) = (r.stdout.find("backfill items: completed; 2000 rows"), r.stdout.find("apply    002"));
    assert!(backfill.is_some() && contract.is_some() && backfill < contract, "{}", r.stdout);
    assert_each_row_changed_once(db, 2000);
    assert_eq!(db.revision_rows().len(), 2);
    p.run(db, &["status", "--exit-code"]).ok();
});

#[test]
fn backfill_workers_come_from_the_command_line_or_the_manifest() {
    let db = TestDb::new(Kind::Postgres);
    let p = items_project(&db, 2000, 10);
    p.run(&db, &["apply", "--workers", "2"]).fails_with(2).stderr_has("--with-backfills");
    assert!(db.revision_rows().is_empty(), "a refused command applied something");
    let r = p.run(&db, &["apply", "--with-backfills", "--workers", "2"]).ok();
    // In the order it happened: the revision, then the backfill it made ready.
    let (revision, backfill) = (r.stdout.find("apply    001"), r.stdout.find("backfill items: completed"));
    assert!(revision.is_some() && backfill.is_some() && revision < backfill, "{}", r.stdout);
    assert_each_row_changed_once(&db, 2000);
    // Ranges are cut for every worker that may join, two each: four for two workers.
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'backfill-chunk'"), "4");

    // Without --workers, the manifest's `batch.workers`; it must be 1 to 64.
    let db = TestDb::new(Kind::Postgres);
    let p = items_project(&db, 2000, 10);
    p.backfill("items", &manifest("").replace("[batch]\n", "[batch]\nworkers = 0\n"));
    p.run(&db, &["apply", "--with-backfills"])
        .fails_with(5)
        .stderr_has("items.toml")
        .stderr_has("`batch.workers` is 0");
    p.backfill("items", &manifest("").replace("[batch]\n", "[batch]\nworkers = 3\n"));
    p.run(&db, &["apply", "--with-backfills"]).ok().stdout_has("backfill items: completed");
    assert_each_row_changed_once(&db, 2000);
    assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'backfill-chunk'"), "6");
    p.run(&db, &["backfill", "run", "items", "--workers", "0"]).fails_with(2);
}

#[test]
fn a_uuid_keyed_table_is_backfilled_once_per_row() {
    // Keys the driver reads as text: ranges, bounds and the join cast them back to uuid, and
    // must order them as PostgreSQL does.
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file(
        "001_docs.sql",
        "CREATE TABLE docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), cmd text NOT NULL DEFAULT 'work', n bigint, out text, updates integer NOT NULL DEFAULT 0);\n\
         CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;\n\
         CREATE TRIGGER docs_count BEFORE UPDATE OF out ON docs FOR EACH ROW EXECUTE FUNCTION count_update();\n\
         INSERT INTO docs (n) SELECT g % 9 FROM generate_series(1, 3000) g;\n",
    );
    p.backfill(
        "docs",
        &format!(
            "plugin = \"{}\"\n[source]\ntable = \"docs\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\"]\nfilter = \"out IS NULL\"\n[batch]\nsize = 250\nmin_size = 250\nmax_size = 250\n",
            plugin("probe").display()
        ),
    );
    p.run(&db, &["apply", "--with-backfills", "--workers", "2"]).ok().stdout_has("backfill docs: completed");
    assert_eq!(db.scalar("SELECT count(*) FROM docs WHERE updates = 1"), "3000", "rows changed twice or never");
    assert_eq!(db.scalar("SELECT count(*) FROM docs WHERE out <> CAST((n * (n - 1)) / 2 AS text)"), "0");
}

#[test]
fn workers_in_several_processes_share_one_backfill() {
    let db = TestDb::new(Kind::Postgres);
    let rows = 20_000;
    let p = items_project(&db, rows, 2_000);
    p.run(&db, &["apply"]).ok();
    let spawn = || {
        p.command(&db, &["backfill", "run", "items", "--workers", "2", "--lock-timeout", "30"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_each_row_changed_once(&db, rows);
    assert_eq!(db.scalar("SELECT status FROM runner_state WHERE kind = 'backfill' AND name = 'items'"), "completed");
    let chunks: usize = db.scalar("SELECT count(*) FROM runner_state WHERE kind = 'backfill-chunk'").parse().unwrap();
    assert!(chunks > 4, "only {chunks} chunks");
    let workers: usize = db
        .scalar("SELECT count(DISTINCT progress->>'done_by') FROM runner_state WHERE kind = 'backfill-chunk'")
        .parse()
        .unwrap();
    assert!(workers >= 2, "the work was not shared: {workers} worker(s) completed chunks");
    let s = p.run(&db, &["backfill", "status", "items", "--json"]).ok().json();
    assert_eq!(s[0]["progress"]["rows_done"], rows);
}

fn example_manifest(plugin_name: &str, table: &str, columns: &str, filter: &str, extra: &str) -> String {
    format!(
        "plugin = \"{}\"\n[source]\ntable = \"{table}\"\nkey = [\"id\"]\ncolumns = [{columns}]\nfilter = \"{filter}\"\n{extra}",
        plugin(plugin_name).display()
    )
}

on_both!(example_plugins_normalise_and_split_real_columns, |db: &TestDb| {
    let p = Project::new();
    p.file(
        "001_people.sql",
        "CREATE TABLE people (id integer PRIMARY KEY, email text, full_name text, first_name text, last_name text);\n\
         INSERT INTO people (id, email, full_name) VALUES (1, '  Ada@Example.COM ', 'Ada  Lovelace'), (2, 'grace@example.com', 'Grace Brewster Hopper'), (3, NULL, 'Plato');\n",
    );
    // The filter selects rows to look at; the plugin leaves normal ones as they are.
    p.backfill(
        "emails",
        &example_manifest("normalise_email", "people", "\"email\"", "email IS NOT NULL\"\nfilter_is = \"scope", ""),
    );
    p.backfill("names", &example_manifest("split_name", "people", "\"full_name\"", "first_name IS NULL", ""));
    p.run(db, &["apply", "--with-backfills"]).ok();
    assert_eq!(db.scalar("SELECT email FROM people WHERE id = 1"), "ada@example.com");
    assert_eq!(db.scalar("SELECT first_name || '|' || last_name FROM people WHERE id = 2"), "Grace Brewster|Hopper");
    assert_eq!(
        db.scalar("SELECT first_name || '|' || coalesce(last_name, 'null') FROM people WHERE id = 3"),
        "Plato|null"
    );
});

/// A local service answering `GET /category/SKU` with a category, for `requests` requests.
fn category_service(requests: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..requests {
            let Ok((mut s, _)) = listener.accept() else { return };
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let sku = req.split_whitespace().nth(1).and_then(|p| p.rsplit('/').next()).unwrap_or("").to_string();
            let body = if sku.starts_with("tool") { "hardware" } else { "other" };
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (origin, handle)
}

#[test]
fn example_plugin_enriches_rows_over_http_from_an_allow_listed_service() {
    let db = TestDb::new(Kind::Postgres);
    let (origin, service) = category_service(3);
    let p = Project::new();
    p.file(
        "001_products.sql",
        "CREATE TABLE products (id integer PRIMARY KEY, sku text NOT NULL, category text);\n\
         INSERT INTO products (id, sku) VALUES (1, 'tool-1'), (2, 'sock-9'), (3, 'tool-7');\n",
    );
    let caps = format!("[capabilities]\nhttp = [\"{origin}\"]\nconfig = {{ service_url = \"{origin}\" }}\n");
    p.backfill("categories", &example_manifest("http_enrich", "products", "\"sku\"", "category IS NULL", &caps));
    p.run(&db, &["apply", "--with-backfills"]).ok();
    service.join().unwrap();
    assert_eq!(db.scalar("SELECT string_agg(category, ',' ORDER BY id) FROM products"), "hardware,other,hardware");
    // With the service down, the batch fails with the plugin's message and nothing is written.
    db.execute("UPDATE products SET category = NULL");
    p.run(&db, &["backfill", "reset", "categories", "--confirm"]).ok();
    p.backfill(
        "categories",
        &example_manifest(
            "http_enrich",
            "products",
            "\"sku\"",
            "category IS NULL",
            &format!("[limits]\nmax_attempts = 1\n{caps}"),
        ),
    );
    let r = p.run(&db, &["backfill", "run", "categories"]).fails_with(1);
    assert!(r.stderr.contains("lookup of tool-1"), "{}", r.stderr);
    assert_eq!(db.scalar("SELECT count(*) FROM products WHERE category IS NOT NULL"), "0");
}

/// Serves `body` to `requests` requests, then stops.
fn file_server(body: Vec<u8>, requests: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/score_band.wasm", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..requests {
            let Ok((mut s, _)) = listener.accept() else { return };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = s.write_all(&body);
        }
    });
    (url, handle)
}

#[test]
fn plugins_by_url_are_verified_against_their_sha256_and_cached() {
    use sha2::Digest;
    let db = TestDb::new(Kind::Sqlite);
    let wasm = std::fs::read(plugin("score_band")).unwrap();
    let good = hex::encode(sha2::Sha256::digest(&wasm));
    let bad = "0".repeat(64);
    let p = Project::new();
    std::fs::write(p.path().join("runner.toml"), "plugin_cache = \"cache\"\n").unwrap();
    p.file("001_scores.sql", "CREATE TABLE scores (id integer PRIMARY KEY, points integer, band text);\nINSERT INTO scores VALUES (1, 2500, NULL), (2, 10, NULL);\n");
    let manifest = |url: &str, sha: &str| {
        format!(
            "plugin = {{ url = \"{url}\", sha256 = \"{sha}\" }}\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\"]\nfilter = \"band IS NULL\"\n"
        )
    };
    p.run(&db, &["apply"]).ok();

    let (url, server) = file_server(wasm.clone(), 1);
    p.backfill("bands", &manifest(&url, &bad));
    let r = p.run(&db, &["backfill", "run", "bands"]).fails_with(1);
    assert!(
        r.stderr.contains(&format!("has SHA-256 {good}, but the manifest requires {bad}; refusing to run it")),
        "{}",
        r.stderr
    );
    server.join().unwrap();
    assert_eq!(db.scalar("SELECT count(*) FROM scores WHERE band IS NOT NULL"), "0");

    let (url, server) = file_server(wasm, 1);
    p.backfill("bands", &manifest(&url, &good));
    p.run(&db, &["backfill", "run", "bands"]).ok().stdout_has("completed");
    server.join().unwrap();
    assert_eq!(db.scalar("SELECT band FROM scores WHERE id = 1"), "platinum");

    // The server is gone now; the verified download is used from the cache.
    db.execute("UPDATE scores SET band = NULL");
    p.run(&db, &["backfill", "reset", "bands", "--confirm"]).ok();
    p.run(&db, &["backfill", "run", "bands"]).ok().stdout_has("completed");
    assert!(p.path().join("cache/downloads").join(format!("{good}.wasm")).is_file());
}

on_both!(a_data_migration_commits_or_rolls_back_with_its_revision, |db: &TestDb| {
    let p = Project::new();
    p.file("001_scores.sql", "CREATE TABLE scores (id integer PRIMARY KEY, points integer, cmd text NOT NULL DEFAULT 'noop', n integer);\nINSERT INTO scores (id, points) VALUES (1, 2500), (2, 700), (3, NULL);\n")
        .file(
            "002_band.sql",
            "-- data-migration: bands_now\n-- runner:up\nALTER TABLE scores ADD COLUMN band text;\n-- runner:down\nALTER TABLE scores DROP COLUMN band;\n",
        );
    p.backfill(
        "bands_now",
        &format!("plugin = \"{}\"\nrole = \"data-migration\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\"]\n", plugin("score_band").display()),
    );
    p.run(db, &["apply", "--sql"])
        .fails_with(1)
        .stderr_has("runs data migration `bands_now` (a WASM plugin), which an offline SQL script cannot carry");
    p.run(db, &["apply"]).ok().stdout_has("apply    002");
    assert_eq!(db.scalar("SELECT string_agg(band, ',' ORDER BY id) FROM scores"), "platinum,silver,unranked");
    p.run(db, &["backfill", "list"]).ok().stdout_has("No backfills.");
    p.run(db, &["backfill", "run", "bands_now"]).fails_with(1).stderr_has("inside the revision that names it");

    // A failing data migration takes its revision's schema change with it.
    db.execute("UPDATE scores SET cmd = 'fail', n = 2 WHERE id = 2");
    p.file("003_out.sql", "-- data-migration: probe_now\n-- runner:up\nALTER TABLE scores ADD COLUMN out text;\n-- runner:down\nALTER TABLE scores DROP COLUMN out;\n");
    p.backfill(
        "probe_now",
        &format!("plugin = \"{}\"\nrole = \"data-migration\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\"]\n", plugin("probe").display()),
    );
    p.run(db, &["apply"]).fails_with(1).stderr_has("probe refuses row 2");
    let has_out = match db.kind {
        Kind::Postgres => db.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'scores' AND column_name = 'out'",
        ),
        Kind::Sqlite => db.scalar("SELECT count(*) FROM pragma_table_info('scores') WHERE name = 'out'"),
    };
    assert_eq!(has_out, "0", "the schema change of the failed revision was kept");
    assert_eq!(db.revision_rows().len(), 2);
    db.execute("UPDATE scores SET cmd = 'noop'");
    p.run(db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM scores WHERE out = 'ok'"), "3");
});

on_both!(the_lookup_capability_queries_through_a_read_only_connection, |db: &TestDb| {
    let p = items_project(db, 20, 10);
    p.backfill("items", &manifest("\n[capabilities]\nlookup = true\n"));
    if db.kind == Kind::Postgres {
        // Lookups go through a role that may only read (see `trust`).
        let (_, url) = db.role("reader", "");
        std::fs::write(p.path().join("runner.toml"), format!("lookup_url = \"{url}\"\n")).unwrap();
    }
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE items SET cmd = 'lookup'");
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed");
    // The probe's lookup is `SELECT 1`: one row back for every item.
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out = '1'"), "20");
});

on_both!(a_batch_reads_what_the_previous_batch_changed_outside_its_own_rows, |db: &TestDb| {
    // Rows 150, 350, … also mark the row 100 keys on, usually in the next batch. A worker that
    // read that batch ahead, before the marking batch committed, would change it a second time.
    // Batches of 200 rows, so a marked row is usually in a later batch than its marker.
    let rows = 3000;
    let p = items_project(db, rows, 10);
    p.backfill("items", &fixed_batches(200, ""));
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE items SET cmd = 'mark', n = id + 100 WHERE id % 200 = 150 AND id + 100 <= 3000");
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NULL"), "0");
    // Marks landing in a later batch stay (a mark and the row's own change in one batch: the
    // last wins); how many depends on where chunks and batches end.
    assert_ne!(db.scalar("SELECT count(*) FROM items WHERE out = 'marked'"), "0");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE updates <> 1"), "0", "a row was changed twice");
});

on_both!(changes_to_rows_before_the_batch_are_written, |db: &TestDb| {
    // A batch's writes are bounded by its own key range when its changes stay inside it. Rows
    // 350, 550, … also mark the row 250 keys back: always in an earlier batch (batches of 200),
    // so outside the range. Bounded writes would drop every mark.
    let rows = 3000;
    let p = items_project(db, rows, 10);
    p.backfill("items", &fixed_batches(200, ""));
    p.run(db, &["apply"]).ok();
    db.execute("UPDATE items SET cmd = 'mark', n = id - 250 WHERE id % 200 = 150 AND id > 250");
    let markers = db.scalar("SELECT count(*) FROM items WHERE cmd = 'mark'");
    // One worker: with two, a mark could race the marked row's own batch in another chunk.
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NULL"), "0");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out = 'marked'"), markers);
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE id % 200 = 100 AND id <= 2700 AND out <> 'marked'"), "0");
});

on_both!(a_table_with_a_composite_key_is_backfilled_once_per_row, |db: &TestDb| {
    // Keys (tenant, id): batches and their bounded writes compare whole keys, text then
    // integer, so a batch may end in the middle of one tenant and the next start there.
    let p = Project::new();
    let (table, fill) = match db.kind {
        Kind::Postgres => (
            "CREATE TABLE pairs (tenant text, id bigint, cmd text NOT NULL DEFAULT 'work', n bigint, out text, updates integer NOT NULL DEFAULT 0, PRIMARY KEY (tenant, id));\n\
             CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;\n\
             CREATE TRIGGER pairs_count BEFORE UPDATE OF out ON pairs FOR EACH ROW EXECUTE FUNCTION count_update();\n",
            "INSERT INTO pairs (tenant, id, n) SELECT t, g, g % 7 FROM unnest(ARRAY['acme', 'globex', 'initech']) t, generate_series(1, 700) g;\n",
        ),
        Kind::Sqlite => (
            "CREATE TABLE pairs (tenant text, id integer, cmd text NOT NULL DEFAULT 'work', n integer, out text, updates integer NOT NULL DEFAULT 0, PRIMARY KEY (tenant, id));\n\
             CREATE TRIGGER pairs_count AFTER UPDATE OF out ON pairs BEGIN UPDATE pairs SET updates = updates + 1 WHERE tenant = NEW.tenant AND id = NEW.id; END;\n",
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 700) INSERT INTO pairs (tenant, id, n) SELECT t.v, x, x % 7 FROM g, (SELECT 'acme' AS v UNION ALL SELECT 'globex' UNION ALL SELECT 'initech') t;\n",
        ),
    };
    p.file("001_pairs.sql", &format!("{table}{fill}"));
    p.backfill(
        "pairs",
        &format!(
            "plugin = \"{}\"\n[source]\ntable = \"pairs\"\nkey = [\"tenant\", \"id\"]\ncolumns = [\"cmd\", \"n\"]\nfilter = \"out IS NULL\"\n[batch]\nsize = 300\nmin_size = 300\nmax_size = 300\n",
            plugin("probe").display()
        ),
    );
    p.run(db, &["apply"]).ok();
    p.run(db, &["backfill", "run", "pairs", "--workers", "2"]).ok().stdout_has("completed");
    assert_eq!(db.scalar("SELECT count(*) FROM pairs WHERE updates = 1"), "2100", "rows changed twice or never");
    // `work` with n sums 0..n-1.
    assert_eq!(db.scalar("SELECT count(*) FROM pairs WHERE out <> CAST((n * (n - 1)) / 2 AS text)"), "0");
});

on_both!(a_manifest_naming_what_the_database_lacks_is_refused_before_anything_runs, |db: &TestDb| {
    let p = items_project(db, 100, 10);
    p.run(db, &["apply"]).ok();
    for (from, to, message) in [
        ("table = \"items\"", "table = \"itemz\"", "table `itemz` does not exist"),
        (
            "columns = [\"cmd\", \"n\"]",
            "columns = [\"cmd\", \"nn\"]",
            "table `items` has no column `nn` (named in source.columns)",
        ),
        (
            "filter = \"out IS NULL\"",
            "filter = \"outt IS NULL\"",
            "source.filter `outt IS NULL` does not work on `items`",
        ),
    ] {
        p.backfill("items", &manifest("").replace(from, to));
        p.run(db, &["backfill", "run", "items"]).fails_with(5).stderr_has(message).stderr_has("items.toml");
        p.run(db, &["apply", "--with-backfills"]).fails_with(5).stderr_has(message);
        assert_eq!(db.scalar("SELECT count(*) FROM runner_state WHERE kind LIKE 'backfill%'"), "0", "{message}");
        assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NULL"), "100");
    }
    p.backfill("items", &manifest(""));
    p.run(db, &["backfill", "run", "items"]).ok().stdout_has("completed");
});

on_both!(when_a_batch_changes_one_row_twice_the_last_change_wins, |db: &TestDb| {
    let p = items_project(db, 500, 10);
    p.run(db, &["apply"]).ok();
    // Row 7 gets five updates of `out` (0, 1, 2, 3, 4) in one batch.
    db.execute("UPDATE items SET cmd = 'many', n = 5 WHERE id = 7");
    p.run(db, &["backfill", "run", "items"]).ok();
    assert_eq!(db.scalar("SELECT out FROM items WHERE id = 7"), "4");
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NULL"), "0");
});

on_both!(a_text_keyed_table_is_backfilled, |db: &TestDb| {
    // Batches of `a-…` rows set one of three values, the `b-…` batch 300 different values;
    // their writes, bounded by text keys, must find every row.
    let p = Project::new();
    let fill = match db.kind {
        Kind::Postgres => {
            "INSERT INTO tags (id, cmd, n) SELECT 'a-' || lpad(g::text, 4, '0'), 'work', g % 3 FROM generate_series(1, 1200) g;\n\
             INSERT INTO tags (id, cmd, n) SELECT 'b-' || lpad(g::text, 4, '0'), 'work', 1000 + g FROM generate_series(1, 300) g;"
        }
        Kind::Sqlite => {
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 1200) INSERT INTO tags (id, cmd, n) SELECT printf('a-%04d', x), 'work', x % 3 FROM g;\n\
             WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 300) INSERT INTO tags (id, cmd, n) SELECT printf('b-%04d', x), 'work', 1000 + x FROM g;"
        }
    };
    p.file(
        "001_tags.sql",
        &format!("CREATE TABLE tags (id varchar(20) PRIMARY KEY, cmd text NOT NULL, n bigint, out text);\n{fill}\n"),
    );
    p.backfill(
        "tags",
        &format!(
            "plugin = \"{}\"\n[source]\ntable = \"tags\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\"]\nfilter = \"out IS NULL\"\n[batch]\nsize = 300\nmin_size = 300\nmax_size = 300\n",
            plugin("probe").display()
        ),
    );
    p.run(db, &["apply"]).ok();
    p.run(db, &["backfill", "run", "tags"]).ok().stdout_has("completed");
    assert_eq!(db.scalar("SELECT count(*) FROM tags WHERE out IS NULL"), "0");
    // `work` with n sums 0..n-1.
    assert_eq!(db.scalar("SELECT count(*) FROM tags WHERE out <> CAST((n * (n - 1)) / 2 AS text)"), "0");
    assert_eq!(db.scalar("SELECT count(DISTINCT out) FROM tags"), "302");
});

#[test]
fn a_backfill_waits_while_a_replica_falls_behind() {
    // A primary and its streaming standby, both of this test's own. With replay paused, the
    // standby receives WAL but applies none, so its lag only grows until replay resumes.
    let primary = crate::harness::Cluster::start().expect("a throwaway PostgreSQL cluster");
    let standby = primary.standby().expect("a streaming standby");
    let db = TestDb::on_server(&primary.url());
    let rows = 20_000;
    let p = items_project(&db, rows, 10);
    p.backfill("items", &fixed_batches(1000, "\n[throttle]\nmax_replica_lag_mb = 1\n"));
    p.run(&db, &["apply"]).ok();
    standby.sql("SELECT pg_wal_replay_pause()");
    let mut child = p
        .command(&db, &["backfill", "run", "items"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The worker says when it starts waiting.
    let stderr = child.stderr.take().unwrap();
    let (tx, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let waiting = said
        .iter()
        .find(|l| l.contains("waiting for replicas to catch up"))
        .expect("the runner never waited for the paused standby");
    assert!(waiting.contains("limit_mb=1"), "{waiting}");
    // While the standby stays behind, nothing more is written.
    let done = db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL");
    // Watching for something that must not happen: no condition to wait on.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL"), done);
    assert_ne!(done, rows.to_string(), "the backfill finished before the standby fell behind");
    assert!(child.try_wait().unwrap().is_none(), "the runner gave up instead of waiting");
    standby.sql("SELECT pg_wal_replay_resume()");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed"));
    assert_each_row_changed_once(&db, rows);
    assert!(said.try_iter().any(|l| l.contains("replicas caught up")), "no word that the replicas caught up");
}

#[test]
fn a_backfill_pauses_between_batches_as_its_manifest_says() {
    let db = TestDb::new(Kind::Postgres);
    let p = items_project(&db, 1000, 10);
    // Ten minutes between batches: the second never comes while the test watches.
    p.backfill("items", &manifest("\n[throttle]\npause_ms = 600000\n"));
    p.run(&db, &["apply"]).ok();
    let child = p
        .command(&db, &["backfill", "run", "items"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let done = || db.scalar("SELECT count(*) FROM items WHERE out IS NOT NULL");
    while done() == "0" {
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = done();
    // Watching for something that must not happen: no condition to wait on.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(done(), first, "a second batch came without the pause");
    // An operator's pause is heard during the wait, not ten minutes later.
    p.run(&db, &["backfill", "pause", "items"]).ok();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("paused"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(done(), first);
}

#[test]
fn a_plugin_named_by_its_source_folder_is_built_and_a_folder_that_is_not_one_is_refused() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_scores.sql", "CREATE TABLE scores (id integer PRIMARY KEY, points integer, band text);\nINSERT INTO scores VALUES (1, 2500, NULL), (2, 10, NULL);\n");
    let manifest = |plugin: &str| {
        format!(
            "plugin = {plugin}\nrequires = \"001\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\"]\nfilter = \"band IS NULL\"\n"
        )
    };
    // (The sample project builds the Rust example from source: `examples`.)
    p.backfill("bands", &manifest(&p.plugin_source("plugins/examples-js/score-band", "band")));
    p.run(&db, &["apply", "--with-backfills"]).ok().stdout_has("backfill bands: completed; 2 rows");
    assert_eq!(db.scalar("SELECT band FROM scores WHERE id = 1"), "platinum");
    std::fs::create_dir_all(p.path().join("js-plugin")).unwrap();
    std::fs::write(p.path().join("js-plugin/package.json"), "{}").unwrap();
    p.backfill("bands", &manifest("{ build = \"js-plugin\" }"));
    p.run(&db, &["backfill", "reset", "bands", "--confirm"]).ok();
    p.run(&db, &["backfill", "run", "bands"])
        .fails_with(1)
        .stderr_has("a JavaScript plugin's module is `app.js`, and there is none");
    std::fs::create_dir_all(p.path().join("notes")).unwrap();
    std::fs::write(p.path().join("notes/README.md"), "not a plugin").unwrap();
    p.backfill("bands", &manifest("{ build = \"notes\" }"));
    p.run(&db, &["backfill", "run", "bands"])
        .fails_with(1)
        .stderr_has("not a plugin folder runner knows: it builds a Rust crate (Cargo.toml), a Python plugin (app.py) or a JavaScript plugin (app.js)");
}
