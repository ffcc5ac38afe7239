//! Normalises `email` (trim, lower-case) and leaves rows that are already normal alone, so the
//! backfill writes only what changes.

use runner_plugin_sdk::{Change, Plugin, Rows, Value};

struct NormaliseEmail;

impl Plugin for NormaliseEmail {
    fn describe() -> String {
        "normalise-email 1.0.0".into()
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

runner_plugin_sdk::plugin!(NormaliseEmail);
