//! `--online`: a diff split into what runs in one transaction and what must not, so that no
//! statement holds a lock that blocks the application for longer than a catalog change. As
//! pg-schema-diff does: indexes on existing tables are built and dropped `CONCURRENTLY`, foreign
//! keys and checks are added `NOT VALID` and validated on their own (a validation lets writes
//! through), and `SET NOT NULL` is preceded by a validated `CHECK (c IS NOT NULL)`, which
//! PostgreSQL uses instead of scanning the table under its ACCESS EXCLUSIVE lock.
//!
//! The second part runs after the first, each statement committed on its own (a
//! `transaction: none` revision), and every statement in it can run again after a failure: a
//! concurrent build that failed leaves an invalid index behind, so it is dropped first.

use crate::model::{ConstraintKind, Name};
use crate::statement::{Statement, StatementKind};
use runner_db::quote_part;

/// A diff split for `--online`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Online {
    /// What runs in one transaction, first.
    pub transactional: Vec<Statement>,
    /// What runs after it, each statement on its own.
    pub concurrent: Vec<Statement>,
}

/// `statements` (a diff's, in order) split for `--online`.
pub fn online(statements: &[Statement]) -> Online {
    let mut out = Online::default();
    for (s, online) in statements.iter().zip(placed(statements)) {
        match online {
            Some(concurrent) => out.concurrent.extend(concurrent),
            None => out.transactional.push(s.clone()),
        }
    }
    out
}

/// `statements` as a `transaction: none` revision runs them, in their order: each that
/// `--online` would move out of the transaction in its concurrent form, the rest as they are.
pub fn concurrent_in_order(statements: &[Statement]) -> Vec<Statement> {
    statements
        .iter()
        .zip(placed(statements))
        .flat_map(|(s, online)| online.unwrap_or_else(|| vec![s.clone()]))
        .collect()
}

/// For each statement, its concurrent form, or `None` where it stays in the transaction.
fn placed(statements: &[Statement]) -> Vec<Option<Vec<Statement>>> {
    // An index whose table the first part retypes is rebuilt there anyway; one whose name a
    // constraint of the first part takes must be gone before it.
    let retyped: Vec<&Name> = statements
        .iter()
        .filter_map(|s| match &s.kind {
            StatementKind::AlterType { table } => Some(table),
            _ => None,
        })
        .collect();
    let taken: Vec<&str> = statements
        .iter()
        .filter_map(|s| match &s.kind {
            StatementKind::AddConstraint { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let other = |sql: String| Statement::new(StatementKind::Other, sql);
    statements
        .iter()
        .map(|s| match &s.kind {
            StatementKind::CreateIndex { fresh: false, .. } => {
                let (head, rest) = s.sql.split_once("INDEX ").unwrap_or(("", &s.sql));
                let name = rest.split(" ON ").next().unwrap_or_default();
                Some(vec![
                    other(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", qualified_index(name, s))),
                    other(format!("{head}INDEX CONCURRENTLY {rest}")),
                ])
            }
            StatementKind::DropIndex { index, table }
                if !retyped.contains(&table) && !taken.contains(&index.name.as_str()) =>
            {
                Some(vec![other(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", index.sql()))])
            }
            StatementKind::AddConstraint { table, name, kind: ConstraintKind::ForeignKey | ConstraintKind::Check }
                if !s.sql.trim_end_matches(';').ends_with("NOT VALID") =>
            {
                let constraint = quote_part(name);
                let add = s.sql.trim_end().trim_end_matches(';');
                // Dropped first, so that a rerun after a failed validation starts again.
                Some(vec![
                    other(format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {constraint};", table.sql())),
                    other(format!("{add} NOT VALID;")),
                    other(format!("ALTER TABLE {} VALIDATE CONSTRAINT {constraint};", table.sql())),
                ])
            }
            StatementKind::SetNotNull { table, column } => {
                let (t, c) = (table.sql(), quote_part(column));
                let check = quote_part(&not_null_check(&table.name, column));
                Some(vec![
                    other(format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check};")),
                    other(format!("ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID;")),
                    other(format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check};")),
                    other(format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;")),
                    other(format!("ALTER TABLE {t} DROP CONSTRAINT {check};")),
                ])
            }
            _ => None,
        })
        .collect()
}

/// The name of the check that stands in for NOT NULL while it is validated.
fn not_null_check(table: &str, column: &str) -> String {
    // runner's own prefix: a check of the user's by the natural name (`t_c_not_null`) is
    // never the one dropped and re-added here.
    let name = format!("runner_not_null_{table}_{column}");
    // PostgreSQL keeps 63 bytes of a name; cut on a character boundary so both uses agree.
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// An index named in a `CREATE INDEX` statement (bare, as `pg_get_indexdef` prints it), in its
/// table's schema.
fn qualified_index(name: &str, s: &Statement) -> String {
    let schema = match &s.kind {
        StatementKind::CreateIndex { table, .. } => table.schema.as_str(),
        _ => "public",
    };
    let name = name.trim();
    let bare = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).map(|n| n.replace("\"\"", "\""));
    Name::new(schema, &bare.unwrap_or_else(|| name.to_string())).sql()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(kind: StatementKind, sql: &str) -> Statement {
        Statement::new(kind, sql.to_string())
    }

    #[test]
    fn only_what_locks_an_existing_table_moves_out_of_the_transaction() {
        let t = Name::new("public", "t");
        let statements = vec![
            st(StatementKind::Other, "ALTER TABLE \"public\".\"t\" ADD COLUMN \"c\" integer;"),
            st(
                StatementKind::CreateIndex { table: t.clone(), fresh: false },
                "CREATE UNIQUE INDEX t_c ON public.t USING btree (c);",
            ),
            st(
                StatementKind::CreateIndex { table: Name::new("public", "new"), fresh: true },
                "CREATE INDEX n_c ON public.new USING btree (c);",
            ),
            st(
                StatementKind::SetNotNull { table: t.clone(), column: "c".into() },
                "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"c\" SET NOT NULL;",
            ),
            st(
                StatementKind::AddConstraint {
                    table: t.clone(),
                    name: "t_fk".into(),
                    kind: ConstraintKind::ForeignKey,
                },
                "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_fk\" FOREIGN KEY (c) REFERENCES public.u(id);",
            ),
            st(
                StatementKind::DropIndex { index: Name::new("public", "old"), table: t.clone() },
                "DROP INDEX \"public\".\"old\";",
            ),
        ];
        let o = online(&statements);
        let sql = |v: &[Statement]| v.iter().map(|s| s.sql.clone()).collect::<Vec<_>>();
        assert_eq!(sql(&o.transactional), [statements[0].sql.clone(), statements[2].sql.clone()]);
        assert_eq!(
            sql(&o.concurrent),
            [
                "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"t_c\";",
                "CREATE UNIQUE INDEX CONCURRENTLY t_c ON public.t USING btree (c);",
                "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT IF EXISTS \"runner_not_null_t_c\";",
                "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"runner_not_null_t_c\" CHECK (\"c\" IS NOT NULL) NOT VALID;",
                "ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT \"runner_not_null_t_c\";",
                "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"c\" SET NOT NULL;",
                "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT \"runner_not_null_t_c\";",
                "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT IF EXISTS \"t_fk\";",
                "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_fk\" FOREIGN KEY (c) REFERENCES public.u(id) NOT VALID;",
                "ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT \"t_fk\";",
                "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"old\";",
            ]
        );
    }

    #[test]
    fn a_concurrent_revision_keeps_the_order_it_was_given() {
        let t = Name::new("public", "t");
        let statements = vec![
            st(StatementKind::Other, "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT \"c\";"),
            st(
                StatementKind::CreateIndex { table: t.clone(), fresh: false },
                "CREATE INDEX i ON public.t USING btree (c);",
            ),
            st(StatementKind::Other, "ALTER TABLE \"public\".\"t\" DROP COLUMN \"d\";"),
        ];
        let sql: Vec<String> = concurrent_in_order(&statements).into_iter().map(|s| s.sql).collect();
        assert_eq!(
            sql,
            [
                statements[0].sql.as_str(),
                "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"i\";",
                "CREATE INDEX CONCURRENTLY i ON public.t USING btree (c);",
                statements[2].sql.as_str(),
            ]
        );
    }
}
