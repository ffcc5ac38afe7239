//! The `backfill-columns` world against a real component (`plugins/test-plugins/columns-probe`):
//! the host hands it columns and turns what it answers into changes keyed by the batch's own
//! rows, refusing an answer that does not fit the batch.

mod common;

use common::{limits, rt, sandbox, wasm};
use runner_sandbox::{Assignment, Batch, Change, Grants, MAX_COLUMN_NAME, SandboxError, Update, Value, World};

/// Three rows keyed by `id` (10, 20, 30), all with this `cmd` and `n`.
fn batch(cmd: &str, n: i64) -> Batch {
    Batch {
        columns: vec!["id".into(), "cmd".into(), "n".into()],
        key: vec!["id".into()],
        rows: (1..=3).map(|i| vec![Value::Integer(i * 10), Value::Text(cmd.into()), Value::Integer(n)]).collect(),
    }
}

fn run(cmd: &str, n: i64) -> Result<Vec<Change>, SandboxError> {
    let plugin = sandbox().load("columns-probe", &wasm("columns_probe"), limits(), Grants::default()).unwrap();
    assert_eq!(plugin.world(), World::Columns);
    rt().block_on(plugin.process(&batch(cmd, n)))
}

fn update(id: i64, out: &str) -> Change {
    Change::Update(Update {
        key: vec![Value::Integer(id)],
        set: vec![Assignment { column: "out".into(), value: Value::Text(out.into()) }],
    })
}

#[test]
fn columns_in_and_updates_out_become_changes_by_the_rows_keys() {
    assert_eq!(run("echo", 0).unwrap(), vec![update(10, "saw echo"), update(20, "saw echo"), update(30, "saw echo")]);
    let insert = Change::Insert(vec![Assignment { column: "out".into(), value: Value::Text("new".into()) }]);
    assert_eq!(run("one", 2).unwrap(), vec![update(30, "one"), insert]);
    let info = sandbox().check("columns-probe", &wasm("columns_probe")).unwrap();
    assert_eq!(info.world, "runner:plugin/backfill-columns@0.1.0");
}

#[test]
fn an_answer_that_does_not_fit_the_batch_fails_it_with_what_is_wrong() {
    let cases = [
        ("short", 0, "updates[0] has 2 values for column `out` and 3 rows"),
        ("outside", 3, "updates[0] names row 3, but the batch has 3 rows"),
        ("twice", 0, "updates[1] sets row 0 (id = 10), which an earlier update set"),
    ];
    for (cmd, n, message) in cases {
        match run(cmd, n) {
            Err(SandboxError::BadOutput { plugin, message: m }) => {
                assert_eq!(plugin, "columns-probe");
                assert_eq!(m, message, "{cmd}");
            }
            other => panic!("{cmd}: {other:?}"),
        }
    }
    // Within the bound on a name and over it.
    assert!(run("outside", 2).is_ok());
    let within = run("long-name", MAX_COLUMN_NAME as i64).unwrap();
    assert!(matches!(&within[0], Change::Update(u) if u.set[0].column.len() == MAX_COLUMN_NAME));
    let e = run("long-name", 1 << 20).unwrap_err();
    assert!(e.to_string().contains("a column whose name has 1048576 bytes (at most 256)"), "{e}");
}

#[test]
fn what_the_host_builds_from_one_answer_is_bounded_by_the_plugin_s_memory_limit() {
    // Before, 200 columns of NULLs over 100,000 rows (40 MB in the plugin) took the host from
    // 126 MB to 1.1 GB. With a 16 MiB plugin the host builds at most 64 MiB from an answer.
    let limits = runner_sandbox::Limits { memory_bytes: 16 << 20, ..limits() };
    let plugin = sandbox().load("columns-probe", &wasm("columns_probe"), limits, Grants::default()).unwrap();
    let wide = |columns: i64| Batch {
        columns: vec!["id".into(), "cmd".into(), "n".into()],
        key: vec!["id".into()],
        rows: (0..20_000)
            .map(|i| vec![Value::Integer(i), Value::Text("wide".into()), Value::Integer(columns)])
            .collect(),
    };
    let within = rt().block_on(plugin.process(&wide(10))).unwrap();
    assert_eq!(within.len(), 20_000);
    assert!(matches!(&within[0], Change::Update(u) if u.set.len() == 10));
    match rt().block_on(plugin.process(&wide(60))) {
        Err(SandboxError::BadOutput { message, .. }) => {
            assert!(
                message.contains(&format!("would take more than {} bytes of runner's memory", 64 << 20)),
                "{message}"
            )
        }
        other => panic!("{:?}", other.map(|c| c.len())),
    }
}
