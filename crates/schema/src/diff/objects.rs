//! The objects around tables: extensions, sequences and domains (created before the tables that
//! use them, dropped after), triggers and policies (dropped before what they are on changes,
//! created after), row-level security, and comments (set last, also on what the diff recreated,
//! since a recreated object comes back without its comment).

use super::Change;
use crate::model::{CommentOn, Domain, GrantOn, Name, ObjectKind, Privilege, Schema, Sequence};
use crate::statement::Statement;
use runner_db::{quote_literal, quote_part};
use std::collections::BTreeSet;

/// New extensions, and extensions that moved schema: before anything that may use their types
/// or functions.
pub(super) fn extensions_before(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (name, schema) in &to.extensions {
        match from.extensions.get(name) {
            None => out.push(
                format!("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {};", quote_part(name), quote_part(schema))
                    .into(),
            ),
            Some(old) if old != schema => {
                out.push(format!("ALTER EXTENSION {} SET SCHEMA {};", quote_part(name), quote_part(schema)).into())
            }
            Some(_) => {}
        }
    }
}

/// Extensions that go: after everything that used them.
pub(super) fn extensions_after(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for name in from.extensions.keys().filter(|n| !to.extensions.contains_key(*n)) {
        out.push(format!("DROP EXTENSION {};", quote_part(name)).into());
    }
}

fn sequence_options(s: &Sequence) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
        s.data_type,
        s.increment,
        s.min,
        s.max,
        s.start,
        s.cache,
        if s.cycle { "CYCLE" } else { "NO CYCLE" }
    )
}

/// New sequences and changed options, before the defaults that call `nextval` on them; a
/// sequence whose owner changes is released first, so that dropping its old column does not
/// take it.
pub(super) fn sequences_before(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (name, s) in &to.sequences {
        match from.sequences.get(name) {
            None => out.push(format!("CREATE SEQUENCE {} {};", name.sql(), sequence_options(s)).into()),
            Some(old) => {
                if sequence_options(old) != sequence_options(s) {
                    out.push(format!("ALTER SEQUENCE {} {};", name.sql(), sequence_options(s)).into());
                }
                if old.owned_by.is_some() && old.owned_by != s.owned_by {
                    out.push(format!("ALTER SEQUENCE {} OWNED BY NONE;", name.sql()).into());
                }
            }
        }
    }
}

/// Owners of sequences, once their tables and columns exist.
pub(super) fn sequences_owned(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (name, s) in &to.sequences {
        let Some((table, column)) = &s.owned_by else { continue };
        if from.sequences.get(name).is_none_or(|old| old.owned_by != s.owned_by) {
            out.push(format!("ALTER SEQUENCE {} OWNED BY {}.{};", name.sql(), table.sql(), quote_part(column)).into());
        }
    }
}

/// Sequences that go, after the tables and defaults that used them; one whose owning column
/// was dropped went with it.
pub(super) fn sequences_after(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (name, s) in from.sequences.iter().filter(|(n, _)| !to.sequences.contains_key(*n)) {
        let owner_gone = s.owned_by.as_ref().is_some_and(|(table, column)| {
            to.tables.get(table).is_none_or(|t| !t.columns.iter().any(|c| &c.name == column))
        });
        if !owner_gone {
            out.push(format!("DROP SEQUENCE {};", name.sql()).into());
        }
    }
}

fn create_domain(d: &Domain) -> String {
    let mut sql = format!("CREATE DOMAIN {} AS {}", d.name.sql(), d.base_type);
    if let Some(c) = &d.collation {
        sql += &format!(" COLLATE {c}");
    }
    if let Some(def) = &d.default {
        sql += &format!(" DEFAULT {def}");
    }
    if d.not_null {
        sql += " NOT NULL";
    }
    for (name, check) in &d.checks {
        sql += &format!(" CONSTRAINT {} {check}", quote_part(name));
    }
    sql + ";"
}

/// New domains and changes to existing ones, before the tables and functions that use them. A
/// domain whose base type or collation changes would need every column of it cast: reported.
pub(super) fn domains_before(
    from: &Schema,
    to: &Schema,
    out: &mut Vec<Statement>,
    unhandled: &mut Vec<super::Unhandled>,
) {
    for (name, d) in &to.domains {
        let Some(old) = from.domains.get(name) else {
            out.push(create_domain(d).into());
            continue;
        };
        if old.base_type != d.base_type || old.collation != d.collation {
            unhandled.push(super::Unhandled {
                kind: "domain base type".into(),
                name: name.clone(),
                change: Change::Changed,
            });
            continue;
        }
        let alter = |what: String| Statement::from(format!("ALTER DOMAIN {} {what};", name.sql()));
        if old.default != d.default {
            out.push(alter(d.default.as_ref().map_or("DROP DEFAULT".into(), |v| format!("SET DEFAULT {v}"))));
        }
        if old.not_null != d.not_null {
            out.push(alter(if d.not_null { "SET NOT NULL".into() } else { "DROP NOT NULL".into() }));
        }
        for (check, def) in &old.checks {
            if d.checks.get(check) != Some(def) {
                out.push(alter(format!("DROP CONSTRAINT {}", quote_part(check))));
            }
        }
        for (check, def) in &d.checks {
            if old.checks.get(check) != Some(def) {
                out.push(alter(format!("ADD CONSTRAINT {} {def}", quote_part(check))));
            }
        }
    }
}

/// Domains that go, after the tables that used them.
pub(super) fn domains_after(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for name in from.domains.keys().filter(|n| !to.domains.contains_key(*n)) {
        out.push(format!("DROP DOMAIN {};", name.sql()).into());
    }
}

/// Whether `table` (a table or view of `from`) is still there in `to` and not recreated.
fn stays(to: &Schema, recreated: &BTreeSet<Name>, table: &Name) -> bool {
    (to.tables.contains_key(table) || to.views.contains_key(table)) && !recreated.contains(table)
}

/// Triggers and policies that go or change, before their table or view changes; those of a
/// table or view that goes (or a view recreated) go with it. A policy that reads a column whose
/// definition changes goes too (PostgreSQL refuses to retype a column a policy uses) and is
/// created again after.
pub(super) fn drop_dependents(from: &Schema, to: &Schema, recreated: &BTreeSet<Name>, out: &mut Vec<Statement>) {
    for (key, t) in &from.triggers {
        if stays(to, recreated, &t.table)
            && (to.triggers.get(key) != Some(t) || retyped(from, to, &t.table, &t.columns))
        {
            out.push(format!("DROP TRIGGER {} ON {};", quote_part(&t.name), t.table.sql()).into());
        }
    }
    for (key, p) in &from.policies {
        if stays(to, recreated, &p.table)
            && (to.policies.get(key) != Some(p) || retyped(from, to, &p.table, &p.columns))
        {
            out.push(format!("DROP POLICY {} ON {};", quote_part(&p.name), p.table.sql()).into());
        }
    }
}

/// Whether one of `columns` of `table` changes type or collation: PostgreSQL refuses to alter
/// the type of a column a trigger or policy names, so those are dropped before and created after.
fn retyped(from: &Schema, to: &Schema, table: &Name, columns: &[String]) -> bool {
    let (Some(f), Some(t)) = (from.tables.get(table), to.tables.get(table)) else { return false };
    columns.iter().any(|c| {
        let column = |table: &crate::model::Table| {
            table.columns.iter().find(|x| &x.name == c).map(|x| (x.data_type.clone(), x.collation.clone()))
        };
        column(f) != column(t)
    })
}

/// Row-level security switched, triggers and policies created (new, changed, or dropped above
/// with what they are on), once tables, views and functions exist.
pub(super) fn create_dependents(from: &Schema, to: &Schema, recreated: &BTreeSet<Name>, out: &mut Vec<Statement>) {
    let tables: BTreeSet<&Name> = to.row_security.keys().chain(from.row_security.keys()).collect();
    for table in tables.into_iter().filter(|t| to.tables.contains_key(*t)) {
        let (enabled, forced) = to.row_security.get(table).copied().unwrap_or((false, false));
        let (was_enabled, was_forced) = from.row_security.get(table).copied().unwrap_or((false, false));
        if enabled != was_enabled {
            let what = if enabled { "ENABLE" } else { "DISABLE" };
            out.push(format!("ALTER TABLE {} {what} ROW LEVEL SECURITY;", table.sql()).into());
        }
        if forced != was_forced {
            let what = if forced { "FORCE" } else { "NO FORCE" };
            out.push(format!("ALTER TABLE {} {what} ROW LEVEL SECURITY;", table.sql()).into());
        }
    }
    for (key, t) in &to.triggers {
        if from.triggers.get(key) != Some(t) || recreated.contains(&t.table) || retyped(from, to, &t.table, &t.columns)
        {
            out.push(format!("{};", t.definition.trim_end_matches(';')).into());
        }
    }
    for (key, p) in &to.policies {
        if from.policies.get(key) != Some(p) || retyped(from, to, &p.table, &p.columns) {
            out.push(p.definition.clone().into());
        }
    }
}

/// Whether the commented object is in `to` as `from` had it (so its comment is still there).
fn kept(from: &Schema, to: &Schema, recreated: &BTreeSet<Name>, rebuilt: &BTreeSet<Name>, on: &CommentOn) -> bool {
    let o = &on.object;
    match on.kind {
        ObjectKind::Table | ObjectKind::ForeignTable => from.tables.contains_key(o) && to.tables.contains_key(o),
        ObjectKind::View | ObjectKind::MaterializedView => {
            from.views.contains_key(o) && to.views.contains_key(o) && !recreated.contains(o)
        }
        ObjectKind::Column => {
            let column = |s: &Schema| {
                s.tables.get(o).and_then(|t| t.columns.iter().find(|c| Some(&c.name) == on.sub.as_ref()).cloned())
            };
            match (from.views.contains_key(o), to.views.contains_key(o)) {
                (true, true) => !recreated.contains(o),
                (false, false) => {
                    let (f, t) = (column(from), column(to));
                    // A generated column that changes is dropped and added.
                    f.is_some() && t.is_some() && f.as_ref().map(|c| &c.generated) == t.as_ref().map(|c| &c.generated)
                }
                _ => false,
            }
        }
        ObjectKind::Sequence => to.sequences.contains_key(o) && from.sequences.contains_key(o),
        ObjectKind::Index => !rebuilt.contains(o) && from.indexes.contains_key(o) == to.indexes.contains_key(o),
        ObjectKind::Function | ObjectKind::Procedure => {
            let key = Name::new(&o.schema, &format!("{}({})", o.name, on.sub.clone().unwrap_or_default()));
            from.functions.contains_key(&key) && to.functions.contains_key(&key) && !rebuilt.contains(&key)
        }
        ObjectKind::Type => {
            (to.enums.contains_key(o) && from.enums.contains_key(o))
                || (to.domains.contains_key(o) && from.domains.contains_key(o))
        }
        ObjectKind::Schema => to.schemas.contains(&o.name) && from.schemas.contains(&o.name),
        // A constraint dropped and added again (its definition changed) comes back without it.
        ObjectKind::Constraint => {
            let constraint = |s: &Schema| s.tables.get(o).and_then(|t| t.constraints.get(on.sub.as_deref()?)).cloned();
            constraint(from).is_some() && constraint(from) == constraint(to)
        }
        ObjectKind::DomainConstraint => {
            let check = |s: &Schema| s.domains.get(o).and_then(|d| d.checks.get(on.sub.as_deref()?)).cloned();
            check(from).is_some() && check(from) == check(to)
        }
    }
}

/// Comments set where they are new or changed or where the diff recreated their object
/// (`recreated` views, `rebuilt` indexes and functions), and removed where they went from an
/// object that stays.
pub(super) fn comments(
    from: &Schema,
    to: &Schema,
    recreated: &BTreeSet<Name>,
    rebuilt: &BTreeSet<Name>,
    out: &mut Vec<Statement>,
) {
    for (on, text) in &to.comments {
        if from.comments.get(on) != Some(text) || !kept(from, to, recreated, rebuilt, on) {
            out.push(format!("COMMENT ON {} IS {};", on.sql(), quote_literal(text)).into());
        }
    }
    for on in from.comments.keys().filter(|on| !to.comments.contains_key(*on)) {
        if kept(from, to, recreated, rebuilt, on) {
            out.push(format!("COMMENT ON {} IS NULL;", on.sql()).into());
        }
    }
}

/// New composite types and attributes added, dropped or retyped, before the tables that use
/// them. Attributes can only be added at the end: a new order is reported.
pub(super) fn composites_before(
    from: &Schema,
    to: &Schema,
    out: &mut Vec<Statement>,
    unhandled: &mut Vec<super::Unhandled>,
) {
    for (name, attributes) in &to.composites {
        let Some(old) = from.composites.get(name) else {
            let list: Vec<String> = attributes.iter().map(|(a, t)| format!("{} {t}", quote_part(a))).collect();
            out.push(format!("CREATE TYPE {} AS ({});", name.sql(), list.join(", ")).into());
            continue;
        };
        if old == attributes {
            continue;
        }
        let kept: Vec<&String> =
            old.iter().map(|(a, _)| a).filter(|a| attributes.iter().any(|(n, _)| n == *a)).collect();
        let in_place = attributes.iter().take(kept.len()).map(|(a, _)| a).eq(kept.iter().copied());
        if !in_place {
            unhandled.push(super::Unhandled {
                kind: "composite type attributes reordered".into(),
                name: name.clone(),
                change: Change::Changed,
            });
            continue;
        }
        let alter = |what: String| Statement::from(format!("ALTER TYPE {} {what};", name.sql()));
        for (a, _) in old.iter().filter(|(a, _)| !attributes.iter().any(|(n, _)| n == a)) {
            out.push(alter(format!("DROP ATTRIBUTE {}", quote_part(a))));
        }
        for (a, t) in attributes {
            match old.iter().find(|(o, _)| o == a) {
                Some((_, ot)) if ot != t => out.push(alter(format!("ALTER ATTRIBUTE {} TYPE {t}", quote_part(a)))),
                Some(_) => {}
                None => out.push(alter(format!("ADD ATTRIBUTE {} {t}", quote_part(a)))),
            }
        }
    }
}

/// Composite types that go, after the tables that used them.
pub(super) fn composites_after(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for name in from.composites.keys().filter(|n| !to.composites.contains_key(*n)) {
        out.push(format!("DROP TYPE {};", name.sql()).into());
    }
}

/// The sequences `serial` columns of `s` own (named `table_column_seq`).
fn serial_sequence(s: &Schema, name: &Name) -> bool {
    s.tables.values().any(|t| {
        t.name.schema == name.schema
            && t.columns.iter().any(|c| c.is_serial() && format!("{}_{}_seq", t.name.name, c.name) == name.name)
    })
}

/// Whether the object of a grant is in `s`.
fn grantable(s: &Schema, on: &GrantOn) -> bool {
    match on.kind {
        ObjectKind::Table => s.tables.contains_key(&on.object) || s.views.contains_key(&on.object),
        ObjectKind::Sequence => s.sequences.contains_key(&on.object) || serial_sequence(s, &on.object),
        ObjectKind::Schema => s.schemas.contains(&on.object.name),
        ObjectKind::Function | ObjectKind::Procedure => s.functions.contains_key(&on.object),
        _ => false,
    }
}

/// What a grantee holds on an object the diff creates: nothing, but for a function's
/// `EXECUTE` for PUBLIC, which PostgreSQL gives every new function.
fn created_with(on: &GrantOn) -> Vec<Privilege> {
    match on.kind {
        k if k.is_routine() && on.grantee == "PUBLIC" => {
            vec![Privilege { name: "EXECUTE".into(), grantable: false }]
        }
        _ => Vec::new(),
    }
}

/// Privileges granted and revoked, last: an object the diff creates or recreates (a view
/// dropped around a change, a function dropped and created: `rebuilt`) starts with what a new
/// one has.
pub(super) fn grants(
    from: &Schema,
    to: &Schema,
    recreated: &BTreeSet<Name>,
    rebuilt: &BTreeSet<Name>,
    out: &mut Vec<Statement>,
) {
    let fresh = |on: &GrantOn| {
        !grantable(from, on)
            || (on.kind == ObjectKind::Table && recreated.contains(&on.object))
            || (on.kind.is_routine() && rebuilt.contains(&on.object))
    };
    for (on, privileges) in &to.grants {
        let had = if fresh(on) { created_with(on) } else { from.grants.get(on).cloned().unwrap_or_default() };
        revoke(on, had.iter().filter(|p| !privileges.contains(p)), out);
        grant(on, privileges.iter().filter(|p| !had.contains(p)), out);
    }
    for (on, privileges) in from.grants.iter().filter(|(on, _)| !to.grants.contains_key(*on)) {
        if grantable(to, on) && !fresh(on) {
            revoke(on, privileges.iter(), out);
        }
    }
    // A function created here that is not to be PUBLIC's loses what every new one has.
    for key in to.functions.keys() {
        for kind in [ObjectKind::Function, ObjectKind::Procedure] {
            let on = GrantOn { kind, object: key.clone(), grantee: "PUBLIC".into() };
            if to.functions[key].procedure == (kind == ObjectKind::Procedure)
                && fresh(&on)
                && !to.grants.contains_key(&on)
            {
                revoke(&on, created_with(&on).iter(), out);
            }
        }
    }
}

fn grant<'a>(on: &GrantOn, privileges: impl Iterator<Item = &'a Privilege>, out: &mut Vec<Statement>) {
    let (with, without): (Vec<&Privilege>, Vec<&Privilege>) = privileges.partition(|p| p.grantable);
    for (list, option) in [(without, ""), (with, " WITH GRANT OPTION")] {
        if !list.is_empty() {
            let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            out.push(format!("GRANT {} ON {} TO {}{option};", names.join(", "), on.sql(), on.grantee).into());
        }
    }
}

fn revoke<'a>(on: &GrantOn, privileges: impl Iterator<Item = &'a Privilege>, out: &mut Vec<Statement>) {
    let names: Vec<&str> = privileges.map(|p| p.name.as_str()).collect();
    if !names.is_empty() {
        out.push(format!("REVOKE {} ON {} FROM {};", names.join(", "), on.sql(), on.grantee).into());
    }
}

/// New range types, before the tables and functions that use them; one whose options change
/// would need every use rebuilt: reported.
pub(super) fn ranges_before(
    from: &Schema,
    to: &Schema,
    out: &mut Vec<Statement>,
    unhandled: &mut Vec<super::Unhandled>,
) {
    for (name, options) in &to.ranges {
        match from.ranges.get(name) {
            None => out.push(format!("CREATE TYPE {} AS RANGE ({options});", name.sql()).into()),
            Some(old) if old != options => unhandled.push(super::Unhandled {
                kind: "range type".into(),
                name: name.clone(),
                change: Change::Changed,
            }),
            Some(_) => {}
        }
    }
}

/// Range types that go, after what used them.
pub(super) fn ranges_after(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for name in from.ranges.keys().filter(|n| !to.ranges.contains_key(*n)) {
        out.push(format!("DROP TYPE {};", name.sql()).into());
    }
}

/// New and changed aggregates, after the functions they are made of: replaced in place, or
/// dropped and created when their state type changes (which `CREATE OR REPLACE` cannot do).
pub(super) fn aggregates_after_functions(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (key, a) in &to.aggregates {
        match from.aggregates.get(key) {
            Some(old) if old == a => {}
            Some(old) if old.state_type != a.state_type => {
                out.push(format!("DROP AGGREGATE {};", old.signature).into());
                out.push(a.definition.clone().into());
            }
            Some(_) => out.push(a.definition.replacen("CREATE AGGREGATE", "CREATE OR REPLACE AGGREGATE", 1).into()),
            None => out.push(a.definition.clone().into()),
        }
    }
}

/// Aggregates that go, before the functions they are made of.
pub(super) fn aggregates_drop(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (key, a) in &from.aggregates {
        if !to.aggregates.contains_key(key) {
            out.push(format!("DROP AGGREGATE {};", a.signature).into());
        }
    }
}
