//! {{name}}: trims and lower-cases `email`, and leaves rows that are already so alone, so the
//! backfill writes only what changes. Replace `process` with what your backfill does.

use runner_plugin_sdk::{Change, Plugin, Rows, Value};

struct Backfill;

impl Plugin for Backfill {
    fn describe() -> String {
        "{{name}} 0.1.0".into()
    }

    fn process(rows: Rows) -> Result<Vec<Change>, String> {
        let mut out = Vec::new();
        for row in rows.iter() {
            let Some(email) = row.text("email")? else { continue };
            let normal = email.trim().to_lowercase();
            if normal != email {
                out.push(row.update([("email", Value::from(normal))]));
            }
        }
        Ok(out)
    }
}

runner_plugin_sdk::plugin!(Backfill);
