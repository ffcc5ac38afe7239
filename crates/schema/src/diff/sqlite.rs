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
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // The body of a quoted token starting at `i` (doubled quotes are one), and where it ends.
    let quoted = |i: usize, close: char| {
        let mut j = i + 1;
        let mut v = String::new();
        while j < chars.len() {
            if chars[j] == close {
                if chars.get(j + 1) == Some(&close) && close != ']' {
                    v.push(close);
                    j += 2;
                    continue;
                }
                break;
            }
            v.push(chars[j]);
            j += 1;
        }
        (v, j + 1)
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' {
            let (v, next) = quoted(i, '\'');
            out.push(Token::Text(v));
            i = next;
        } else if c == '"' || c == '`' || c == '[' {
            let (v, next) = quoted(i, if c == '[' { ']' } else { c });
            out.push(Token::Word(v.to_lowercase()));
            i = next;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect::<String>().to_lowercase()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Other(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Other(c.to_string()));
            i += 1;
        }
    }
    out
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
            Token::Text(s) => format!("'{}'", s.replace('\'', "''")),
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
    let rebuilt: BTreeSet<&Name> = to
        .tables
        .iter()
        .filter(|(name, t)| {
            from.tables.get(*name).is_some_and(|f| {
                body(f.definition.as_deref().unwrap_or_default()) != body(t.definition.as_deref().unwrap_or_default())
            })
        })
        .map(|(name, _)| name)
        .collect();
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
