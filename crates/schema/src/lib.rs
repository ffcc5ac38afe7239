//! Schemas as data, and the diff between two of them (`runner diff`; autogenerate builds on it).
//!
//! A schema is read from a database's catalog ([`introspect`](mod@introspect)), never parsed from SQL: the
//! database that ran the DDL is the only parser that agrees with itself. [`diff`](fn@diff) compares two
//! [`Schema`]s and gives the statements that turn one into the other, ordered so that each runs
//! after what it needs, and the objects it does not handle yet, by name: a differ that skips an
//! object silently is worse than one that says it cannot.
//!
//! Handled so far (PostgreSQL): schemas, extensions, tables (columns with type, collation,
//! default, NOT NULL, identity, generated, serial), constraints (primary key, unique, foreign
//! key, check, exclusion), indexes, views and materialized views (recreated when what they read
//! changes), enum, composite and domain types, sequences, functions and procedures, triggers,
//! row-level security and policies, comments, grants, partitioned tables and partitions,
//! range types, plain aggregates; renames when they are said ([`renames`]). On SQLite: tables
//! (rebuilt where `ALTER TABLE` cannot change them), indexes, views and triggers. Ordered-set
//! and moving aggregates, window functions and foreign tables are compared by definition and
//! reported when they differ.

#![warn(missing_docs)]

pub mod diff;
pub mod exclude;
pub mod hints;
pub mod introspect;
mod lex;
pub mod model;
pub mod online;
pub mod renames;
pub mod statement;

pub use diff::{Change, Diff, ObjectDiff, Unhandled, diff, diff_with, objects};
pub use exclude::{Exclude, ExcludeKind, OTHER_TOOLS_HISTORY, Pattern};
pub use hints::hints;
pub use introspect::{IntrospectError, introspect};
pub use model::{
    Column, Constraint, ConstraintKind, Function, Index, Name, ObjectKind, Other, Schema, Table, View, differences,
};
pub use online::{Online, concurrent_in_order, online};
pub use renames::{Candidate, Rename, Renamed};
pub use statement::{Hazard, Rows, Statement, StatementKind, hazard_notes, hazard_notes_sized};
