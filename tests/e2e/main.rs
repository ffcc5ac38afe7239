//! End-to-end tests of the `runner` binary and library against real PostgreSQL and real SQLite
//! files. Every test gets its own database (see `harness`).
//!
//! | module | covers |
//! |---|---|
//! | `harness` | `TestDb` (fresh PostgreSQL database or SQLite file), `Project`, running the binary |
//! | `audit` | who did what when: a refresh's latest run, every revert, `/health` on failing refreshes |
//! | `lifecycle` | apply / revert / stamp / status / history / show / offline SQL, round trips |
//! | `failures` | failing revisions roll back and release the lock; no-transaction resume and repair; drift |
//! | `bad_input` | malformed files, duplicate ids, missing parents, cycles, several heads, bad URLs and config |
//! | `concurrency` | two runners at once; `CREATE INDEX CONCURRENTLY` while another runner waits; lock timeout |
//! | `layouts` | sqlx and diesel folders read in place, adopted with `stamp` |
//! | `messy_sql` | real-world files: plpgsql bodies, escape strings, `BEGIN ATOMIC`, session state |
//! | `offline` | `apply --sql` piped into psql and the sqlite3 shell: stops at the first error, records only what happened |
//! | `sqlite_rules` | foreign keys off during a revision, `foreign_key_check` before commit |
//! | `library` | the embedding API |
//! | `faults` | many deploys at once: four `apply --with-backfills` do every revision and row once |
//! | `refreshes` | scheduled refreshes: on demand, bad specs named at start-up, every second, three replicas |
//! | `build_trust` | plugins built from source: what a build script can reach, isolated toolchains, one rule for plugin files, locked artifacts |
//! | `backfills` | backfills with a real plugin: once per row, SIGKILL and resume, failures, pause, limits, capabilities |
//! | `operator` | what runner reports is what happened: closed pipes, marker typos, … |
//! | `plugin_test` | `runner plugin test`: fixture rows (JSON, CSV) without a database, grants, lookups, `--expect` |
//! | `schema_diff` | `runner diff`: the `tests/schema-diff/` corpus both ways, scratch databases, unhandled objects named, renames said by flag or hint |
//! | `polyglot` | plugins in Python built from source: identical tables to Rust's, exceptions as one line |
//! | `trust` | hostile plugins and awkward tables: key order, unique keys, lost updates, lookups, names, secrets |
//! | `restarts` | the PostgreSQL server restarted under a running apply, backfill or cron (own cluster each) |
//! | `examples` | the sample project and `examples/` apply and revert cleanly |

mod harness;

mod audit;
mod backfills;
mod bad_input;
mod build_trust;
mod concurrency;
mod examples;
mod failures;
mod faults;
mod layouts;
mod library;
mod lifecycle;
mod messy_sql;
mod offline;
mod operator;
mod plugin_test;
mod polyglot;
mod refreshes;
mod restarts;
mod schema_diff;
mod sqlite_rules;
mod trust;
