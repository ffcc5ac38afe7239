//! The scratch databases this process has made and not yet dropped, so that a second Ctrl-C,
//! which aborts at once rather than unwinding, can still drop them before the process exits.

use runner_db::{ConnectOptions, DatabaseUrl};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A scratch database.
#[derive(Debug, Clone)]
pub(crate) enum Scratch {
    /// A database on a PostgreSQL server.
    Database { server: DatabaseUrl, name: String, options: ConnectOptions },
    /// A folder holding a SQLite file.
    Folder(PathBuf),
}

static LIVE: Mutex<Vec<(u64, Scratch)>> = Mutex::new(Vec::new());
static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records `s` as live until the returned guard is dropped (by the path that drops `s`).
pub(crate) fn live(s: Scratch) -> Live {
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(mut all) = LIVE.lock() {
        all.push((id, s));
    }
    Live(id)
}

/// A live scratch database's entry; dropping it forgets the entry.
pub(crate) struct Live(u64);

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(mut all) = LIVE.lock() {
            all.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Drops every scratch database `diff` and autogenerate still have open, each within
/// `patience`, and returns what it could not drop, described for the operator: for an
/// application that aborts its own work on a signal, as the CLI does on a second Ctrl-C.
pub async fn drop_leftovers(patience: Duration) -> Vec<String> {
    let all: Vec<Scratch> = LIVE.lock().map(|all| all.iter().map(|(_, s)| s.clone()).collect()).unwrap_or_default();
    let mut left = Vec::new();
    for s in all {
        match s {
            Scratch::Folder(dir) => {
                if std::fs::remove_dir_all(&dir).is_err() && dir.exists() {
                    left.push(format!("folder {}", dir.display()));
                }
            }
            Scratch::Database { server, name, options } => {
                let drop = async {
                    let mut admin = runner_db::connect(&server, &options).await.ok()?;
                    let done = admin
                        .execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", runner_db::quote_part(&name)))
                        .await;
                    admin.close().await;
                    done.ok()
                };
                if !matches!(tokio::time::timeout(patience, drop).await, Ok(Some(()))) {
                    left.push(format!("database {name} on {server}"));
                }
            }
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_abort_path_drops_what_is_live_and_names_what_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("runner_dev_test");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("scratch.db"), b"").unwrap();
        let _folder = live(Scratch::Folder(folder.clone()));
        // A server nothing listens on: reported, within the patience given.
        let server = DatabaseUrl::parse("postgres://nobody@127.0.0.1:1/postgres").unwrap();
        let _db =
            live(Scratch::Database { server, name: "runner_dev_gone".into(), options: ConnectOptions::default() });
        let dropped_guard = live(Scratch::Folder(dir.path().join("already_dropped")));
        drop(dropped_guard);
        let left = drop_leftovers(Duration::from_secs(5)).await;
        assert!(!folder.exists(), "the live folder was not removed");
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].starts_with("database runner_dev_gone on postgres://nobody@127.0.0.1:1/"), "{left:?}");
    }
}
