//! What a diff leaves out: runner's own state table, other tools' history tables, and what a
//! project lists under `[exclude]` (names and globs, per kind). Both sides of a diff are read
//! with the same list, so an object left out is neither created, dropped nor reported as drift.
//! What depends on an object left out goes with it (a table's indexes, triggers, policies,
//! comments and grants; a sequence it owns).

use crate::model::{Name, ObjectKind, Schema};
use std::collections::BTreeSet;

/// The kinds an `[exclude]` pattern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExcludeKind {
    /// Tables (partitions and foreign tables too).
    Table,
    /// Views and materialized views.
    View,
    /// Indexes, by their own name.
    Index,
    /// Enum, domain, composite and range types.
    Type,
    /// Functions, procedures and aggregates, by name (any arguments).
    Function,
    /// Sequences of their own.
    Sequence,
    /// Triggers, by their own name (in their table's schema).
    Trigger,
    /// Row-level security policies, by their own name (in their table's schema).
    Policy,
    /// Whole schemas (namespaces) and everything in them.
    Schema,
    /// Extensions, by name.
    Extension,
}

impl ExcludeKind {
    /// Every kind, in the order `runner.toml` documents them.
    pub const ALL: [ExcludeKind; 10] = [
        ExcludeKind::Table,
        ExcludeKind::View,
        ExcludeKind::Index,
        ExcludeKind::Type,
        ExcludeKind::Function,
        ExcludeKind::Sequence,
        ExcludeKind::Trigger,
        ExcludeKind::Policy,
        ExcludeKind::Schema,
        ExcludeKind::Extension,
    ];

    /// The key under `[exclude]` in `runner.toml` (`tables`).
    pub fn key(self) -> &'static str {
        match self {
            ExcludeKind::Table => "tables",
            ExcludeKind::View => "views",
            ExcludeKind::Index => "indexes",
            ExcludeKind::Type => "types",
            ExcludeKind::Function => "functions",
            ExcludeKind::Sequence => "sequences",
            ExcludeKind::Trigger => "triggers",
            ExcludeKind::Policy => "policies",
            ExcludeKind::Schema => "schemas",
            ExcludeKind::Extension => "extensions",
        }
    }

    /// Whether a pattern of this kind names something in a schema (`schema.name`), rather than
    /// a schema or an extension, whose names stand alone.
    fn qualified(self) -> bool {
        !matches!(self, ExcludeKind::Schema | ExcludeKind::Extension)
    }
}

/// Migration history tables other tools keep beside the schema they manage: never the
/// project's schema, so left out unless a project says otherwise.
pub const OTHER_TOOLS_HISTORY: &[&str] = &[
    "alembic_version",
    "flyway_schema_history",
    "_sqlx_migrations",
    "__diesel_schema_migrations",
    "goose_db_version",
    "schema_migrations",
    "ar_internal_metadata",
    "django_migrations",
    "knex_migrations",
    "knex_migrations_lock",
    "__EFMigrationsHistory",
    "databasechangelog",
    "databasechangeloglock",
    "atlas_schema_revisions",
];

/// One pattern: `name` matches that name in any schema, `schema.name` in that schema only;
/// `*` stands for any run of characters and `?` for one, in either part. Names are matched
/// as the catalog stores them (case-sensitive; unquoted names are lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    kind: ExcludeKind,
    schema: Option<String>,
    name: String,
    text: String,
}

impl Pattern {
    /// Parses `text` as a pattern of `kind`; the error says what is wrong with it.
    pub fn parse(kind: ExcludeKind, text: &str) -> Result<Pattern, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(format!("[exclude] {}: an empty pattern", kind.key()));
        }
        if trimmed.contains('"') {
            return Err(format!(
                "[exclude] {} `{text}`: write names as the catalog stores them, without quotes",
                kind.key()
            ));
        }
        let (schema, name) = match trimmed.split_once('.') {
            Some(_) if !kind.qualified() => {
                return Err(format!(
                    "[exclude] {} `{text}`: {} are named alone, not `schema.name`",
                    kind.key(),
                    kind.key()
                ));
            }
            Some((schema, name)) if schema.is_empty() || name.is_empty() || name.contains('.') => {
                return Err(format!("[exclude] {} `{text}`: write `name` or `schema.name`", kind.key()));
            }
            Some((schema, name)) => (Some(schema.to_string()), name.to_string()),
            None => (None, trimmed.to_string()),
        };
        Ok(Pattern { kind, schema, name, text: trimmed.to_string() })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its kind.
    pub fn kind(&self) -> ExcludeKind {
        self.kind
    }

    fn matches(&self, schema: &str, name: &str) -> bool {
        self.schema.as_deref().is_none_or(|s| glob(s, schema)) && glob(&self.name, name)
    }
}

/// Whether `text` matches `pattern`, where `*` is any run of characters and `?` one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer walk: on a mismatch, the last `*` takes one more character.
    let (mut i, mut j, mut star, mut taken) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            taken = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            taken += 1;
            j = taken;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// What to leave out of a schema as it is read.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    /// Tables runner keeps for itself (its state table), by exact name.
    pub tables: Vec<Name>,
    /// What the project (and the default list of other tools' history tables) leaves out.
    pub patterns: Vec<Pattern>,
}

impl Exclude {
    fn named(&self, kind: ExcludeKind, schema: &str, name: &str) -> bool {
        self.patterns.iter().any(|p| p.kind == kind && p.matches(schema, name))
            || self.patterns.iter().any(|p| p.kind == ExcludeKind::Schema && glob(&p.name, schema))
    }

    /// Whether the table `name` is left out.
    pub fn table(&self, name: &Name) -> bool {
        self.tables.contains(name) || self.named(ExcludeKind::Table, &name.schema, &name.name)
    }

    fn of(&self, kind: ExcludeKind, name: &Name) -> bool {
        // Routines are keyed with their arguments (`f(integer)`): a pattern names the routine.
        let plain = match kind {
            ExcludeKind::Function => name.name.split_once('(').map_or(name.name.as_str(), |(n, _)| n),
            _ => &name.name,
        };
        self.named(kind, &name.schema, plain)
    }

    /// `schema` without what is left out, and without what depends on it.
    pub fn apply(&self, schema: &mut Schema) {
        if self.tables.is_empty() && self.patterns.is_empty() {
            return;
        }
        let schema_out = |s: &str| self.patterns.iter().any(|p| p.kind == ExcludeKind::Schema && glob(&p.name, s));
        // A table, or a partition of one that is left out.
        let tables_out: BTreeSet<Name> = schema
            .tables
            .values()
            .filter(|t| self.table(&t.name) || t.partition_of.as_ref().is_some_and(|(parent, _)| self.table(parent)))
            .map(|t| t.name.clone())
            .collect();
        let views_out: BTreeSet<Name> =
            schema.views.keys().filter(|v| self.of(ExcludeKind::View, v)).cloned().collect();
        let relation_out = |n: &Name| tables_out.contains(n) || views_out.contains(n) || self.table(n);
        let indexes_out: BTreeSet<Name> = schema
            .indexes
            .values()
            .filter(|i| self.of(ExcludeKind::Index, &i.name) || relation_out(&i.table))
            .map(|i| i.name.clone())
            .collect();
        let type_out = |n: &Name| self.of(ExcludeKind::Type, n);
        let function_out = |n: &Name| self.of(ExcludeKind::Function, n);
        let sequence_out = |n: &Name| self.of(ExcludeKind::Sequence, n);

        schema.schemas.retain(|s| !schema_out(s));
        schema.extensions.retain(|name, _| !self.named(ExcludeKind::Extension, "", name));
        schema.tables.retain(|n, _| !tables_out.contains(n));
        schema.views.retain(|n, _| !views_out.contains(n));
        schema.indexes.retain(|n, _| !indexes_out.contains(n));
        schema.enums.retain(|n, _| !type_out(n));
        schema.domains.retain(|n, _| !type_out(n));
        schema.composites.retain(|n, _| !type_out(n));
        schema.ranges.retain(|n, _| !type_out(n));
        schema.functions.retain(|n, _| !function_out(n));
        schema.aggregates.retain(|n, _| !function_out(n));
        schema
            .sequences
            .retain(|n, s| !sequence_out(n) && s.owned_by.as_ref().is_none_or(|(table, _)| !relation_out(table)));
        schema
            .triggers
            .retain(|(table, name), _| !relation_out(table) && !self.named(ExcludeKind::Trigger, &table.schema, name));
        schema
            .policies
            .retain(|(table, name), _| !relation_out(table) && !self.named(ExcludeKind::Policy, &table.schema, name));
        schema.row_security.retain(|n, _| !relation_out(n));
        let object_out = |kind: ObjectKind, n: &Name| match kind {
            ObjectKind::Schema => schema_out(&n.name),
            ObjectKind::Table | ObjectKind::ForeignTable | ObjectKind::Column | ObjectKind::Constraint => {
                relation_out(n)
            }
            ObjectKind::View | ObjectKind::MaterializedView => relation_out(n),
            ObjectKind::Sequence => sequence_out(n),
            ObjectKind::Index => indexes_out.contains(n),
            ObjectKind::Function | ObjectKind::Procedure => function_out(n),
            ObjectKind::Type | ObjectKind::DomainConstraint => type_out(n),
        };
        schema.comments.retain(|on, _| !object_out(on.kind, &on.object));
        schema.grants.retain(|on, _| !object_out(on.kind, &on.object));
        schema.others.retain(|(kind, name), _| match kind.as_str() {
            "foreign table" => !self.table(name),
            "aggregate" | "window function" => !function_out(name),
            _ => !self.named(ExcludeKind::Schema, &name.schema, &name.name),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob("audit_*", "audit_log"));
        assert!(glob("audit_*", "audit_"));
        assert!(!glob("audit_*", "audit"));
        assert!(glob("*_log", "audit_log"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("t?", "t1"));
        assert!(!glob("t?", "t12"));
        assert!(glob("*", ""));
        assert!(!glob("users", "Users"), "names are matched as the catalog stores them");
    }

    #[test]
    fn a_pattern_names_a_schema_only_when_it_says_one() {
        let any = Pattern::parse(ExcludeKind::Table, "alembic_version").unwrap();
        assert!(any.matches("public", "alembic_version") && any.matches("main", "alembic_version"));
        let one = Pattern::parse(ExcludeKind::Table, "legacy.*").unwrap();
        assert!(one.matches("legacy", "orders") && !one.matches("public", "orders"));
    }

    #[test]
    fn bad_patterns_are_refused_with_what_is_wrong() {
        for (kind, text) in [
            (ExcludeKind::Table, ""),
            (ExcludeKind::Table, "a.b.c"),
            (ExcludeKind::Table, ".t"),
            (ExcludeKind::Table, "\"Users\""),
            (ExcludeKind::Schema, "a.b"),
        ] {
            let e = Pattern::parse(kind, text).unwrap_err();
            assert!(e.starts_with(&format!("[exclude] {}", kind.key())), "{e}");
        }
    }
}
