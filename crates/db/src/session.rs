//! Which statements set a session's state, the dialect rule behind resuming a no-transaction
//! revision: a resumed run is a new session, so what the statements before the resume point set
//! for the session (a `lock_timeout`, a `search_path`) is set again before the rest runs.

use crate::Dialect;

impl Dialect {
    /// Whether `sql` only changes the session's settings, so that running it again is harmless
    /// and leaving it out changes what later statements do. PostgreSQL: `SET …` and `RESET …`
    /// (not `SET LOCAL`, `SET TRANSACTION` or `SET CONSTRAINTS`, which outside a transaction do
    /// nothing). SQLite: `PRAGMA name = value`.
    pub fn is_session_setting(self, sql: &str) -> bool {
        let words: Vec<String> = words(sql).take(3).collect();
        let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
        match self {
            Dialect::Postgres => match word(0) {
                "SET" => !matches!(word(1), "LOCAL" | "TRANSACTION" | "CONSTRAINTS" | ""),
                "RESET" => true,
                _ => false,
            },
            Dialect::Sqlite => word(0) == "PRAGMA" && sql.contains('='),
        }
    }
}

/// The leading words of `sql`, upper-cased. A statement as the splitter gives it starts at its
/// first token, so no comment comes before them.
fn words(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use crate::Dialect::{Postgres, Sqlite};

    #[test]
    fn session_settings_are_told_from_everything_else() {
        for sql in
            ["SET lock_timeout = '5s';", "set search_path to app", "SET SESSION statement_timeout = 0", "RESET ALL"]
        {
            assert!(Postgres.is_session_setting(sql), "{sql}");
        }
        for sql in [
            "SET LOCAL lock_timeout = '5s'",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET CONSTRAINTS ALL DEFERRED",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "UPDATE t SET a = 1",
        ] {
            assert!(!Postgres.is_session_setting(sql), "{sql}");
        }
        assert!(Sqlite.is_session_setting("PRAGMA foreign_keys = OFF"));
        assert!(!Sqlite.is_session_setting("PRAGMA integrity_check"));
        assert!(!Sqlite.is_session_setting("SET x = 1"));
    }
}
