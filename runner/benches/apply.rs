//! Apply benchmark: 1,000 small revisions (a table and a row each) applied to an empty
//! PostgreSQL database by
//!
//! - `psql`, the same SQL as one file (the floor: no bookkeeping at all);
//! - `runner apply`;
//! - `sqlx migrate run` (sqlx-cli), if `sqlx` is installed;
//! - `alembic upgrade head`, revisions as `op.execute` calls, if Alembic is importable;
//!
//! then the time a no-op `runner status` and `runner apply` take on a database at head; then the
//! same revisions on SQLite, each to a fresh file, by
//!
//! - the `sqlite3` shell, each revision in a transaction of its own (`BEGIN; …; COMMIT;`): the
//!   floor, with as many commits as runner makes revisions atomic;
//! - `runner apply` on a `sqlite://` URL.
//!
//! Each tool gets a fresh database; each timing is the median of `BENCH_RUNS` (default 3).
//! Environment: `BENCH_DATABASE_URL`, `BENCH_REVISIONS` (default 1000). Prints a table, then one
//! JSON line with `psql_s`, `runner_s`, `sqlx_cli_s`, `alembic_s` (null where not installed),
//! `status_noop_ms`, `apply_noop_ms`, `sqlite3_s`, `runner_sqlite_s` (null without `sqlite3`).

use runner_db::{ConnectOptions, DatabaseUrl, Driver};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

async fn admin(url: &str) -> Box<dyn Driver> {
    runner_db::connect(&DatabaseUrl::parse(url).unwrap(), &ConnectOptions::default()).await.unwrap()
}

fn sql(i: usize) -> String {
    format!(
        "CREATE TABLE bench_{i} (id integer PRIMARY KEY, v text);\nINSERT INTO bench_{i} VALUES (1, 'revision {i}');\n"
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn run(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(tool)).find(|p| p.is_file())
}

fn alembic_project(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("versions")).unwrap();
    std::fs::write(dir.join("alembic.ini"), "[alembic]\nscript_location = .\n").unwrap();
    std::fs::write(
        dir.join("env.py"),
        "import os\nfrom alembic import context\nfrom sqlalchemy import create_engine\n\
         engine = create_engine(os.environ['BENCH_ALEMBIC_URL'])\n\
         with engine.connect() as connection:\n    context.configure(connection=connection, transaction_per_migration=True)\n\
         \x20   with context.begin_transaction():\n        context.run_migrations()\n",
    )
    .unwrap();
    std::fs::write(dir.join("script.py.mako"), "").unwrap();
    for i in 1..=n {
        let down = if i == 1 { "None".to_string() } else { format!("'r{:04}'", i - 1) };
        std::fs::write(
            dir.join("versions").join(format!("r{i:04}.py")),
            format!(
                "from alembic import op\nrevision = 'r{i:04}'\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\
                 def upgrade():\n    op.execute(\"\"\"{}\"\"\")\n\ndef downgrade():\n    pass\n",
                sql(i).replace('\n', " ")
            ),
        )
        .unwrap();
    }
}

fn main() {
    let base = env("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let n: usize = env("BENCH_REVISIONS", "1000").parse().unwrap();
    let runs: usize = env("BENCH_RUNS", "3").parse().unwrap();
    let runner_bin = env!("CARGO_BIN_EXE_runner");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let work = tempfile::tempdir().unwrap();
    let migrations = work.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    let mut all = String::new();
    for i in 1..=n {
        std::fs::write(migrations.join(format!("{i:04}_r.sql")), sql(i)).unwrap();
        all.push_str(&sql(i));
    }
    std::fs::write(work.path().join("all.sql"), &all).unwrap();
    // The sqlite3 shell's script: every revision committed on its own, as runner commits it.
    let per_revision: String = (1..=n).map(|i| format!("BEGIN;\n{}COMMIT;\n", sql(i))).collect();
    std::fs::write(work.path().join("all_tx.sql"), per_revision).unwrap();
    let alembic = Command::new("python3")
        .args(["-c", "import alembic, sqlalchemy, psycopg2"])
        .output()
        .is_ok_and(|o| o.status.success());
    if alembic {
        alembic_project(&work.path().join("alembic"), n);
    }
    let sqlx = which("sqlx");
    let prefix = base.rsplit_once('/').unwrap().0.to_string();
    let mut counter = 0;
    // A fresh database for one measurement; dropped afterwards.
    let mut fresh = |f: &mut dyn FnMut(&str) -> Duration| -> Duration {
        counter += 1;
        let name = format!("runner_bench_apply_{}_{counter}", std::process::id());
        rt.block_on(async { admin(&base).await.execute(&format!("CREATE DATABASE {name}")).await.unwrap() });
        let took = f(&format!("{prefix}/{name}"));
        rt.block_on(async { admin(&base).await.execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap() });
        took
    };
    let psql = median(
        (0..runs)
            .map(|_| {
                fresh(&mut |url| {
                    run(Command::new("psql")
                        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-f"])
                        .arg(work.path().join("all.sql")))
                })
            })
            .collect(),
    );
    let runner = median(
        (0..runs)
            .map(|_| {
                fresh(&mut |url| {
                    run(Command::new(runner_bin)
                        .args(["apply", "--log-format", "json", "--database-url", url, "--migrations"])
                        .arg(&migrations)
                        .env("NO_COLOR", "1"))
                })
            })
            .collect(),
    );
    let sqlx_cli = sqlx.as_ref().map(|bin| {
        median(
            (0..runs)
                .map(|_| {
                    fresh(&mut |url| {
                        run(Command::new(bin)
                            .args(["migrate", "run", "--database-url", url, "--source"])
                            .arg(&migrations))
                    })
                })
                .collect(),
        )
    });
    let alembic_s = alembic.then(|| {
        median(
            (0..runs)
                .map(|_| {
                    fresh(&mut |url| {
                        let sa = url.replacen("postgres://", "postgresql+psycopg2://", 1);
                        run(Command::new("python3")
                            .args(["-m", "alembic", "upgrade", "head"])
                            .current_dir(work.path().join("alembic"))
                            .env("BENCH_ALEMBIC_URL", sa))
                    })
                })
                .collect(),
        )
    });
    // No-op status and apply on a database at head.
    let mut status_noop = Duration::ZERO;
    let mut apply_noop = Duration::ZERO;
    fresh(&mut |url| {
        run(Command::new(runner_bin)
            .args(["apply", "--log-format", "json", "--database-url", url, "--migrations"])
            .arg(&migrations));
        let status = |args: &[&str]| {
            median(
                (0..5)
                    .map(|_| {
                        run(Command::new(runner_bin)
                            .args(args)
                            .args(["--log-format", "json", "--database-url", url, "--migrations"])
                            .arg(&migrations))
                    })
                    .collect(),
            )
        };
        status_noop = status(&["status"]);
        apply_noop = status(&["apply"]);
        Duration::ZERO
    });
    // SQLite: a fresh file for each measurement, in a folder of its own.
    let sqlite3 = which("sqlite3");
    let mut files = 0;
    let mut fresh_file = |f: &mut dyn FnMut(&Path) -> Duration| -> Duration {
        files += 1;
        let dir = work.path().join(format!("sqlite_{files}"));
        std::fs::create_dir_all(&dir).unwrap();
        let took = f(&dir.join("bench.db"));
        std::fs::remove_dir_all(&dir).unwrap();
        took
    };
    let mut sqlite_pair = None;
    if let Some(shell) = &sqlite3 {
        let (mut shell_runs, mut runner_runs) = (Vec::new(), Vec::new());
        // Interleaved, so that a slow moment of the disk does not favour one.
        for _ in 0..runs {
            shell_runs.push(fresh_file(&mut |db| {
                let script = std::fs::File::open(work.path().join("all_tx.sql")).unwrap();
                run(Command::new(shell).arg("-bail").arg(db).stdin(script))
            }));
            runner_runs.push(fresh_file(&mut |db| {
                run(Command::new(runner_bin)
                    .args(["apply", "--log-format", "json", "--database-url"])
                    .arg(format!("sqlite://{}", db.display()))
                    .arg("--migrations")
                    .arg(&migrations))
            }));
        }
        sqlite_pair = Some((median(shell_runs), median(runner_runs)));
    }
    let s = |d: Duration| d.as_secs_f64();
    let row = |name: &str, d: Option<Duration>| match d {
        Some(d) => println!("{name:<28} {:>9.2} {:>11.2}x", s(d), s(d) / s(psql)),
        None => println!("{name:<28} {:>9} {:>12}", "n/a", "not installed"),
    };
    println!("apply benchmark: {n} revisions, median of {runs} runs, fresh database each");
    println!("{:<28} {:>9} {:>12}", "tool", "seconds", "vs psql");
    row("psql -f (one file, floor)", Some(psql));
    row("runner apply", Some(runner));
    row("sqlx migrate run", sqlx_cli);
    row("alembic upgrade head", alembic_s);
    println!(
        "no-op on a database at head: runner status {:.0} ms, runner apply {:.0} ms",
        s(status_noop) * 1e3,
        s(apply_noop) * 1e3
    );
    match sqlite_pair {
        Some((shell, runner)) => {
            println!("SQLite, a fresh file each:");
            println!("{:<28} {:>9} {:>12}", "tool", "seconds", "vs sqlite3");
            println!("{:<28} {:>9.2} {:>11.2}x", "sqlite3 (commit/revision)", s(shell), 1.0);
            println!("{:<28} {:>9.2} {:>11.2}x", "runner apply", s(runner), s(runner) / s(shell));
        }
        None => println!("SQLite: sqlite3 not installed"),
    }
    println!(
        "{}",
        serde_json::json!({
            "revisions": n,
            "psql_s": s(psql),
            "runner_s": s(runner),
            "sqlx_cli_s": sqlx_cli.map(s),
            "alembic_s": alembic_s.map(s),
            "status_noop_ms": s(status_noop) * 1e3,
            "apply_noop_ms": s(apply_noop) * 1e3,
            "sqlite3_s": sqlite_pair.map(|(shell, _)| s(shell)),
            "runner_sqlite_s": sqlite_pair.map(|(_, runner)| s(runner)),
        })
    );
}
