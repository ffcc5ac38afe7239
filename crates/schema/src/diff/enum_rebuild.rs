//! Enum types whose values are removed or reordered. PostgreSQL can add a value to an enum and
//! rename one, but not remove or move one: the type is built again. A new type with the wanted
//! values is created under a passing name, every column of the old one moves to it
//! (`USING col::text::new`, which fails, and rolls the revision back, if a row holds a value the
//! new type lacks), the old type is dropped and the new one takes its name. Views that read
//! those columns are dropped before and created after (see `views_to_drop`); defaults are dropped
//! around the change and set again.
//!
//! Where something else uses the type in a way this cannot carry along (a domain or composite
//! type over it, a function that takes or returns it, a check, policy, trigger, partition key,
//! generated column or partial or expression index that names the column), the change is
//! reported instead ([`Unhandled`]), with what stands in the way: a revision whose down needs it
//! is then written without a down section.

use super::{Change, Unhandled};
use crate::model::{ConstraintKind, Name, Schema};
use crate::statement::{Statement, StatementKind};
use runner_db::{quote_literal, quote_part};
use std::collections::BTreeMap;

/// A column of an enum type (or an array of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumColumn {
    /// Its table.
    pub table: Name,
    /// Its name.
    pub column: String,
    /// Whether it holds an array of the type.
    pub array: bool,
}

/// The enum types of `from` to be built again with `to`'s values, with the columns that move;
/// the ones that cannot be are reported in `unhandled`.
pub fn plan(from: &Schema, to: &Schema, unhandled: &mut Vec<Unhandled>) -> BTreeMap<Name, Vec<EnumColumn>> {
    let mut out = BTreeMap::new();
    for (name, labels) in &to.enums {
        let Some(old) = from.enums.get(name) else { continue };
        if old == labels || !needs_rebuild(old, labels) {
            continue;
        }
        match uses(from, name) {
            Ok(columns) => {
                out.insert(name.clone(), columns);
            }
            Err(why) => unhandled.push(Unhandled {
                kind: format!("enum type values removed or reordered ({why})"),
                name: name.clone(),
                change: Change::Changed,
            }),
        }
    }
    out
}

/// Whether going from `old` to `new` labels takes more than adding values (what `ALTER TYPE`
/// can do; a rename said has been made already).
fn needs_rebuild(old: &[String], new: &[String]) -> bool {
    let mut rest = new.iter();
    !old.iter().all(|o| rest.any(|n| n == o))
}

/// How `data_type` (as `format_type` prints it, with an empty search path) names `name`: the
/// type itself, or an array of it.
fn names_type(data_type: &str, name: &Name) -> Option<bool> {
    let plain = data_type.replace('"', "");
    let qualified = format!("{}.{}", name.schema, name.name);
    if plain == qualified {
        Some(false)
    } else if plain == format!("{qualified}[]") {
        Some(true)
    } else {
        None
    }
}

/// Whether `text` mentions `word` as a whole identifier (quoted or not).
fn mentions(text: &str, word: &str) -> bool {
    let lower = text.to_lowercase();
    let w = word.to_lowercase();
    lower.contains(&format!("\"{w}\""))
        || lower.match_indices(&w).any(|(i, _)| {
            let before = lower[..i].chars().next_back();
            let after = lower[i + w.len()..].chars().next();
            let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            edge(before) && edge(after)
        })
}

/// The columns of `from` that hold the enum `name`, or what uses it otherwise.
fn uses(from: &Schema, name: &Name) -> Result<Vec<EnumColumn>, String> {
    let qualified = format!("{}.{}", name.schema, name.name);
    let of_type = |t: &str| names_type(t, name).is_some();
    if let Some(d) = from.domains.values().find(|d| of_type(&d.base_type)) {
        return Err(format!("domain {} is over it", d.name));
    }
    if let Some((c, _)) = from.composites.iter().find(|(_, attrs)| attrs.iter().any(|(_, t)| of_type(t))) {
        return Err(format!("composite type {c} has an attribute of it"));
    }
    if let Some((f, _)) =
        from.functions.iter().find(|(key, f)| mentions(&key.name, &qualified) || mentions(&f.definition, &qualified))
    {
        return Err(format!("function {f} takes, returns or names it"));
    }
    let mut columns = Vec::new();
    for t in from.tables.values() {
        for c in &t.columns {
            let Some(array) = names_type(&c.data_type, name) else { continue };
            let blocker = |what: &str, def: &str| {
                mentions(def, &c.name).then(|| format!("{what} of {} names column {}", t.name, c.name))
            };
            // A key's index is built again with the column; a check, exclusion or foreign key
            // would compare with values of the old type.
            let why = t
                .constraints
                .values()
                .filter(|k| !matches!(k.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique))
                .find_map(|k| blocker(&format!("constraint {}", k.name), &k.definition))
                .or_else(|| {
                    from.indexes.values().filter(|i| i.table == t.name).find_map(|i| {
                        let special = i.definition.contains(" WHERE ") || i.definition.matches('(').count() > 1;
                        if special { blocker(&format!("index {}", i.name), &i.definition) } else { None }
                    })
                })
                .or_else(|| {
                    from.policies
                        .iter()
                        .filter(|((tbl, _), _)| *tbl == t.name)
                        .find_map(|((_, p), policy)| blocker(&format!("policy {p}"), &policy.definition))
                })
                .or_else(|| {
                    from.triggers
                        .iter()
                        .filter(|((tbl, _), _)| *tbl == t.name)
                        .find_map(|((_, n), tr)| blocker(&format!("trigger {n}"), &tr.definition))
                })
                .or_else(|| t.partition_by.as_deref().and_then(|p| blocker("the partition key", p)))
                .or_else(|| {
                    t.columns
                        .iter()
                        .filter_map(|g| g.generated.as_deref())
                        .find_map(|g| blocker("a generated column", g))
                });
            if let Some(why) = why {
                return Err(why);
            }
            columns.push(EnumColumn { table: t.name.clone(), column: c.name.clone(), array });
        }
    }
    Ok(columns)
}

/// A column's default before the change and after it.
pub struct Defaults {
    /// Dropped before the column moves.
    pub before: Option<String>,
    /// Set again after.
    pub after: Option<String>,
}

/// The statements that build `name` again with `labels`, moving `columns` to it; `default_of`
/// gives each column's defaults (dropped around the move, set again after).
pub fn statements(
    name: &Name,
    labels: &[String],
    columns: &[EnumColumn],
    default_of: &dyn Fn(&EnumColumn) -> Defaults,
) -> Vec<Statement> {
    let passing = Name::new(&name.schema, &format!("{}__runner_new", name.name));
    let list: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
    let mut out: Vec<Statement> = vec![format!("CREATE TYPE {} AS ENUM ({});", passing.sql(), list.join(", ")).into()];
    let alter = |c: &EnumColumn, what: String| {
        format!("ALTER TABLE {} ALTER COLUMN {} {what};", c.table.sql(), quote_part(&c.column))
    };
    for c in columns {
        if default_of(c).before.is_some() {
            out.push(alter(c, "DROP DEFAULT".into()).into());
        }
        let (to, via) = if c.array { (format!("{}[]", passing.sql()), "text[]") } else { (passing.sql(), "text") };
        let sql = alter(c, format!("TYPE {to} USING {}::{via}::{to}", quote_part(&c.column)));
        out.push(Statement::new(StatementKind::AlterType { table: c.table.clone() }, sql));
    }
    out.push(format!("DROP TYPE {};", name.sql()).into());
    out.push(format!("ALTER TYPE {} RENAME TO {};", passing.sql(), quote_part(&name.name)).into());
    for c in columns {
        if let Some(d) = default_of(c).after {
            out.push(alter(c, format!("SET DEFAULT {d}")).into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_removed_or_moved_values_need_a_rebuild() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!needs_rebuild(&v(&["a", "c"]), &v(&["a", "b", "c"])), "an added value");
        // A rename said has been made before this; one not said is a value removed and one added.
        assert!(needs_rebuild(&v(&["a", "b"]), &v(&["a", "x"])), "a value relabelled in place");
        assert!(needs_rebuild(&v(&["a", "b"]), &v(&["b", "a"])), "two values swapped");
        assert!(needs_rebuild(&v(&["a", "b", "c"]), &v(&["a", "c"])), "a value removed");
        assert!(needs_rebuild(&v(&["a", "b", "c"]), &v(&["c", "a", "b", "d"])), "moved");
    }

    #[test]
    fn a_type_is_named_qualified_quoted_or_as_an_array() {
        let n = Name::new("public", "mood");
        assert_eq!(names_type("public.mood", &n), Some(false));
        assert_eq!(names_type("public.mood[]", &n), Some(true));
        assert_eq!(names_type("\"public\".\"mood\"", &n), Some(false));
        assert_eq!(names_type("public.moods", &n), None);
        assert!(mentions("CHECK ((band <> 'x'::public.band))", "band"));
        assert!(!mentions("CHECK ((bandwidth > 0))", "band"));
    }
}
