//! One statement of a diff and what it does to the data, as the differ knows when it writes it:
//! hazard notes and `--online` revisions are read from this, never from the SQL text.

use crate::model::{ConstraintKind, Name};

/// A statement of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL, ending in `;`.
    pub sql: String,
    /// What it does, where that matters on a table with rows.
    pub kind: StatementKind,
}

/// What a statement does, where that matters on a table with rows. A table created by the
/// same diff is empty: what works on it is `fresh` and holds nothing up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// `DROP TABLE`: deletes its rows.
    DropTable(Name),
    /// `DROP COLUMN`: deletes its values.
    DropColumn {
        /// The table.
        table: Name,
    },
    /// `ADD COLUMN … NOT NULL` with no default on an existing table: fails if it has rows.
    AddRequiredColumn {
        /// The table.
        table: Name,
        /// The column.
        column: String,
    },
    /// `ALTER COLUMN … TYPE`: rewrites the table under an ACCESS EXCLUSIVE lock.
    AlterType {
        /// The table.
        table: Name,
    },
    /// `SET NOT NULL`: scans the table under an ACCESS EXCLUSIVE lock.
    SetNotNull {
        /// The table.
        table: Name,
        /// The column.
        column: String,
    },
    /// `CREATE INDEX`: blocks writes to the table while it builds.
    CreateIndex {
        /// The table or materialized view it indexes.
        table: Name,
        /// Whether the diff created (or recreated) that table or view.
        fresh: bool,
    },
    /// `DROP INDEX`.
    DropIndex {
        /// The index.
        index: Name,
        /// The table or materialized view it indexes.
        table: Name,
    },
    /// `ADD CONSTRAINT` on a table the diff does not create.
    AddConstraint {
        /// The table.
        table: Name,
        /// The constraint's name.
        name: String,
        /// Its kind: foreign keys and checks validate every row.
        kind: ConstraintKind,
    },
    /// `ALTER TYPE … ADD VALUE`: the value cannot be used in the transaction that adds it.
    AddEnumValue(Name),
    /// A table or column renamed (or moved to another schema): what the application runs
    /// under the old name fails from then on.
    Rename {
        /// The table, by its new name.
        table: Name,
    },
    /// `ALTER TYPE … RENAME VALUE`: what the application writes under the old label fails from
    /// then on.
    RenameEnumValue(Name),
    /// SQLite's table rebuild (the first of its statements): copies every row twice.
    RebuildTable {
        /// The table.
        table: Name,
        /// Whether a column of the old table is not in the new one: its values are lost.
        drops_columns: bool,
    },
    /// `CREATE MATERIALIZED VIEW` of one the diff dropped: it is computed again from its query.
    RebuildMaterializedView(Name),
    /// Anything else.
    Other,
}

impl Statement {
    /// A statement of `kind`.
    pub fn new(kind: StatementKind, sql: String) -> Statement {
        Statement { sql, kind }
    }

    /// The table whose rows the statement works on, where it has one.
    pub fn table(&self) -> Option<&Name> {
        match &self.kind {
            StatementKind::DropTable(t) => Some(t),
            StatementKind::DropColumn { table }
            | StatementKind::AddRequiredColumn { table, .. }
            | StatementKind::AlterType { table }
            | StatementKind::SetNotNull { table, .. }
            | StatementKind::CreateIndex { table, fresh: false }
            | StatementKind::DropIndex { table, .. }
            | StatementKind::AddConstraint { table, .. }
            | StatementKind::RebuildTable { table, .. }
            | StatementKind::RebuildMaterializedView(table) => Some(table),
            _ => None,
        }
    }
}

impl From<String> for Statement {
    fn from(sql: String) -> Statement {
        Statement { sql, kind: StatementKind::Other }
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)
    }
}

/// What deserves a second look before a statement runs on a table with rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    /// Drops a table or column.
    DeletesData,
    /// Rewrites a table.
    Rewrites,
    /// Scans a table for NULLs under a lock.
    ScansForNull,
    /// Adds a NOT NULL column without a default.
    FailsOnRows,
    /// Builds an index while blocking writes.
    BlocksWrites,
    /// Validates every row under a lock.
    Validates,
    /// Adds an enum value that the same transaction cannot use.
    EnumValue,
    /// Rebuilds a table (SQLite), copying its rows.
    Rebuilds,
    /// Builds a unique index for a new key, which fails on duplicates.
    BuildsUnique,
    /// Renames what running code names.
    BreaksClients,
    /// Drops a materialized view and computes it again from its query.
    Recomputes,
}

impl Hazard {
    /// The hazard of `statement`, if it has one.
    pub fn of(statement: &Statement) -> Option<Hazard> {
        Some(match &statement.kind {
            StatementKind::DropTable(_) | StatementKind::DropColumn { .. } => Hazard::DeletesData,
            StatementKind::AlterType { .. } => Hazard::Rewrites,
            StatementKind::SetNotNull { .. } => Hazard::ScansForNull,
            StatementKind::AddRequiredColumn { .. } => Hazard::FailsOnRows,
            StatementKind::CreateIndex { fresh: false, .. } => Hazard::BlocksWrites,
            StatementKind::AddConstraint { kind: ConstraintKind::ForeignKey | ConstraintKind::Check, .. } => {
                Hazard::Validates
            }
            StatementKind::AddConstraint { kind: ConstraintKind::PrimaryKey | ConstraintKind::Unique, .. } => {
                Hazard::BuildsUnique
            }
            StatementKind::AddEnumValue(_) => Hazard::EnumValue,
            StatementKind::RebuildTable { drops_columns: true, .. } => Hazard::DeletesData,
            StatementKind::RebuildTable { drops_columns: false, .. } => Hazard::Rebuilds,
            StatementKind::Rename { .. } | StatementKind::RenameEnumValue(_) => Hazard::BreaksClients,
            StatementKind::RebuildMaterializedView(_) => Hazard::Recomputes,
            _ => return None,
        })
    }

    /// What it means for the operator, and what to do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Hazard::DeletesData => "deletes data",
            Hazard::Rewrites => {
                "rewrites the table under an ACCESS EXCLUSIVE lock, and fails if a value does not convert"
            }
            Hazard::ScansForNull => {
                "scans the table under an ACCESS EXCLUSIVE lock, and fails on a NULL (--online sets it through a validated check)"
            }
            Hazard::FailsOnRows => {
                "fails on a table with rows: add the column without NOT NULL (or with a default), backfill it, then SET NOT NULL in a later revision"
            }
            Hazard::BlocksWrites => {
                "builds an index while blocking writes (--online builds it CONCURRENTLY in a `transaction: none` revision)"
            }
            Hazard::Validates => {
                "validates every row under a lock (--online adds it NOT VALID, then VALIDATE CONSTRAINT)"
            }
            Hazard::EnumValue => {
                "a new enum value cannot be used in the transaction that adds it: if this revision uses it, move that to a revision of its own"
            }
            Hazard::BreaksClients => {
                "renames what the running application may still use: deploy the code that uses the new name with it, or add the new name, move, then drop the old (expand, backfill, contract)"
            }
            Hazard::BuildsUnique => {
                "builds a unique index while blocking writes, and fails if the rows hold duplicates (on a big table: CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … USING INDEX)"
            }
            Hazard::Rebuilds => {
                "rebuilds the table (SQLite cannot alter this in place): every row is copied while the database is locked for writes"
            }
            Hazard::Recomputes => {
                "drops the materialized view and computes it again from its query: it is missing to readers until then, and the whole query runs in this revision's transaction"
            }
        }
    }
}

/// Comment lines for the top of a generated revision: each hazardous statement's first line
/// with what it risks.
pub fn hazard_notes(statements: &[Statement]) -> Vec<String> {
    hazard_notes_sized(statements, &std::collections::BTreeMap::new())
}

/// How many rows a table holds, as far as runner could tell without a long read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// The planner's estimate (PostgreSQL's `reltuples`, from the last ANALYZE).
    About(u64),
    /// Counted.
    Exactly(u64),
    /// Counted up to a bound, which the table passed.
    MoreThan(u64),
    /// Neither an estimate (never analyzed, or empty when it was) nor a count in the time there was.
    Unknown,
}

impl Rows {
    /// `[public.orders has about 1200 rows]`, as a hazard note ends.
    fn note(self, table: &Name) -> String {
        match self {
            Rows::About(n) => format!(" [{table} has about {n} rows]"),
            Rows::Exactly(n) => format!(" [{table} has {n} rows]"),
            Rows::MoreThan(n) => format!(" [{table} has more than {n} rows]"),
            Rows::Unknown => {
                format!(" [{table}: how many rows is unknown (no planner estimate, and no count in time)]")
            }
        }
    }
}

/// [`hazard_notes`], each saying how many rows its table holds where `rows` knows (the
/// database the revision is for, read by the caller): a hazard on ten rows is no hazard.
pub fn hazard_notes_sized(statements: &[Statement], rows: &std::collections::BTreeMap<Name, Rows>) -> Vec<String> {
    statements
        .iter()
        .filter_map(|s| {
            let h = Hazard::of(s)?;
            let size = match s.table().and_then(|t| Some((t, rows.get(t)?))) {
                Some((table, n)) => n.note(table),
                None => String::new(),
            };
            Some(format!("-- hazard: {}: {}{size}", h.advice(), s.sql.lines().next().unwrap_or_default()))
        })
        .collect()
}
