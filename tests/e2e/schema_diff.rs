//! `runner diff` against the corpus in `tests/schema-diff/`: every case in both directions on a
//! real server, judged by the property that matters (after the generated SQL, `pg_dump
//! --schema-only` of the first database equals the second's, and a second diff is empty).

use crate::harness::{Kind, Project, TestDb, repo_path};
use crate::on_both;

/// `pg_dump --schema-only` of `db`, without what differs between two databases with the same
/// schema (the dump's header and `SET` lines). Privileges are in it; their lines are sorted,
/// since pg_dump prints one object's grants in the order they were granted.
fn dump(db: &TestDb) -> String {
    let out = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--dbname", &db.url])
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = text
        .lines()
        .filter(|l| {
            // (`\restrict` carries a random key of each dump's own.)
            !l.starts_with("--")
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
                && !l.starts_with("SET ")
                && !l.starts_with("SELECT pg_catalog.set_config")
                && !l.trim().is_empty()
        })
        .collect::<Vec<_>>();
    let (mut grants, mut rest): (Vec<&str>, Vec<&str>) =
        lines.into_iter().partition(|l| l.starts_with("GRANT ") || l.starts_with("REVOKE "));
    grants.sort();
    rest.extend(grants);
    rest.join("\n")
}

/// Runs the binary and returns its run with the scratch databases it left on `db`'s server
/// (its own only: their names carry its process id; other tests run at the same time).
fn run_counting_scratch(p: &Project, db: &TestDb, args: &[&str]) -> (crate::harness::Run, String) {
    let child =
        p.command(db, args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let run = crate::harness::Run::from(child.wait_with_output().unwrap());
    let left = db.scalar(&format!("SELECT count(*) FROM pg_database WHERE datname LIKE 'runner\\_dev\\_{pid}\\_%'"));
    (run, left)
}

fn loaded(sql: &str) -> TestDb {
    let db = TestDb::new(Kind::Postgres);
    db.execute(sql);
    db
}

/// Diffs `from` → `to` (with these `--rename` arguments) and applies the result to a database
/// holding `from`; or, where the case says the differ cannot go this way (`unhandled`
/// non-empty), checks that it says exactly that.
fn check_direction(case: &str, from: &str, to: &str, renames: &[String], unhandled: &[String], never: &[String]) {
    let (a, b) = (loaded(from), loaded(to));
    let p = Project::new();
    let mut args = vec!["diff", "--from", &a.url, "--to", &b.url, "--json"];
    for r in renames {
        args.extend(["--rename", r.as_str()]);
    }
    let out = p.run(&a, &args);
    if !unhandled.is_empty() {
        assert_eq!(out.code, 1, "{case}: {}\n{}", out.stdout, out.stderr);
        for u in unhandled {
            assert!(out.stderr.contains(u.as_str()), "{case}: `{u}` not reported:\n{}", out.stderr);
        }
        return;
    }
    assert_eq!(out.code, 0, "{case}: {}\n{}", out.stdout, out.stderr);
    let j = out.json();
    assert_eq!(j["unhandled"], serde_json::json!([]), "{case}: {j}");
    let statements: Vec<String> =
        j["statements"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert!(!statements.is_empty(), "{case}: the sides differ, yet no statements");
    for n in never {
        assert!(!statements.iter().any(|s| s.contains(n.as_str())), "{case}: `{n}` in\n{}", statements.join("\n"));
    }
    for s in &statements {
        a.execute(s);
    }
    assert_eq!(dump(&a), dump(&b), "{case}: after\n{}\nthe schemas still differ", statements.join("\n"));
    let again = p.run(&a, &["diff", "--from", &a.url, "--to", &b.url, "--exit-code"]);
    assert_eq!(again.code, 0, "{case}: a second diff is not empty:\n{}", again.stdout);
}

/// The case folders of a corpus, in name order; at least `least` of them.
fn corpus(dir: &str, least: usize) -> Vec<std::fs::DirEntry> {
    let mut cases: Vec<_> =
        std::fs::read_dir(repo_path(dir)).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    cases.sort_by_key(|e| e.file_name());
    assert!(cases.len() >= least, "the corpus in {dir} is missing");
    cases
}

#[test]
fn every_corpus_case_turns_from_into_to_and_back() {
    for case in corpus("tests/schema-diff", 7) {
        let name = case.file_name().to_string_lossy().into_owned();
        let from = std::fs::read_to_string(case.path().join("from.sql")).unwrap();
        let to = std::fs::read_to_string(case.path().join("to.sql")).unwrap();
        let lines = |file: &str| -> Vec<String> {
            std::fs::read_to_string(case.path().join(file))
                .map(|t| t.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
                .unwrap_or_default()
        };
        // `reverse-unhandled.txt`: what the differ must report instead of going back;
        // `renames.txt`, `reverse-renames.txt`: the `--rename` arguments of each direction;
        // `never.txt`: text no statement of either direction may hold.
        let reverse = lines("reverse-unhandled.txt");
        let never = lines("never.txt");
        check_direction(&format!("{name} (from → to)"), &from, &to, &lines("renames.txt"), &[], &never);
        check_direction(&format!("{name} (to → from)"), &to, &from, &lines("reverse-renames.txt"), &reverse, &never);
    }
}

/// `sqlite_schema` of `db` as text to compare: each object's statement with case, quotes and
/// spacing made uniform (SQLite keeps statements as written, and quotes a renamed name).
fn sqlite_objects(db: &TestDb) -> Vec<String> {
    db.query("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'runner_state%' ORDER BY type, name")
        .into_iter()
        .map(|r| {
            let sql: String = r[3].clone().unwrap_or_default().to_lowercase().replace(['"', '`'], "");
            let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ").replace("( ", "(").replace(" (", "(").replace(" )", ")");
            let name = |i: usize| r[i].clone().unwrap_or_default().to_lowercase();
            format!("{} {} on {}: {sql}", name(0), name(1), name(2))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// One direction of a SQLite case: the diff, run as a revision runs, gives the other side's
/// objects, keeps the rows of `from`'s data in the columns both sides have, and a second diff
/// is empty.
fn check_sqlite_direction(case: &str, from: &str, to: &str, renames: &[String], data: &str) {
    let (a, b) = (TestDb::new(Kind::Sqlite), TestDb::new(Kind::Sqlite));
    a.execute(from);
    b.execute(to);
    if !data.is_empty() {
        a.execute(data);
    }
    let before: i64 = a.scalar("SELECT count(*) FROM sqlite_schema").parse().unwrap();
    let p = Project::new();
    let mut args = vec!["diff", "--from", &a.url, "--to", &b.url, "--json"];
    for r in renames {
        args.extend(["--rename", r.as_str()]);
    }
    let out = p.run(&a, &args);
    assert_eq!(out.code, 0, "{case}: {}\n{}", out.stdout, out.stderr);
    let j = out.json();
    let statements: Vec<String> =
        j["statements"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert!(!statements.is_empty() && before > 0, "{case}: the sides differ, yet no statements");
    a.transaction(&statements);
    assert_eq!(
        sqlite_objects(&a),
        sqlite_objects(&b),
        "{case}: after\n{}\nthe schemas still differ",
        statements.join("\n")
    );
    let again = p.run(&a, &["diff", "--from", &a.url, "--to", &b.url, "--exit-code"]);
    assert_eq!(again.code, 0, "{case}: a second diff is not empty:\n{}", again.stdout);
    if !data.is_empty() {
        assert_ne!(a.scalar("SELECT count(*) FROM kept"), "0", "{case}: the rows of `kept` are gone");
    }
}

#[test]
fn sqlite_statements_that_differ_only_in_form_are_the_same_schema() {
    let (a, b) = (TestDb::new(Kind::Sqlite), TestDb::new(Kind::Sqlite));
    a.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT DEFAULT 'A b'); CREATE INDEX t_name ON t(name);");
    b.execute("create table \"T\" (\n  id integer primary key, -- the key\n  [name] text default 'A b'\n);\ncreate index T_NAME on t ( name );");
    let p = Project::new();
    p.run(&a, &["diff", "--from", &a.url, "--to", &b.url, "--exit-code"]).ok().stderr_has("the schemas are the same");
    // Columns appended are added in place (no rebuild, the table's rows and indexes stay).
    b.execute("ALTER TABLE t ADD COLUMN theme TEXT DEFAULT 'light'");
    let r = p.run(&a, &["diff", "--from", &a.url, "--to", &b.url]).ok();
    assert_eq!(r.stdout.trim(), "ALTER TABLE \"t\" ADD COLUMN theme TEXT DEFAULT 'light';", "{}", r.stderr);
    // A literal's case is a difference.
    b.execute("DROP INDEX t_name; DROP TABLE t; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT DEFAULT 'a b'); CREATE INDEX t_name ON t (name);");
    p.run(&a, &["diff", "--from", &a.url, "--to", &b.url, "--exit-code"]).fails_with(2);
}

#[test]
fn autogenerate_on_sqlite_needs_no_server_and_keeps_the_rows() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n");
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    std::fs::write(
        p.path().join("schema.sql"),
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  email TEXT NOT NULL CHECK (email LIKE '%@%'),\n  theme TEXT DEFAULT 'light'\n);\nCREATE INDEX users_email ON users (email);\n",
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    db.execute("INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com')");
    let child = p
        .command(&db, &["new", "add theme", "--autogenerate"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let made = crate::harness::Run::from(child.wait_with_output().unwrap()).ok();
    assert!(made.stderr.contains("hazard: rebuilds the table"), "{}", made.stderr);
    // The database the revision is for says how many rows that is.
    assert!(made.stderr.contains("[main.users has 2 rows]"), "{}", made.stderr);
    let text = revision_text(&p, "add_theme");
    assert!(text.contains("CREATE TEMP TABLE \"runner_rebuild_users\""), "{text}");
    // Its scratch databases were files of its own, and are gone.
    let left = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("runner_dev_{pid}_")))
        .count();
    assert_eq!(left, 0, "a scratch database was left behind");
    p.run(&db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT group_concat(theme) FROM users"), "light,light");
    p.run(&db, &["check", "--schema"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql", "--exit-code"]).ok();
    p.run(&db, &["revert"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "2");
    p.run(&db, &["diff", "--from", &db.url, "--to", "migrations@001", "--exit-code"]).ok();
    // --online is PostgreSQL's.
    p.run(&db, &["new", "again", "--autogenerate", "--online"]).fails_with(2).stderr_has("--online is for PostgreSQL");
}

#[test]
fn every_sqlite_corpus_case_turns_from_into_to_and_back() {
    for case in corpus("tests/schema-diff-sqlite", 3) {
        let name = case.file_name().to_string_lossy().into_owned();
        let read = |file: &str| std::fs::read_to_string(case.path().join(file)).unwrap_or_default();
        let lines = |file: &str| -> Vec<String> {
            read(file).lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
        };
        let (from, to) = (read("from.sql"), read("to.sql"));
        // `data.sql` fills a table `kept` on the first side, whose rows must survive.
        check_sqlite_direction(&format!("{name} (from → to)"), &from, &to, &lines("renames.txt"), &read("data.sql"));
        check_sqlite_direction(&format!("{name} (to → from)"), &to, &from, &lines("reverse-renames.txt"), "");
    }
}

#[test]
fn schema_files_are_loaded_into_a_scratch_database_that_is_dropped_after() {
    let target = loaded("CREATE TABLE t (id integer PRIMARY KEY);");
    let p = Project::new();
    std::fs::create_dir(p.path().join("schema")).unwrap();
    std::fs::write(p.path().join("schema/01_t.sql"), "CREATE TABLE t (id integer PRIMARY KEY, name text);").unwrap();
    std::fs::write(p.path().join("schema/02_u.sql"), "CREATE TABLE u (t_id integer REFERENCES t(id));").unwrap();
    let (r, left) =
        run_counting_scratch(&p, &target, &["diff", "--from", &target.url, "--to", "schema", "--exit-code"]);
    let r = r.fails_with(2);
    assert!(r.stdout.contains("ALTER TABLE \"public\".\"t\" ADD COLUMN \"name\" text;"), "{}", r.stdout);
    assert!(r.stdout.contains("REFERENCES public.t(id)"), "names are schema-qualified: {}", r.stdout);
    assert_eq!(left, "0", "the scratch database was left behind");
    // Nothing was written to the target.
    assert_eq!(target.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'"), "1");
    // A file the server rejects names the file, and the scratch database still goes.
    std::fs::write(
        p.path().join("schema/03_bad.sql"),
        "-- a table\nCREATE TABLE ok (id integer);\nCREATE TABLE broken (id nosuchtype);\n",
    )
    .unwrap();
    let (r, left) = run_counting_scratch(&p, &target, &["diff", "--from", &target.url, "--to", "schema"]);
    r.fails_with(1).stderr_has("03_bad.sql:3: the dev database rejected it").stderr_has("nosuchtype");
    assert_eq!(left, "0", "the scratch database was left behind after a failure");
}

#[test]
fn objects_the_differ_does_not_handle_are_named_and_the_command_fails() {
    let a = loaded("CREATE TABLE t (id integer PRIMARY KEY); CREATE TYPE pair AS (a integer, b integer);");
    let b = loaded(
        "CREATE TABLE t (id integer PRIMARY KEY); CREATE TYPE pair AS (b integer, a integer); \
         CREATE AGGREGATE total (integer) (SFUNC = int4pl, STYPE = integer, MSFUNC = int4pl, MINVFUNC = int4mi, MSTYPE = integer);",
    );
    let p = Project::new();
    let r = p.run(&a, &["diff", "--from", &a.url, "--to", &b.url]).fails_with(1);
    for named in
        ["composite type attributes reordered public.pair (changed)", "aggregate public.total(integer) (added)"]
    {
        assert!(r.stderr.contains(named), "{named} not reported:\n{}", r.stderr);
    }
    let same = p.run(&a, &["diff", "--from", &a.url, "--to", &a.url, "--exit-code"]).ok();
    assert!(same.stderr.contains("the schemas are the same"), "{}", same.stderr);
}

#[test]
fn autogenerate_writes_a_revision_from_the_head_to_the_declared_schema_and_back() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    let before = "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n";
    p.file("001_users.sql", before);
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema\"\n").unwrap();
    std::fs::create_dir(p.path().join("schema")).unwrap();
    std::fs::write(p.path().join("before.sql"), before).unwrap();
    std::fs::write(
        p.path().join("schema/01_users.sql"),
        "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, theme text DEFAULT 'light');\n\
         CREATE TABLE prefs (user_id integer PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE, data jsonb NOT NULL);\n\
         CREATE INDEX users_email ON users (lower(email));\n",
    )
    .unwrap();
    let (made, left) = run_counting_scratch(&p, &db, &["new", "add preferences", "--autogenerate"]);
    let made = made.ok();
    assert_eq!(left, "0", "scratch databases were left behind");
    assert!(made.stdout.contains("created "), "{}", made.stdout);
    assert!(made.stderr.contains("hazard: builds an index while blocking writes"), "{}", made.stderr);
    let file = std::fs::read_dir(p.migrations())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| f.to_string_lossy().contains("add_preferences"))
        .expect("the revision file");
    let text = std::fs::read_to_string(&file).unwrap();
    let (up, down) = text.split_once("-- runner:down").unwrap();
    assert!(up.contains("ADD COLUMN \"theme\" text DEFAULT 'light'::text;"), "{text}");
    assert!(up.contains("REFERENCES public.users(id) ON DELETE CASCADE"), "{text}");
    assert!(down.contains("DROP TABLE \"public\".\"prefs\";") && down.contains("-- hazard: deletes data"), "{text}");
    assert!(!text.contains("runner:todo"), "{text}");
    // Nothing was written to the target.
    assert!(!db.table_exists("users"));
    // Applied, the target has the declared schema; reverted, the head it had.
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "schema", "--exit-code"]).ok();
    p.run(&db, &["revert"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "before.sql", "--exit-code"]).ok();
    // `migrations@001` is the schema the revisions had at 001: the same.
    p.run(&db, &["diff", "--from", &db.url, "--to", "migrations@001", "--exit-code"]).ok();
    p.run(&db, &["diff", "--from", "migrations@001", "--to", "migrations", "--exit-code"])
        .fails_with(2)
        .stdout_has("CREATE TABLE \"public\".\"prefs\"");
    p.run(&db, &["apply"]).ok();
    // At the declared schema already: nothing to write.
    p.run(&db, &["new", "again", "--autogenerate"]).ok().stdout_has("no changes");
    assert_eq!(std::fs::read_dir(p.migrations()).unwrap().count(), 2);
    // An object the differ does not handle: nothing written without --force.
    std::fs::write(
        p.path().join("schema/02_total.sql"),
        "CREATE AGGREGATE total (integer) (SFUNC = int4pl, STYPE = integer, MSFUNC = int4pl, MINVFUNC = int4mi, MSTYPE = integer);\n",
    )
    .unwrap();
    p.run(&db, &["new", "add an aggregate", "--autogenerate"])
        .fails_with(1)
        .stderr_has("aggregate public.total(integer) (added)")
        .stderr_has("nothing was written");
    assert_eq!(std::fs::read_dir(p.migrations()).unwrap().count(), 2);
    // --force writes it, with the note saying what to write by hand (there is no SQL for it).
    p.run(&db, &["new", "add an aggregate", "--autogenerate", "--force"]).ok().stdout_has("created ");
    let forced = revision_text(&p, "add_an_aggregate");
    assert!(
        forced.contains("-- runner: not handled, write it by hand: aggregate public.total(integer) (added)"),
        "{forced}"
    );
}

/// The revision file `runner new` wrote last, by its message.
fn revision_text(p: &Project, slug: &str) -> String {
    let file = std::fs::read_dir(p.migrations())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| f.to_string_lossy().contains(slug))
        .expect("the revision file");
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn a_rename_said_in_the_schema_file_keeps_the_rows_both_ways() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file(
        "001_users.sql",
        "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
",
    );
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    p.run(&db, &["apply"]).ok();
    db.execute("INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com')");

    // Unsaid, the rename is a drop and an add: written so, and said to delete the data.
    let declared = "CREATE TABLE accounts (\n  id serial PRIMARY KEY,\n  mail text NOT NULL\n);\n";
    std::fs::write(p.path().join("schema.sql"), declared).unwrap();
    p.run(&db, &["new", "unsaid", "--autogenerate"])
        .ok()
        .stderr_has("table public.users is dropped and public.accounts added with the same definition")
        .stderr_has("--rename users=accounts");
    let unsaid = revision_text(&p, "unsaid");
    assert!(unsaid.contains("DROP TABLE \"public\".\"users\";"), "{unsaid}");
    assert!(unsaid.contains("-- hazard: table public.users is dropped"), "{unsaid}");
    std::fs::remove_file(
        std::fs::read_dir(p.migrations())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|f| f.to_string_lossy().contains("unsaid"))
            .unwrap(),
    )
    .unwrap();

    // Said, it is a rename; the rows stay, and go back with the revert.
    let hinted = format!(
        "-- runner:renamed-from users\n{}",
        declared.replace("  mail", "  -- runner:renamed-from email\n  mail")
    );
    std::fs::write(p.path().join("schema.sql"), &hinted).unwrap();
    let r = p.run(&db, &["new", "rename users", "--autogenerate"]).ok();
    assert!(!r.stderr.contains("is dropped"), "{}", r.stderr);
    // No data is lost, but running code that names the old table breaks: said.
    assert!(r.stderr.contains("hazard: renames what the running application may still use"), "{}", r.stderr);
    let text = revision_text(&p, "rename_users");
    let (up, down) = text.split_once("-- runner:down").unwrap();
    assert!(up.contains("ALTER TABLE \"public\".\"users\" RENAME TO \"accounts\";"), "{text}");
    assert!(up.contains("RENAME COLUMN \"email\" TO \"mail\""), "{text}");
    assert!(!up.contains("DROP TABLE") && !up.contains("DROP COLUMN"), "{text}");
    assert!(down.contains("ALTER TABLE \"public\".\"accounts\" RENAME TO \"users\";"), "{text}");
    p.run(&db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT string_agg(mail, ',' ORDER BY id) FROM accounts"), "a@example.com,b@example.com");
    p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql", "--exit-code"]).ok();
    // The serial sequence went with its table: the next row still gets the next id.
    db.execute("INSERT INTO accounts (mail) VALUES ('c@example.com')");
    assert_eq!(db.scalar("SELECT max(id) FROM accounts"), "3");
    // The hint stays in the file once the rename is made: nothing more to write.
    p.run(&db, &["new", "again", "--autogenerate"]).ok().stdout_has("no changes");
    p.run(&db, &["revert"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM users WHERE email LIKE '%@example.com'"), "3");
}

#[test]
fn online_puts_what_would_lock_a_table_into_a_concurrent_revision_that_can_be_resumed() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file(
        "001_init.sql",
        "CREATE TABLE teams (id integer PRIMARY KEY);\n\
         CREATE TABLE users (id integer PRIMARY KEY, email text, team integer);\n\
         CREATE INDEX users_team_old ON users (team);\n",
    );
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    std::fs::write(
        p.path().join("schema.sql"),
        "CREATE TABLE teams (id integer PRIMARY KEY);\n\
         CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL CHECK (email <> ''), team integer REFERENCES teams (id));\n\
         CREATE INDEX users_email ON users (lower(email));\n\
         CREATE TABLE audit (id integer PRIMARY KEY, at timestamptz);\n\
         CREATE INDEX audit_at ON audit (at);\n",
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    // A row that the NOT NULL will refuse, until it is fixed.
    db.execute("INSERT INTO teams VALUES (1); INSERT INTO users VALUES (1, 'a@example.com', 1), (2, NULL, NULL)");
    let made = p.run(&db, &["new", "tighten users", "--autogenerate", "--online"]).ok();
    assert!(!made.stderr.contains("builds an index while blocking writes"), "{}", made.stderr);
    let first = revision_text(&p, "tighten_users.sql");
    let second = revision_text(&p, "tighten_users_concurrently");
    assert!(first.contains("CREATE TABLE \"public\".\"audit\"") && first.contains("CREATE INDEX audit_at"), "{first}");
    assert!(
        !first.contains("CONCURRENTLY") && !first.contains("users_email") && !first.contains("SET NOT NULL"),
        "{first}"
    );
    assert!(second.contains("-- transaction: none"), "{second}");
    // Neither waits for a lock long enough to hold the application up behind it.
    assert!(
        first.contains("SET LOCAL lock_timeout = '5s';") && second.contains("SET lock_timeout = '5s';"),
        "{first}\n{second}"
    );
    for s in [
        "CREATE INDEX CONCURRENTLY users_email ON public.users",
        "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_team_old\";",
        "REFERENCES public.teams(id) NOT VALID;",
        "VALIDATE CONSTRAINT \"users_team_fkey\";",
        "CHECK (\"email\" IS NOT NULL) NOT VALID;",
        "ALTER COLUMN \"email\" SET NOT NULL;",
    ] {
        assert!(second.contains(s), "`{s}` missing:\n{second}");
    }
    // The NULL stops it at the validation, with the first revision and part of the second done.
    p.run(&db, &["apply"]).fails_with(1).stderr_has("apply --resume");
    assert!(db.table_exists("audit"));
    db.execute("UPDATE users SET email = 'b@example.com' WHERE id = 2");
    p.run(&db, &["apply", "--resume"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql", "--exit-code"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), "0", "no invalid index is left");
    // Both revert, back to the head they started from, with the rows.
    p.run(&db, &["revert", "--steps", "2"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "migrations@001", "--exit-code"]).ok();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "2");
}

#[test]
fn a_rename_that_does_not_fit_is_an_error_naming_where_it_was_said() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_users.sql", "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n");
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema\"\n").unwrap();
    std::fs::create_dir(p.path().join("schema")).unwrap();
    let file = p.path().join("schema/01.sql");
    // A typo in the marker.
    std::fs::write(
        &file,
        "-- runner:renamed_from users\nCREATE TABLE accounts (id integer PRIMARY KEY, email text NOT NULL);\n",
    )
    .unwrap();
    p.run(&db, &["new", "typo", "--autogenerate"]).fails_with(5).stderr_has("01.sql:1: unknown marker");
    // A name that is not there.
    std::fs::write(
        &file,
        "-- runner:renamed-from usres\nCREATE TABLE accounts (id integer PRIMARY KEY, email text NOT NULL);\n",
    )
    .unwrap();
    p.run(&db, &["new", "missing", "--autogenerate"])
        .fails_with(5)
        .stderr_has("01.sql:1: there is no table public.usres to rename");
    let j = p
        .run(&db, &["diff", "--from", "migrations", "--to", "schema", "--rename", "users.nope=x", "--json"])
        .fails_with(5)
        .json();
    assert_eq!(j["error"]["kind"], "renames", "{j}");
    assert_eq!(std::fs::read_dir(p.migrations()).unwrap().count(), 1, "nothing was written");
    assert!(!db.table_exists("users"), "nothing ran on the target");
}

#[test]
fn check_schema_lists_what_was_changed_by_hand_object_by_object() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_users.sql", "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email ON users (email);\n");
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["check", "--schema"]).ok().stdout_has("and the database's schema is the revisions' head");
    db.execute("ALTER TABLE users ADD COLUMN nickname text; DROP INDEX users_email; CREATE TABLE scratch (x int); CREATE VIEW v AS SELECT 1 AS one;");
    let r = p.run(&db, &["check", "--schema"]).fails_with(3);
    for line in [
        "schema drift: table public.scratch (added)",
        "schema drift: table public.users (changed): column nickname added",
        "schema drift: index public.users_email (dropped)",
        "schema drift: view public.v (added)",
    ] {
        assert!(r.stderr.contains(line), "missing `{line}`:\n{}", r.stderr);
    }
    let j = p.run(&db, &["check", "--schema", "--json"]).fails_with(3).json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["schema_drift"].as_array().map(Vec::len), Some(4), "{j}");
    // The state table is runner's, not drift.
    assert!(!r.stderr.contains("runner_state"), "{}", r.stderr);
}

#[test]
fn sigint_during_a_diff_stops_it_and_drops_its_scratch_database() {
    sigint_during_a_diff(1);
}

/// Two signals in a row: whichever wins (the stop's own drop or the abort's), nothing is left.
/// (The abort path itself is tested in `runner/src/scratch.rs`: here the stop usually wins.)
#[test]
fn a_second_sigint_aborts_and_still_drops_the_scratch_database() {
    sigint_during_a_diff(2);
}

/// A diff loading a slow schema file, sent SIGINT `times` times in a row.
fn sigint_during_a_diff(times: usize) {
    let target = loaded("CREATE TABLE t (id integer PRIMARY KEY);");
    let p = Project::new();
    std::fs::write(p.path().join("slow.sql"), "CREATE TABLE t (id integer PRIMARY KEY);\nSELECT pg_sleep(60);\n")
        .unwrap();
    let child = p
        .command(&target, &["diff", "--from", &target.url, "--to", "slow.sql"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let scratch = format!("runner\\_dev\\_{pid}\\_%");
    crate::harness::wait_until(std::time::Duration::from_secs(30), "the schema file to be running", || {
        target.scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE '{scratch}' AND query LIKE '%pg_sleep(60)%'"
        )) == "1"
    });
    for _ in 0..times {
        std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    }
    let run = crate::harness::Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 7, "{}", run.stderr);
    if times == 1 {
        assert!(run.stderr.contains("the scratch databases dropped; nothing else was written"), "{}", run.stderr);
    }
    assert_eq!(
        target.scalar(&format!("SELECT count(*) FROM pg_database WHERE datname LIKE '{scratch}'")),
        "0",
        "{}",
        run.stderr
    );
}

/// Both sides of a diff replay their revisions at once; a plugin built from source that both
/// need is built once, and the second side finds it kept.
#[test]
fn a_plugin_both_sides_of_a_diff_need_is_built_once() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_scores.sql", "CREATE TABLE scores (id integer PRIMARY KEY, points integer, band text);\n");
    // A revision waits for the backfill: replaying the revisions runs it (and none other).
    p.file("002_contract.sql", "-- requires-backfill: bands\nCREATE INDEX scores_band ON scores (band);\n");
    // Sources no earlier run kept: this run has to build them.
    let example = std::fs::read_to_string(repo_path("plugins/examples-js/score-band/app.js")).unwrap();
    std::fs::create_dir(p.path().join("plug")).unwrap();
    let fresh = format!("// {:?}\n{example}", std::time::SystemTime::now());
    std::fs::write(p.path().join("plug/app.js"), fresh).unwrap();
    p.backfill(
        "bands",
        "plugin = { build = \"plug\" }\nrequires = \"001\"\n[source]\ntable = \"scores\"\nkey = [\"id\"]\ncolumns = [\"points\"]\nfilter = \"band IS NULL\"\n",
    );
    let r = p.run(&db, &["diff", "--from", "migrations", "--to", "migrations"]).ok();
    assert_eq!(r.stderr.matches("building the plugin").count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("the schemas are the same") && r.stdout.trim().is_empty(), "{}", r.stdout);
}

/// The file of the revision whose name contains `slug`.
fn revision_file(p: &Project, slug: &str) -> std::path::PathBuf {
    std::fs::read_dir(p.migrations())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| f.to_string_lossy().contains(slug))
        .expect("the revision file")
}

const BANDS: &str = "CREATE TYPE band AS ENUM ('Buy', 'Hold', 'Sell');\n\
    CREATE TABLE scores (player integer NOT NULL, day date NOT NULL, band band NOT NULL DEFAULT 'Hold', PRIMARY KEY (player, day));\n\
    CREATE MATERIALIZED VIEW latest AS SELECT DISTINCT ON (player) player, day, band FROM scores ORDER BY player, day DESC;\n";

#[test]
fn an_enum_value_added_in_the_middle_has_a_down_that_reverts_it() {
    // Before, adding 'Accumulate' before 'Hold' wrote an empty down: `revert` said it was done
    // and left the value, and the next `apply` failed with `enum label "Accumulate" already
    // exists`. The self-check let it through, since the differ could not write the difference.
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_scores.sql", &format!("{BANDS}INSERT INTO scores VALUES (1, '2026-01-01', 'Buy'), (1, '2026-02-01', 'Sell');\nREFRESH MATERIALIZED VIEW latest;\n"));
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    std::fs::write(p.path().join("schema.sql"), BANDS.replace("('Buy', 'Hold'", "('Buy', 'Accumulate', 'Hold'"))
        .unwrap();
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["new", "accumulate", "--autogenerate"]).ok();
    let text = std::fs::read_to_string(revision_file(&p, "accumulate")).unwrap();
    let (up, down) = text.split_once("-- runner:down").expect(&text);
    assert!(up.contains("ADD VALUE 'Accumulate' BEFORE 'Hold'"), "{text}");
    assert!(down.contains("CREATE TYPE \"public\".\"band__runner_new\" AS ENUM ('Buy', 'Hold', 'Sell');"), "{text}");
    assert!(
        down.contains("DROP MATERIALIZED VIEW")
            && down.contains("-- hazard: drops the materialized view and computes it again"),
        "{text}"
    );
    let labels = || db.scalar("SELECT array_to_string(enum_range(NULL::band), ',')");
    p.run(&db, &["apply"]).ok();
    assert_eq!(labels(), "Buy,Accumulate,Hold,Sell");
    p.run(&db, &["revert"]).ok();
    assert_eq!(labels(), "Buy,Hold,Sell", "revert left the value");
    assert_eq!(db.scalar("SELECT band::text FROM latest WHERE player = 1"), "Sell", "the view came back with its rows");
    assert_eq!(
        db.scalar(
            "SELECT column_default FROM information_schema.columns WHERE table_name = 'scores' AND column_name = 'band'"
        ),
        "'Hold'::band"
    );
    p.run(&db, &["apply"]).ok();
    // A row that holds the value cannot go back: the down fails and changes nothing.
    db.execute("INSERT INTO scores VALUES (2, '2026-03-01', 'Accumulate')");
    p.run(&db, &["revert"]).fails_with(1).stderr_has("invalid input value for enum");
    assert_eq!(labels(), "Buy,Accumulate,Hold,Sell");
    assert_eq!(db.scalar("SELECT count(*) FROM scores"), "3");
}

#[test]
fn a_change_with_no_safe_way_back_is_written_without_a_down_and_revert_refuses_it() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    let before = "CREATE TYPE mood AS ENUM ('sad', 'ok');\nCREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'sad');\nCREATE TABLE person (id integer PRIMARY KEY, mood good_mood);\n";
    p.file("001_mood.sql", before);
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    std::fs::write(p.path().join("schema.sql"), before.replace("('sad', 'ok')", "('sad', 'meh', 'ok')")).unwrap();
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["new", "meh", "--autogenerate"])
        .ok()
        .stderr_has("written without a down section (`revert` refuses it)")
        .stderr_has("domain public.good_mood is over it");
    let text = std::fs::read_to_string(revision_file(&p, "meh")).unwrap();
    assert!(!text.contains("-- runner:down"), "{text}");
    assert!(text.contains("-- irreversible: written without a down section"), "{text}");
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["revert"]).fails_with(5).stderr_has("has no `-- runner:down` section");
}

#[test]
fn online_builds_a_new_unique_key_and_a_changed_index_without_blocking_writes() {
    // Before, --online left a new UNIQUE in the locking revision (its own hazard said to build
    // it concurrently), and dropped a changed index before building the new one, repeating the
    // drop; a single online revision had no lock_timeout.
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_init.sql", "CREATE TABLE users (id integer PRIMARY KEY, email text, team integer);\nCREATE INDEX users_team ON users (team);\n");
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    std::fs::write(
        p.path().join("schema.sql"),
        "CREATE TABLE users (id integer PRIMARY KEY, email text, team integer, CONSTRAINT users_email_key UNIQUE (email));\nCREATE INDEX users_team ON users (team, id);\n",
    )
    .unwrap();
    p.run(&db, &["apply"]).ok();
    db.execute("INSERT INTO users VALUES (1, 'a@example.com', 1), (2, 'b@example.com', 1)");
    p.run(&db, &["new", "unique email", "--autogenerate", "--online"]).ok();
    let all: String = std::fs::read_dir(p.migrations())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("unique_email"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let up = all.split("-- runner:down").next().unwrap();
    assert!(
        up.contains("CREATE UNIQUE INDEX CONCURRENTLY \"users_email_key\" ON \"public\".\"users\" (email);"),
        "{all}"
    );
    assert!(up.contains("ADD CONSTRAINT \"users_email_key\" UNIQUE USING INDEX \"users_email_key\";"), "{all}");
    assert!(up.contains("CREATE INDEX CONCURRENTLY \"users_team__runner_new\" ON public.users"), "{all}");
    assert!(up.contains("ALTER INDEX \"public\".\"users_team__runner_new\" RENAME TO \"users_team\";"), "{all}");
    assert_eq!(up.matches("DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_team\";").count(), 1, "{all}");
    assert!(
        !up.contains("ADD CONSTRAINT \"users_email_key\" UNIQUE (email)"),
        "the key stayed in a locking statement:\n{all}"
    );
    assert!(up.contains("SET lock_timeout = '5s';"), "{all}");
    p.run(&db, &["apply"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql", "--exit-code"]).ok();
    p.run(&db, &["revert"]).ok();
    p.run(&db, &["diff", "--from", &db.url, "--to", "migrations@001", "--exit-code"]).ok();

    // Only what runs in a transaction: one revision, with the lock_timeout all the same.
    std::fs::write(p.path().join("schema.sql"), "CREATE TABLE users (id integer PRIMARY KEY, email text, team integer, note text);\nCREATE INDEX users_team ON users (team);\n").unwrap();
    for f in std::fs::read_dir(p.migrations()).unwrap().flatten() {
        if f.file_name().to_string_lossy().contains("unique_email") {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    p.run(&db, &["new", "note", "--autogenerate", "--online"]).ok();
    let note = revision_text(&p, "note");
    assert!(note.contains("SET LOCAL lock_timeout = '5s';") && note.contains("ADD COLUMN \"note\" text"), "{note}");
}

on_both!(autogenerate_compares_schemas_whatever_backfills_the_project_has, |db: &TestDb| {
    // Before, a manifest for a column the declared schema adds (and the revisions do not have
    // yet) failed autogenerate: replaying the revisions ran every backfill, and that one's
    // column did not exist. `new --requires-backfill` then writes the contract's gate.
    let p = Project::new();
    p.file("001_items.sql", "CREATE TABLE items (id integer PRIMARY KEY, name text);\n");
    p.backfill(
        "fill_kind",
        &format!(
            "plugin = \"{}\"\n[source]\ntable = \"items\"\nkey = [\"id\"]\ncolumns = [\"kind\"]\nfilter = \"kind IS NULL\"\n",
            crate::harness::plugin("probe").display()
        ),
    );
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    std::fs::write(p.path().join("schema.sql"), "CREATE TABLE items (id integer PRIMARY KEY, name text, kind text);\n")
        .unwrap();
    p.run(db, &["apply"]).ok();
    p.run(db, &["new", "add kind", "--autogenerate"]).ok().stdout_has("created ");
    assert!(revision_text(&p, "add_kind").contains("ADD COLUMN"));
    p.run(db, &["new", "contract", "--requires-backfill", "fill_kind"]).ok();
    assert!(revision_text(&p, "contract").contains("-- requires-backfill: fill_kind\n"));
    p.run(db, &["new", "typo", "--requires-backfill", "fil_kind"]).fails_with(5).stderr_has("fil_kind");
    let r = p.run(db, &["apply"]).fails_with(3);
    assert!(r.stdout.contains("fill_kind") || r.stderr.contains("fill_kind"), "{}\n{}", r.stdout, r.stderr);
});

#[test]
fn declared_schema_files_load_as_pg_dump_writes_them_and_in_the_order_they_need() {
    // Before, the `\restrict` lines current pg_dump writes failed the load, and files loaded in
    // name order only: a foreign key to a table of a later file failed.
    let source = TestDb::new(Kind::Postgres);
    source.execute(
        "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);\n\
         CREATE TABLE orders (id integer PRIMARY KEY, customer integer REFERENCES customers (id));\n\
         CREATE VIEW big_orders AS SELECT * FROM orders WHERE id > 100;",
    );
    let dumped = std::process::Command::new("pg_dump").args(["--schema-only", &source.url]).output().unwrap();
    assert!(dumped.status.success(), "{}", String::from_utf8_lossy(&dumped.stderr));
    let dump = String::from_utf8(dumped.stdout).unwrap();
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    std::fs::write(p.path().join("dumped.sql"), &dump).unwrap();
    // pg_dump's output as it comes, and a file of the user's after it (which must not inherit
    // the empty search_path the dump sets).
    std::fs::create_dir(p.path().join("schema")).unwrap();
    std::fs::write(p.path().join("schema/01_dump.sql"), &dump).unwrap();
    std::fs::write(p.path().join("schema/02_more.sql"), "CREATE TABLE notes (id integer PRIMARY KEY);\n").unwrap();
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "schema"]).ok();
    assert!(r.stdout.contains("CREATE TABLE \"public\".\"orders\"") && r.stdout.contains("\"notes\""), "{}", r.stdout);
    p.run(&db, &["diff", "--from", &source.url, "--to", "dumped.sql", "--exit-code"]).ok();

    // Files that need each other in the other order than their names: loaded all the same.
    let files = p.path().join("ordered");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("01_view.sql"), "CREATE VIEW big_orders AS SELECT * FROM orders WHERE id > 100;\n")
        .unwrap();
    std::fs::write(
        files.join("02_orders.sql"),
        "CREATE TABLE orders (id integer PRIMARY KEY, customer integer REFERENCES customers (id));\n",
    )
    .unwrap();
    std::fs::write(
        files.join("03_customers.sql"),
        "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);\n",
    )
    .unwrap();
    p.run(&db, &["diff", "--from", &source.url, "--to", "ordered", "--exit-code"]).ok();

    // Files that need each other both ways: named, each with its error.
    let cycle = p.path().join("cycle");
    std::fs::create_dir(&cycle).unwrap();
    std::fs::write(cycle.join("a.sql"), "CREATE TABLE a (id integer PRIMARY KEY, b integer REFERENCES b (id));\n")
        .unwrap();
    std::fs::write(cycle.join("b.sql"), "CREATE TABLE b (id integer PRIMARY KEY, a integer REFERENCES a (id));\n")
        .unwrap();
    p.run(&db, &["diff", "--from", &db.url, "--to", "cycle"])
        .fails_with(1)
        .stderr_has("a.sql")
        .stderr_has("b.sql")
        .stderr_has("in a cycle");
}

#[test]
fn what_runner_toml_excludes_and_other_tools_history_tables_are_left_out_of_diffs() {
    // Before, `alembic_version` showed as drift, `diff` proposed to drop it, and nothing could be
    // left out.
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_users.sql", "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n");
    p.run(&db, &["apply"]).ok();
    // What other tools and hands keep beside the project's schema: Alembic's and goose's history
    // tables (goose's owns a serial sequence), a legacy table with what hangs off it, a
    // schema of scratch tables, an enum of a reporting tool.
    db.execute(
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);\n\
         CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL);\n\
         CREATE TABLE legacy_audit (id integer PRIMARY KEY, what text);\n\
         CREATE INDEX legacy_audit_what ON legacy_audit (what);\n\
         COMMENT ON TABLE legacy_audit IS 'kept by the old app';\n\
         CREATE FUNCTION legacy_stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n\
         CREATE TRIGGER legacy_audit_stamp BEFORE INSERT ON legacy_audit FOR EACH ROW EXECUTE FUNCTION legacy_stamp();\n\
         CREATE SCHEMA scratch_area;\n\
         CREATE TABLE scratch_area.t (x int);\n\
         CREATE TYPE report_band AS ENUM ('low', 'high');",
    );
    std::fs::write(
        p.path().join("runner.toml"),
        "schema = \"schema.sql\"\n\n[exclude]\ntables = [\"legacy_*\"]\nfunctions = [\"legacy_*\"]\nschemas = [\"scratch_area\"]\ntypes = [\"public.report_?and\"]\n",
    )
    .unwrap();
    p.run(&db, &["check", "--schema"]).ok().stdout_has("and the database's schema is the revisions' head");
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "migrations", "--exit-code"]).ok();
    assert!(!r.stdout.contains("DROP"), "{}", r.stdout);
    // The declared schema may hold an excluded object too: autogenerate leaves it alone.
    std::fs::write(
        p.path().join("schema.sql"),
        "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\nCREATE TABLE legacy_notes (id integer);\n",
    )
    .unwrap();
    p.run(&db, &["new", "nothing", "--autogenerate"]).ok().stdout_has("no changes");

    // A project may keep another tool's history table in its diffs, and what it no longer lists
    // comes back.
    std::fs::write(
        p.path().join("runner.toml"),
        "schema = \"schema.sql\"\n\n[exclude]\nother_tools_history = false\nschemas = [\"scratch_area\"]\n",
    )
    .unwrap();
    let r = p.run(&db, &["check", "--schema"]).fails_with(3);
    for line in [
        "schema drift: table public.alembic_version (added)",
        "schema drift: table public.goose_db_version (added)",
        "schema drift: table public.legacy_audit (added)",
        "schema drift: enum type public.report_band (added)",
    ] {
        assert!(r.stderr.contains(line), "missing `{line}`:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("scratch_area"), "{}", r.stderr);

    // A pattern that is not one, or a kind that is not one: refused, naming runner.toml.
    for (toml, says) in [
        ("[exclude]\ntables = [\"a.b.c\"]\n", "[exclude] tables `a.b.c`: write `name` or `schema.name`"),
        ("[exclude]\ntable = [\"x\"]\n", "unknown field `table`"),
        ("[exclude]\nschemas = [\"a.b\"]\n", "schemas are named alone"),
    ] {
        std::fs::write(p.path().join("runner.toml"), toml).unwrap();
        p.run(&db, &["check", "--schema"]).fails_with(5).stderr_has("runner.toml").stderr_has(says);
    }
}

#[test]
fn alembic_version_is_not_drift_on_sqlite_either() {
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n");
    p.run(&db, &["apply"]).ok();
    db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)");
    p.run(&db, &["check", "--schema"]).ok().stdout_has("and the database's schema is the revisions' head");
    std::fs::write(p.path().join("runner.toml"), "[exclude]\nother_tools_history = false\n").unwrap();
    p.run(&db, &["check", "--schema"]).fails_with(3).stderr_has("table main.alembic_version (added)");
}

#[test]
fn diff_writes_its_hazards_into_the_sql_and_sizes_a_never_analyzed_table_by_counting() {
    // Before, hazards went to stderr only (`diff > fix.sql` lost them), and a table whose
    // planner estimate predates its rows (analyzed while it was empty) was
    // said to have "about 0 rows".
    let db = TestDb::new(Kind::Postgres);
    db.execute(
        "CREATE TABLE readings (id integer PRIMARY KEY, note text);\n\
         ANALYZE readings;\n\
         INSERT INTO readings SELECT g, 'n' FROM generate_series(1, 5) g;",
    );
    assert_eq!(db.scalar("SELECT reltuples::bigint FROM pg_class WHERE relname = 'readings'"), "0");
    let p = Project::new();
    std::fs::write(p.path().join("schema.sql"), "CREATE TABLE readings (id integer PRIMARY KEY);\n").unwrap();
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql"]).ok();
    let sql = r.stdout.clone();
    assert!(
        sql.starts_with("-- hazard: deletes data: ALTER TABLE \"public\".\"readings\" DROP COLUMN \"note\";"),
        "{sql}"
    );
    assert!(sql.contains("[public.readings has 5 rows]"), "{sql}");
    assert!(!sql.contains("about 0 rows"), "{sql}");
    // What runs is the same SQL: the comments are comments.
    let out = std::process::Command::new("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", &db.url, "-c", &sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(db.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'readings'"), "1");
}

#[test]
fn a_replaced_enum_label_is_a_rename_only_when_said() {
    // Before, a label changed in place was taken as `RENAME VALUE` without a word.
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file(
        "001_moods.sql",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');\nCREATE TABLE people (id integer PRIMARY KEY, mood mood);\n",
    );
    p.run(&db, &["apply"]).ok();
    db.execute("INSERT INTO people VALUES (1, 'sad'), (2, 'happy')");
    std::fs::write(p.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    let declared = |hint: &str| {
        format!(
            "CREATE TYPE mood AS ENUM (\n  'happy',\n{hint}  'unhappy'\n);\nCREATE TABLE people (id integer PRIMARY KEY, mood mood);\n"
        )
    };
    std::fs::write(p.path().join("schema.sql"), declared("")).unwrap();
    // Not said: a value removed and one added, which fails on the row that holds it; the hazard
    // says how to say it was a rename.
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql"]).ok();
    assert!(!r.stdout.contains("RENAME VALUE"), "{}", r.stdout);
    let hazard = "-- hazard: enum value public.mood 'sad' is removed and 'unhappy' added in its place: if it was renamed, say so (--rename mood.sad=unhappy";
    assert!(r.stdout.contains(hazard), "{}", r.stdout);
    let j = p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql", "--json"]).ok().json();
    assert_eq!(j["rename_candidates"][0]["kind"], "enum value", "{j}");
    assert_eq!(j["rename_candidates"][0]["flag"], "mood.sad=unhappy", "{j}");
    let a = p.run(&db, &["new", "unsaid", "--autogenerate"]).ok();
    assert!(a.stderr.contains("enum value public.mood 'sad' is removed"), "{}", a.stderr);
    p.run(&db, &["apply"]).fails_with(1);
    assert_eq!(db.scalar("SELECT string_agg(mood::text, ',' ORDER BY id) FROM people"), "sad,happy");
    std::fs::remove_file(revision_file(&p, "unsaid")).unwrap();

    // Said with the flag: renamed, rows kept, and the rename is a hazard of its own.
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "schema.sql", "--rename", "mood.sad=unhappy"]).ok();
    assert!(r.stdout.contains("ALTER TYPE \"public\".\"mood\" RENAME VALUE 'sad' TO 'unhappy';"), "{}", r.stdout);
    assert!(r.stdout.contains("-- hazard: renames what the running application may still use"), "{}", r.stdout);
    // Said in the schema file, above the value: the revision renames, both ways.
    std::fs::write(p.path().join("schema.sql"), declared("  -- runner:renamed-from 'sad'\n")).unwrap();
    p.run(&db, &["new", "said", "--autogenerate"]).ok();
    let text = std::fs::read_to_string(revision_file(&p, "said")).unwrap();
    assert!(
        text.contains("RENAME VALUE 'sad' TO 'unhappy'") && text.contains("RENAME VALUE 'unhappy' TO 'sad'"),
        "{text}"
    );
    p.run(&db, &["apply"]).ok();
    assert_eq!(db.scalar("SELECT string_agg(mood::text, ',' ORDER BY id) FROM people"), "unhappy,happy");
    p.run(&db, &["revert"]).ok();
    assert_eq!(db.scalar("SELECT string_agg(mood::text, ',' ORDER BY id) FROM people"), "sad,happy");
}

#[test]
fn drift_says_what_changed_in_a_column() {
    let db = TestDb::new(Kind::Postgres);
    let p = Project::new();
    p.file("001_jobs.sql", "CREATE TABLE jobs (id integer PRIMARY KEY, mode text, tries integer NOT NULL);\n");
    p.run(&db, &["apply"]).ok();
    db.execute("ALTER TABLE jobs ALTER COLUMN mode SET DEFAULT 'fast'; ALTER TABLE jobs ALTER COLUMN tries TYPE bigint, ALTER COLUMN tries DROP NOT NULL;");
    let r = p.run(&db, &["check", "--schema"]).fails_with(3);
    let line = "schema drift: table public.jobs (changed): column mode: default none → 'fast'::text; column tries: type integer → bigint, NOT NULL dropped";
    assert!(r.stderr.contains(line), "missing `{line}`:\n{}", r.stderr);
}

#[test]
fn a_replay_logs_its_steps_only_at_debug_and_help_says_sqlite_works_too() {
    // Before, every replayed revision logged two INFO lines, and help said PostgreSQL only.
    let db = TestDb::new(Kind::Sqlite);
    let p = Project::new();
    p.file("001_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
    p.file("002_b.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n");
    p.run(&db, &["apply"]).ok();
    let quiet = p.run(&db, &["check", "--schema"]).ok();
    assert!(!quiet.stderr.contains("starting") && !quiet.stderr.contains("revision=001"), "{}", quiet.stderr);
    let loud = p.run(&db, &["check", "--schema", "--log-level", "debug"]).ok();
    assert!(loud.stderr.contains("scratch") && loud.stderr.contains("revision=002"), "{}", loud.stderr);
    for command in ["diff", "check"] {
        let help = p.run(&db, &[command, "--help"]).ok();
        assert!(help.stdout.contains("SQLite"), "{command} --help:\n{}", help.stdout);
    }
}

#[test]
fn a_renamed_table_keeps_its_sequence_and_its_rows_go_on_counting() {
    // Before, the rename renamed the sequence, created a second one and reported "serial column
    // … (changed)" as unhandled; and unsaid, there was no rename hint for the table.
    let db = TestDb::new(Kind::Postgres);
    db.execute(
        "CREATE TABLE packages (id serial PRIMARY KEY, name text NOT NULL);\n\
         INSERT INTO packages (name) VALUES ('a'), ('b'), ('c');",
    );
    let p = Project::new();
    std::fs::write(
        p.path().join("renamed.sql"),
        "CREATE TABLE packages (id serial PRIMARY KEY, name text NOT NULL);\nALTER TABLE packages RENAME TO crates;\n",
    )
    .unwrap();
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "renamed.sql"]).ok();
    assert!(r.stdout.contains("(--rename packages=crates"), "{}", r.stdout);
    let r = p.run(&db, &["diff", "--from", &db.url, "--to", "renamed.sql", "--rename", "packages=crates"]).ok();
    assert_eq!(
        r.stdout.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>(),
        ["ALTER TABLE \"public\".\"packages\" RENAME TO \"crates\";"]
    );
    db.execute(&r.stdout);
    db.execute("INSERT INTO crates (name) VALUES ('d')");
    assert_eq!(db.scalar("SELECT string_agg(id || name, ',' ORDER BY id) FROM crates"), "1a,2b,3c,4d");
    p.run(&db, &["diff", "--from", &db.url, "--to", "renamed.sql", "--exit-code"]).ok();
}

/// The catalog's every kind of object is either written by the differ or named as not handled:
/// `tests/schema-diff-unhandled/every-kind.sql` holds one of each kind it does not write, and
/// `reported.txt` what a diff must say of them. Before, these were skipped without a word
/// (a comment on a constraint, a rule, a publication, an event trigger, …) and the diff exited 0.
#[test]
fn every_kind_of_object_the_differ_does_not_write_is_named() {
    let sql = std::fs::read_to_string(repo_path("tests/schema-diff-unhandled/every-kind.sql")).unwrap();
    let reported = std::fs::read_to_string(repo_path("tests/schema-diff-unhandled/reported.txt")).unwrap();
    let (empty, full, again) = (TestDb::new(Kind::Postgres), loaded(&sql), loaded(&sql));
    let p = Project::new();
    let forward = p.run(&empty, &["diff", "--from", &empty.url, "--to", &full.url]).fails_with(1);
    let back = p.run(&empty, &["diff", "--from", &full.url, "--to", &empty.url]).fails_with(1);
    for line in reported.lines().filter(|l| !l.trim().is_empty()) {
        assert!(forward.stderr.contains(line), "`{line}` not named:\n{}", forward.stderr);
        let dropped = line.replace("(added)", "(dropped)");
        assert!(back.stderr.contains(&dropped), "`{dropped}` not named:\n{}", back.stderr);
    }
    // A user mapping's options may hold a password: never read, never printed.
    assert!(!forward.stdout.contains("never-printed") && !forward.stderr.contains("never-printed"));
    // Two databases with the same objects do not differ.
    p.run(&empty, &["diff", "--from", &full.url, "--to", &again.url, "--exit-code"]).ok();
}
