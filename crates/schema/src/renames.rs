//! Renames: a table or column that is dropped on one side and added on the other is, to a
//! differ, a drop and an add, and running that deletes the data. Only the user knows it was a
//! rename, so a rename is applied only when it is said: a `--rename` flag, or a
//! `-- runner:renamed-from` hint in the schema file (parsed in [`hints`](mod@crate::hints)). What
//! looks like a rename but was not said is reported as a [`Candidate`], next to the drop.
//!
//! A rename is applied to the first schema's model before the diff, as `ALTER … RENAME` would
//! change it: the table or column takes its new name, and so do the definitions PostgreSQL
//! would print differently afterwards (indexes, constraints, generated columns, the sequence of
//! a `serial` column). A definition this misses only costs a needless drop and create, never a
//! wrong result: the diff that follows compares the renamed model with the second schema.

use crate::model::{Column, Constraint, ConstraintKind, Index, Name, ObjectKind, Schema, Table};
use crate::statement::{Statement, StatementKind};
use runner_db::{Dialect, quote_part};
use std::collections::BTreeMap;

/// A table or column rename, with where it was said, for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// What is renamed.
    pub what: Renamed,
    /// Where it was said: `--rename users=accounts`, `schema/app.sql:12`.
    pub origin: String,
}

/// What a rename renames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renamed {
    /// A table, from its old name to its new one.
    Table {
        /// Its name in the first schema.
        from: Name,
        /// Its name in the second.
        to: Name,
    },
    /// A column of a table, named as the table is named in the second schema.
    Column {
        /// The table, by its name in the second schema.
        table: Name,
        /// The column's name in the first schema.
        from: String,
        /// Its name in the second.
        to: String,
    },
    /// A value of an enum type (`ALTER TYPE … RENAME VALUE`, which keeps the rows that hold it).
    EnumValue {
        /// The type.
        type_name: Name,
        /// The label in the first schema.
        from: String,
        /// The label in the second.
        to: String,
    },
}

impl Rename {
    /// The same rename, the other way: for the diff from the second schema back to the first.
    /// `tables` are the table renames it is given with (a column's table is named as the
    /// second schema names it, so the inverse names it as the first does).
    pub fn inverse(&self, tables: &[Rename]) -> Rename {
        let what = match &self.what {
            Renamed::Table { from, to } => Renamed::Table { from: to.clone(), to: from.clone() },
            Renamed::Column { table, from, to } => {
                let table = tables
                    .iter()
                    .find_map(|r| match &r.what {
                        Renamed::Table { from: old, to: new } if new == table => Some(old.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| table.clone());
                Renamed::Column { table, from: to.clone(), to: from.clone() }
            }
            Renamed::EnumValue { type_name, from, to } => {
                Renamed::EnumValue { type_name: type_name.clone(), from: to.clone(), to: from.clone() }
            }
        };
        Rename { what, origin: self.origin.clone() }
    }

    /// A `--rename` argument: `[schema.]table=[schema.]new`, `[schema.]table.column=new` or
    /// `[schema.]enum.value=new`, read against the first schema (`users.email` is the table
    /// `users.email` if there is one, else the value `email` of an enum `public.users` if there is
    /// one, else the column `email` of `public.users`). An unqualified name is in `public`.
    pub fn parse_flag(arg: &str, from: &Schema) -> Result<Rename, String> {
        let origin = format!("--rename {arg}");
        let Some((old, new)) = arg.split_once('=') else {
            return Err(format!("{origin}: expected OLD=NEW (a table: users=accounts; a column: users.email=mail)"));
        };
        let (old, new) = (old.trim(), new.trim());
        if old.is_empty() || new.is_empty() || new.contains('=') {
            return Err(format!("{origin}: expected OLD=NEW with both names given"));
        }
        let parts: Vec<&str> = old.split('.').collect();
        let table_named = |schema: &str, name: &str| from.tables.contains_key(&Name::new(schema, name));
        let table = match parts.as_slice() {
            [t] => Some(Name::new("public", t)),
            [s, t] if table_named(s, t) => Some(Name::new(s, t)),
            _ => None,
        };
        if let Some(table) = table {
            let to = match new.split_once('.') {
                Some((s, n)) => Name::new(s, n),
                None => Name::new(&table.schema, new),
            };
            return Ok(Rename { what: Renamed::Table { from: table, to }, origin });
        }
        let enum_value = match parts.as_slice() {
            [t, v] => Some((Name::new("public", t), *v)),
            [s, t, v] => Some((Name::new(s, t), *v)),
            _ => None,
        };
        if let Some((type_name, value)) = enum_value
            && from.enums.get(&type_name).is_some_and(|labels| labels.iter().any(|l| l == value))
        {
            let to = new.rsplit('.').next().unwrap_or(new).to_string();
            return Ok(Rename { what: Renamed::EnumValue { type_name, from: value.to_string(), to }, origin });
        }
        let (table, column) = match parts.as_slice() {
            [t, c] => (Name::new("public", t), *c),
            [s, t, c] => (Name::new(s, t), *c),
            _ => return Err(format!("{origin}: `{old}` is neither [schema.]table nor [schema.]table.column")),
        };
        // The new name of a column may repeat its table (`users.email=users.mail`).
        let to = new.rsplit('.').next().unwrap_or(new);
        Ok(Rename { what: Renamed::Column { table, from: column.to_string(), to: to.to_string() }, origin })
    }
}

/// Something that looks like a rename and was not said to be one: the diff drops `from` and
/// adds `to`, which deletes the data of `from` (for an enum value: builds the type again
/// without it, which fails on a row that holds it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// `table`, `column` or `enum value`.
    pub kind: &'static str,
    /// What is dropped (`public.users`, `public.users.email`).
    pub from: String,
    /// What is added, defined the same way.
    pub to: String,
    /// How to say it is a rename: the `--rename` argument.
    pub flag: String,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind == ENUM_VALUE {
            return write!(
                f,
                "enum value {} is removed and {} added in its place: if it was renamed, say so (--rename {}, or `-- runner:renamed-from` above the value in the schema file); as it is, the type is built again without it, and a row that holds it fails the revision",
                self.from, self.to, self.flag
            );
        }
        write!(
            f,
            "{} {} is dropped and {} added with the same definition: if it was renamed, say so (--rename {}, or `-- runner:renamed-from` in the schema file), or its data is deleted",
            self.kind, self.from, self.to, self.flag
        )
    }
}

const ENUM_VALUE: &str = "enum value";

/// The renames that apply from `from` to `to`, in order (tables first). A rename already made
/// (the new name in `from`, the old one gone) is left out, so that a hint can stay in the
/// schema file after its revision has run; any other rename that does not fit the two schemas
/// is an error naming where it was said.
pub fn resolve(renames: &[Rename], from: &Schema, to: &Schema) -> Result<Vec<Rename>, Vec<String>> {
    // A name given without a schema is in `public`, which on SQLite is `main`.
    let renames: Vec<Rename> = match from.engine {
        Dialect::Postgres => renames.to_vec(),
        Dialect::Sqlite => renames.iter().map(on_sqlite).collect(),
    };
    let renames = renames.as_slice();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut tables: Vec<&Rename> = renames.iter().filter(|r| matches!(r.what, Renamed::Table { .. })).collect();
    tables.extend(renames.iter().filter(|r| matches!(r.what, Renamed::Column { .. })));
    tables.extend(renames.iter().filter(|r| matches!(r.what, Renamed::EnumValue { .. })));
    for r in tables {
        match &r.what {
            Renamed::Table { from: old, to: new } => {
                let (old_from, new_from) = (from.tables.contains_key(old), from.tables.contains_key(new));
                let (old_to, new_to) = (to.tables.contains_key(old), to.tables.contains_key(new));
                if !old_from && new_from {
                    continue;
                }
                if old == new {
                    errors.push(format!("{}: renames {old} to itself", r.origin));
                } else if !old_from {
                    errors.push(format!("{}: there is no table {old} to rename", r.origin));
                } else if !new_to {
                    errors.push(format!("{}: the table {new} it is renamed to is not in the target schema", r.origin));
                } else if old_to {
                    errors.push(format!("{}: the table {old} is still in the target schema", r.origin));
                } else {
                    out.push(r.clone());
                }
            }
            Renamed::Column { table, from: old, to: new } => {
                // A hint names the table as `to` does, a flag as `from` does: with a table
                // rename above, the two names differ.
                let (source, table) = out
                    .iter()
                    .find_map(|t| match &t.what {
                        Renamed::Table { from: f, to: n } if n == table || f == table => Some((f.clone(), n.clone())),
                        _ => None,
                    })
                    .unwrap_or_else(|| (table.clone(), table.clone()));
                let (Some(f), Some(t)) = (from.tables.get(&source), to.tables.get(&table)) else {
                    errors.push(format!("{}: there is no table {table} on both sides", r.origin));
                    continue;
                };
                let has = |t: &Table, c: &str| t.columns.iter().any(|x| x.name == c);
                if !has(f, old) && has(f, new) {
                    continue;
                }
                if old == new {
                    errors.push(format!("{}: renames {table}.{old} to itself", r.origin));
                } else if !has(f, old) {
                    errors.push(format!("{}: the table {source} has no column {old} to rename", r.origin));
                } else if !has(t, new) {
                    errors.push(format!("{}: the target schema's {table} has no column {new}", r.origin));
                } else if has(t, old) {
                    errors.push(format!("{}: the target schema's {table} still has a column {old}", r.origin));
                } else {
                    let what = Renamed::Column { table, from: old.clone(), to: new.clone() };
                    out.push(Rename { what, origin: r.origin.clone() });
                }
            }
            Renamed::EnumValue { type_name, from: old, to: new } => {
                let (Some(f), Some(t)) = (from.enums.get(type_name), to.enums.get(type_name)) else {
                    errors.push(format!("{}: there is no enum type {type_name} on both sides", r.origin));
                    continue;
                };
                let has = |labels: &[String], l: &str| labels.iter().any(|x| x == l);
                if !has(f, old) && has(f, new) {
                    continue;
                }
                if old == new {
                    errors.push(format!("{}: renames {type_name} '{old}' to itself", r.origin));
                } else if !has(f, old) {
                    errors.push(format!("{}: the enum type {type_name} has no value '{old}' to rename", r.origin));
                } else if !has(t, new) {
                    errors.push(format!("{}: the target schema's {type_name} has no value '{new}'", r.origin));
                } else if has(t, old) {
                    errors.push(format!("{}: the target schema's {type_name} still has the value '{old}'", r.origin));
                } else {
                    out.push(r.clone());
                }
            }
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn on_sqlite(r: &Rename) -> Rename {
    let main =
        |n: &Name| if n.schema == "public" { Name::new(crate::introspect::SQLITE_SCHEMA, &n.name) } else { n.clone() };
    let what = match &r.what {
        Renamed::Table { from, to } => Renamed::Table { from: main(from), to: main(to) },
        Renamed::Column { table, from, to } => {
            Renamed::Column { table: main(table), from: from.clone(), to: to.clone() }
        }
        // SQLite has no enum types: resolving it against the schemas says so.
        Renamed::EnumValue { .. } => r.what.clone(),
    };
    Rename { what, origin: r.origin.clone() }
}

/// `from` with `renames` made (as [`resolve`] returns them), and the statements that make them.
pub fn apply(from: &Schema, renames: &[Rename]) -> (Schema, Vec<Statement>) {
    let mut s = from.clone();
    let mut out = Vec::new();
    for r in renames {
        match &r.what {
            Renamed::Table { from: old, to: new } => rename_table(&mut s, old, new, &mut out),
            Renamed::Column { table, from: old, to: new } => rename_column(&mut s, table, old, new, &mut out),
            Renamed::EnumValue { type_name, from: old, to: new } => {
                rename_enum_value(&mut s, type_name, old, new, &mut out)
            }
        }
    }
    (s, out)
}

fn rename_table(s: &mut Schema, old: &Name, new: &Name, out: &mut Vec<Statement>) {
    let Some(mut table) = s.tables.remove(old) else { return };
    let renames = |sql: String| Statement::new(StatementKind::Rename { table: new.clone() }, sql);
    if old.schema != new.schema {
        out.push(renames(format!("ALTER TABLE {} SET SCHEMA {};", old.sql(), quote_part(&new.schema))));
    }
    if old.name != new.name {
        let moved = Name::new(&new.schema, &old.name);
        out.push(renames(format!("ALTER TABLE {} RENAME TO {};", moved.sql(), quote_part(&new.name))));
    }
    // A `serial` column's sequence keeps its name (and moves schema with the table), so the
    // column is from now on its parts: the diff that follows renames the sequence if the
    // target names it for the new table.
    let serials: Vec<String> = table.columns.iter().filter(|c| c.is_serial()).map(|c| c.name.clone()).collect();
    table.name = new.clone();
    s.tables.insert(new.clone(), table);
    for c in &serials {
        let seq = Name::new(&new.schema, &crate::diff::serials::sequence_of(old, c).name);
        crate::diff::serials::desugar(s, new, c, seq);
    }
    if s.engine == Dialect::Sqlite {
        // SQLite rewrites the name everywhere its statements use it (3.26 on).
        sqlite_statements(s, &|sql| crate::diff::sqlite::rename_word(sql, &old.name, &new.name));
    }
    let (old_sql, new_sql) = (printed(old), printed(new));
    for i in s.indexes.values_mut().filter(|i| i.table == *old) {
        i.table = new.clone();
        if let Some((head, rest)) = i.definition.split_once(" ON ")
            && let Some((_, using)) = rest.split_once(" USING ")
        {
            let only = if rest.starts_with("ONLY ") { "ONLY " } else { "" };
            i.definition = format!("{head} ON {only}{new_sql} USING {using}");
        }
    }
    for t in s.tables.values_mut() {
        for c in t.constraints.values_mut().filter(|c| c.kind == ConstraintKind::ForeignKey) {
            c.definition = c.definition.replace(&format!("REFERENCES {old_sql}("), &format!("REFERENCES {new_sql}("));
        }
    }
    for v in s.views.values_mut() {
        for d in v.depends_on.iter_mut().filter(|d| *d == old) {
            *d = new.clone();
        }
    }
    // What is keyed by the table follows it (the definitions that print its name are
    // compared as they are: a trigger or policy that differs only by it is created again).
    rekey(&mut s.triggers, old, new, |t| &mut t.table);
    rekey(&mut s.policies, old, new, |p| &mut p.table);
    if let Some(rls) = s.row_security.remove(old) {
        s.row_security.insert(new.clone(), rls);
    }
    // Grants on the table, and on the sequences of its serial columns (moved with it).
    let sequences: Vec<String> = serials.iter().map(|c| crate::diff::serials::sequence_of(old, c).name).collect();
    s.grants = std::mem::take(&mut s.grants)
        .into_iter()
        .map(|(mut on, privileges)| {
            if on.kind == ObjectKind::Table && on.object == *old {
                on.object = new.clone();
            } else if on.kind == ObjectKind::Sequence
                && on.object.schema == old.schema
                && sequences.contains(&on.object.name)
            {
                on.object.schema = new.schema.clone();
            }
            (on, privileges)
        })
        .collect();
    s.comments = std::mem::take(&mut s.comments)
        .into_iter()
        .map(|(mut on, text)| {
            if on.object == *old && matches!(on.kind, ObjectKind::Table | ObjectKind::Column | ObjectKind::Constraint) {
                on.object = new.clone();
            }
            (on, text)
        })
        .collect();
    for seq in s.sequences.values_mut() {
        if let Some((t, _)) = &mut seq.owned_by
            && t == old
        {
            *t = new.clone();
        }
    }
}

fn rename_enum_value(s: &mut Schema, type_name: &Name, old: &str, new: &str, out: &mut Vec<Statement>) {
    let Some(labels) = s.enums.get_mut(type_name) else { return };
    for l in labels.iter_mut().filter(|l| *l == old) {
        *l = new.to_string();
    }
    out.push(Statement::new(
        StatementKind::RenameEnumValue(type_name.clone()),
        format!(
            "ALTER TYPE {} RENAME VALUE {} TO {};",
            type_name.sql(),
            runner_db::quote_literal(old),
            runner_db::quote_literal(new)
        ),
    ));
}

/// Entries keyed by (table, name) whose table is `old`, moved to `new` (and their own record of
/// the table with them).
fn rekey<V>(map: &mut BTreeMap<(Name, String), V>, old: &Name, new: &Name, table: impl Fn(&mut V) -> &mut Name) {
    let moved: Vec<(Name, String)> = map.keys().filter(|(t, _)| t == old).cloned().collect();
    for key in moved {
        if let Some(mut v) = map.remove(&key) {
            *table(&mut v) = new.clone();
            map.insert((new.clone(), key.1), v);
        }
    }
}

fn rename_column(s: &mut Schema, table: &Name, old: &str, new: &str, out: &mut Vec<Statement>) {
    if s.engine == Dialect::Sqlite {
        sqlite_statements(s, &|sql| crate::diff::sqlite::rename_word(sql, old, new));
    }
    let Some(t) = s.tables.get_mut(table) else { return };
    out.push(Statement::new(
        StatementKind::Rename { table: table.clone() },
        format!("ALTER TABLE {} RENAME COLUMN {} TO {};", table.sql(), quote_part(old), quote_part(new)),
    ));
    let mut serial = false;
    for c in &mut t.columns {
        if c.name == old {
            c.name = new.to_string();
            serial = c.is_serial();
        }
        if let Some(g) = &c.generated {
            c.generated = Some(rename_ident(g, old, new));
        }
    }
    for c in t.constraints.values_mut() {
        c.definition = rename_in_constraint(c, old, new);
    }
    // Foreign keys of any table that name this column among the ones they reference.
    let referenced = format!("REFERENCES {}(", printed(table));
    for t in s.tables.values_mut() {
        for c in t.constraints.values_mut().filter(|c| c.kind == ConstraintKind::ForeignKey) {
            if let Some((head, rest)) = c.definition.split_once(&referenced)
                && let Some((cols, tail)) = rest.split_once(')')
            {
                c.definition = format!("{head}{referenced}{}){tail}", rename_ident(cols, old, new));
            }
        }
    }
    for i in s.indexes.values_mut().filter(|i| i.table == *table) {
        if let Some((head, using)) = i.definition.split_once(" USING ") {
            i.definition = format!("{head} USING {}", rename_ident(using, old, new));
        }
    }
    s.comments = std::mem::take(&mut s.comments)
        .into_iter()
        .map(|(mut on, text)| {
            if on.kind == ObjectKind::Column && on.object == *table && on.sub.as_deref() == Some(old) {
                on.sub = Some(new.to_string());
            }
            (on, text)
        })
        .collect();
    for seq in s.sequences.values_mut() {
        if let Some((t, c)) = &mut seq.owned_by
            && t == table
            && c == old
        {
            *c = new.to_string();
        }
    }
    for p in s.policies.values_mut().filter(|p| p.table == *table) {
        for c in p.columns.iter_mut().filter(|c| *c == old) {
            *c = new.to_string();
        }
    }
    for t in s.triggers.values_mut().filter(|t| t.table == *table) {
        for c in t.columns.iter_mut().filter(|c| *c == old) {
            *c = new.to_string();
        }
    }
    // Its sequence keeps its name: the column is from now on its parts (see rename_table).
    if serial {
        crate::diff::serials::desugar(s, table, new, crate::diff::serials::sequence_of(table, old));
    }
}

/// Every statement a SQLite schema keeps, passed through `rewrite`. (A word that is the
/// renamed name but means something else is rewritten too: that only makes an object look
/// changed, and it is rebuilt.)
fn sqlite_statements(s: &mut Schema, rewrite: &dyn Fn(&str) -> String) {
    for t in s.tables.values_mut() {
        if let Some(d) = &mut t.definition {
            *d = rewrite(d);
        }
    }
    for i in s.indexes.values_mut() {
        i.definition = rewrite(&i.definition);
    }
    for v in s.views.values_mut() {
        v.query = rewrite(&v.query);
    }
    for t in s.triggers.values_mut() {
        t.definition = rewrite(&t.definition);
    }
}

/// A constraint's definition with the column renamed: for a foreign key only its own columns
/// (those it references are another table's).
fn rename_in_constraint(c: &Constraint, old: &str, new: &str) -> String {
    if c.kind == ConstraintKind::ForeignKey
        && let Some((own, references)) = c.definition.split_once(" REFERENCES ")
    {
        return format!("{} REFERENCES {references}", rename_ident(own, old, new));
    }
    rename_ident(&c.definition, old, new)
}

/// A name as PostgreSQL's catalog functions print it: bare when it is lower-case letters,
/// digits and `_`, quoted otherwise. (PostgreSQL also quotes keywords; a keyword printed bare
/// here only makes a definition look changed.)
pub(crate) fn printed_part(name: &str) -> String {
    let bare = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if bare { name.to_string() } else { quote_part(name) }
}

fn printed(n: &Name) -> String {
    format!("{}.{}", printed_part(&n.schema), printed_part(&n.name))
}

/// `sql` with every reference to the column `old` named `new`: identifier tokens outside
/// string literals, not qualified by another name (`t.old`), not a function's name (`old(`)
/// and not a type (`::old`).
pub(crate) fn rename_ident(sql: &str, old: &str, new: &str) -> String {
    use crate::lex::{Kind, Quoting, lex};
    let lexed = lex(sql, Quoting::Postgres);
    let chars = &lexed.chars;
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for t in &lexed.tokens {
        if !matches!(t.kind, Kind::Word | Kind::Quoted) || t.value != old {
            continue;
        }
        let before: String = chars[..t.start].iter().rev().take(2).collect();
        let qualified = before.starts_with('.') || before == "::";
        let call = chars.get(t.end) == Some(&'(');
        if !qualified && !call {
            out.extend(&chars[copied..t.start]);
            out.push_str(&printed_part(new));
            copied = t.end;
        }
    }
    out.extend(&chars[copied..]);
    out
}

/// The renames [`alike`] finds: those that can run first, and those whose new name another
/// object holds until it is dropped (a table rebuilt under a backup name keeps `t_pkey`).
#[derive(Debug, Default)]
pub struct AlikeRenames {
    /// Before anything else.
    pub first: Vec<String>,
    /// Once what goes has gone (after the tables dropped, before those created).
    pub after_drops: Vec<String>,
}

/// Constraints and indexes that only changed their name are renamed rather than dropped and
/// built again (a table rename leaves `old_pkey` behind; a declared schema names it
/// `new_pkey`): `from` with those names changed, and the statements that change them.
pub fn alike(from: &Schema, to: &Schema) -> (Schema, AlikeRenames) {
    let mut s = from.clone();
    let mut renames = AlikeRenames::default();
    // Names of relations in `from` (an index, and the index of a key, is one): a rename to one
    // of them waits until that one has gone.
    let mut taken: std::collections::BTreeSet<Name> = from.indexes.keys().cloned().collect();
    taken.extend(from.tables.keys().cloned());
    taken.extend(from.views.keys().cloned());
    taken.extend(from.sequences.keys().cloned());
    for t in from.tables.values() {
        for c in t.constraints.values() {
            if matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion) {
                taken.insert(Name::new(&t.name.schema, &c.name));
            }
        }
    }
    let mut push = |new: Name, sql: String| {
        if taken.contains(&new) { renames.after_drops.push(sql) } else { renames.first.push(sql) }
    };
    for (name, t) in &to.tables {
        let Some(f) = s.tables.get_mut(name) else { continue };
        let gone: Vec<Constraint> =
            f.constraints.values().filter(|c| !t.constraints.contains_key(&c.name)).cloned().collect();
        for old in gone {
            let new = t
                .constraints
                .values()
                .find(|c| !f.constraints.contains_key(&c.name) && c.kind == old.kind && c.definition == old.definition);
            if let Some(new) = new {
                push(
                    Name::new(&name.schema, &new.name),
                    format!(
                        "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
                        name.sql(),
                        quote_part(&old.name),
                        quote_part(&new.name)
                    ),
                );
                f.constraints.remove(&old.name);
                f.constraints.insert(new.name.clone(), new.clone());
            }
        }
    }
    // An index's definition names the index: compared without its name.
    let body = |d: &str| d.split_once(" ON ").map(|(_, rest)| rest.to_string());
    let gone: Vec<Index> = s.indexes.values().filter(|i| !to.indexes.contains_key(&i.name)).cloned().collect();
    for old in gone {
        let new = to.indexes.values().find(|i| {
            !s.indexes.contains_key(&i.name)
                && i.name.schema == old.name.schema
                && i.table == old.table
                && body(&i.definition) == body(&old.definition)
        });
        if let Some(new) = new {
            push(new.name.clone(), format!("ALTER INDEX {} RENAME TO {};", old.name.sql(), quote_part(&new.name.name)));
            s.indexes.remove(&old.name);
            s.indexes.insert(new.name.clone(), new.clone());
        }
    }
    (s, renames)
}

/// Tables dropped and added with the same columns, and columns dropped and added in one table
/// with the same definition, that no rename explains: each pairing that is the only one for
/// both sides.
pub fn candidates(from: &Schema, to: &Schema) -> Vec<Candidate> {
    let mut out = Vec::new();
    let gone: Vec<&Table> = from.tables.values().filter(|t| !to.tables.contains_key(&t.name)).collect();
    let new: Vec<&Table> = to.tables.values().filter(|t| !from.tables.contains_key(&t.name)).collect();
    // Columns alike but for their names: a table renamed may have had a column renamed too.
    // (Partitions list no columns of their own: columns are no evidence there.)
    let same_columns = |a: &Table, b: &Table| {
        !a.columns.is_empty()
            && a.columns.len() == b.columns.len()
            && a.columns.iter().zip(&b.columns).all(|(x, y)| Column { name: y.name.clone(), ..x.clone() } == *y)
    };
    for g in &gone {
        let matches: Vec<&&Table> = new.iter().filter(|n| same_columns(g, n)).collect();
        if let [n] = matches.as_slice()
            && gone.iter().filter(|o| same_columns(o, n)).count() == 1
        {
            let flag = if g.name.schema == n.name.schema && g.name.schema == "public" {
                format!("{}={}", g.name.name, n.name.name)
            } else {
                format!("{}={}", g.name, n.name)
            };
            out.push(Candidate { kind: "table", from: g.name.to_string(), to: n.name.to_string(), flag });
        }
    }
    for (name, t) in &to.tables {
        let Some(f) = from.tables.get(name) else { continue };
        let dropped: Vec<&Column> = f.columns.iter().filter(|c| !t.columns.iter().any(|x| x.name == c.name)).collect();
        let added: Vec<&Column> = t.columns.iter().filter(|c| !f.columns.iter().any(|x| x.name == c.name)).collect();
        let alike = |a: &Column, b: &Column| Column { name: b.name.clone(), ..a.clone() } == *b;
        for d in &dropped {
            let matches: Vec<&&Column> = added.iter().filter(|a| alike(d, a)).collect();
            if let [a] = matches.as_slice()
                && dropped.iter().filter(|o| alike(o, a)).count() == 1
            {
                let table = if name.schema == "public" { name.name.clone() } else { name.to_string() };
                out.push(Candidate {
                    kind: "column",
                    from: format!("{name}.{}", d.name),
                    to: format!("{name}.{}", a.name),
                    flag: format!("{table}.{}={}", d.name, a.name),
                });
            }
        }
    }
    // An enum value whose label changed in place: the same number of values, one label gone
    // and one new, where the old one was.
    for (name, labels) in &to.enums {
        let Some(old) = from.enums.get(name) else { continue };
        let gone: Vec<&String> = old.iter().filter(|l| !labels.contains(l)).collect();
        let new: Vec<&String> = labels.iter().filter(|l| !old.contains(l)).collect();
        if let ([g], [n]) = (gone.as_slice(), new.as_slice())
            && old.len() == labels.len()
            && old.iter().position(|l| l == *g) == labels.iter().position(|l| l == *n)
        {
            let type_name = if name.schema == "public" { name.name.clone() } else { name.to_string() };
            out.push(Candidate {
                kind: ENUM_VALUE,
                from: format!("{name} '{g}'"),
                to: format!("'{n}'"),
                flag: format!("{type_name}.{g}={n}"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_renamed_where_it_is_named_and_nowhere_else() {
        assert_eq!(rename_ident("CHECK ((a > 0))", "a", "b"), "CHECK ((b > 0))");
        assert_eq!(rename_ident("btree (lower(a), \"a\")", "a", "Big"), "btree (lower(\"Big\"), \"Big\")");
        // A literal, a qualified name, a function and a type keep theirs.
        assert_eq!(rename_ident("CHECK ((a <> 'a'::text))", "a", "b"), "CHECK ((b <> 'a'::text))");
        assert_eq!(rename_ident("x.a + a(1) + 1::a", "a", "b"), "x.a + a(1) + 1::a");
        assert_eq!(rename_ident("CHECK ((ab > a_b))", "a", "b"), "CHECK ((ab > a_b))");
        assert_eq!(rename_ident("'it''s a' || a", "a", "b"), "'it''s a' || b");
    }
}
