//! Literal SQL for each dialect.

use runner_db::Dialect;

pub use runner_db::quote_ident as ident;

/// `name` starts with `prefix`, exactly: `LIKE` would read `_` and `%` in a backfill's or
/// refresh's name as wildcards and match other names (`fill_1/%` matches `fill11/0001`).
pub fn starts_with(dialect: Dialect, column: &str, prefix: &str) -> String {
    format!("substr({column}, 1, {}) = {}", prefix.chars().count(), dialect.quote_literal(prefix))
}

pub fn opt_literal(dialect: Dialect, value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_string(), |v| dialect.quote_literal(v))
}

pub fn json(dialect: Dialect, value: &serde_json::Value) -> String {
    let text = dialect.quote_literal(&value.to_string());
    match dialect {
        Dialect::Postgres => format!("{text}::jsonb"),
        Dialect::Sqlite => text,
    }
}

/// The first two columns of each row as text (NULL: empty), for two-column reads.
pub fn text_pairs(rows: Vec<runner_db::Row>) -> Vec<(String, String)> {
    rows.into_iter()
        .map(|r| (r.first().cloned().flatten().unwrap_or_default(), r.get(1).cloned().flatten().unwrap_or_default()))
        .collect()
}

/// A timestamp column read back as ISO-8601 UTC text, whatever the session time zone.
pub fn read_time(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Postgres => {
            format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
        }
        Dialect::Sqlite => column.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(Dialect::Postgres.quote_literal("it's"), "'it''s'");
        assert_eq!(Dialect::Postgres.quote_literal("a\\b'c"), "E'a\\\\b''c'");
        assert_eq!(Dialect::Sqlite.quote_literal("a\\b'c"), "'a\\b''c'");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
    }
}
