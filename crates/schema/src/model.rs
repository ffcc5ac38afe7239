//! What a schema holds, as the catalog describes it. Definitions are kept as the database
//! prints them (`format_type`, `pg_get_constraintdef`, `pg_get_indexdef`), so two objects are
//! equal exactly when the database would print them the same.

use runner_db::Dialect;
use std::collections::BTreeMap;

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Name {
    /// The namespace (`public`).
    pub schema: String,
    /// The object's own name.
    pub name: String,
}

impl Name {
    /// `schema.name`.
    pub fn new(schema: &str, name: &str) -> Name {
        Name { schema: schema.to_string(), name: name.to_string() }
    }

    /// The name quoted for SQL: `"schema"."name"`.
    pub fn sql(&self) -> String {
        format!("{}.{}", runner_db::quote_part(&self.schema), runner_db::quote_part(&self.name))
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // What is not in a schema (an event trigger, a cast) has none to print.
        if self.schema.is_empty() { f.write_str(&self.name) } else { write!(f, "{}.{}", self.schema, self.name) }
    }
}

/// Everything a diff compares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// The engine it was read from.
    pub engine: Dialect,
    /// Namespaces other than the system ones (`public` included).
    pub schemas: Vec<String>,
    /// Ordinary tables, by name.
    pub tables: BTreeMap<Name, Table>,
    /// Indexes that no constraint owns (those come with their constraint), on tables and on
    /// materialized views.
    pub indexes: BTreeMap<Name, Index>,
    /// Views and materialized views.
    pub views: BTreeMap<Name, View>,
    /// Enum types, with their labels in order.
    pub enums: BTreeMap<Name, Vec<String>>,
    /// Functions and procedures, by name and argument types (`public.f(integer)`).
    pub functions: BTreeMap<Name, Function>,
    /// Extensions (other than plpgsql), by name, with the schema they are in.
    pub extensions: BTreeMap<String, String>,
    /// Sequences of their own (not those of `serial` or identity columns).
    pub sequences: BTreeMap<Name, Sequence>,
    /// Domains.
    pub domains: BTreeMap<Name, Domain>,
    /// Triggers (not the internal ones of constraints), by table or view and name.
    pub triggers: BTreeMap<(Name, String), Trigger>,
    /// Row-level security policies, by table and name.
    pub policies: BTreeMap<(Name, String), Policy>,
    /// Tables with row-level security enabled or forced: (enabled, forced).
    pub row_security: BTreeMap<Name, (bool, bool)>,
    /// Comments, by what they are on.
    pub comments: BTreeMap<CommentOn, String>,
    /// Composite types, with their attributes (name, type) in order.
    pub composites: BTreeMap<Name, Vec<(String, String)>>,
    /// Range types, with the options of their `CREATE TYPE … AS RANGE (…)`.
    pub ranges: BTreeMap<Name, String>,
    /// Plain aggregates (not ordered-set, not moving), by name and arguments, with their
    /// `CREATE AGGREGATE` statement and state type.
    pub aggregates: BTreeMap<Name, Aggregate>,
    /// Privileges granted on tables, views, sequences and schemas, to roles other than the
    /// object's owner.
    pub grants: BTreeMap<GrantOn, Vec<Privilege>>,
    /// Objects the differ does not handle yet, by kind and name, with their definition.
    pub others: BTreeMap<(String, Name), Other>,
}

/// A sequence of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// Its name.
    pub name: Name,
    /// `smallint`, `integer` or `bigint`.
    pub data_type: String,
    /// `START WITH`.
    pub start: i64,
    /// `INCREMENT BY`.
    pub increment: i64,
    /// `MINVALUE`.
    pub min: i64,
    /// `MAXVALUE`.
    pub max: i64,
    /// `CACHE`.
    pub cache: i64,
    /// `CYCLE`.
    pub cycle: bool,
    /// The column that owns it (`OWNED BY`): dropping the column drops it.
    pub owned_by: Option<(Name, String)>,
}

/// A domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Its name.
    pub name: Name,
    /// The type it is based on, as `format_type` prints it.
    pub base_type: String,
    /// A collation other than the base type's.
    pub collation: Option<String>,
    /// Its default expression.
    pub default: Option<String>,
    /// Whether it is `NOT NULL`.
    pub not_null: bool,
    /// Its check constraints, by name, as `pg_get_constraintdef` prints them.
    pub checks: BTreeMap<String, String>,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The table or view it is on.
    pub table: Name,
    /// Its name.
    pub name: String,
    /// The `CREATE TRIGGER` statement, as `pg_get_triggerdef` prints it.
    pub definition: String,
    /// The columns it names (`UPDATE OF`, its `WHEN` clause): one that changes type takes the
    /// trigger with it.
    pub columns: Vec<String>,
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The table it is on.
    pub table: Name,
    /// Its name.
    pub name: String,
    /// The `CREATE POLICY` statement that makes it.
    pub definition: String,
    /// The columns its expressions read (a column that changes type takes the policy with it).
    pub columns: Vec<String>,
}

/// The kind of object a comment or a grant is on, as `COMMENT ON` and `GRANT … ON` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A table (for grants also a view or a materialized view).
    Table,
    /// A foreign table.
    ForeignTable,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// A sequence.
    Sequence,
    /// An index.
    Index,
    /// A table's or view's column.
    Column,
    /// A function.
    Function,
    /// A procedure.
    Procedure,
    /// A type (enum or domain).
    Type,
    /// A schema.
    Schema,
    /// A table's constraint (comments only: `COMMENT ON CONSTRAINT c ON t`).
    Constraint,
    /// A domain's constraint (comments only: `COMMENT ON CONSTRAINT c ON DOMAIN d`).
    DomainConstraint,
}

impl ObjectKind {
    /// The keyword SQL names it by (`MATERIALIZED VIEW`).
    pub fn sql(self) -> &'static str {
        match self {
            ObjectKind::Table => "TABLE",
            ObjectKind::ForeignTable => "FOREIGN TABLE",
            ObjectKind::View => "VIEW",
            ObjectKind::MaterializedView => "MATERIALIZED VIEW",
            ObjectKind::Sequence => "SEQUENCE",
            ObjectKind::Index => "INDEX",
            ObjectKind::Column => "COLUMN",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Procedure => "PROCEDURE",
            ObjectKind::Type => "TYPE",
            ObjectKind::Schema => "SCHEMA",
            ObjectKind::Constraint => "CONSTRAINT",
            ObjectKind::DomainConstraint => "DOMAIN CONSTRAINT",
        }
    }

    /// The kind a catalog query names by its keyword; a table for anything else.
    pub fn from_sql(keyword: &str) -> ObjectKind {
        const ALL: [ObjectKind; 13] = [
            ObjectKind::Table,
            ObjectKind::ForeignTable,
            ObjectKind::View,
            ObjectKind::MaterializedView,
            ObjectKind::Sequence,
            ObjectKind::Index,
            ObjectKind::Column,
            ObjectKind::Function,
            ObjectKind::Procedure,
            ObjectKind::Type,
            ObjectKind::Schema,
            ObjectKind::Constraint,
            ObjectKind::DomainConstraint,
        ];
        ALL.into_iter().find(|k| k.sql() == keyword).unwrap_or(ObjectKind::Table)
    }

    /// A function or a procedure.
    pub fn is_routine(self) -> bool {
        matches!(self, ObjectKind::Function | ObjectKind::Procedure)
    }
}

// Ordered by keyword, as the statements that comment and grant have always been ordered.
impl Ord for ObjectKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sql().cmp(other.sql())
    }
}

impl PartialOrd for ObjectKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What a comment is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommentOn {
    /// A table, view, materialized view, sequence, index, column, function, type or schema.
    pub kind: ObjectKind,
    /// The table, view, sequence, index, function or type (for a schema: its name as `name`).
    pub object: Name,
    /// The column, for `COLUMN`; a function's arguments, for `FUNCTION`; the constraint's
    /// name, for `CONSTRAINT` (its table or domain is the object).
    pub sub: Option<String>,
}

impl CommentOn {
    /// The object as `COMMENT ON` names it.
    pub fn sql(&self) -> String {
        let kind = self.kind.sql();
        match (self.kind, &self.sub) {
            (ObjectKind::Schema, _) => format!("{kind} {}", runner_db::quote_part(&self.object.name)),
            (ObjectKind::Constraint, Some(c)) => {
                format!("CONSTRAINT {} ON {}", runner_db::quote_part(c), self.object.sql())
            }
            (ObjectKind::DomainConstraint, Some(c)) => {
                format!("CONSTRAINT {} ON DOMAIN {}", runner_db::quote_part(c), self.object.sql())
            }
            (ObjectKind::Column, Some(c)) => format!("{kind} {}.{}", self.object.sql(), runner_db::quote_part(c)),
            (k, Some(args)) if k.is_routine() => format!("{kind} {}({args})", self.object.sql()),
            _ => format!("{kind} {}", self.object.sql()),
        }
    }
}

impl std::fmt::Display for CommentOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sub {
            Some(c) if self.kind == ObjectKind::Column => write!(f, "{}.{c}", self.object),
            Some(c) if matches!(self.kind, ObjectKind::Constraint | ObjectKind::DomainConstraint) => {
                write!(f, "{c} on {}", self.object)
            }
            Some(args) => write!(f, "{}({args})", self.object),
            None if self.kind == ObjectKind::Schema => write!(f, "{}", self.object.name),
            None => write!(f, "{}", self.object),
        }
    }
}

/// A table and what belongs to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Its schema-qualified name.
    pub name: Name,
    /// In the table's column order.
    pub columns: Vec<Column>,
    /// Its constraints, by name.
    pub constraints: BTreeMap<String, Constraint>,
    /// The `CREATE TABLE` statement, where the engine keeps it (SQLite, whose constraints
    /// live only there).
    pub definition: Option<String>,
    /// A partitioned table's key, as `pg_get_partkeydef` prints it (`RANGE (created_at)`).
    pub partition_by: Option<String>,
    /// A partition's parent and bound (`FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`,
    /// `DEFAULT`). Its columns are the parent's, so it lists none of its own.
    pub partition_of: Option<(Name, String)>,
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// As `format_type` prints it (`character varying(40)`, `integer[]`).
    pub data_type: String,
    /// A collation other than the type's default.
    pub collation: Option<String>,
    /// Whether it is `NOT NULL`.
    pub not_null: bool,
    /// The default expression (not for identity or generated columns).
    pub default: Option<String>,
    /// `ALWAYS` or `BY DEFAULT` for an identity column.
    pub identity: Option<&'static str>,
    /// The expression of a stored generated column.
    pub generated: Option<String>,
}

impl Column {
    /// Whether it is a `serial` column (its sequence, `table_column_seq`, is part of it).
    pub fn is_serial(&self) -> bool {
        matches!(self.data_type.as_str(), "serial" | "bigserial" | "smallserial")
    }
}

/// The kinds of table constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum ConstraintKind {
    /// `PRIMARY KEY`.
    PrimaryKey,
    /// `UNIQUE`.
    Unique,
    /// `CHECK`.
    Check,
    /// `EXCLUDE`.
    Exclusion,
    /// Last: it needs the unique constraint or primary key it references.
    ForeignKey,
}

/// A table constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// The constraint's name.
    pub name: String,
    /// What kind it is.
    pub kind: ConstraintKind,
    /// As `pg_get_constraintdef` prints it (`FOREIGN KEY (a) REFERENCES public.t(id)`).
    pub definition: String,
}

/// An index of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// The index's name (in its table's schema).
    pub name: Name,
    /// The table or materialized view it indexes.
    pub table: Name,
    /// The `CREATE INDEX` statement, as `pg_get_indexdef` prints it.
    pub definition: String,
}

/// A view or a materialized view.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Its schema-qualified name.
    pub name: Name,
    /// Whether it is a materialized view.
    pub materialized: bool,
    /// Its query, as `pg_get_viewdef` prints it.
    pub query: String,
    /// `WITH (…)` options (`security_barrier`, `check_option=local`), as stored.
    pub options: Vec<String>,
    /// The tables and views it reads, directly.
    pub depends_on: Vec<Name>,
    /// The functions it calls, keyed as [`Schema::functions`] is (`public.f(integer)`).
    pub calls: Vec<Name>,
}

/// A function or procedure (not an aggregate).
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Schema and plain name (`f`).
    pub name: Name,
    /// Argument types, as `pg_get_function_identity_arguments` prints them (`a integer, b text`).
    pub identity_args: String,
    /// Whether it is a procedure.
    pub procedure: bool,
    /// What it returns (`integer`, `SETOF record`); empty for a procedure.
    pub result: String,
    /// The whole `CREATE OR REPLACE …` statement, as `pg_get_functiondef` prints it.
    pub definition: String,
}

impl Function {
    /// `"schema"."name"(args)`, as DROP takes it.
    pub fn signature_sql(&self) -> String {
        format!("{}({})", self.name.sql(), self.identity_args)
    }
}

/// An object of a kind the differ does not handle yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Other {
    /// `sequence`, `domain`, `trigger`, …
    pub kind: String,
    /// Its schema-qualified name (a trigger's or policy's carries its table: `t.name`).
    pub name: Name,
    /// What the database prints for it; two objects differ when this differs.
    pub definition: String,
}

/// A grantee's privileges on one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantOn {
    /// A table (views and materialized views too), sequence, schema, function or procedure.
    pub kind: ObjectKind,
    /// The object (a schema: its name as `name`; a function: keyed as [`Schema::functions`]).
    pub object: Name,
    /// The role, quoted for SQL, or `PUBLIC`.
    pub grantee: String,
}

impl GrantOn {
    /// The object as `GRANT … ON` names it.
    pub fn sql(&self) -> String {
        let kind = self.kind.sql();
        match self.kind {
            ObjectKind::Schema => format!("{kind} {}", runner_db::quote_part(&self.object.name)),
            k if k.is_routine() => {
                let (name, args) = self.object.name.split_once('(').unwrap_or((&self.object.name, ")"));
                format!("{kind} {}({args}", Name::new(&self.object.schema, name).sql())
            }
            _ => format!("{kind} {}", self.object.sql()),
        }
    }
}

/// One privilege (`SELECT`, `USAGE`, …), and whether the grantee may grant it on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Privilege {
    /// The privilege, as `GRANT` names it.
    pub name: String,
    /// `WITH GRANT OPTION`.
    pub grantable: bool,
}

/// A plain aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// `"schema"."name"(args)`, as `DROP AGGREGATE` takes it.
    pub signature: String,
    /// Its state type (`CREATE OR REPLACE` cannot change it).
    pub state_type: String,
    /// The `CREATE AGGREGATE` statement that makes it.
    pub definition: String,
}

/// What differs between two schemas, one line per object (`enum public.band`, `table
/// public.scores`), whatever the differ can write of it: the check that nothing was left behind
/// when a diff cannot say so itself.
pub fn differences(a: &Schema, b: &Schema) -> Vec<String> {
    fn each<K: Ord + std::fmt::Debug, V: PartialEq>(
        kind: &str,
        a: &BTreeMap<K, V>,
        b: &BTreeMap<K, V>,
        show: impl Fn(&K) -> String,
        out: &mut Vec<String>,
    ) {
        for (k, v) in a {
            match b.get(k) {
                None => out.push(format!("{kind} {} (only before)", show(k))),
                Some(w) if w != v => out.push(format!("{kind} {} (changed)", show(k))),
                Some(_) => {}
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k)) {
            out.push(format!("{kind} {} (only after)", show(k)));
        }
    }
    let mut out = Vec::new();
    if a.schemas != b.schemas {
        out.push(format!("schemas: {:?} against {:?}", a.schemas, b.schemas));
    }
    let name = |n: &Name| n.to_string();
    each("table", &a.tables, &b.tables, name, &mut out);
    each("index", &a.indexes, &b.indexes, name, &mut out);
    each("view", &a.views, &b.views, name, &mut out);
    each("enum", &a.enums, &b.enums, name, &mut out);
    each("function", &a.functions, &b.functions, name, &mut out);
    each("extension", &a.extensions, &b.extensions, |s| s.clone(), &mut out);
    each("sequence", &a.sequences, &b.sequences, name, &mut out);
    each("domain", &a.domains, &b.domains, name, &mut out);
    each("trigger", &a.triggers, &b.triggers, |(t, n)| format!("{n} on {t}"), &mut out);
    each("policy", &a.policies, &b.policies, |(t, n)| format!("{n} on {t}"), &mut out);
    each("row security", &a.row_security, &b.row_security, name, &mut out);
    each("comment", &a.comments, &b.comments, |c| format!("{:?} {}", c.kind, c.object), &mut out);
    each("composite type", &a.composites, &b.composites, name, &mut out);
    each("range type", &a.ranges, &b.ranges, name, &mut out);
    each("aggregate", &a.aggregates, &b.aggregates, name, &mut out);
    each("grant", &a.grants, &b.grants, |g| format!("on {:?} {} to {}", g.kind, g.object, g.grantee), &mut out);
    each("object", &a.others, &b.others, |(k, n)| format!("{k} {n}"), &mut out);
    out
}
