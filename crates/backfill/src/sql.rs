//! The statements of a batch: a keyset read, and set-based writes of the plugin's changes.
//!
//! PostgreSQL writes a whole batch with one statement per kind of change, whatever its size:
//! `UPDATE t SET c = v.c::type FROM unnest($1::text[], $2::text[]) AS v(k, c) WHERE t.k = v.k::type`.
//! The text is constant and there are as many parameters as columns, never one per row (the
//! bind-parameter ceiling is 65,535). SQLite runs one prepared statement per change inside the
//! batch's transaction, which is how SQLite is fast.

use runner_db::{DbValue, Dialect, quote_literal};
use std::collections::HashMap;

pub use runner_db::quote_ident as ident;

/// PostgreSQL types the driver reads natively; other columns are read as text.
fn native(ty: &str) -> bool {
    matches!(
        ty,
        "smallint" | "integer" | "bigint" | "real" | "double precision" | "boolean" | "text" | "bytea" | "name"
    ) || ty.starts_with("character varying")
        || ty.starts_with("character(")
}

/// Columns of a table: name, type (PostgreSQL: for casts), and whether it is NOT NULL: `1` yes
/// (SQLite: also an `INTEGER PRIMARY KEY`, which is the never-NULL rowid), `0` no, `2` a SQLite
/// primary-key column without NOT NULL (which SQLite lets hold NULL); no rows when the table does
/// not exist.
pub fn column_types_sql(dialect: Dialect, table: &str) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN '1' ELSE '0' END \
             FROM pg_attribute a WHERE a.attrelid = to_regclass({}) AND a.attnum > 0 AND NOT a.attisdropped",
            quote_literal(&ident(table))
        ),
        Dialect::Sqlite => {
            let (schema, t) = sqlite_parts(table);
            format!(
                "SELECT name, type, CASE WHEN \"notnull\" = 1 OR (pk = 1 AND upper(type) = 'INTEGER' \
                 AND (SELECT count(*) FROM pragma_table_info({t}, {schema}) WHERE pk > 0) = 1) THEN '1' \
                 WHEN pk > 0 THEN '2' ELSE '0' END FROM pragma_table_info({t}, {schema})"
            )
        }
    }
}

/// The column sets of a table's unique, non-partial, expression-free indexes (PostgreSQL: the
/// primary key among them), one row each, names joined by `,`.
pub fn unique_keys_sql(dialect: Dialect, table: &str) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "SELECT array_to_string(ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k), ',') \
             FROM pg_index i WHERE i.indrelid = to_regclass({}) AND i.indisunique AND i.indpred IS NULL \
             AND i.indexprs IS NULL",
            quote_literal(&ident(table))
        ),
        Dialect::Sqlite => {
            let (schema, t) = sqlite_parts(table);
            format!(
                "SELECT group_concat(ii.name, ',') FROM pragma_index_list({t}, {schema}) il \
                 JOIN pragma_index_info(il.name, {schema}) ii WHERE il.\"unique\" = 1 AND il.partial = 0 \
                 GROUP BY il.name HAVING count(*) = count(ii.name) \
                 UNION ALL SELECT name FROM pragma_table_info({t}, {schema}) \
                 WHERE pk = 1 AND upper(type) = 'INTEGER' AND (SELECT count(*) FROM pragma_table_info({t}, {schema}) WHERE pk > 0) = 1"
            )
        }
    }
}

/// SQLite's rowid, which every ordinary table has: a key of its own when named so.
pub fn is_rowid(dialect: Dialect, key: &[String]) -> bool {
    dialect == Dialect::Sqlite
        && matches!(key, [k] if ["rowid", "_rowid_", "oid"].contains(&k.to_ascii_lowercase().as_str()))
}

/// `schema.table` as `ident` reads it, as the pragmas take it: quoted literals.
fn sqlite_parts(table: &str) -> (String, String) {
    match table.split_once('.') {
        Some((schema, t)) => (quote_literal(schema), quote_literal(t)),
        None => (quote_literal(Dialect::SQLITE_SCHEMA), quote_literal(table)),
    }
}

pub struct Statements<'m> {
    pub dialect: Dialect,
    pub source: &'m str,
    pub key: &'m [String],
    pub columns: &'m [String],
    pub filter: Option<&'m str>,
    pub target: &'m str,
    pub target_key: &'m [String],
    /// PostgreSQL: column → type of the source and target tables.
    pub source_types: HashMap<String, String>,
    pub target_types: HashMap<String, String>,
}

impl Statements<'_> {
    /// Whether writes go to the rows the batch read (same table, same key), so that they can
    /// be guarded by what was read (see `write.rs`).
    pub fn writes_own_rows(&self) -> bool {
        self.target == self.source && self.target_key == self.key
    }

    /// Whether a read also returns each row's version (PostgreSQL's `xmin`) as a last column.
    pub fn reads_versions(&self) -> bool {
        self.dialect == Dialect::Postgres && self.writes_own_rows()
    }
}

impl Statements<'_> {
    fn placeholder(&self, n: usize, column: &str, types: &HashMap<String, String>) -> String {
        match (self.dialect, types.get(column)) {
            (Dialect::Postgres, Some(ty)) => format!("${n}::{ty}"),
            _ => format!("${n}"),
        }
    }

    /// `(t.k1, t.k2) > ($1, $2)` for the source's key, with parameters numbered from `first`.
    /// The columns are qualified by the table: an output column of the same name (a key read as
    /// `k::text AS k`) would otherwise be what `ORDER BY` sorts, in text order, while the
    /// comparison uses the column's own, and rows would be skipped.
    fn key_compare(&self, op: &str, first: usize) -> String {
        self.compare(Some(&ident(self.source)), self.key, &self.source_types, op, first)
    }

    /// `(q.k1, q.k2) op ($first, $first+1)`: a key compared as a whole, its parameters cast
    /// to the columns' types.
    pub(crate) fn compare(
        &self,
        qualifier: Option<&str>,
        key: &[String],
        types: &HashMap<String, String>,
        op: &str,
        first: usize,
    ) -> String {
        let cols: Vec<String> =
            key.iter().map(|k| qualifier.map_or_else(|| ident(k), |q| format!("{q}.{}", ident(k)))).collect();
        let params: Vec<String> = key.iter().enumerate().map(|(i, k)| self.placeholder(first + i, k, types)).collect();
        format!("({}) {op} ({})", cols.join(", "), params.join(", "))
    }

    /// The key order, by the table's own columns (see [`Statements::key_compare`]).
    fn order(&self, dir: &str) -> String {
        let t = ident(self.source);
        self.key.iter().map(|k| format!("{t}.{} {dir}", ident(k))).collect::<Vec<_>>().join(", ")
    }

    fn where_filter(&self) -> String {
        self.filter.map_or_else(|| "TRUE".to_string(), |f| format!("({f})"))
    }

    /// The last key of the rows to do now: the backfill's upper bound.
    pub fn upper_bound(&self) -> String {
        let cols: Vec<String> = self.key.iter().map(|k| self.read_column(k)).collect();
        format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT 1",
            cols.join(", "),
            ident(self.source),
            self.where_filter(),
            self.order("DESC")
        )
    }

    /// The rows left to do up to `upper`, with its parameters.
    pub fn count(&self, upper: &[DbValue]) -> (String, Vec<DbValue>) {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} AND {}",
            ident(self.source),
            self.where_filter(),
            self.key_compare("<=", 1)
        );
        (sql, self.key_params(upper))
    }

    fn read_column(&self, c: &str) -> String {
        match self.source_types.get(c) {
            Some(ty) if self.dialect == Dialect::Postgres && !native(ty) => {
                format!("{}::text AS {}", ident(c), ident(c))
            }
            _ => ident(c),
        }
    }

    /// A column of the table named `qualifier` in a query, read as a batch reads it (text where
    /// the type has no native form here).
    pub(crate) fn read_column_of(&self, qualifier: &str, c: &str) -> String {
        match self.source_types.get(c) {
            Some(ty) if self.dialect == Dialect::Postgres && !native(ty) => format!("{qualifier}.{}::text", ident(c)),
            _ => format!("{qualifier}.{}", ident(c)),
        }
    }

    /// The key `step` rows after `cursor` (if any), up to the upper bound: the next chunk
    /// boundary. An index walk of `step` keys, where a window over the whole table sorted its
    /// rows (measured on 1,000,000 rows: about 10 ms per boundary, against 890 ms in all).
    pub fn skip(&self, after: Option<&[DbValue]>, upper: &[DbValue], step: usize) -> (String, Vec<DbValue>) {
        let keys: Vec<String> = self.key.iter().map(|k| self.read_column(k)).collect();
        self.in_key_order(&keys, after, upper, &format!("LIMIT 1 OFFSET {}", step.saturating_sub(1)))
    }

    /// The next batch: after `after` (if any), up to `upper`, in key order, with its parameters.
    /// With [`Statements::reads_versions`], each row's `xmin` comes last, as text.
    pub fn read(&self, after: Option<&[DbValue]>, upper: &[DbValue], limit: usize) -> (String, Vec<DbValue>) {
        let mut cols: Vec<String> = self.columns.iter().map(|c| self.read_column(c)).collect();
        if self.reads_versions() {
            cols.push(format!("{}.xmin::text", ident(self.source)));
        }
        self.in_key_order(&cols, after, upper, &format!("LIMIT {limit}"))
    }

    /// `SELECT columns` of the rows to do after `after` (if any) up to `upper`, in key order,
    /// then `tail`; the parameters are the two keys' values in the order the SQL numbers them.
    fn in_key_order(
        &self,
        columns: &[String],
        after: Option<&[DbValue]>,
        upper: &[DbValue],
        tail: &str,
    ) -> (String, Vec<DbValue>) {
        let mut conds = vec![self.where_filter()];
        let mut params = Vec::new();
        if let Some(after) = after {
            conds.push(self.key_compare(">", 1));
            params = self.key_params(after);
        }
        conds.push(self.key_compare("<=", params.len() + 1));
        params.extend(self.key_params(upper));
        let sql = format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} {tail}",
            columns.join(", "),
            ident(self.source),
            conds.join(" AND "),
            self.order("ASC")
        );
        (sql, params)
    }

    /// Cursor and bound parameters as the read expects them: text with casts on PostgreSQL
    /// (so any key type works), native values on SQLite.
    pub fn key_params(&self, values: &[DbValue]) -> Vec<DbValue> {
        match self.dialect {
            Dialect::Postgres => values.iter().map(|v| v.to_text().map_or(DbValue::Null, DbValue::Text)).collect(),
            Dialect::Sqlite => values.to_vec(),
        }
    }

    /// The column's cast in a write (PostgreSQL), empty where its type is unknown.
    pub(crate) fn cast(&self, column: &str) -> String {
        self.target_types.get(column).map_or_else(String::new, |t| format!("::{t}"))
    }
}

/// The keys a batch was read from: after `after` (exclusive; `None`: from the first row) up to
/// `last` (inclusive).
pub struct KeyRange<'a> {
    pub after: Option<&'a [DbValue]>,
    pub last: &'a [DbValue],
}
