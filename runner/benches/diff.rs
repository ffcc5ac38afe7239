//! Schema-diff benchmark: a generated schema of real-world size (`BENCH_TABLES` tables, default
//! 400, each with an identity key, a foreign key, defaults, a check, two indexes and a comment;
//! a view for every second table, a function for every second, an enum and triggers) against a
//! modified copy (columns added and retyped, indexes dropped and changed, views and functions
//! changed, a table added and one dropped), each loaded into a database of its own, then:
//!
//! - introspection of both sides and the diff, in process (`runner_schema`), the part the goal
//!   of under one second is about;
//! - `runner diff --from URL --to URL`, the whole command;
//! - `migra --unsafe URL URL` (pip), the peer, if installed;
//! - `runner new --autogenerate`, the whole command: the revisions (the first schema, as one
//!   revision) replayed to a scratch database, the declared schema (the second) loaded into
//!   another, both diffed both ways and the revision self-checked.
//!
//! Each timing is the median of `BENCH_RUNS` (default 3). Environment: `BENCH_DATABASE_URL`.
//! Prints a table, then one JSON line (`introspect_diff_s`, `runner_diff_s`, `migra_s` (null when
//! not installed), `autogenerate_s`, `migra_vs_runner`, `statements`).

use runner_db::{ConnectOptions, DatabaseUrl, Driver};
use std::process::Command;
use std::time::{Duration, Instant};

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

async fn connect(url: &str) -> Box<dyn Driver> {
    runner_db::connect(&DatabaseUrl::parse(url).unwrap(), &ConnectOptions::default()).await.unwrap()
}

/// The schema, or its modified copy.
fn schema(tables: usize, modified: bool) -> String {
    let mut s = String::from(
        "CREATE SCHEMA app;\nCREATE TYPE app.status AS ENUM ('new', 'active', 'gone');\n\
         CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;\n",
    );
    for i in 0..tables {
        if modified && i == tables - 1 {
            continue; // dropped
        }
        let parent = if i == 0 { String::new() } else { format!(" REFERENCES app.t{}(id)", i - 1) };
        let amount = if modified && i % 12 == 0 { "numeric(14,2)" } else { "numeric(12,2)" };
        let extra = if modified && i % 10 == 0 { ",\n  note text DEFAULT ''" } else { "" };
        s += &format!(
            "CREATE TABLE app.t{i} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  parent_id bigint{parent},\n  \
             name text NOT NULL,\n  email text,\n  status app.status DEFAULT 'new',\n  amount {amount} DEFAULT 0 CHECK (amount >= 0),\n  \
             created_at timestamptz NOT NULL DEFAULT now(),\n  updated_at timestamptz,\n  data jsonb{extra}\n);\n\
             COMMENT ON TABLE app.t{i} IS 'table {i}';\n"
        );
        if !(modified && i % 15 == 0) {
            s += &format!("CREATE INDEX t{i}_name ON app.t{i} (name);\n");
        }
        let email = if modified && i % 16 == 0 { "lower(email), status" } else { "lower(email)" };
        s += &format!("CREATE UNIQUE INDEX t{i}_email ON app.t{i} ({email}) WHERE email IS NOT NULL;\n");
        if i % 2 == 0 {
            let filter = if modified && i % 20 == 0 { "status = 'active'" } else { "status <> 'gone'" };
            s += &format!("CREATE VIEW app.v{i} AS SELECT id, name, amount FROM app.t{i} WHERE {filter};\n");
        }
        if i % 2 == 1 {
            let body = if modified && i % 25 == 1 { format!("x * {i}") } else { format!("x + {i}") };
            s += &format!(
                "CREATE FUNCTION app.f{i}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT {body}';\n"
            );
        }
        if i % 8 == 0 {
            s += &format!(
                "CREATE TRIGGER t{i}_touch BEFORE UPDATE ON app.t{i} FOR EACH ROW EXECUTE FUNCTION app.touch();\n"
            );
        }
    }
    if modified {
        s += "CREATE TABLE app.added (id bigint PRIMARY KEY, t0_id bigint REFERENCES app.t0(id), label text);\n";
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `cmd`, requiring one of `ok` as its exit code.
fn run(cmd: &mut Command, ok: &[i32]) -> Duration {
    let t = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let took = t.elapsed();
    assert!(
        out.status.code().is_some_and(|c| ok.contains(&c)),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    let dirs: Vec<std::path::PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.into_iter().map(|d| d.join(tool)).find(|p| p.is_file())
}

fn main() {
    let base = env("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let tables: usize = env("BENCH_TABLES", "400").parse().unwrap();
    let runs: usize = env("BENCH_RUNS", "3").parse().unwrap();
    let runner_bin = env!("CARGO_BIN_EXE_runner");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let prefix = base.rsplit_once('/').unwrap().0.to_string();
    let (from_sql, to_sql) = (schema(tables, false), schema(tables, true));
    let names: Vec<String> =
        ["from", "to", "target"].iter().map(|n| format!("runner_bench_diff_{}_{n}", std::process::id())).collect();
    rt.block_on(async {
        let mut admin = connect(&base).await;
        for n in &names {
            admin.execute(&format!("DROP DATABASE IF EXISTS {n}")).await.unwrap();
            admin.execute(&format!("CREATE DATABASE {n}")).await.unwrap();
        }
        connect(&format!("{prefix}/{}", names[0])).await.execute(&from_sql).await.unwrap();
        connect(&format!("{prefix}/{}", names[1])).await.execute(&to_sql).await.unwrap();
    });
    let (from_url, to_url, target_url) =
        (format!("{prefix}/{}", names[0]), format!("{prefix}/{}", names[1]), format!("{prefix}/{}", names[2]));

    let mut statements = 0;
    let in_process = median(
        (0..runs)
            .map(|_| {
                rt.block_on(async {
                    let (mut a, mut b) = (connect(&from_url).await, connect(&to_url).await);
                    let t = Instant::now();
                    let exclude = runner_schema::Exclude::default();
                    let from = runner_schema::introspect(a.as_mut(), &exclude).await.unwrap();
                    let to = runner_schema::introspect(b.as_mut(), &exclude).await.unwrap();
                    let d = runner_schema::diff(&from, &to);
                    let took = t.elapsed();
                    assert!(d.unhandled.is_empty(), "{:?}", d.unhandled);
                    statements = d.statements.len();
                    took
                })
            })
            .collect(),
    );
    let cli = median(
        (0..runs)
            .map(|_| run(Command::new(runner_bin).args(["diff", "--from", &from_url, "--to", &to_url]), &[0]))
            .collect(),
    );
    // migra exits 2 when the schemas differ.
    // (SQLAlchemy, which migra is built on, knows the scheme as `postgresql://` only.)
    let sqlalchemy = |u: &str| u.replacen("postgres://", "postgresql://", 1);
    let migra = which("migra").map(|m| {
        let (f, t) = (sqlalchemy(&from_url), sqlalchemy(&to_url));
        median((0..runs).map(|_| run(Command::new(&m).args(["--unsafe", &f, &t]), &[0, 2])).collect())
    });
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("migrations")).unwrap();
    std::fs::write(project.path().join("migrations/001_base.sql"), &from_sql).unwrap();
    std::fs::write(project.path().join("schema.sql"), &to_sql).unwrap();
    std::fs::write(project.path().join("runner.toml"), "schema = \"schema.sql\"\n").unwrap();
    let autogenerate = median(
        (0..runs)
            .map(|_| {
                let took = run(
                    Command::new(runner_bin)
                        .args(["new", "bench", "--autogenerate", "--database-url", &target_url])
                        .current_dir(project.path()),
                    &[0],
                );
                for f in std::fs::read_dir(project.path().join("migrations")).unwrap().flatten() {
                    if f.file_name().to_string_lossy().contains("bench") {
                        std::fs::remove_file(f.path()).unwrap();
                    }
                }
                took
            })
            .collect(),
    );
    // A fast diff must also be right: applied to the first database, it leaves nothing to do.
    rt.block_on(async {
        let (mut a, mut b) = (connect(&from_url).await, connect(&to_url).await);
        let exclude = runner_schema::Exclude::default();
        let from = runner_schema::introspect(a.as_mut(), &exclude).await.unwrap();
        let to = runner_schema::introspect(b.as_mut(), &exclude).await.unwrap();
        for st in runner_schema::diff(&from, &to).statements {
            a.execute(&st.sql).await.unwrap_or_else(|e| panic!("{}: {e}", st.sql));
        }
        let after = runner_schema::introspect(a.as_mut(), &exclude).await.unwrap();
        let rest = runner_schema::diff(&after, &to);
        assert!(rest.is_empty(), "after the diff, still: {:?}", rest.statements);
        let mut admin = connect(&base).await;
        for n in &names {
            admin.execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)")).await.unwrap();
        }
    });

    let s = |d: Duration| d.as_secs_f64();
    println!(
        "schema diff benchmark: {tables} tables, {} views, {} functions; {statements} statements between them",
        tables.div_ceil(2),
        tables / 2
    );
    println!("{:<52} {:>9} {:>12}", "", "seconds", "vs runner diff");
    let row = |what: &str, d: Duration| println!("{what:<52} {:>9.3} {:>11.2}x", s(d), s(d) / s(cli));
    row("introspect both sides + diff (in process)", in_process);
    row("runner diff --from URL --to URL", cli);
    match migra {
        Some(m) => row("migra --unsafe URL URL", m),
        None => println!("{:<52} {:>9}", "migra (not installed: pip install migra)", "-"),
    }
    row("runner new --autogenerate (2 scratch databases)", autogenerate);
    println!(
        "{}",
        serde_json::json!({
            "tables": tables,
            "statements": statements,
            "introspect_diff_s": s(in_process),
            "runner_diff_s": s(cli),
            "migra_s": migra.map(s),
            "migra_vs_runner": migra.map(|m| s(m) / s(cli)),
            "autogenerate_s": s(autogenerate),
        })
    );
}
