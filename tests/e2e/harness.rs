//! The test harness: fresh databases, temporary projects, and the binary under test.
//!
//! PostgreSQL is found at `RUNNER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! If nothing answers there, the harness starts a throwaway cluster from the PostgreSQL binaries it
//! can find (`initdb`, `pg_ctl`). If that fails too, tests fail loudly: they never skip.

use runner_db::{ConnectOptions, DatabaseUrl, Driver};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Sqlite,
}

/// A database of its own for one test; dropped (PostgreSQL) or deleted with its folder (SQLite).
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    /// The PostgreSQL database's name (empty for SQLite).
    pub name: String,
    admin: String,
    _dir: Option<tempfile::TempDir>,
}

fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = std::env::var("RUNNER_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        if rt().block_on(try_connect(&url)).is_ok() {
            return url;
        }
        match start_throwaway_cluster() {
            Ok(u) => u,
            Err(e) => panic!(
                "no PostgreSQL reachable at {url}, and no throwaway cluster could be started ({e}). \
                 Start PostgreSQL or set RUNNER_TEST_PG_URL; these tests do not skip."
            ),
        }
    })
}

async fn try_connect(url: &str) -> Result<Box<dyn Driver>, String> {
    let u = DatabaseUrl::parse(url).map_err(|e| e.to_string())?;
    runner_db::connect(&u, &ConnectOptions { connect_timeout: std::time::Duration::from_secs(5), ..Default::default() })
        .await
        .map_err(|e| e.to_string())
}

/// A connection of its own to `url` (an application's session, say).
pub fn session(url: &str) -> Box<dyn Driver> {
    rt().block_on(try_connect(url)).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A PostgreSQL cluster of the test's own: initdb + pg_ctl in a temporary folder, as the
/// `postgres` user when running as root. Tests that stop or restart a server use one, so the
/// shared server never goes down under other tests.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    data: PathBuf,
    pg_ctl: PathBuf,
    as_root: bool,
}

impl Cluster {
    pub fn start() -> Result<Cluster, String> {
        let initdb = find_pg_tool("initdb").ok_or("initdb not found")?;
        let c = Cluster::empty()?;
        c.run(vec![
            initdb.display().to_string(),
            "-D".into(),
            c.data.display().to_string(),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
        ])?;
        c.watchdog()?;
        c.pg_ctl_do(&["start"])?;
        Ok(c)
    }

    /// A streaming standby of this cluster (pg_basebackup -R), started on a port of its own.
    pub fn standby(&self) -> Result<Cluster, String> {
        let basebackup = find_pg_tool("pg_basebackup").ok_or("pg_basebackup not found")?;
        let c = Cluster::empty()?;
        c.run(vec![
            basebackup.display().to_string(),
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            "postgres".into(),
            "-D".into(),
            c.data.display().to_string(),
            "-R".into(),
            "-X".into(),
            "stream".into(),
        ])?;
        c.watchdog()?;
        c.pg_ctl_do(&["start"])?;
        Ok(c)
    }

    /// A cluster's folder and a free port, nothing in them yet.
    fn empty() -> Result<Cluster, String> {
        let pg_ctl = find_pg_tool("pg_ctl").ok_or("pg_ctl not found")?;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("runner-test-pg-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // A port nobody listens on now (the kernel picks it).
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let as_root = std::fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
            .unwrap_or(false);
        if as_root {
            Command::new("chown").args(["-R", "postgres"]).arg(&dir).status().map_err(|e| e.to_string())?;
        }
        Ok(Cluster { port, data: dir.join("data"), dir, pg_ctl, as_root })
    }

    /// The cluster must not outlive the tests: a watchdog stops it and removes its folder once
    /// this process has exited, however it exits.
    fn watchdog(&self) -> Result<(), String> {
        let (c, as_root) = (self, self.as_root);
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {as_user}{pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            as_user = if as_root { "runuser -u postgres -- " } else { "" },
            pg_ctl = c.pg_ctl.display(),
            data = c.data.display(),
            dir = c.dir.display(),
        );
        Command::new("sh").args(["-c", &stop]).stdin(std::process::Stdio::null()).spawn().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Runs `sql` on the cluster's `postgres` database (a standby's too, for what it allows).
    pub fn sql(&self, sql: &str) {
        let url = self.url();
        rt().block_on(async {
            let mut db = try_connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            db.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            db.close().await;
        });
    }

    /// The cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A fast restart (`pg_ctl restart -m fast`): every connection is cut and the server comes
    /// back; returns once it accepts connections again.
    pub fn restart(&self) -> Result<(), String> {
        self.pg_ctl_do(&["-m", "fast", "restart"])
    }

    fn pg_ctl_do(&self, action: &[&str]) -> Result<(), String> {
        let mut args = vec![
            self.pg_ctl.display().to_string(),
            "-D".into(),
            self.data.display().to_string(),
            "-o".into(),
            format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display()),
            "-w".into(),
            "-l".into(),
            self.dir.join("log").display().to_string(),
        ];
        args.extend(action.iter().map(|a| a.to_string()));
        self.run(args)
    }

    fn run(&self, args: Vec<String>) -> Result<(), String> {
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(&args);
            c
        } else {
            let mut c = Command::new(&args[0]);
            c.args(&args[1..]);
            c
        };
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl_do(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL program: on the PATH, or the newest under /usr/lib/postgresql.
fn find_pg_tool(tool: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join(tool)).collect()).unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path().join("bin").join(tool))).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// The fallback server when none answers: a cluster left to its watchdog.
fn start_throwaway_cluster() -> Result<String, String> {
    let c = Cluster::start()?;
    let url = c.url();
    std::mem::forget(c);
    Ok(url)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Postgres => TestDb::on_server(admin_url()),
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb { kind, url, name: String::new(), admin: String::new(), _dir: Some(dir) }
            }
        }
    }

    /// A fresh PostgreSQL database on the server `admin` points at.
    pub fn on_server(admin: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("runner_t_{}_{}_{}", std::process::id(), n, nanos() % 100_000);
        rt().block_on(async {
            let mut db = try_connect(admin).await.expect("admin connection");
            db.execute(&format!("CREATE DATABASE {name}")).await.expect("create test database");
            db.close().await;
        });
        let base = admin.rsplit_once('/').unwrap().0;
        TestDb { kind: Kind::Postgres, url: format!("{base}/{name}"), name, admin: admin.to_string(), _dir: None }
    }

    /// Rows of a query, every column as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        rt().block_on(async {
            let mut db = try_connect(&self.url).await.unwrap();
            let rows = db.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            db.close().await;
            rows
        })
    }

    /// The single value of a query.
    pub fn scalar(&self, sql: &str) -> String {
        self.query(sql).first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default()
    }

    /// Runs `statements` in one transaction, as runner runs a revision (on SQLite: foreign
    /// keys off, checked before commit).
    pub fn transaction(&self, statements: &[String]) {
        rt().block_on(async {
            let mut db = try_connect(&self.url).await.unwrap();
            let all: Vec<&str> = statements.iter().map(String::as_str).collect();
            db.transaction(&all).await.unwrap_or_else(|e| panic!("{}: {e}", statements.join("\n")));
            db.close().await;
        })
    }

    pub fn execute(&self, sql: &str) {
        rt().block_on(async {
            let mut db = try_connect(&self.url).await.unwrap();
            db.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            db.close().await;
        })
    }

    pub fn table_exists(&self, table: &str) -> bool {
        let v = match self.kind {
            Kind::Postgres => self.scalar(&format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
            )),
            Kind::Sqlite => {
                self.scalar(&format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"))
            }
        };
        v != "0" && !v.is_empty()
    }

    /// `status` of each revision row, ordered by name.
    pub fn revision_rows(&self) -> Vec<(String, String)> {
        if !self.table_exists("runner_state") {
            return vec![];
        }
        self.query("SELECT name, status FROM runner_state WHERE kind = 'revision' ORDER BY name")
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect()
    }

    /// Everything of the user's schema, as text: what a round trip must restore.
    pub fn schema_snapshot(&self) -> Vec<String> {
        let sql = match self.kind {
            Kind::Postgres => {
                "SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> 'runner_state' \
                 UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'runner_state' \
                 UNION ALL SELECT 'type ' || typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE nspname = 'public' AND typtype = 'e' \
                 UNION ALL SELECT 'matview ' || matviewname FROM pg_matviews WHERE schemaname = 'public' \
                 ORDER BY 1"
            }
            Kind::Sqlite => {
                "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'runner_state%' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        self.query(sql).into_iter().map(|r| r[0].clone().unwrap_or_default()).collect()
    }

    /// A login role of this database's own, `<database>_<suffix>`, with `attributes` (e.g.
    /// `REPLICATION`), that may connect and read every table of `public` (those created later
    /// too); its URL. Dropped with the database.
    pub fn role(&self, suffix: &str, attributes: &str) -> (String, String) {
        assert_eq!(self.kind, Kind::Postgres, "roles are PostgreSQL's");
        let role = format!("{}_{suffix}", self.name);
        rt().block_on(async {
            let mut admin = try_connect(&self.admin).await.unwrap();
            admin.execute(&format!("CREATE ROLE {role} LOGIN {attributes}")).await.unwrap();
            admin.execute(&format!("GRANT CONNECT ON DATABASE {} TO {role}", self.name)).await.unwrap();
            admin.close().await;
        });
        self.execute(&format!(
            "GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; \
             ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}"
        ));
        let base = self.url.rsplit_once('/').unwrap().0.replacen("postgres@", &format!("{role}@"), 1);
        (role, format!("{base}/{}", self.name))
    }

    /// Advisory locks held in this database by anyone.
    pub fn advisory_locks(&self) -> usize {
        self.scalar(&format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = '{}')",
            self.name
        ))
        .parse()
        .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.kind == Kind::Postgres {
            let name = self.name.clone();
            rt().block_on(async {
                if let Ok(mut db) = try_connect(&self.admin).await {
                    let _ = db.execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    // A replication slot named after it (a lookup test's payload, should a
                    // regression let it through) would hold the shared server's WAL forever.
                    let _ = db
                        .execute(&format!(
                            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '{name}\\_%'"
                        ))
                        .await;
                    // The roles of this database's own (`TestDb::role`), now that nothing of
                    // theirs is left.
                    if let Ok(roles) =
                        db.query(&format!("SELECT rolname FROM pg_roles WHERE rolname LIKE '{name}\\_%'")).await
                    {
                        for r in roles.into_iter().filter_map(|r| r.into_iter().next().flatten()) {
                            let _ = db.execute(&format!("DROP ROLE IF EXISTS {r}")).await;
                        }
                    }
                    db.close().await;
                }
            });
        }
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// A statement that keeps the database busy for a while: `pg_sleep(pg_secs)` on PostgreSQL; on
/// SQLite, which cannot sleep, a recursive count to `sqlite_rows` (about 10 million a second
/// on the project's machine).
pub fn busy_sql(kind: Kind, pg_secs: f64, sqlite_rows: u64) -> String {
    match kind {
        Kind::Postgres => format!("SELECT pg_sleep({pg_secs});"),
        Kind::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {sqlite_rows}) SELECT count(*) FROM c;"
        ),
    }
}

/// A temporary project folder with a `migrations/` folder.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    /// Writes `migrations/<name>`.
    pub fn file(&self, name: &str, text: &str) -> &Project {
        let p = self.migrations().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    /// Runs the binary in the project against `db`.
    pub fn run(&self, db: &TestDb, args: &[&str]) -> Run {
        Run::from(self.command(db, args).output().unwrap())
    }

    /// Runs the binary in the project with no database URL at all (no flag, no variable).
    pub fn run_bare(&self, args: &[&str]) -> Run {
        self.run_bare_with(args, &[])
    }

    /// [`Project::run_bare`] with these environment variables set.
    pub fn run_bare_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_runner"))
            .current_dir(self.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("POSTGRES_URL")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env_remove("PGUSER")
            .env_remove("PGPASSWORD")
            .env_remove("PGDATABASE")
            .env_remove("RUNNER_ENV")
            .envs(vars.iter().copied())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        Run::from(out)
    }

    pub fn command(&self, db: &TestDb, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runner"));
        c.current_dir(self.path())
            .args(args)
            .arg("--database-url")
            .arg(&db.url)
            .arg("--log-format")
            .arg("text")
            .env_remove("DATABASE_URL")
            .env_remove("POSTGRES_URL")
            .env("NO_COLOR", "1");
        c
    }
}

/// A finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit code {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Run {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{}", self.stderr);
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Run {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}:\n{}", self.stdout);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Defines `NAME_postgres` and `NAME_sqlite`, each calling `body(&TestDb)`.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn postgres() {
                let db = $crate::harness::TestDb::new($crate::harness::Kind::Postgres);
                ($body)(&db);
            }
            #[test]
            fn sqlite() {
                let db = $crate::harness::TestDb::new($crate::harness::Kind::Sqlite);
                ($body)(&db);
            }
        }
    };
}

/// Builds the plugin workspace once per test process; returns the path of a plugin component.
pub fn plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        runner::toolchain::ensure_wasm_target(&root, &|s| eprintln!("{s}")).unwrap();
        let out =
            Command::new(env!("CARGO")).args(["build", "--release", "--quiet"]).current_dir(&root).output().unwrap();
        assert!(out.status.success(), "building plugins failed:\n{}", String::from_utf8_lossy(&out.stderr));
        root.join("../target/plugins/wasm32-wasip2/release").canonicalize().unwrap()
    });
    dir.join(format!("{name}.wasm"))
}

impl Project {
    /// Copies the repository's plugin folder `repo_rel` (`plugins/examples-py/score-band`)
    /// into the project as `plugins/<name>`, and returns the manifest's `plugin` value that
    /// builds it: a manifest may only build folders inside its project.
    pub fn plugin_source(&self, repo_rel: &str, name: &str) -> String {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap().flatten() {
                let target = to.join(e.file_name());
                if e.file_type().unwrap().is_dir() {
                    if e.file_name() != "target" && e.file_name() != "__pycache__" {
                        copy(&e.path(), &target);
                    }
                } else {
                    std::fs::copy(e.path(), target).unwrap();
                }
            }
        }
        copy(&repo_path(repo_rel), &self.path().join("plugins").join(name));
        format!("{{ build = \"plugins/{name}\" }}")
    }

    /// Writes `backfills/<name>.toml`.
    pub fn backfill(&self, name: &str, text: &str) -> &Project {
        let dir = self.path().join("backfills");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
        self
    }
}

/// A port nobody listens on now (the kernel picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One plain HTTP/1.1 request to 127.0.0.1:`port`; the whole response, or None when nothing answers.
pub fn http(port: u16, method: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("{method} {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Waits until `done` holds, checking every 20 ms; panics naming `what` after `limit`.
pub fn wait_until(limit: std::time::Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "gave up after {limit:?} waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A folder of the repository (e.g. `plugins/examples-py/score-band`), for manifests that
/// build a plugin from source.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel).canonicalize().unwrap()
}
