//! Two schemas in, the statements that turn the first into the second out, in an order where
//! each statement finds what it needs: what depends on a changed object is dropped before it
//! and created after it.
//!
//! 1. create schemas;
//! 2. drop views that go, change, or read a table whose columns change or a view that is dropped
//!    (readers before what they read); drop indexes and constraints that go or change (foreign
//!    keys first), and the foreign keys of tables that go;
//! 3. drop columns, change columns (default dropped before a type change, set after), add
//!    columns (at the end);
//! 4. drop tables; create tables (with their primary key, unique, check and exclusion
//!    constraints);
//! 5. add constraints to existing tables, then every foreign key; create the views that are new
//!    or were dropped above (what they read first); create indexes (on recreated materialized
//!    views too);
//! 6. drop schemas.

mod enum_rebuild;
mod objects;
mod partitions;
pub(crate) mod serials;
pub(crate) mod sqlite;

use crate::model::{Column, Constraint, ConstraintKind, Function, Index, Name, Schema, Table, View};
use crate::renames::{self, Candidate, Rename};
use crate::statement::{Statement, StatementKind};
use runner_db::{Dialect, quote_literal, quote_part};
use std::collections::BTreeMap;
use std::collections::BTreeSet;

/// What turns one schema into another.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// The statements, in the order they must run.
    pub statements: Vec<Statement>,
    /// Objects that differ but that the differ does not handle yet: the statements leave them
    /// as they are.
    pub unhandled: Vec<Unhandled>,
    /// Tables and columns that are dropped and added with the same definition, and that were
    /// not said to be renames: the statements delete their data.
    pub candidates: Vec<Candidate>,
}

impl Diff {
    /// Whether the two schemas are the same (nothing to run, nothing unhandled).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.unhandled.is_empty()
    }
}

/// An object that differs, of a kind the differ does not handle yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unhandled {
    /// `sequence`, `domain`, `serial column`, …
    pub kind: String,
    /// The object's name.
    pub name: Name,
    /// How it differs.
    pub change: Change,
}

/// How an object differs between the two schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the second.
    Added,
    /// Only in the first.
    Dropped,
    /// In both, defined differently.
    Changed,
}

impl std::fmt::Display for Unhandled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let change = match self.change {
            Change::Added => "added",
            Change::Dropped => "dropped",
            Change::Changed => "changed",
        };
        write!(f, "{} {} ({change})", self.kind, self.name)
    }
}

/// The statements that turn `from` into `to`, where nothing was renamed.
pub fn diff(from: &Schema, to: &Schema) -> Diff {
    diff_from(from, to, &[])
}

/// The statements that turn `from` into `to` where the tables and columns of `renames` were
/// renamed rather than dropped and added; or, if a rename does not fit the two schemas, why
/// (one line each, naming where it was said).
pub fn diff_with(from: &Schema, to: &Schema, renames: &[Rename]) -> Result<Diff, Vec<String>> {
    let renames = renames::resolve(renames, from, to)?;
    Ok(diff_from(from, to, &renames))
}

fn diff_from(from: &Schema, to: &Schema, renames: &[Rename]) -> Diff {
    let mut out = Vec::new();
    for s in to.schemas.iter().filter(|s| !from.schemas.contains(s)) {
        out.push(format!("CREATE SCHEMA {};", quote_part(s)).into());
    }
    // Renames first: what follows names the tables and columns by their new names.
    let (renamed, statements) = renames::apply(from, renames);
    out.extend(statements);
    if to.engine == Dialect::Sqlite {
        let candidates = renames::candidates(&renamed, to);
        sqlite::diff(&renamed, to, &mut out);
        return Diff { statements: out, unhandled: Vec::new(), candidates };
    }
    // `serial` where one side has it and the other its parts (a renamed table keeps its
    // sequence's name): both compared as parts.
    let (mut renamed, mut to_parts) = (renamed, to.clone());
    serials::align(&mut renamed, &mut to_parts);
    let to = &to_parts;
    let (mut renamed, alike) = renames::alike(&renamed, to);
    out.extend(alike.first.into_iter().map(Statement::from));
    out.extend(serials::renamed(&mut renamed, to).into_iter().map(Statement::from));
    let from = &renamed;
    let candidates = renames::candidates(from, to);
    let mut unhandled = unhandled(from, to);
    let rebuilds = enum_rebuild::plan(from, to, &mut unhandled);
    objects::extensions_before(from, to, &mut out);
    enums_before(from, to, &mut out);
    objects::domains_before(from, to, &mut out, &mut unhandled);
    objects::composites_before(from, to, &mut out, &mut unhandled);
    objects::ranges_before(from, to, &mut out, &mut unhandled);
    objects::sequences_before(from, to, &mut out);
    // A function whose result type changes is dropped and created, and PostgreSQL refuses to
    // drop one a view calls: those views go first.
    let moved: BTreeSet<Name> = rebuilds.values().flatten().map(|c| c.table.clone()).collect();
    let recreated = views_to_drop(from, to, &result_changes(from, to), &moved);
    objects::drop_dependents(from, to, &recreated, &mut out);
    drop_views(from, &recreated, &mut out);
    let replaced = functions_before(from, to, &mut out);
    objects::aggregates_after_functions(from, to, &mut out);
    drop_changed(from, to, &recreated, &mut out);
    for (name, columns) in &rebuilds {
        let column = |s: &Schema, c: &enum_rebuild::EnumColumn| {
            s.tables
                .get(&c.table)
                .and_then(|t| t.columns.iter().find(|x| x.name == c.column))
                .and_then(|x| x.default.clone())
        };
        let defaults =
            |c: &enum_rebuild::EnumColumn| enum_rebuild::Defaults { before: column(from, c), after: column(to, c) };
        out.extend(enum_rebuild::statements(name, &to.enums[name], columns, &defaults));
    }
    for (name, t) in &to.tables {
        if let Some(f) = from.tables.get(name) {
            alter_columns(f, t, &mut out);
        }
    }
    partitions::detach(from, to, &mut out, &mut unhandled);
    // Partitions before what they are partitions of (which would take them along); created
    // after it.
    let mut gone: Vec<&Name> = from.tables.keys().filter(|n| !to.tables.contains_key(*n)).collect();
    gone.sort_by_key(|n| std::cmp::Reverse(partitions::depth(from, n)));
    for name in gone {
        if from.tables[name].partition_of.as_ref().is_some_and(|(parent, _)| !to.tables.contains_key(parent)) {
            continue; // dropped with its parent
        }
        out.push(Statement::new(StatementKind::DropTable(name.clone()), format!("DROP TABLE {};", name.sql())));
    }
    // Names the tables dropped held are free now.
    out.extend(alike.after_drops.into_iter().map(Statement::from));
    let mut new: Vec<&Table> = to.tables.values().filter(|t| !from.tables.contains_key(&t.name)).collect();
    new.sort_by_key(|t| partitions::depth(to, &t.name));
    for t in new {
        out.push(create_table(t).into());
    }
    partitions::attach(from, to, &mut out);
    add_constraints(from, to, false, &mut out);
    create_views(from, to, &recreated, &mut out, |v: &View| {
        let with = if v.options.is_empty() { String::new() } else { format!(" WITH ({})", v.options.join(", ")) };
        let query = v.query.trim().trim_end_matches(';');
        format!("CREATE {} {}{with} AS\n{query};", view_kind(v), v.name.sql())
    });
    let mut rebuilt: BTreeSet<Name> = replaced.clone();
    for (name, i) in &to.indexes {
        if recreated.contains(&i.table) || from.indexes.get(name).is_none_or(|f| f.definition != i.definition) {
            rebuilt.insert(name.clone());
            let fresh = recreated.contains(&i.table)
                || !(from.tables.contains_key(&i.table) || from.views.contains_key(&i.table));
            let kind = StatementKind::CreateIndex { table: i.table.clone(), fresh };
            // `ON ONLY` is how a partitioned table's index prints; created, it must reach the
            // partitions too.
            out.push(Statement::new(kind, format!("{};", i.definition.replacen(" ON ONLY ", " ON ", 1))));
        }
    }
    add_constraints(from, to, true, &mut out);
    objects::sequences_owned(from, to, &mut out);
    objects::create_dependents(from, to, &recreated, &mut out);
    objects::comments(from, to, &recreated, &rebuilt, &mut out);
    objects::grants(from, to, &recreated, &rebuilt, &mut out);
    objects::aggregates_drop(from, to, &mut out);
    for (key, f) in &from.functions {
        if !to.functions.contains_key(key) && !replaced.contains(key) {
            out.push(
                format!("DROP {} {};", if f.procedure { "PROCEDURE" } else { "FUNCTION" }, f.signature_sql()).into(),
            );
        }
    }
    objects::sequences_after(from, to, &mut out);
    objects::domains_after(from, to, &mut out);
    objects::composites_after(from, to, &mut out);
    objects::ranges_after(from, to, &mut out);
    for name in from.enums.keys().filter(|n| !to.enums.contains_key(*n)) {
        out.push(format!("DROP TYPE {};", name.sql()).into());
    }
    objects::extensions_after(from, to, &mut out);
    for s in from.schemas.iter().filter(|s| !to.schemas.contains(s)) {
        out.push(format!("DROP SCHEMA {};", quote_part(s)).into());
    }
    Diff { statements: out, unhandled, candidates }
}

/// New enum types, and values added to existing ones in their place (`ADD VALUE … BEFORE`).
/// Values removed or reordered need the type built again: `enum_rebuild`. A label changed in
/// place is one value removed and one added unless it was said to be a rename (`renames`),
/// which has run before this with `RENAME VALUE`.
fn enums_before(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (name, labels) in &to.enums {
        let Some(old) = from.enums.get(name) else {
            let list: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
            out.push(format!("CREATE TYPE {} AS ENUM ({});", name.sql(), list.join(", ")).into());
            continue;
        };
        if old == labels {
            continue;
        }
        // Only additions: the old labels, in order, are a subsequence of the new.
        let mut new = labels.iter();
        let additions_only = old.iter().all(|o| new.any(|n| n == o));
        if !additions_only {
            continue;
        }
        for (i, l) in labels.iter().enumerate() {
            if old.contains(l) {
                continue;
            }
            let place = match labels[i + 1..].iter().find(|n| old.contains(n)) {
                Some(next) => format!(" BEFORE {}", quote_literal(next)),
                None => String::new(),
            };
            let sql = format!("ALTER TYPE {} ADD VALUE {}{place};", name.sql(), quote_literal(l));
            out.push(Statement::new(StatementKind::AddEnumValue(name.clone()), sql));
        }
    }
}

/// New and changed functions, before the tables and views that may call them (a default, a
/// check, a generated column). Bodies are not checked as they are created (`check_function_bodies`
/// off, as pg_dump does), since a body may name a table created further down. A function whose
/// result type changes cannot be replaced: it is dropped and created; the keys of those are
/// returned, since they are not dropped again at the end.
fn functions_before(from: &Schema, to: &Schema, out: &mut Vec<Statement>) -> BTreeSet<Name> {
    let mut dropped = BTreeSet::new();
    let mut statements = Vec::new();
    for (key, f) in &to.functions {
        match from.functions.get(key) {
            Some(old) if old.definition == f.definition => continue,
            Some(old) if old.result != f.result || old.procedure != f.procedure => {
                let kind = if old.procedure { "PROCEDURE" } else { "FUNCTION" };
                statements.push(format!("DROP {kind} {};", old.signature_sql()));
                dropped.insert(key.clone());
            }
            _ => {}
        }
        statements.push(format!("{};", f.definition.trim_end().trim_end_matches(';')));
    }
    if !statements.is_empty() {
        out.push(String::from("SET check_function_bodies = false;").into());
        out.extend(statements.into_iter().map(Statement::from));
    }
    dropped
}

/// Constraints of `to`'s table `name` (none if the table goes).
fn constraints_in<'a>(s: &'a Schema, name: &Name) -> Option<&'a BTreeMap<String, Constraint>> {
    s.tables.get(name).map(|t| &t.constraints)
}

/// The functions of `from` that cannot be replaced in place: their result type changes, or a
/// function becomes a procedure or back.
fn result_changes(from: &Schema, to: &Schema) -> BTreeSet<Name> {
    to.functions
        .iter()
        .filter(|(key, f)| from.functions.get(*key).is_some_and(|o| o.result != f.result || o.procedure != f.procedure))
        .map(|(key, _)| key.clone())
        .collect()
}

/// The views of `from` that must be dropped: those that go or change, those that call a
/// function of `replaced`, and those that read (directly or through other views) a table that
/// goes, one a column of which goes or changes type or collation, one whose columns move to a
/// rebuilt enum type (`moved`), or a view dropped. A default, `NOT NULL`, or a column added
/// changes nothing a view reads: dropping and creating a materialized view for that would
/// recompute it under an exclusive lock for nothing.
fn views_to_drop(from: &Schema, to: &Schema, replaced: &BTreeSet<Name>, moved: &BTreeSet<Name>) -> BTreeSet<Name> {
    let columns_change = |t: &Name| {
        moved.contains(t)
            || to.tables.get(t).is_none_or(|n| {
                from.tables.get(t).is_some_and(|f| {
                    f.columns.iter().any(|c| {
                        n.columns.iter().find(|x| x.name == c.name).is_none_or(|x| {
                            x.data_type != c.data_type || x.collation != c.collation || x.generated != c.generated
                        })
                    })
                })
            })
    };
    let mut drop: BTreeSet<Name> = from
        .views
        .values()
        .filter(|v| {
            to.views.get(&v.name).is_none_or(|t| !same_view(v, t)) || v.calls.iter().any(|f| replaced.contains(f))
        })
        .map(|v| v.name.clone())
        .collect();
    loop {
        let more: Vec<Name> = from
            .views
            .values()
            .filter(|v| !drop.contains(&v.name))
            .filter(|v| {
                v.depends_on.iter().any(|d| drop.contains(d) || (from.tables.contains_key(d) && columns_change(d)))
            })
            .map(|v| v.name.clone())
            .collect();
        if more.is_empty() {
            return drop;
        }
        drop.extend(more);
    }
}

fn same_view(a: &View, b: &View) -> bool {
    a.materialized == b.materialized && a.query == b.query && a.options == b.options
}

fn view_kind(v: &View) -> &'static str {
    if v.materialized { "MATERIALIZED VIEW" } else { "VIEW" }
}

/// Drops `names`, each after every view in `from` that reads it.
fn drop_views(from: &Schema, names: &BTreeSet<Name>, out: &mut Vec<Statement>) {
    let mut left: Vec<&View> = names.iter().filter_map(|n| from.views.get(n)).collect();
    while !left.is_empty() {
        let (ready, wait): (Vec<&View>, Vec<&View>) =
            left.iter().partition(|v| !left.iter().any(|o| o.depends_on.contains(&v.name)));
        // A cycle cannot happen in a catalog; if it did, dropping the rest in name order fails loudly.
        let ready = if ready.is_empty() { wait.clone() } else { ready };
        for v in &ready {
            out.push(format!("DROP {} {};", view_kind(v), v.name.sql()).into());
        }
        left.retain(|v| !ready.iter().any(|r| r.name == v.name));
    }
}

/// Creates the views of `to` that are new or were dropped, each after the views it reads, with
/// the statement `create` writes for one.
fn create_views(
    from: &Schema,
    to: &Schema,
    recreated: &BTreeSet<Name>,
    out: &mut Vec<Statement>,
    create: impl Fn(&View) -> String,
) {
    let mut left: Vec<&View> =
        to.views.values().filter(|v| !from.views.contains_key(&v.name) || recreated.contains(&v.name)).collect();
    while !left.is_empty() {
        let (ready, wait): (Vec<&View>, Vec<&View>) =
            left.iter().partition(|v| !v.depends_on.iter().any(|d| left.iter().any(|o| o.name == *d)));
        let ready = if ready.is_empty() { wait.clone() } else { ready };
        for v in &ready {
            // A materialized view that was there is computed again: worth a hazard line.
            let kind = if v.materialized && from.views.contains_key(&v.name) {
                StatementKind::RebuildMaterializedView(v.name.clone())
            } else {
                StatementKind::Other
            };
            out.push(Statement::new(kind, create(v)));
        }
        left.retain(|v| !ready.iter().any(|r| r.name == v.name));
    }
}

fn drop_changed(from: &Schema, to: &Schema, recreated: &BTreeSet<Name>, out: &mut Vec<Statement>) {
    // Foreign keys first (`false` sorts first), then indexes, then the other constraints: a
    // unique constraint, primary key or unique index a foreign key references cannot go
    // before it.
    let mut drops: Vec<(bool, String)> = Vec::new();
    for (table, f) in &from.tables {
        let kept = constraints_in(to, table);
        for c in f.constraints.values() {
            let goes = match kept {
                Some(k) => k.get(&c.name).is_none_or(|n| n != c && !only_validated(c, n)),
                // A table that goes takes its constraints with it, but its foreign keys must go
                // first: another table that goes may be what they reference.
                None => c.kind == ConstraintKind::ForeignKey,
            };
            if goes {
                drops.push((
                    c.kind != ConstraintKind::ForeignKey,
                    format!("ALTER TABLE {} DROP CONSTRAINT {};", table.sql(), quote_part(&c.name)),
                ));
            }
        }
    }
    drops.sort_by_key(|(order, _)| *order);
    let others = drops.iter().position(|(order, _)| *order).unwrap_or(drops.len());
    let mut drops = drops.into_iter().map(|(_, sql)| Statement::from(sql));
    out.extend(drops.by_ref().take(others));
    for (name, i) in &from.indexes {
        // An index of a table that goes, or of a materialized view dropped above, went with it.
        let table_stays =
            (to.tables.contains_key(&i.table) || to.views.contains_key(&i.table)) && !recreated.contains(&i.table);
        if table_stays && to.indexes.get(name).is_none_or(|t| t.definition != i.definition) {
            let kind = StatementKind::DropIndex { index: name.clone(), table: i.table.clone() };
            out.push(Statement::new(kind, format!("DROP INDEX {};", name.sql())));
        }
    }
    out.extend(drops);
}

fn alter_columns(from: &Table, to: &Table, out: &mut Vec<Statement>) {
    let table = to.name.sql();
    for c in from.columns.iter().filter(|c| !to.columns.iter().any(|t| t.name == c.name)) {
        let kind = StatementKind::DropColumn { table: to.name.clone() };
        out.push(Statement::new(kind, format!("ALTER TABLE {table} DROP COLUMN {};", quote_part(&c.name))));
    }
    for t in &to.columns {
        match from.columns.iter().find(|f| f.name == t.name) {
            Some(f) if f != t => change_column(&to.name, f, t, out),
            Some(_) => {}
            None => {
                let fills = t.default.is_some() || t.identity.is_some() || t.generated.is_some() || t.is_serial();
                let kind = if t.not_null && !fills {
                    StatementKind::AddRequiredColumn { table: to.name.clone(), column: t.name.clone() }
                } else {
                    StatementKind::Other
                };
                out.push(Statement::new(kind, format!("ALTER TABLE {table} ADD COLUMN {};", column_sql(t))));
            }
        }
    }
}

fn change_column(name: &Name, f: &Column, t: &Column, out: &mut Vec<Statement>) {
    let table = name.sql();
    let col = quote_part(&t.name);
    // A generated column's expression cannot be altered: it is dropped and added again (its
    // values are derived, so nothing is lost).
    if f.generated != t.generated {
        out.push(format!("ALTER TABLE {table} DROP COLUMN {col};").into());
        out.push(format!("ALTER TABLE {table} ADD COLUMN {};", column_sql(t)).into());
        return;
    }
    let alter = |what: String| format!("ALTER TABLE {table} ALTER COLUMN {col} {what};");
    let retyped = f.data_type != t.data_type || f.collation != t.collation;
    if f.identity.is_some() && t.identity.is_none() {
        out.push(alter("DROP IDENTITY".into()).into());
    }
    if f.default.is_some() && (retyped || f.default != t.default) {
        out.push(alter("DROP DEFAULT".into()).into());
    }
    if retyped {
        let collate = t.collation.as_ref().map(|c| format!(" COLLATE {c}")).unwrap_or_default();
        let sql = alter(format!("TYPE {}{collate} USING {col}::{}", t.data_type, t.data_type));
        out.push(Statement::new(StatementKind::AlterType { table: name.clone() }, sql));
    }
    if let Some(d) = &t.default
        && (retyped || f.default.as_ref() != Some(d))
    {
        out.push(alter(format!("SET DEFAULT {d}")).into());
    }
    if f.not_null != t.not_null {
        if t.not_null {
            let kind = StatementKind::SetNotNull { table: name.clone(), column: t.name.clone() };
            out.push(Statement::new(kind, alter("SET NOT NULL".into())));
        } else {
            out.push(alter("DROP NOT NULL".into()).into());
        }
    }
    if let Some(kind) = t.identity
        && f.identity != t.identity
    {
        if f.identity.is_some() {
            out.push(alter(format!("SET GENERATED {kind}")).into());
        } else {
            out.push(alter(format!("ADD GENERATED {kind} AS IDENTITY")).into());
        }
    }
}

/// A column as `CREATE TABLE` and `ADD COLUMN` write it.
fn column_sql(c: &Column) -> String {
    let mut s = format!("{} {}", quote_part(&c.name), c.data_type);
    if let Some(coll) = &c.collation {
        s += &format!(" COLLATE {coll}");
    }
    if let Some(g) = &c.generated {
        s += &format!(" GENERATED ALWAYS AS ({g}) STORED");
    }
    if let Some(d) = &c.default {
        s += &format!(" DEFAULT {d}");
    }
    if let Some(kind) = c.identity {
        s += &format!(" GENERATED {kind} AS IDENTITY");
    }
    if c.not_null {
        s += " NOT NULL";
    }
    s
}

fn create_table(t: &Table) -> String {
    let mut lines: Vec<String> = t.columns.iter().map(column_sql).collect();
    let mut inline: Vec<&Constraint> =
        t.constraints.values().filter(|c| c.kind != ConstraintKind::ForeignKey).collect();
    inline.sort_by_key(|c| (c.kind, c.name.clone()));
    lines.extend(inline.into_iter().map(|c| format!("CONSTRAINT {} {}", quote_part(&c.name), c.definition)));
    let by = t.partition_by.as_ref().map(|k| format!(" PARTITION BY {k}")).unwrap_or_default();
    if let Some((parent, bound)) = &t.partition_of {
        let own = if lines.is_empty() { String::new() } else { format!(" (\n    {}\n)", lines.join(",\n    ")) };
        return format!("CREATE TABLE {} PARTITION OF {}{own} {bound}{by};", t.name.sql(), parent.sql());
    }
    format!("CREATE TABLE {} (\n    {}\n){by};", t.name.sql(), lines.join(",\n    "))
}

/// Whether `new` is `old` validated: `VALIDATE CONSTRAINT` checks the rows without the lock
/// that dropping and adding it would take.
fn only_validated(old: &Constraint, new: &Constraint) -> bool {
    old.kind == new.kind && old.definition == format!("{} NOT VALID", new.definition)
}

/// Constraints added (or validated): foreign keys alone when `foreign` (they come after the
/// indexes, since one may reference a new unique index), the others when not.
fn add_constraints(from: &Schema, to: &Schema, foreign: bool, out: &mut Vec<Statement>) {
    let mut adds: Vec<(ConstraintKind, Statement)> = Vec::new();
    for (table, t) in &to.tables {
        let existing = constraints_in(from, table);
        for c in t.constraints.values().filter(|c| (c.kind == ConstraintKind::ForeignKey) == foreign) {
            let needed = match existing {
                Some(e) => e.get(&c.name) != Some(c),
                // A new table has its other constraints inline.
                None => c.kind == ConstraintKind::ForeignKey,
            };
            if let Some(old) = existing.and_then(|e| e.get(&c.name))
                && only_validated(old, c)
            {
                let sql = format!("ALTER TABLE {} VALIDATE CONSTRAINT {};", table.sql(), quote_part(&c.name));
                adds.push((c.kind, Statement::from(sql)));
                continue;
            }
            if needed {
                let sql =
                    format!("ALTER TABLE {} ADD CONSTRAINT {} {};", table.sql(), quote_part(&c.name), c.definition);
                let kind = match existing {
                    Some(_) => {
                        StatementKind::AddConstraint { table: table.clone(), name: c.name.clone(), kind: c.kind }
                    }
                    None => StatementKind::Other,
                };
                adds.push((c.kind, Statement::new(kind, sql)));
            }
        }
    }
    adds.sort_by_key(|(kind, _)| *kind);
    out.extend(adds.into_iter().map(|(_, s)| s));
}

fn unhandled(from: &Schema, to: &Schema) -> Vec<Unhandled> {
    let mut out = Vec::new();
    for (key, f) in &from.others {
        let change = match to.others.get(key) {
            None => Change::Dropped,
            Some(t) if t.definition != f.definition => Change::Changed,
            Some(_) => continue,
        };
        out.push(Unhandled { kind: f.kind.clone(), name: f.name.clone(), change });
    }
    for (key, t) in &to.others {
        if !from.others.contains_key(key) {
            out.push(Unhandled { kind: t.kind.clone(), name: t.name.clone(), change: Change::Added });
        }
    }
    out
}

/// One object that differs between two schemas, for drift reports (`check --schema`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectDiff {
    /// `schema`, `table`, `index`, `view`, … (the kinds the differ does not handle included).
    pub kind: String,
    /// The object's name, schema-qualified where it has a schema.
    pub name: String,
    /// How it differs.
    pub change: Change,
    /// What differs inside a changed table (`column theme added`), empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl std::fmt::Display for ObjectDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let change = match self.change {
            Change::Added => "added",
            Change::Dropped => "dropped",
            Change::Changed => "changed",
        };
        write!(f, "{} {} ({change})", self.kind, self.name)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details.join("; "))?;
        }
        Ok(())
    }
}

/// The objects of `to` that differ from `from`'s, each named once.
pub fn objects(from: &Schema, to: &Schema) -> Vec<ObjectDiff> {
    let mut out = Vec::new();
    let mut push = |kind: &str, name: String, change: Change, details: Vec<String>| {
        out.push(ObjectDiff { kind: kind.to_string(), name, change, details })
    };
    for s in to.schemas.iter().filter(|s| !from.schemas.contains(s)) {
        push("schema", s.clone(), Change::Added, vec![]);
    }
    for s in from.schemas.iter().filter(|s| !to.schemas.contains(s)) {
        push("schema", s.clone(), Change::Dropped, vec![]);
    }
    each(&mut out, &from.tables, &to.tables, |_| "table", ToString::to_string, |f, t| f == t, table_details);
    let index = |f: &Index, t: &Index| f.definition == t.definition;
    each(&mut out, &from.indexes, &to.indexes, |_| "index", ToString::to_string, index, nothing);
    let view = |v: &View| if v.materialized { "materialized view" } else { "view" };
    each(&mut out, &from.views, &to.views, view, ToString::to_string, same_view, nothing);
    keyed(&mut out, "enum type", &from.enums, &to.enums, ToString::to_string);
    let function = |f: &Function| if f.procedure { "procedure" } else { "function" };
    let definition = |a: &Function, b: &Function| a.definition == b.definition;
    each(&mut out, &from.functions, &to.functions, function, ToString::to_string, definition, nothing);
    keyed(&mut out, "extension", &from.extensions, &to.extensions, |n| n.clone());
    keyed(&mut out, "sequence", &from.sequences, &to.sequences, ToString::to_string);
    keyed(&mut out, "domain", &from.domains, &to.domains, ToString::to_string);
    keyed(&mut out, "trigger", &from.triggers, &to.triggers, |(t, n)| format!("{n} on {t}"));
    keyed(&mut out, "policy", &from.policies, &to.policies, |(t, n)| format!("{n} on {t}"));
    keyed(&mut out, "row level security", &from.row_security, &to.row_security, ToString::to_string);
    keyed(&mut out, "comment", &from.comments, &to.comments, |on| format!("on {} {on}", on.kind.sql().to_lowercase()));
    keyed(&mut out, "composite type", &from.composites, &to.composites, ToString::to_string);
    keyed(&mut out, "range type", &from.ranges, &to.ranges, ToString::to_string);
    keyed(&mut out, "aggregate", &from.aggregates, &to.aggregates, ToString::to_string);
    keyed(&mut out, "grants", &from.grants, &to.grants, |on| format!("on {} to {}", on.object, on.grantee));
    for u in unhandled(from, to) {
        out.push(ObjectDiff { kind: u.kind, name: u.name.to_string(), change: u.change, details: vec![] });
    }
    out
}

/// The entries of one map that differ, as drift, all of one kind and compared whole.
fn keyed<K: Ord, V: PartialEq>(
    out: &mut Vec<ObjectDiff>,
    kind: &'static str,
    from: &BTreeMap<K, V>,
    to: &BTreeMap<K, V>,
    name: impl Fn(&K) -> String,
) {
    each(out, from, to, |_| kind, name, |a, b| a == b, nothing);
}

/// No details: what a changed object other than a table reports.
fn nothing<V>(_: &V, _: &V) -> Vec<String> {
    vec![]
}

/// The entries of one map that differ, as drift: each added, dropped or (not `same`) changed,
/// named by its key, of the kind its value says, with what differs inside it.
fn each<K: Ord, V>(
    out: &mut Vec<ObjectDiff>,
    from: &BTreeMap<K, V>,
    to: &BTreeMap<K, V>,
    kind: impl Fn(&V) -> &'static str,
    name: impl Fn(&K) -> String,
    same: impl Fn(&V, &V) -> bool,
    details: impl Fn(&V, &V) -> Vec<String>,
) {
    let mut push = |k: &K, v: &V, change, details| {
        out.push(ObjectDiff { kind: kind(v).to_string(), name: name(k), change, details })
    };
    for (k, v) in to {
        match from.get(k) {
            None => push(k, v, Change::Added, vec![]),
            Some(f) if !same(f, v) => push(k, v, Change::Changed, details(f, v)),
            Some(_) => {}
        }
    }
    for (k, v) in from.iter().filter(|(k, _)| !to.contains_key(*k)) {
        push(k, v, Change::Dropped, vec![]);
    }
}

/// What differs in a column, part by part (`default 0 → 1`, `NOT NULL set`).
fn column_changes(f: &Column, t: &Column) -> Vec<String> {
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let mut d = Vec::new();
    if f.data_type != t.data_type {
        d.push(format!("type {} → {}", f.data_type, t.data_type));
    }
    if f.collation != t.collation {
        d.push(format!("collation {} → {}", shown(&f.collation), shown(&t.collation)));
    }
    if f.not_null != t.not_null {
        d.push(if t.not_null { "NOT NULL set".into() } else { "NOT NULL dropped".into() });
    }
    if f.default != t.default {
        d.push(format!("default {} → {}", shown(&f.default), shown(&t.default)));
    }
    if f.identity != t.identity {
        d.push(format!("identity {} → {}", f.identity.unwrap_or("none"), t.identity.unwrap_or("none")));
    }
    if f.generated != t.generated {
        d.push(format!("generated {} → {}", shown(&f.generated), shown(&t.generated)));
    }
    d
}

fn table_details(f: &Table, t: &Table) -> Vec<String> {
    let mut d = Vec::new();
    for c in &t.columns {
        match f.columns.iter().find(|x| x.name == c.name) {
            None => d.push(format!("column {} added", c.name)),
            Some(x) if x != c => d.push(format!("column {}: {}", c.name, column_changes(x, c).join(", "))),
            Some(_) => {}
        }
    }
    d.extend(
        f.columns
            .iter()
            .filter(|x| !t.columns.iter().any(|c| c.name == x.name))
            .map(|x| format!("column {} dropped", x.name)),
    );
    for (name, c) in &t.constraints {
        match f.constraints.get(name) {
            None => d.push(format!("constraint {name} added")),
            Some(x) if x != c => d.push(format!("constraint {name}: {} → {}", x.definition, c.definition)),
            Some(_) => {}
        }
    }
    d.extend(
        f.constraints.keys().filter(|n| !t.constraints.contains_key(*n)).map(|n| format!("constraint {n} dropped")),
    );
    if f.partition_by != t.partition_by || f.partition_of != t.partition_of {
        d.push("partitioning changed".into());
    }
    // SQLite keeps constraints in the table's statement alone.
    if d.is_empty() && f.definition != t.definition {
        d.push("its CREATE TABLE statement changed".into());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Index;
    use crate::statement::hazard_notes;

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            data_type: "integer".into(),
            collation: None,
            not_null: false,
            default: None,
            identity: None,
            generated: None,
        }
    }

    fn table(name: &str, columns: &[&str]) -> Table {
        Table {
            name: Name::new("public", name),
            columns: columns.iter().map(|c| column(c)).collect(),
            constraints: BTreeMap::new(),
            definition: None,
            partition_by: None,
            partition_of: None,
        }
    }

    fn index(name: &str, on: &str) -> Index {
        Index {
            name: Name::new("public", name),
            table: Name::new("public", on),
            definition: format!("CREATE INDEX {name} ON public.{on} USING btree (id)"),
        }
    }

    #[test]
    fn hazards_skip_what_works_on_a_table_the_diff_creates() {
        let mut from = Schema::default();
        from.tables.insert(Name::new("public", "old"), table("old", &["id", "gone"]));
        let mut to = Schema::default();
        let mut old = table("old", &["id", "required"]);
        old.columns[1].not_null = true;
        old.constraints.insert(
            "old_fk".into(),
            Constraint {
                name: "old_fk".into(),
                kind: ConstraintKind::ForeignKey,
                definition: "FOREIGN KEY (id) REFERENCES public.new(id)".into(),
            },
        );
        to.tables.insert(Name::new("public", "old"), old);
        let mut new = table("new", &["id"]);
        new.constraints.insert(
            "new_fk".into(),
            Constraint {
                name: "new_fk".into(),
                kind: ConstraintKind::ForeignKey,
                definition: "FOREIGN KEY (id) REFERENCES public.old(id)".into(),
            },
        );
        to.tables.insert(Name::new("public", "new"), new);
        to.indexes.insert(Name::new("public", "new_id"), index("new_id", "new"));
        to.indexes.insert(Name::new("public", "old_id"), index("old_id", "old"));
        let notes = hazard_notes(&diff(&from, &to).statements);
        let expected = [
            ("deletes data", "DROP COLUMN \"gone\""),
            ("fails on a table with rows", "ADD COLUMN \"required\" integer NOT NULL"),
            // Foreign keys after indexes: one may reference a new unique index.
            ("builds an index", "old_id"),
            ("validates every row", "old_fk"),
        ];
        assert_eq!(notes.len(), expected.len(), "{notes:#?}");
        for (note, (what, statement)) in notes.iter().zip(expected) {
            assert!(note.starts_with(&format!("-- hazard: {what}")) && note.contains(statement), "{notes:#?}");
        }
    }

    fn with_constraint(t: &mut Table, name: &str, kind: ConstraintKind, definition: &str) {
        t.constraints.insert(name.into(), Constraint { name: name.into(), kind, definition: definition.into() });
    }

    #[test]
    fn a_constraint_that_only_becomes_valid_is_validated_in_place() {
        let (mut from, mut to) = (Schema::default(), Schema::default());
        let (mut f, mut t) = (table("t", &["id"]), table("t", &["id"]));
        with_constraint(&mut f, "c", ConstraintKind::Check, "CHECK ((id > 0)) NOT VALID");
        with_constraint(&mut t, "c", ConstraintKind::Check, "CHECK ((id > 0))");
        from.tables.insert(f.name.clone(), f);
        to.tables.insert(t.name.clone(), t);
        let sql: Vec<String> = diff(&from, &to).statements.into_iter().map(|s| s.sql).collect();
        assert_eq!(sql, ["ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT \"c\";"]);
    }

    #[test]
    fn constraints_and_indexes_that_only_change_name_are_renamed() {
        let (mut from, mut to) = (Schema::default(), Schema::default());
        let (mut f, mut t) = (table("t", &["id"]), table("t", &["id"]));
        with_constraint(&mut f, "old_pkey", ConstraintKind::PrimaryKey, "PRIMARY KEY (id)");
        with_constraint(&mut t, "t_pkey", ConstraintKind::PrimaryKey, "PRIMARY KEY (id)");
        from.tables.insert(f.name.clone(), f);
        to.tables.insert(t.name.clone(), t);
        from.indexes.insert(Name::new("public", "old_id"), index("old_id", "t"));
        to.indexes.insert(Name::new("public", "t_id"), index("t_id", "t"));
        let sql: Vec<String> = diff(&from, &to).statements.into_iter().map(|s| s.sql).collect();
        assert_eq!(
            sql,
            [
                "ALTER TABLE \"public\".\"t\" RENAME CONSTRAINT \"old_pkey\" TO \"t_pkey\";",
                "ALTER INDEX \"public\".\"old_id\" RENAME TO \"t_id\";",
            ]
        );
    }
}
