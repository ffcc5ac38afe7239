//! SQLite's schema: `sqlite_schema` holds each object's `CREATE` statement as it was written
//! (the only place a table's constraints are kept), `pragma_table_xinfo` its columns. Names are
//! in the schema `main`. What a view or trigger reads is found by name in its statement, which
//! is enough to order them: SQLite resolves names when a statement runs, not when it is created.

use super::{Exclude, IntrospectError};
use crate::model::{Column, Index, Name, Schema, Table, Trigger, View};
use runner_db::{Dialect, Driver};

/// The schema every SQLite name is in.
pub const MAIN: &str = Dialect::SQLITE_SCHEMA;

pub async fn read(db: &mut dyn Driver, exclude: &Exclude) -> Result<Schema, IntrospectError> {
    let mut schema = Schema { engine: Dialect::Sqlite, ..Schema::default() };
    let rows = db
        .query(
            "SELECT type, name, tbl_name, sql FROM sqlite_schema \
             WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
        )
        .await?;
    let text = |r: &[Option<String>], i: usize| r.get(i).cloned().flatten().unwrap_or_default();
    let mut views: Vec<(Name, String)> = Vec::new();
    for r in &rows {
        let (kind, name, table, sql) = (text(r, 0), text(r, 1), text(r, 2), text(r, 3));
        // SQLite's names are case-insensitive: keyed in lower case, so `T` and `t` are one table.
        let (name, table) = (Name::new(MAIN, &name.to_lowercase()), Name::new(MAIN, &table.to_lowercase()));
        if exclude.table(&table) {
            continue;
        }
        match kind.as_str() {
            "table" => {
                let columns = read_columns(db, &text(r, 1)).await?;
                schema.tables.insert(
                    name.clone(),
                    Table {
                        name,
                        columns,
                        constraints: Default::default(),
                        definition: Some(sql),
                        partition_by: None,
                        partition_of: None,
                    },
                );
            }
            "index" => {
                schema.indexes.insert(name.clone(), Index { name, table, definition: sql });
            }
            "view" => views.push((name, sql)),
            "trigger" => {
                let t = Trigger { table: table.clone(), name: name.name.clone(), definition: sql, columns: Vec::new() };
                schema.triggers.insert((table, name.name), t);
            }
            _ => {}
        }
    }
    let names: Vec<Name> = schema.tables.keys().cloned().chain(views.iter().map(|(n, _)| n.clone())).collect();
    for (name, sql) in views {
        let words = words(&sql);
        let depends_on =
            names.iter().filter(|n| **n != name && words.contains(&n.name.to_lowercase())).cloned().collect();
        schema.views.insert(
            name.clone(),
            View { name, materialized: false, query: sql, options: vec![], depends_on, calls: vec![] },
        );
    }
    Ok(schema)
}

async fn read_columns(db: &mut dyn Driver, table: &str) -> Result<Vec<Column>, IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT name, type, \"notnull\", dflt_value, hidden FROM pragma_table_xinfo({}) ORDER BY cid",
            runner_db::quote_literal(table)
        ))
        .await?;
    let text = |r: &[Option<String>], i: usize| r.get(i).cloned().flatten();
    Ok(rows
        .iter()
        .map(|r| Column {
            name: text(r, 0).unwrap_or_default(),
            data_type: text(r, 1).unwrap_or_default(),
            collation: None,
            not_null: text(r, 2).as_deref() == Some("1"),
            default: text(r, 3),
            identity: None,
            // Generated columns (hidden 2 and 3): their expression is in the table's statement.
            generated: matches!(text(r, 4).as_deref(), Some("2" | "3")).then(String::new),
        })
        .collect())
}

/// The lower-cased identifiers and keywords of a statement (quoted names unquoted), outside
/// string literals and comments.
pub(crate) fn words(sql: &str) -> Vec<String> {
    crate::diff::sqlite::tokens(sql)
        .into_iter()
        .filter_map(|t| match t {
            crate::diff::sqlite::Token::Word(w) => Some(w),
            _ => None,
        })
        .collect()
}
