//! Renames written into a declared schema file: `-- runner:renamed-from OLD` on the line above
//! `CREATE TABLE new …` renames the table `OLD`, on the line above a column inside one renames
//! that table's column `OLD`, and on the line above a value inside `CREATE TYPE … AS ENUM (…)`
//! renames the type's value `OLD` (`'old'` or `old`). The hint can stay after its revision has run (a rename
//! already made is left out). A `-- runner:` comment that is not a hint it knows, or a hint with
//! nothing to attach to, is an error with the file and line: a typo must not turn a rename into
//! a drop.

use crate::model::Name;
use crate::renames::{Rename, Renamed};

const MARKER: &str = "-- runner:";
const RENAMED_FROM: &str = "renamed-from";

/// The rename hints of one schema file's `sql`; `file` names it in errors and origins.
pub fn hints(sql: &str, file: &str) -> Result<Vec<Rename>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    // The table or enum type whose body the current line is in, and how deep in its parentheses.
    let mut block: Option<Block> = None;
    let mut depth: i32 = 0;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in sql.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        if let Some(marker) = trimmed.strip_prefix(MARKER) {
            match marker.strip_prefix(RENAMED_FROM) {
                Some(old) if old.starts_with(char::is_whitespace) && !old.trim().is_empty() => {
                    if let Some((at, _)) = &pending {
                        errors.push(format!(
                            "{file}:{at}: `{MARKER}{RENAMED_FROM}` is followed by another hint, not by what it renames"
                        ));
                    }
                    pending = Some((n, old.trim().to_string()));
                }
                Some(_) => errors.push(format!(
                    "{file}:{n}: `{MARKER}{RENAMED_FROM}` needs the old name: `{MARKER}{RENAMED_FROM} old_name`"
                )),
                None => errors.push(format!(
                    "{file}:{n}: unknown marker `{trimmed}` (a schema file knows `{MARKER}{RENAMED_FROM} OLD`)"
                )),
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        let created = create_table(trimmed).map(Block::Table).or_else(|| create_enum(trimmed).map(Block::Enum));
        if let Some((at, old)) = pending.take() {
            let origin = format!("{file}:{at}");
            match (&created, &block) {
                (Some(Block::Table(new)), _) => match parse_name(&old) {
                    Some((schema, name)) => {
                        let from = Name::new(schema.as_deref().unwrap_or(&new.schema), &name);
                        out.push(Rename { what: Renamed::Table { from, to: new.clone() }, origin });
                    }
                    None => errors.push(format!("{origin}: `{old}` is not a table name")),
                },
                (Some(Block::Enum(_)), _) => errors.push(format!(
                    "{origin}: `{MARKER}{RENAMED_FROM}` above `CREATE TYPE … AS ENUM` renames nothing: put it above the renamed value, one value a line"
                )),
                (None, Some(Block::Table(t))) if depth > 0 => match (first_word(trimmed), parse_name(&old)) {
                    (Some(column), Some((None, from))) if !is_table_constraint(trimmed) => out.push(Rename {
                        what: Renamed::Column { table: t.clone(), from, to: column },
                        origin,
                    }),
                    (_, Some((None, _))) => errors.push(format!(
                        "{origin}: `{MARKER}{RENAMED_FROM}` is above a table constraint; put it above a column"
                    )),
                    _ => errors.push(format!("{origin}: `{old}` is not a column name")),
                },
                (None, Some(Block::Enum(t))) if depth > 0 => match literal(trimmed) {
                    Some(to) => {
                        let from = literal(&old).unwrap_or(old);
                        out.push(Rename { what: Renamed::EnumValue { type_name: t.clone(), from, to }, origin });
                    }
                    None => errors.push(format!("{origin}: `{MARKER}{RENAMED_FROM}` must be above a value ('label')")),
                },
                _ => errors.push(format!(
                    "{origin}: `{MARKER}{RENAMED_FROM}` must be on the line right above `CREATE TABLE …`, above a column inside one, or above a value inside `CREATE TYPE … AS ENUM (…)`"
                )),
            }
        }
        if let Some(b) = created {
            block = Some(b);
            depth = 0;
        }
        if block.is_some() {
            depth += parens(trimmed);
            if depth <= 0 && trimmed.contains(')') {
                block = None;
            }
        }
    }
    if let Some((at, _)) = pending {
        errors.push(format!("{file}:{at}: `{MARKER}{RENAMED_FROM}` has nothing below it to rename"));
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// What a hint inside a statement's parentheses renames a part of.
enum Block {
    /// `CREATE TABLE`: its columns.
    Table(Name),
    /// `CREATE TYPE … AS ENUM`: its values.
    Enum(Name),
}

/// The enum type a `CREATE TYPE name AS ENUM` line creates.
fn create_enum(line: &str) -> Option<Name> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let upper: Vec<String> = words.iter().take(5).map(|w| w.to_ascii_uppercase()).collect();
    match upper.as_slice() {
        [c, t, _, a, e, ..] if c == "CREATE" && t == "TYPE" && a == "AS" && e.starts_with("ENUM") => {
            let (schema, name) = parse_name(words[2])?;
            Some(Name::new(schema.as_deref().unwrap_or("public"), &name))
        }
        _ => None,
    }
}

/// The string literal a line starts with (`'it''s', …`), unquoted.
fn literal(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                out.push('\'');
                chars.next();
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// The table a `CREATE TABLE` line creates (folded as PostgreSQL folds an unquoted name).
fn create_table(line: &str) -> Option<Name> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let upper: Vec<String> = words.iter().take(6).map(|w| w.to_ascii_uppercase()).collect();
    let mut at = match upper.as_slice() {
        [c, t, ..] if c == "CREATE" && t == "TABLE" => 2,
        [c, u, t, ..] if c == "CREATE" && (u == "UNLOGGED" || u == "TEMP" || u == "TEMPORARY") && t == "TABLE" => 3,
        _ => return None,
    };
    if upper.get(at).is_some_and(|w| w == "IF") {
        at += 3;
    }
    let rest = words.get(at..)?.join(" ");
    let name = rest.split('(').next()?.trim();
    let (schema, name) = parse_name(name)?;
    Some(Name::new(schema.as_deref().unwrap_or("public"), &name))
}

/// `name`, `schema.name`, either part quoted; unquoted parts folded to lower case.
fn parse_name(s: &str) -> Option<(Option<String>, String)> {
    let part = |p: &str| -> Option<String> {
        let p = p.trim();
        if let Some(q) = p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            return (!q.is_empty()).then(|| q.replace("\"\"", "\""));
        }
        let ok = p.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$');
        ok.then(|| p.to_lowercase())
    };
    match s.split_once('.') {
        Some((schema, name)) if !schema.starts_with('"') || schema.ends_with('"') => {
            Some((Some(part(schema)?), part(name)?))
        }
        _ => Some((None, part(s)?)),
    }
}

/// The column a line inside `CREATE TABLE (…)` defines: its first word.
fn first_word(line: &str) -> Option<String> {
    let line = line.trim_start_matches('(').trim_start();
    let word = if let Some(quoted) = line.strip_prefix('"') {
        &line[..quoted.find('"')? + 2]
    } else {
        line.split(|c: char| c.is_whitespace() || c == ',' || c == '(').next()?
    };
    parse_name(word).and_then(|(schema, name)| schema.is_none().then_some(name))
}

fn is_table_constraint(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
    ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE"].contains(&first.as_str())
}

/// Open minus closed parentheses on a line, outside string literals and quoted names.
fn parens(line: &str) -> i32 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for c in line.split("--").next().unwrap_or_default().chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(from: &str, to: &str) -> Renamed {
        let name = |s: &str| Name::new("public", s);
        Renamed::Table { from: name(from), to: name(to) }
    }

    #[test]
    fn hints_rename_the_table_or_column_below_them() {
        let sql = "-- runner:renamed-from users\nCREATE TABLE accounts (\n    id integer PRIMARY KEY,\n    -- runner:renamed-from email\n    \"Mail\" text NOT NULL,\n    -- runner:renamed-from nick\n    handle text\n);\n\nCREATE TABLE other (id int);\n";
        let found: Vec<Renamed> = hints(sql, "s.sql").unwrap().into_iter().map(|r| r.what).collect();
        let column = |from: &str, to: &str| Renamed::Column {
            table: Name::new("public", "accounts"),
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(found, vec![table("users", "accounts"), column("email", "Mail"), column("nick", "handle")]);
        let origins: Vec<String> = hints(sql, "s.sql").unwrap().into_iter().map(|r| r.origin).collect();
        assert_eq!(origins, ["s.sql:1", "s.sql:4", "s.sql:6"]);
    }

    #[test]
    fn a_hint_above_an_enum_value_renames_the_value() {
        let sql = "CREATE TYPE app.mood AS ENUM (\n  'happy',\n  -- runner:renamed-from 'sad'\n  'it''s bad'\n);\n-- runner:renamed-from x\nCREATE TYPE t AS ENUM ('a');\n";
        let (found, errors) = match hints(sql, "s.sql") {
            Ok(f) => (f, Vec::new()),
            Err(e) => (Vec::new(), e),
        };
        assert!(found.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("s.sql:6:") && errors[0].contains("above the renamed value"), "{errors:?}");
        let sql = "CREATE TYPE app.mood AS ENUM (\n  'happy',\n  -- runner:renamed-from sad\n  'it''s bad'\n);\n";
        let found: Vec<Renamed> = hints(sql, "s.sql").unwrap().into_iter().map(|r| r.what).collect();
        assert_eq!(
            found,
            vec![Renamed::EnumValue { type_name: Name::new("app", "mood"), from: "sad".into(), to: "it's bad".into() }]
        );
    }

    #[test]
    fn a_hint_that_cannot_apply_is_an_error_with_its_line() {
        let err = |sql: &str| hints(sql, "s.sql").unwrap_err().join("\n");
        assert!(err("-- runner:renamed_from users\nCREATE TABLE a (id int);").contains("s.sql:1: unknown marker"));
        assert!(
            err("-- runner:renamed-from\nCREATE TABLE a (id int);")
                .contains("s.sql:1: `-- runner:renamed-from` needs the old name")
        );
        assert!(
            err("CREATE TABLE a (id int);\n-- runner:renamed-from b\nCREATE INDEX i ON a (id);")
                .contains("s.sql:2: `-- runner:renamed-from` must be on the line right above")
        );
        assert!(
            err("CREATE TABLE a (\n  id int,\n  -- runner:renamed-from x\n  PRIMARY KEY (id)\n);")
                .contains("s.sql:3: `-- runner:renamed-from` is above a table constraint")
        );
        assert!(
            err("CREATE TABLE a (id int);\n-- runner:renamed-from b\n")
                .contains("s.sql:2: `-- runner:renamed-from` has nothing below it")
        );
        // After the table's closing parenthesis, a line is no longer one of its columns.
        assert!(err("CREATE TABLE a (\n  id int\n);\n-- runner:renamed-from x\nSELECT 1;").contains("s.sql:4"));
    }
}
