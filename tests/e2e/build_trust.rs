//! Building plugins from source (`plugin = { build = "…" }`) without handing the plugin's author
//! the deploy: a build's own code (a crate's `build.rs`, a Python or npm package it installs)
//! runs with an environment of its own and out of reach of runner's signing key and caches;
//! toolchains run isolated from the project folder; a plugin folder's files are exactly what is
//! built and hashed; production loads locked artifacts and builds nothing.

use crate::harness::{Kind, Project, TestDb};
use std::path::{Path, PathBuf};

/// A Rust crate whose `build.rs` reports what it can reach: its environment, the environment of
/// every process above it, runner's cache key, and whether it can plant a file in the
/// compiled-plugin cache. It writes the report into its own folder, which a build may write.
const HOSTILE_BUILD_RS: &str = r#"
use std::fmt::Write as _;
fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut report = String::new();
    for (k, v) in std::env::vars() {
        writeln!(report, "env {k}={v}").unwrap();
    }
    let paths = std::fs::read_to_string(dir.join("paths.txt")).unwrap();
    let mut lines = paths.lines();
    let (key, cache) = (lines.next().unwrap(), lines.next().unwrap());
    // Read runner's key, or, where there is none yet, put one of its own in its place.
    match std::fs::read(key) {
        Ok(b) => writeln!(report, "key: read {} bytes", b.len()).unwrap(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = std::path::Path::new(key).parent().unwrap();
            match std::fs::create_dir_all(parent).and_then(|()| std::fs::write(key, "00".repeat(32))) {
                Ok(()) => writeln!(report, "key: planted its own").unwrap(),
                Err(e) => writeln!(report, "key: denied ({e})").unwrap(),
            }
        }
        Err(e) => writeln!(report, "key: denied ({e})").unwrap(),
    }
    let planted = std::fs::create_dir_all(cache).and_then(|()| std::fs::write(format!("{cache}/planted.cwasm"), b"native code"));
    match planted {
        Ok(()) => writeln!(report, "plant: written").unwrap(),
        Err(e) => writeln!(report, "plant: denied ({e})").unwrap(),
    }
    // Every process above this one: cargo, runner, the test.
    let mut pid = std::os::unix::process::parent_id();
    while pid > 1 {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(env) => writeln!(report, "ancestor {pid}: {}", String::from_utf8_lossy(&env).replace('\0', " ")).unwrap(),
            Err(e) => writeln!(report, "ancestor {pid}: denied ({e})").unwrap(),
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        pid = status.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|p| p.trim().parse().ok()).unwrap_or(0);
    }
    std::fs::write(dir.join("report.txt"), report).unwrap();
}
"#;

/// A secret every variable below carries, so the report can be searched for it.
const SECRET: &str = "s3cret-9f4e";

/// Writes the hostile crate into `<project>/plugins/hostile` and a manifest that builds it.
fn hostile_project(key: &Path, cache: &Path) -> (Project, PathBuf) {
    let p = Project::new();
    let dir = p.path().join("plugins/hostile");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"hostile\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(dir.join("build.rs"), HOSTILE_BUILD_RS).unwrap();
    std::fs::write(dir.join("paths.txt"), format!("{}\n{}\n", key.display(), cache.display())).unwrap();
    p.backfill(
        "hostile",
        "plugin = { build = \"plugins/hostile\" }\n[source]\ntable = \"t\"\nkey = [\"id\"]\ncolumns = [\"v\"]\n",
    );
    (p, dir)
}

#[test]
fn a_build_script_gets_no_secrets_and_cannot_reach_the_cache_key_or_plant_compiled_code() {
    let homes = tempfile::tempdir().unwrap();
    let (config, cache) = (homes.path().join("config"), homes.path().join("cache"));
    let key = config.join("runner/cache.key");
    let compiled = cache.join("runner/plugins");
    let (p, crate_dir) = hostile_project(&key, &compiled);
    // Trust authentication takes any password: the URL carries one, as a deploy's does.
    let db = TestDb::new(Kind::Postgres);
    db.execute("CREATE TABLE t (id integer PRIMARY KEY, v text)");
    let url = db.url.replacen("postgres@", &format!("postgres:{SECRET}@"), 1);
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("PGPASSWORD", SECRET),
        ("RUNNER_LOOKUP_URL", &format!("postgres://reader:{SECRET}@127.0.0.1/app")),
        ("APP_API_TOKEN", SECRET),
        ("XDG_CONFIG_HOME", config.to_str().unwrap()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    // The build runs; the component it makes is no plugin, so the run then fails to load it.
    let run = p.run_bare_with(&["backfill", "run", "hostile"], &vars);
    let report = std::fs::read_to_string(crate_dir.join("report.txt"))
        .unwrap_or_else(|e| panic!("the build script did not run ({e}):\n{}", run.stderr));
    assert!(!report.contains(SECRET), "a secret reached the build:\n{report}");
    assert!(!report.contains("env DATABASE_URL"), "{report}");
    assert!(report.contains("key: denied (Permission denied"), "the build could reach the cache key:\n{report}");
    assert!(
        report.contains("plant: denied (Permission denied"),
        "the build could write into the compiled-plugin cache:\n{report}"
    );
    assert!(!compiled.join("planted.cwasm").exists());
    // The build still had what it needs: a PATH and a home.
    assert!(report.contains("env PATH="), "{report}");
    assert!(report.contains("env HOME="), "{report}");
}

/// A project whose backfill builds the JavaScript score-band example from `plugins/band`, with
/// a `[env.prod]` that is a PostgreSQL deploy.
fn banded_project() -> Project {
    let p = Project::new();
    p.file(
        "001_scores.sql",
        "CREATE TABLE scores (id integer PRIMARY KEY, points integer, band text);\nINSERT INTO scores VALUES (1, 2500, NULL), (2, 10, NULL);\n",
    );
    let plugin = p.plugin_source("plugins/examples-js/score-band", "band");
    p.backfill(
        "bands",
        &format!("plugin = {plugin}\nrequires = \"001\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\"]\nfilter = \"band IS NULL\"\n"),
    );
    std::fs::write(p.path().join("runner.toml"), "[env.prod]\nengine = \"postgres\"\n").unwrap();
    p
}

/// Runs in production: `--env prod`, with node missing, so that any build would fail.
fn prod(p: &Project, db: &TestDb, args: &[&str]) -> crate::harness::Run {
    let mut all = vec!["--env", "prod"];
    all.extend_from_slice(args);
    crate::harness::Run::from(
        p.command(db, &all).env("NODE", "/nonexistent/node").env("NPM", "/nonexistent/npm").output().unwrap(),
    )
}

#[test]
fn production_runs_the_locked_component_builds_nothing_and_refuses_anything_else_before_it_starts() {
    let db = TestDb::new(Kind::Postgres);
    let p = banded_project();
    // Nothing locked: refused before any revision runs.
    let r = prod(&p, &db, &["apply", "--with-backfills", "--json"]).fails_with(5);
    assert!(r.stderr.contains("plugin bands: builds are off here (builds = \"never\")"), "{}", r.stderr);
    assert!(r.stderr.contains("run `runner plugin build`"), "{}", r.stderr);
    assert_eq!(r.json()["error"]["kind"], "plugin_lock");
    assert!(!db.table_exists("scores") && !db.table_exists("runner_state"), "nothing ran");

    // Locked: the component is kept under its SHA-256, which the lock names.
    let locked = p.run(&db, &["plugin", "build", "--json"]).ok().json();
    let component = locked["plugins"][0]["component"].as_str().unwrap().to_string();
    assert_eq!(locked["plugins"][0]["build"], "plugins/band");
    let artifact = p.path().join(".runner/built").join(format!("{component}.wasm"));
    assert!(artifact.is_file());
    let lock = std::fs::read_to_string(p.path().join("plugins.lock")).unwrap();
    assert!(
        lock.contains(&format!("component = \"{component}\"")) && lock.contains("build = \"plugins/band\""),
        "{lock}"
    );
    p.run(&db, &["plugin", "build"]).ok().stdout_has("plugins/band (bands): sha256").stdout_has("unchanged");

    prod(&p, &db, &["apply", "--with-backfills"]).ok().stdout_has("backfill bands: completed; 2 rows");
    assert_eq!(db.scalar("SELECT band FROM scores WHERE id = 1"), "platinum");

    // A component swapped on disk is refused, naming both hashes; so is a source changed since.
    p.run(&db, &["backfill", "reset", "bands", "--confirm"]).ok();
    db.execute("UPDATE scores SET band = NULL");
    let good = std::fs::read(&artifact).unwrap();
    let mut swapped = good.clone();
    swapped.extend_from_slice(b"\0");
    std::fs::write(&artifact, &swapped).unwrap();
    prod(&p, &db, &["backfill", "run", "bands"])
        .fails_with(5)
        .stderr_has(&format!("not the {component} the lock names"));
    std::fs::write(&artifact, &good).unwrap();
    let app = p.path().join("plugins/band/app.js");
    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, format!("{source}\n// changed\n")).unwrap();
    prod(&p, &db, &["backfill", "run", "bands"])
        .fails_with(5)
        .stderr_has("the sources in plugins/band changed since they were locked");
    assert_eq!(db.scalar("SELECT count(*) FROM scores WHERE band IS NULL"), "2", "nothing ran");
    // Where builds are allowed (no environment named), the changed folder is simply built.
    p.run(&db, &["backfill", "run", "bands"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM scores WHERE band IS NULL"), "0");
    // And `builds` in runner.toml says it outright, for any environment.
    std::fs::write(p.path().join("runner.toml"), "builds = \"never\"\n").unwrap();
    p.run(&db, &["backfill", "run", "bands"]).fails_with(5).stderr_has("builds are off here");
}

#[test]
fn the_python_toolchain_is_installed_and_run_isolated_from_the_project_folder() {
    // A fresh toolchains folder, so that pip runs; `pip` and `componentize_py` packages in the
    // folder runner is started from, which must never be imported in place of the real ones.
    let cache = tempfile::tempdir().unwrap();
    let p = Project::new();
    let marker = p.path().join("imported.txt");
    for package in ["pip", "componentize_py"] {
        std::fs::create_dir_all(p.path().join(package)).unwrap();
        std::fs::write(
            p.path().join(package).join("__init__.py"),
            format!(
                "open({:?}, 'a').write('{package} imported\\n')\nraise SystemExit(0)\n",
                marker.display().to_string()
            ),
        )
        .unwrap();
    }
    let plugin = p.plugin_source("plugins/examples-py/score-band", "band");
    assert_eq!(plugin, "{ build = \"plugins/band\" }");
    let vars = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let r = p.run_bare_with(&["plugin", "check", "plugins/band"], &vars);
    assert!(!marker.exists(), "{}", std::fs::read_to_string(&marker).unwrap_or_default());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("implements runner:plugin/backfill-columns"), "{}", r.stdout);
    assert!(cache.path().join("runner/toolchains/componentize-py-0.25.1/componentize_py").is_dir());
}

#[test]
fn a_toolchains_folder_other_users_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    let toolchains = cache.path().join("runner/toolchains");
    std::fs::create_dir_all(&toolchains).unwrap();
    std::fs::set_permissions(&toolchains, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = Project::new();
    p.plugin_source("plugins/examples-js/score-band", "band");
    p.run_bare_with(&["plugin", "check", "plugins/band"], &[("XDG_CACHE_HOME", cache.path().to_str().unwrap())])
        .fails_with(1)
        .stderr_has("the plugin toolchains folder cannot be used")
        .stderr_has("is writable by other users");
}

#[test]
fn a_link_in_a_plugin_folder_is_refused_in_python_and_javascript_alike() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.js"), "export const secret = 'outside the project';\n").unwrap();
    for (lang, file) in [("js", "secret.js"), ("py", "secret.py")] {
        let p = Project::new();
        p.plugin_source(&format!("plugins/examples-{lang}/score-band"), "band");
        std::os::unix::fs::symlink(outside.path().join("secret.js"), p.path().join("plugins/band").join(file)).unwrap();
        p.run_bare(&["plugin", "check", "plugins/band"])
            .fails_with(1)
            .stderr_has(&format!("{file} is a symbolic link: a plugin's files must be in its folder"));
    }
}

#[test]
fn a_manifest_cannot_build_a_folder_outside_the_project() {
    let outside = tempfile::tempdir().unwrap();
    let p = Project::new();
    for (build, says) in [
        (outside.path().display().to_string(), "must name a folder inside the project"),
        ("../elsewhere".to_string(), "must name a folder inside the project"),
    ] {
        p.backfill("b", &format!("plugin = {{ build = \"{build}\" }}\n[source]\ntable = \"t\"\nkey = [\"id\"]\n"));
        p.run_bare(&["check"]).fails_with(5).stderr_has(says);
    }
    std::fs::create_dir_all(p.path().join("plugins")).unwrap();
    std::os::unix::fs::symlink(outside.path(), p.path().join("plugins/linked")).unwrap();
    p.backfill("b", "plugin = { build = \"plugins/linked\" }\n[source]\ntable = \"t\"\nkey = [\"id\"]\n");
    p.run_bare(&["check"]).fails_with(5).stderr_has("leads out of the project through a symbolic link");
}
