//! The SQL of scheduled refreshes, in one place, with every name quoted by
//! [`runner_db::quote_ident`]: an unquoted `"ScoreBands"` folds to `scorebands`, and a refresh
//! that empties its target would then empty another table.

use runner_db::{Dialect, quote_ident, quote_literal};

/// A string literal holding `name` quoted as an identifier: what `to_regclass` takes.
fn regclass(name: &str) -> String {
    format!("to_regclass({})", quote_literal(&quote_ident(name)))
}

/// `count(*)` of materialized views named `view` (0 or 1).
pub fn view_exists(view: &str) -> String {
    format!("SELECT count(*) FROM pg_class WHERE oid = {} AND relkind = 'm'", regclass(view))
}

/// `count(*)` of populated materialized views named `view` (0 or 1).
pub fn view_populated(view: &str) -> String {
    format!("SELECT count(*) FROM pg_class WHERE oid = {} AND relkind = 'm' AND relispopulated", regclass(view))
}

/// `count(*)` of the unique indexes on plain columns that `REFRESH … CONCURRENTLY` needs.
pub fn view_unique_indexes(view: &str) -> String {
    format!(
        "SELECT count(*) FROM pg_index WHERE indrelid = {} AND indisunique AND indpred IS NULL AND indexprs IS NULL",
        regclass(view)
    )
}

pub fn refresh_view(view: &str, concurrently: bool) -> String {
    format!("REFRESH MATERIALIZED VIEW {}{}", if concurrently { "CONCURRENTLY " } else { "" }, quote_ident(view))
}

/// `count(*)` of tables named `table` (0 or 1).
pub fn table_exists(dialect: Dialect, table: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("SELECT count(*) FROM (SELECT {} AS r) s WHERE r IS NOT NULL", regclass(table)),
        Dialect::Sqlite => {
            let (schema, t) = table.split_once('.').unwrap_or((Dialect::SQLITE_SCHEMA, table));
            format!(
                "SELECT count(*) FROM {}.sqlite_master WHERE type = 'table' AND name = {}",
                quote_ident(schema),
                quote_literal(t)
            )
        }
    }
}

/// Empties a refreshed table before it is filled again (in the same transaction).
pub fn clear(table: &str) -> String {
    format!("DELETE FROM {}", quote_ident(table))
}

/// Fills a table from the refresh's query (the user's own SQL, run as written).
pub fn fill(table: &str, query: &str) -> String {
    format!("INSERT INTO {} {query}", quote_ident(table))
}

pub fn count(table: &str) -> String {
    format!("SELECT count(*) FROM {}", quote_ident(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted() {
        assert_eq!(clear("ScoreBands"), "DELETE FROM \"ScoreBands\"");
        assert_eq!(refresh_view("public.MV", true), "REFRESH MATERIALIZED VIEW CONCURRENTLY \"public\".\"MV\"");
        assert_eq!(
            view_exists("o'k"),
            "SELECT count(*) FROM pg_class WHERE oid = to_regclass('\"o''k\"') AND relkind = 'm'"
        );
    }
}
