//! The diff on SQLite. SQLite keeps each object's `CREATE` statement as written, and its
//! `ALTER TABLE` cannot change a column or a constraint, so: objects are compared by their
//! statements' tokens (case, quoting, spacing and comments aside), and a table that changed is
//! rebuilt as SQLite documents it: its rows are copied aside, the table is dropped and created
//! from the declared statement, the rows of the columns both have are copied back, and its
//! indexes and triggers are created again. runner runs a SQLite revision with foreign keys off
//! and `PRAGMA foreign_key_check` before commit, so a rebuild neither cascades nor commits a
//! dangling key.

use super::drop_views;
use crate::model::{Name, Schema, View};
use crate::statement::{Statement, StatementKind};
use runner_db::quote_part;
use std::collections::BTreeSet;

/// A token of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A keyword or a name, lower-cased (SQLite's names are case-insensitive, quoted or not).
    Word(String),
    /// A string literal, as written between its quotes.
    Text(String),
    /// Anything else: a number, an operator, a parenthesis.
    Other(String),
}

/// The tokens of `sql`, without whitespace and comments.
pub(crate) fn tokens(sql: &str) -> Vec<Token> {
    spans(sql).into_iter().map(|(t, _)| t).collect()
}

/// The tokens of `sql`, each with the characters it was written as (start, end).
fn spans(sql: &str) -> Vec<(Token, (usize, usize))> {
    use crate::lex::{Kind, Quoting, lex};
    lex(sql, Quoting::Sqlite)
        .tokens
        .into_iter()
        .map(|t| {
            let token = match t.kind {
                Kind::Word | Kind::Quoted => Token::Word(t.value.to_lowercase()),
                Kind::Text => Token::Text(t.value),
                Kind::Other => Token::Other(t.value),
            };
            (token, (t.start, t.end))
        })
        .collect()
}

/// `sql` as its tokens, one space apart, words quoted: equal for two statements that differ
/// only in case, quoting, spacing and comments, and the same when normalized again.
pub(crate) fn normalize(sql: &str) -> String {
    render(&tokens(sql))
}

fn render(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) => quote_part(w),
            Token::Text(s) => runner_db::quote_literal(s),
            Token::Other(o) => o.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `sql` normalized, with the word `old` (a table or column renamed) written `new`.
pub(crate) fn rename_word(sql: &str, old: &str, new: &str) -> String {
    let old = old.to_lowercase();
    let tokens: Vec<Token> = tokens(sql)
        .into_iter()
        .map(|t| match t {
            Token::Word(w) if w == old => Token::Word(new.to_lowercase()),
            t => t,
        })
        .collect();
    render(&tokens)
}

/// A table's statement from its column list on: its name is compared as the table's key.
fn body(sql: &str) -> String {
    let t = tokens(sql);
    let start = t.iter().position(|t| *t == Token::Other("(".into())).unwrap_or(0);
    render(&t[start..])
}

fn statement(sql: &str) -> String {
    format!("{};", sql.trim().trim_end_matches(';'))
}

/// The statements that turn `from` into `to`, both SQLite schemas.
pub(super) fn diff(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    let same = |a: &str, b: &str| normalize(a) == normalize(b);
    let definition = |t: &crate::model::Table| t.definition.clone().unwrap_or_default();
    // Tables whose statement changed: columns appended are added in place, the rest rebuilt.
    let mut appended: Vec<(&Name, Vec<String>)> = Vec::new();
    let mut rebuilt: BTreeSet<&Name> = BTreeSet::new();
    for (name, t) in &to.tables {
        let Some(f) = from.tables.get(name) else { continue };
        if body(&definition(f)) == body(&definition(t)) {
            continue;
        }
        match appended_columns(&definition(f), &definition(t)) {
            Some(columns) => appended.push((name, columns)),
            None => {
                rebuilt.insert(name);
            }
        }
    }
    // What is on a table that is dropped or rebuilt goes with it.
    let stays = |table: &Name| to.tables.contains_key(table) && !rebuilt.contains(table);
    for (key, t) in &from.triggers {
        if stays(&t.table) && to.triggers.get(key).is_none_or(|n| !same(&n.definition, &t.definition)) {
            out.push(format!("DROP TRIGGER {};", quote_part(&t.name)).into());
        }
    }
    let views: BTreeSet<Name> = from
        .views
        .values()
        .filter(|v| to.views.get(&v.name).is_none_or(|n| !same(&n.query, &v.query)))
        .map(|v| v.name.clone())
        .collect();
    drop_views(from, &views, out);
    for (name, i) in &from.indexes {
        if stays(&i.table) && to.indexes.get(name).is_none_or(|n| !same(&n.definition, &i.definition)) {
            out.push(format!("DROP INDEX {};", quote_part(&name.name)).into());
        }
    }
    for name in from.tables.keys().filter(|n| !to.tables.contains_key(*n)) {
        out.push(Statement::new(
            StatementKind::DropTable(name.clone()),
            format!("DROP TABLE {};", quote_part(&name.name)),
        ));
    }
    for (name, t) in to.tables.iter().filter(|(n, _)| !from.tables.contains_key(*n)) {
        let _ = name;
        out.push(statement(t.definition.as_deref().unwrap_or_default()).into());
    }
    for (name, columns) in appended {
        for c in columns {
            out.push(format!("ALTER TABLE {} ADD COLUMN {c};", quote_part(&name.name)).into());
        }
    }
    for name in &rebuilt {
        rebuild(from, to, name, out);
    }
    for (name, i) in &to.indexes {
        let new = !from.tables.contains_key(&i.table) || rebuilt.contains(&i.table);
        if new || from.indexes.get(name).is_none_or(|f| !same(&f.definition, &i.definition)) {
            out.push(statement(&i.definition).into());
        }
    }
    let recreated: BTreeSet<Name> = views.into_iter().filter(|v| to.views.contains_key(v)).collect();
    super::create_views(from, to, &recreated, out, |v: &View| statement(&v.query));
    for (key, t) in &to.triggers {
        let new = !from.tables.contains_key(&t.table) || rebuilt.contains(&t.table);
        if new || from.triggers.get(key).is_none_or(|f| !same(&f.definition, &t.definition)) {
            out.push(statement(&t.definition).into());
        }
    }
}

/// The column definitions `to` appends to `from`'s column list, as written, when that is all
/// that changed and SQLite's `ALTER TABLE ADD COLUMN` can add each of them (not a key, not
/// unique, not stored, a constant default, NOT NULL only with a default, a reference only
/// without one): then no rebuild is needed.
fn appended_columns(from: &str, to: &str) -> Option<Vec<String>> {
    let (f, t) = (spans(from), spans(to));
    let close = |s: &[(Token, (usize, usize))]| -> Option<(usize, usize)> {
        let open = s.iter().position(|(t, _)| *t == Token::Other("(".into()))?;
        let mut depth = 0;
        for (i, (tok, _)) in s.iter().enumerate().skip(open) {
            match tok {
                Token::Other(o) if o == "(" => depth += 1,
                Token::Other(o) if o == ")" => {
                    depth -= 1;
                    if depth == 0 {
                        return Some((open, i));
                    }
                }
                _ => {}
            }
        }
        None
    };
    let ((fo, fc), (to_open, tc)) = (close(&f)?, close(&t)?);
    let same = |a: &[(Token, (usize, usize))], b: &[(Token, (usize, usize))]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0)
    };
    let kept = fc - fo;
    if tc < to_open + kept + 1
        || !same(&f[fo..fc], &t[to_open..to_open + kept])
        || !same(&f[fc..], &t[tc..])
        || t[to_open + kept].0 != Token::Other(",".into())
    {
        return None;
    }
    let chars: Vec<char> = to.chars().collect();
    let mut out = Vec::new();
    let mut column: Vec<&(Token, (usize, usize))> = Vec::new();
    let mut depth = 0;
    for tok in t[to_open + kept + 1..tc].iter().chain(std::iter::once(&(Token::Other(",".into()), (0, 0)))) {
        match &tok.0 {
            Token::Other(o) if o == "," && depth == 0 => {
                let (first, last) = (column.first()?, column.last()?);
                if !addable(&column.iter().map(|t| &t.0).collect::<Vec<_>>()) {
                    return None;
                }
                out.push(chars[first.1.0..last.1.1].iter().collect());
                column.clear();
                continue;
            }
            Token::Other(o) if o == "(" => depth += 1,
            Token::Other(o) if o == ")" => depth -= 1,
            _ => {}
        }
        column.push(tok);
    }
    Some(out)
}

/// Whether `ALTER TABLE ADD COLUMN` takes this column definition (SQLite's rules).
fn addable(column: &[&Token]) -> bool {
    let word = |w: &str| column.iter().any(|t| **t == Token::Word(w.into()));
    let Some(Token::Word(_)) = column.first() else { return false };
    // A table constraint (`PRIMARY KEY (a)`, `CHECK (…)`) starts with a keyword, not a column.
    if matches!(column.first(), Some(Token::Word(w)) if ["primary", "unique", "check", "foreign", "constraint"].contains(&w.as_str()))
    {
        return false;
    }
    if word("primary") || word("unique") || word("stored") {
        return false;
    }
    let default = column.iter().position(|t| **t == Token::Word("default".into()));
    let constant = match default.and_then(|i| column.get(i + 1)) {
        None => true,
        Some(Token::Text(_)) => true,
        Some(Token::Other(o)) => o.starts_with(|c: char| c.is_ascii_digit()) || o == "-" || o == "+",
        Some(Token::Word(w)) => ["null", "true", "false"].contains(&w.as_str()),
    };
    let null_default = default.is_none() || column.get(default.unwrap_or(0) + 1) == Some(&&Token::Word("null".into()));
    let not_null = column.windows(2).any(|w| *w[0] == Token::Word("not".into()) && *w[1] == Token::Word("null".into()));
    constant && !(not_null && null_default) && (!word("references") || null_default)
}

/// SQLite's table rebuild, keeping the rows of the columns both definitions have.
fn rebuild(from: &Schema, to: &Schema, name: &Name, out: &mut Vec<Statement>) {
    let (f, t) = (&from.tables[name], &to.tables[name]);
    let table = quote_part(&name.name);
    let aside = quote_part(&format!("runner_rebuild_{}", name.name));
    // Generated columns are computed again, not copied.
    let kept: Vec<String> = t
        .columns
        .iter()
        .filter(|c| c.generated.is_none())
        .filter(|c| f.columns.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name) && o.generated.is_none()))
        .map(|c| quote_part(&c.name))
        .collect();
    let drops_columns = f
        .columns
        .iter()
        .any(|o| o.generated.is_none() && !t.columns.iter().any(|c| c.name.eq_ignore_ascii_case(&o.name)));
    let kind = StatementKind::RebuildTable { table: name.clone(), drops_columns };
    out.push(Statement::new(kind, format!("CREATE TEMP TABLE {aside} AS SELECT * FROM {table};")));
    out.push(format!("DROP TABLE {table};").into());
    out.push(statement(t.definition.as_deref().unwrap_or_default()).into());
    if !kept.is_empty() {
        let list = kept.join(", ");
        out.push(format!("INSERT INTO {table} ({list}) SELECT {list} FROM temp.{aside};").into());
    }
    out.push(format!("DROP TABLE temp.{aside};").into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_appended_are_added_in_place_when_sqlite_can() {
        let from = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT) STRICT";
        let add = |cols: &str| {
            appended_columns(from, &format!("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, {cols}) STRICT"))
        };
        assert_eq!(add("theme TEXT DEFAULT 'light'"), Some(vec!["theme TEXT DEFAULT 'light'".to_string()]));
        assert_eq!(add("a INTEGER, b TEXT CHECK (b <> '')").map(|v| v.len()), Some(2));
        assert_eq!(add("n INTEGER NOT NULL DEFAULT -1"), Some(vec!["n INTEGER NOT NULL DEFAULT -1".to_string()]));
        // What ADD COLUMN cannot do.
        for cols in [
            "n INTEGER NOT NULL",
            "k TEXT UNIQUE",
            "at TEXT DEFAULT CURRENT_TIMESTAMP",
            "at TEXT DEFAULT (datetime('now'))",
            "g INTEGER GENERATED ALWAYS AS (id * 2) STORED",
            "r INTEGER REFERENCES u (id) DEFAULT 1",
            "CHECK (id > 0)",
        ] {
            assert_eq!(add(cols), None, "{cols}");
        }
        // A column in the middle, or an option changed, is a rebuild.
        assert_eq!(appended_columns(from, "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT, name TEXT) STRICT"), None);
        assert_eq!(appended_columns(from, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, x TEXT)"), None);
    }

    #[test]
    fn statements_compare_by_their_tokens() {
        assert_eq!(
            normalize("CREATE TABLE t(\n  id INTEGER PRIMARY KEY, -- the key\n  \"Name\" text DEFAULT 'A b'\n)"),
            normalize("create table [t] (id integer primary key, name TEXT default 'A b')")
        );
        assert_ne!(normalize("CHECK (a > 'x')"), normalize("CHECK (a > 'X')"));
        assert_eq!(normalize(&normalize("CREATE TABLE \"a b\" (x)")), normalize("CREATE TABLE \"a b\" (x)"));
        assert_eq!(
            rename_word("CREATE INDEX i ON users (email)", "users", "accounts"),
            normalize("CREATE INDEX i ON accounts(email)")
        );
    }
}
