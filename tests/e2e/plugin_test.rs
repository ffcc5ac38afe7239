//! `runner plugin test`: a plugin over fixture rows without a database, with a manifest's grants
//! and columns, compared with expected changes.

use crate::harness::{Project, plugin, repo_path};

/// Points on both sides of every band bound, and a NULL.
const ROWS_JSON: &str = r#"[
  {"id": 1, "points": 2500},
  {"id": 2, "points": 1000},
  {"id": 3, "points": null},
  {"id": 4, "points": 499}
]"#;

/// A file in the project folder (fixtures live next to runner.toml, not among the revisions).
fn put(p: &Project, name: &str, text: &str) {
    std::fs::write(p.path().join(name), text).unwrap();
}

fn score_band() -> String {
    plugin("score_band").display().to_string()
}

fn probe_manifest(extra: &str) -> String {
    format!(
        "plugin = \"{}\"\n[source]\ntable = \"t\"\nkey = [\"id\"]\ncolumns = [\"cmd\", \"n\", \"url\"]\n{extra}",
        plugin("probe").display()
    )
}

#[test]
fn a_plugin_runs_over_json_or_csv_rows_without_any_database() {
    let p = Project::new();
    put(&p, "rows.json", ROWS_JSON);
    put(&p, "rows.csv", "id,points\n1,2500\n2,1000\n3,\n4,499\n");
    // No database URL anywhere, and a dead server named in PG* variables: nothing connects.
    let vars = [("PGHOST", "127.0.0.1"), ("PGPORT", "1")];
    let json = p.run_bare_with(&["plugin", "test", &score_band(), "--rows", "rows.json"], &vars).ok();
    assert_eq!(
        json.stdout,
        "score-band 1.0.0: 4 rows in 1 batch -> 4 changes\n  update id=1: set band = \"platinum\"\n  \
         update id=2: set band = \"gold\"\n  update id=3: set band = \"unranked\"\n  update id=4: set band = \"bronze\"\n"
    );
    let csv = p.run_bare_with(&["plugin", "test", &score_band(), "--rows", "rows.csv"], &vars).ok();
    assert_eq!(csv.stdout, json.stdout, "CSV cells are read as the numbers and NULLs they look like");
    let out = p.run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--json"]).ok().json();
    assert_eq!(out["rows"], 4);
    assert_eq!(out["changes"][1], serde_json::json!({"update": {"key": {"id": 2}, "set": {"band": "gold"}}}));
}

#[test]
fn expected_changes_pass_as_saved_and_a_difference_exits_1_naming_the_change() {
    let p = Project::new();
    put(&p, "rows.json", ROWS_JSON);
    let saved = p.run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--json"]).ok();
    put(&p, "expected.json", &saved.stdout);
    p.run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--expect", "expected.json"])
        .ok()
        .stdout_has("as expected (expected.json)");
    put(&p, "expected.json", &saved.stdout.replace("\"gold\"", "\"silver\""));
    let r = p
        .run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--expect", "expected.json"])
        .fails_with(1)
        .stderr_has("1 difference from expected.json")
        .stderr_has("change 2: expected update id=2: set band = \"silver\", got update id=2: set band = \"gold\"");
    assert!(!r.stderr.contains("change 1"), "{}", r.stderr);
    let j = p
        .run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--expect", "expected.json", "--json"])
        .fails_with(1)
        .json();
    assert_eq!(j["differences"].as_array().map(Vec::len), Some(1), "{j}");
    // A bare array of changes is a valid expectation too; one change too many is named.
    let changes: serde_json::Value = serde_json::from_str(&saved.stdout).unwrap();
    let three = serde_json::Value::Array(changes["changes"].as_array().unwrap()[..3].to_vec());
    put(&p, "three.json", &three.to_string());
    p.run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--expect", "three.json"])
        .fails_with(1)
        .stderr_has("change 4: not expected: update id=4");
}

#[test]
fn with_a_backfill_the_plugin_gets_its_grants_config_and_columns_and_nothing_else() {
    let p = Project::new();
    p.backfill("fill", &probe_manifest("[capabilities]\nlookup = true\n[capabilities.config]\ngreeting = \"hello\"\n"));
    put(
        &p,
        "rows.json",
        r#"[{"id": 1, "cmd": "config", "n": 0, "url": null},
            {"id": 2, "cmd": "lookup-sql", "n": 0, "url": "SELECT name FROM users WHERE id = 7"}]"#,
    );
    put(&p, "lookups.json", r#"[{"query": "SELECT name FROM users WHERE id = 7", "rows": [["Ada"]]}]"#);
    let out = p
        .run_bare(&[
            "plugin",
            "test",
            "--backfill",
            "fill",
            "--rows",
            "rows.json",
            "--lookups",
            "lookups.json",
            "--json",
        ])
        .ok()
        .json();
    let set = |i: usize| out["changes"][i]["update"]["set"]["out"].clone();
    assert_eq!(set(0), "hello", "{out}");
    assert_eq!(set(1), "1 rows: Some([Value::Text(\"Ada\")])", "{out}");
    // The clock is not granted: the batch fails and says which capability.
    put(&p, "clock.json", r#"[{"id": 3, "cmd": "clock", "n": 0, "url": null}]"#);
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "clock.json"])
        .fails_with(1)
        .stderr_has("fixture rows 1-1: plugin fill: called `clock`, which its manifest does not grant");
    // A lookup the fixture does not answer fails the batch rather than passing on no data.
    put(&p, "other.json", r#"[{"id": 2, "cmd": "lookup-sql", "n": 0, "url": "SELECT 2"}]"#);
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "other.json", "--lookups", "lookups.json"])
        .fails_with(1)
        .stderr_has("no fixture lookup answers `SELECT 2`");
}

#[test]
fn fixtures_that_are_not_what_the_backfill_reads_are_named_with_file_and_line() {
    let p = Project::new();
    p.backfill("fill", &probe_manifest(""));
    put(
        &p,
        "rows.json",
        "[\n  {\"id\": 1, \"cmd\": \"noop\", \"n\": 0, \"url\": null},\n  {\"id\": 2, \"cmd\": [1]}\n]",
    );
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "rows.json"])
        .fails_with(5)
        .stderr_has("rows.json:3: row 2, column `cmd`: arrays and objects are not column values");
    put(&p, "short.json", r#"[{"id": 1, "cmd": "noop"}]"#);
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "short.json"])
        .fails_with(5)
        .stderr_has("backfill `fill` reads column(s) n, url that the rows do not have");
    put(&p, "ragged.csv", "id,cmd,n,url\n1,noop,0,\n2,noop\n");
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "ragged.csv"])
        .fails_with(5)
        .stderr_has("ragged.csv:3:");
    let j =
        p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "ragged.csv", "--json"]).fails_with(5).json();
    assert_eq!(j["error"]["kind"], "fixture", "{j}");
    assert_eq!(j["error"]["line"], 3, "{j}");
    p.run_bare(&["plugin", "test", "--backfill", "nope", "--rows", "rows.json"])
        .fails_with(5)
        .stderr_has("no backfill `nope`");
    p.run_bare(&["plugin", "test", "--rows", "rows.json"]).fails_with(2);
}

#[test]
fn a_python_plugin_folder_is_built_and_tested_like_a_wasm_file() {
    let p = Project::new();
    put(&p, "rows.json", ROWS_JSON);
    let rust = p.run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--json"]).ok().json();
    let folder = repo_path("plugins/examples-py/score-band");
    let python =
        p.run_bare(&["plugin", "test", &folder.display().to_string(), "--rows", "rows.json", "--json"]).ok().json();
    assert_eq!(python["changes"], rust["changes"]);
    // A plugin that raises: its exception, as one line, with the rows it failed on.
    put(&p, "rows2.json", r#"[{"id": 1, "cmd": "divide"}]"#);
    let fails = repo_path("plugins/test-plugins-py/fails");
    p.run_bare(&["plugin", "test", &fails.display().to_string(), "--rows", "rows2.json"])
        .fails_with(1)
        .stderr_has("fixture rows 1-1: plugin fails")
        .stderr_has("ZeroDivisionError: division by zero (app.py:9 in divide)");
}

#[test]
fn a_js_plugin_folder_gives_rust_s_changes_and_a_key_beyond_2_53_stays_exact() {
    let p = Project::new();
    put(&p, "rows.json", ROWS_JSON);
    let rust = p.run_bare(&["plugin", "test", &score_band(), "--rows", "rows.json", "--json"]).ok().json();
    let folder = repo_path("plugins/examples-js/score-band").display().to_string();
    let js = p.run_bare(&["plugin", "test", &folder, "--rows", "rows.json", "--json"]).ok().json();
    assert_eq!(js["changes"], rust["changes"]);
    // The JS runtime carries 64-bit integers as doubles (2^53 + 1 arrives as 2^53, a neighbour's
    // key), but an update names its row by position and the host fills in the key it read, so
    // the change is to the row itself. (Reading such a value fails: tests/e2e/polyglot.rs.)
    put(&p, "big.json", r#"[{"id": 9007199254740993, "points": 5}]"#);
    let r = p.run_bare(&["plugin", "test", &folder, "--rows", "big.json", "--json"]).ok().json();
    assert_eq!(r["changes"][0]["update"]["key"]["id"], serde_json::json!(9007199254740993u64), "{r}");
}

#[test]
fn normalise_email_makes_the_same_changes_in_rust_python_and_javascript() {
    let p = Project::new();
    put(
        &p,
        "emails.json",
        r#"[{"id": 1, "email": "  Ada@Example.COM "}, {"id": 2, "email": "bob@example.com"},
            {"id": 3, "email": null}, {"id": 4, "email": "\tZOË@Example.org"}, {"id": 5, "email": ""}]"#,
    );
    let changes = |plugin: &str| {
        p.run_bare(&["plugin", "test", plugin, "--rows", "emails.json", "--json"]).ok().json()["changes"].clone()
    };
    let rust = changes(&plugin("normalise_email").display().to_string());
    assert_eq!(rust.as_array().map(Vec::len), Some(2), "{rust}");
    assert_eq!(rust[1]["update"]["set"]["email"], "zoë@example.org");
    for lang in ["py", "js"] {
        let folder = repo_path(&format!("plugins/examples-{lang}/normalise-email")).display().to_string();
        assert_eq!(changes(&folder), rust, "{lang}");
    }
}

#[test]
fn a_new_plugin_in_each_language_builds_and_passes_its_own_test_as_generated() {
    let p = Project::new();
    for lang in ["python", "js", "rust"] {
        let name = format!("fix-emails-{lang}");
        let created = p.run_bare(&["plugin", "new", &name, "--lang", lang]).ok();
        let dir = format!("plugins/{name}");
        assert!(
            created.stdout.contains(&format!("test it: runner plugin test {dir} --rows {dir}/rows.json")),
            "{}",
            created.stdout
        );
        for file in ["README.md", "rows.json", "expected.json"] {
            assert!(p.path().join(&dir).join(file).is_file(), "{lang}: no {file}");
        }
        let r = p
            .run_bare(&[
                "plugin",
                "test",
                &dir,
                "--rows",
                &format!("{dir}/rows.json"),
                "--expect",
                &format!("{dir}/expected.json"),
            ])
            .ok();
        assert!(r.stdout.contains(&format!("{name} 0.1.0: 3 rows in 1 batch -> 1 change")), "{lang}: {}", r.stdout);
        assert!(r.stdout.contains("as expected"), "{lang}: {}", r.stdout);
        // Never over an existing folder.
        p.run_bare(&["plugin", "new", &name, "--lang", lang])
            .fails_with(1)
            .stderr_has("already exists; nothing was changed");
    }
    p.run_bare(&["plugin", "new", "Bad Name"]).fails_with(2).stderr_has("is not a plugin name");
}

#[test]
fn plugin_check_builds_a_source_folder_and_compiles_it_into_the_cache_saying_so() {
    let p = Project::new();
    std::fs::write(p.path().join("runner.toml"), "plugin_cache = \"compiled\"\n").unwrap();
    let folder = repo_path("plugins/examples-js/score-band").display().to_string();
    let first = p.run_bare(&["plugin", "check", &folder]).ok();
    assert!(first.stdout.contains("OK, implements runner:plugin/backfill-columns@0.1.0"), "{}", first.stdout);
    assert!(first.stdout.contains("built from source"), "{}", first.stdout);
    assert!(first.stdout.contains("and stored in the cache: the next run loads it at once"), "{}", first.stdout);
    let again = p.run_bare(&["plugin", "check", &folder, "--json"]).ok().json();
    assert_eq!(again["cache"], "hit", "{again}");
    assert_eq!(again["built"], true, "{again}");
}

/// Sets when `path` (a file or a folder) was last changed to `days` days ago.
fn age(path: &std::path::Path, days: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400 + 60);
    std::fs::File::open(path).unwrap().set_modified(then).unwrap();
}

#[test]
fn plugin_cache_reports_what_it_holds_and_prune_removes_only_what_cannot_or_did_not_get_used() {
    let p = Project::new();
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().display().to_string();
    let vars = [("XDG_CACHE_HOME", xdg.as_str())];
    p.run_bare_with(&["plugin", "check", &plugin("probe").display().to_string()], &vars)
        .ok()
        .stdout_has("stored in the cache");
    let cache = home.path().join("runner/plugins");
    let compiled: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(compiled.len(), 1);
    let other_engine = cache.join("ab12-0000000000000000.cwasm");
    std::fs::copy(&compiled[0], &other_engine).unwrap();
    std::fs::create_dir_all(cache.join("builds")).unwrap();
    for f in ["js-old.wasm", "js-new.wasm", ".js-half.wasm.999"] {
        std::fs::write(cache.join("builds").join(f), b"\0asm").unwrap();
    }
    age(&cache.join("builds/js-old.wasm"), 40);
    age(&cache.join("builds/.js-half.wasm.999"), 1);
    let tools = home.path().join("runner/toolchains");
    for d in ["componentize-py-0.1.0", "componentize-qjs-0.4.5", ".componentize-qjs-0.4.5.999"] {
        std::fs::create_dir_all(tools.join(d)).unwrap();
        std::fs::write(tools.join(d).join("f"), b"x").unwrap();
    }
    age(&tools.join("componentize-qjs-0.4.5"), 400);
    let report = p.run_bare_with(&["plugin", "cache", "--json"], &vars).ok().json();
    let count = |kind: &str| report["items"].as_array().unwrap().iter().filter(|i| i["kind"] == kind).count();
    assert_eq!((count("compiled"), count("build"), count("toolchain"), count("leftover")), (2, 2, 2, 2), "{report}");
    p.run_bare_with(&["plugin", "cache"], &vars)
        .ok()
        .stdout_has("compiled plugins: 2,")
        .stdout_has("1 unusable by this runner");
    let pruned = p.run_bare_with(&["plugin", "cache", "prune", "--json"], &vars).ok().json();
    let mut gone: Vec<String> = pruned["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| std::path::Path::new(i["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    gone.sort();
    assert_eq!(gone, [".js-half.wasm.999", "ab12-0000000000000000.cwasm", "componentize-py-0.1.0", "js-old.wasm"]);
    // Kept: the loadable compiled plugin, the recent build, the pinned toolchain however old, and
    // an install that may still be going on.
    assert!(compiled[0].exists() && cache.join("builds/js-new.wasm").exists());
    assert!(tools.join("componentize-qjs-0.4.5").exists() && tools.join(".componentize-qjs-0.4.5.999").exists());
    p.run_bare_with(&["plugin", "cache", "prune", "--all"], &vars).ok().stdout_has("removed 4 items");
    let left = p.run_bare_with(&["plugin", "cache", "--json"], &vars).ok().json();
    assert_eq!(left["items"].as_array().map(Vec::len), Some(0), "{left}");
}

#[test]
fn under_a_virtual_memory_limit_the_pool_cannot_fit_plugins_still_run_and_it_is_said() {
    let p = Project::new();
    put(&p, "rows.json", ROWS_JSON);
    // 16 GB of address space: room for a plugin's memory, not for the instance pool.
    let line = format!(
        "ulimit -v 16000000 && exec '{}' plugin test '{}' --rows rows.json",
        env!("CARGO_BIN_EXE_runner"),
        score_band()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &line])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("4 rows in 1 batch -> 4 changes"), "{stdout}");
    assert!(stderr.contains("cannot reserve the plugin instance pool; allocating per instance"), "{stderr}");
}

#[test]
fn http_calls_are_answered_from_a_file_within_the_allow_list_and_never_reach_the_network() {
    let p = Project::new();
    // Nothing listens on this origin: an answer can only come from the file.
    p.backfill("fill", &probe_manifest("[capabilities]\nhttp = [\"http://127.0.0.1:9\"]\n"));
    put(&p, "rows.json", r#"[{"id": 1, "cmd": "http", "n": 0, "url": "http://127.0.0.1:9/score?id=1"}]"#);
    put(
        &p,
        "http.json",
        r#"[{"method": "GET", "url": "http://127.0.0.1:9/score?id=1", "status": 201, "body": "answered"}]"#,
    );
    let out = p
        .run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "rows.json", "--http", "http.json", "--json"])
        .ok()
        .json();
    assert_eq!(out["changes"][0]["update"]["set"]["out"], "201 answered", "{out}");
    // A request the file does not answer fails the batch.
    put(&p, "other.json", r#"[{"id": 1, "cmd": "http", "n": 0, "url": "http://127.0.0.1:9/other"}]"#);
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "other.json", "--http", "http.json"])
        .fails_with(1)
        .stderr_has("an http request had no test answer: nothing answers GET http://127.0.0.1:9/other");
    // The allow-list still holds.
    put(&p, "outside.json", r#"[{"id": 1, "cmd": "http", "n": 0, "url": "http://127.0.0.1:10/score?id=1"}]"#);
    p.run_bare(&["plugin", "test", "--backfill", "fill", "--rows", "outside.json", "--http", "http.json"])
        .fails_with(1)
        .stderr_has("called `http`, which its manifest does not grant");
}

#[test]
fn a_kept_build_that_was_swapped_on_disk_is_built_again_not_run() {
    let p = Project::new();
    std::fs::write(p.path().join("runner.toml"), "plugin_cache = \"compiled\"\n").unwrap();
    put(
        &p,
        "rows.json",
        r#"[{"id": 1, "points": 2500, "email": " A@B.C"}, {"id": 2, "points": 10, "email": "x@y.z"}]"#,
    );
    let score = repo_path("plugins/examples-js/score-band").display().to_string();
    let email = repo_path("plugins/examples-js/normalise-email").display().to_string();
    p.run_bare(&["plugin", "test", &score, "--rows", "rows.json"]).ok();
    p.run_bare(&["plugin", "test", &email, "--rows", "rows.json"]).ok();
    let builds = p.path().join("compiled/builds");
    let mut kept: Vec<_> = std::fs::read_dir(&builds).unwrap().flatten().map(|e| e.path()).collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    // Whoever swaps one kept build for another gets neither run under the wrong name.
    let (a, b) = (std::fs::read(&kept[0]).unwrap(), std::fs::read(&kept[1]).unwrap());
    std::fs::write(&kept[0], &b).unwrap();
    std::fs::write(&kept[1], &a).unwrap();
    for plugin in [&score, &email] {
        let r = p.run_bare(&["plugin", "test", plugin, "--rows", "rows.json"]).ok();
        assert!(r.stderr.contains("building the plugin"), "a swapped build was used as it was:\n{}", r.stderr);
        assert!(r.stderr.contains("not signed by this user's runner"), "{}", r.stderr);
    }
    let r = p.run_bare(&["plugin", "test", &score, "--rows", "rows.json"]).ok();
    assert!(r.stdout.contains("score-band 1.0.0: 2 rows"), "{}", r.stdout);
    assert!(!r.stderr.contains("building the plugin"), "a build signed now is kept: {}", r.stderr);
}
