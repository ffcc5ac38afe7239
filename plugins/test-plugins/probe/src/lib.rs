//! Each row has `cmd` (text) and `n` (integer). The plugin does what `cmd` says and reports the
//! outcome in an update of column `out`.

use runner_plugin_sdk::{Assignment, Change, HttpRequest, Level, Plugin, Rows, Update, Value, host};

struct Probe;

/// Recursion on the wasm engine's own stack: the call goes through an opaque function pointer, so
/// the compiler can neither turn it into a loop nor put large frames on the guest's shadow stack.
#[inline(never)]
fn recurse(depth: i64) -> i64 {
    if depth <= 0 {
        return 0;
    }
    let next = std::hint::black_box(recurse as fn(i64) -> i64);
    next(depth - 1) + 1
}

impl Plugin for Probe {
    fn describe() -> String {
        "probe 0.1.0".into()
    }

    fn process(rows: Rows) -> Result<Vec<Change>, String> {
        let mut out = Vec::new();
        for row in rows.iter() {
            let n = row.int("n")?.unwrap_or(0);
            let result: Value = match row.text("cmd")?.unwrap_or("noop") {
                "noop" => Value::from("ok"),
                // Loops forever: only the epoch deadline stops it.
                "spin" => loop {
                    std::hint::black_box(n);
                },
                // Busy work of n iterations, to finish within a deadline.
                "work" => {
                    let mut acc = 0u64;
                    for i in 0..n as u64 {
                        acc = std::hint::black_box(acc.wrapping_add(i));
                    }
                    Value::from(acc as i64)
                }
                // Allocates (and touches) n MiB.
                "alloc" => {
                    let v = vec![1u8; (n as usize) << 20];
                    Value::from(v.iter().map(|&b| b as i64).sum::<i64>())
                }
                "recurse" => Value::from(recurse(n)),
                "trap" => panic!("probe was told to trap"),
                // Prints n KiB to stderr, then panics: the host keeps the panic message, not
                // only the noise before it, and is not stopped by the noise.
                "shout" => {
                    let line = "x".repeat(1023);
                    for _ in 0..n {
                        eprintln!("{line}");
                    }
                    panic!("probe shouted, then trapped")
                }
                // A hostile guest: hands the host a string that is not UTF-8.
                #[allow(unsafe_code)]
                "bad-utf8" => return Err(unsafe { String::from_utf8_unchecked(vec![b'x', 0xff, 0xfe]) }),
                "fail" => return Err(format!("probe refuses row {n}")),
                // An error message of n bytes: the host must bound what it keeps.
                "fail-big" => return Err("x".repeat(n as usize)),
                // Sleeps n ms in WASI (a host call the epoch deadline cannot interrupt).
                "sleep" => {
                    std::thread::sleep(std::time::Duration::from_millis(n as u64));
                    Value::from("slept")
                }
                // Says so in the log (granted), then sleeps: a test changes the row meanwhile.
                "log-sleep" => {
                    host::log(Level::Info, "probe sleeping");
                    std::thread::sleep(std::time::Duration::from_millis(n as u64));
                    Value::from("slept")
                }
                // As log-sleep, then changes its own row by a key spelt as `url` says (`'1'` for
                // the integer 1, a uuid in capitals): another spelling of a batch row's key.
                "rekey-sleep" => {
                    host::log(Level::Info, "probe sleeping");
                    std::thread::sleep(std::time::Duration::from_millis(n as u64));
                    let key = row.text("url")?.unwrap_or_default().to_string();
                    out.push(Change::Update(Update {
                        key: vec![Value::Text(key)],
                        set: vec![Assignment { column: "out".into(), value: Value::from("stale") }],
                    }));
                    continue;
                }
                // Leaves the row unchanged (it keeps matching a backfill's filter).
                "skip" => continue,
                // Also marks the row with key n: a change outside the batch's own rows.
                "mark" => {
                    out.push(Change::Update(Update {
                        key: vec![Value::from(n)],
                        set: vec![Assignment { column: "out".into(), value: Value::from("marked") }],
                    }));
                    Value::from("ok")
                }
                // Many changes for one row.
                "many" => {
                    for i in 0..n {
                        out.push(row.update([("out", Value::from(i))]));
                    }
                    continue;
                }
                "log" => {
                    host::log(Level::Info, &format!("probe says {n}"));
                    Value::from("logged")
                }
                "config" => Value::from(host::config("greeting")),
                "lookup" => match host::lookup("SELECT 1", &[]) {
                    Ok(rows) => Value::from(rows.len() as i64),
                    Err(e) => Value::from(format!("lookup error: {e}")),
                },
                // Runs the row's `url` column as a lookup query: hostile SQL from the plugin.
                "lookup-sql" => {
                    let sql = row.text("url")?.unwrap_or("").to_string();
                    match host::lookup(&sql, &[]) {
                        Ok(rows) => Value::from(format!("{} rows: {:?}", rows.len(), rows.first())),
                        Err(e) => Value::from(format!("lookup error: {e}")),
                    }
                }
                // Asks for another virtual host behind the allowed origin.
                "http-host" => {
                    let url = row.text("url")?.unwrap_or("http://127.0.0.1:9/").to_string();
                    let headers = vec![("Host".to_string(), "evil.example".to_string())];
                    match host::http(&HttpRequest { method: "GET".into(), url, headers, body: None }) {
                        Ok(r) => Value::from(String::from_utf8_lossy(&r.body).into_owned()),
                        Err(e) => Value::from(format!("http error: {e}")),
                    }
                }
                "http" => {
                    let url = row.text("url")?.unwrap_or("http://127.0.0.1:9/").to_string();
                    match host::http(&HttpRequest { method: "GET".into(), url, headers: vec![], body: None }) {
                        Ok(r) => Value::from(format!("{} {}", r.status, String::from_utf8_lossy(&r.body))),
                        Err(e) => Value::from(format!("http error: {e}")),
                    }
                }
                "clock" => Value::from(host::now_ms()),
                "random" => Value::from(host::random(8).len() as i64),
                // WASI, which the host virtualises: no clock, no files, no environment.
                "wasi-clock" => Value::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(-1),
                ),
                "wasi-file" => Value::from(match std::fs::read_to_string("/etc/hostname") {
                    Ok(_) => "read a file".to_string(),
                    Err(e) => format!("denied: {e}"),
                }),
                "wasi-env" => Value::from(std::env::vars().count() as i64),
                other => return Err(format!("unknown cmd `{other}`")),
            };
            out.push(row.update([("out", result)]));
        }
        Ok(out)
    }
}

runner_plugin_sdk::plugin!(Probe);
