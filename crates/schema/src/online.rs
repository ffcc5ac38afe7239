//! `--online`: a diff split into what runs in one transaction and what must not, so that no
//! statement holds a lock that blocks the application for longer than a catalog change. As
//! pg-schema-diff does: indexes on existing tables are built and dropped `CONCURRENTLY`, foreign
//! keys and checks are added `NOT VALID` and validated on their own (a validation lets writes
//! through), and `SET NOT NULL` is preceded by a validated `CHECK (c IS NOT NULL)`, which
//! PostgreSQL uses instead of scanning the table under its ACCESS EXCLUSIVE lock. A new unique
//! key or primary key on an existing table is built as a unique index `CONCURRENTLY`, then made
//! the constraint (`ADD CONSTRAINT … USING INDEX`, a catalog change); an index whose definition
//! changes is built again under a passing name, the old one dropped, the new one renamed, so the
//! table is never without it.
//!
//! The second part runs after the first, each statement committed on its own (a
//! `transaction: none` revision), and every statement in it can run again after a failure: a
//! concurrent build that failed leaves an invalid index behind, so it is dropped first.

use crate::model::{ConstraintKind, Name};
use crate::renames::printed_part;
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
    // Indexes dropped only to be created again with another definition: swapped instead.
    let created: Vec<Name> = statements
        .iter()
        .filter_map(|s| match &s.kind {
            StatementKind::CreateIndex { fresh: false, .. } => Some(created_index(s)),
            _ => None,
        })
        .collect();
    let swapped = |index: &Name, table: &Name| {
        !retyped.contains(&table) && !taken.contains(&index.name.as_str()) && created.contains(index)
    };
    let other = |sql: String| Statement::new(StatementKind::Other, sql);
    let mut placed: Vec<Option<Vec<Statement>>> = statements
        .iter()
        .map(|s| match &s.kind {
            StatementKind::CreateIndex { fresh: false, .. } => {
                let (head, rest) = s.sql.split_once("INDEX ").unwrap_or(("", &s.sql));
                let name = created_index(s);
                let replaced = statements.iter().any(|d| {
                    matches!(&d.kind, StatementKind::DropIndex { index, table: t } if *index == name && swapped(index, t))
                });
                if !replaced {
                    return Some(vec![
                        other(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", name.sql())),
                        other(format!("{head}INDEX CONCURRENTLY {rest}")),
                    ]);
                }
                // Built beside the old one under a passing name, then put in its place.
                let passing = Name::new(&name.schema, &truncated(&format!("{}__runner_new", name.name)));
                let (_, after_name) = rest.split_once(" ON ").unwrap_or(("", rest));
                Some(vec![
                    other(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", passing.sql())),
                    other(format!("{head}INDEX CONCURRENTLY {} ON {after_name}", quote_part(&passing.name))),
                    other(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", name.sql())),
                    other(format!("ALTER INDEX {} RENAME TO {};", passing.sql(), quote_part(&name.name))),
                ])
            }
            // Dropped where the new one takes its place (above).
            StatementKind::DropIndex { index, table } if swapped(index, table) => Some(Vec::new()),
            StatementKind::DropIndex { index, table }
                if !retyped.contains(&table) && !taken.contains(&index.name.as_str()) =>
            {
                Some(vec![other(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", index.sql()))])
            }
            StatementKind::AddConstraint { table, name, kind: kind @ (ConstraintKind::Unique | ConstraintKind::PrimaryKey) } => {
                let (index_body, deferrable) = unique_index(&s.sql)?;
                let (t, n) = (table.sql(), quote_part(name));
                let index = Name::new(&table.schema, name).sql();
                let what = if *kind == ConstraintKind::PrimaryKey { "PRIMARY KEY" } else { "UNIQUE" };
                // The index is built without blocking writes; the constraint then takes it over.
                Some(vec![
                    other(format!("DROP INDEX CONCURRENTLY IF EXISTS {index};")),
                    other(format!("CREATE UNIQUE INDEX CONCURRENTLY {n} ON {t} {index_body};")),
                    other(format!("ALTER TABLE {t} ADD CONSTRAINT {n} {what} USING INDEX {n}{deferrable};")),
                ])
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
        .collect();
    // A foreign key the transaction would add (on a new table) that references a table whose
    // unique key is built in the concurrent part: it must wait for that key.
    let keyed_later: Vec<String> = statements
        .iter()
        .zip(&placed)
        .filter(|(_, p)| p.is_some())
        .filter_map(|(s, _)| match &s.kind {
            StatementKind::CreateIndex { table, .. } if s.sql.starts_with("CREATE UNIQUE ") => Some(table),
            StatementKind::AddConstraint {
                table, kind: ConstraintKind::Unique | ConstraintKind::PrimaryKey, ..
            } => Some(table),
            _ => None,
        })
        .map(|t| format!("REFERENCES {}.{}(", printed_part(&t.schema), printed_part(&t.name)))
        .collect();
    for (s, p) in statements.iter().zip(placed.iter_mut()) {
        if p.is_none() && s.sql.contains(" FOREIGN KEY (") && keyed_later.iter().any(|r| s.sql.contains(r.as_str())) {
            *p = Some(vec![s.clone()]);
        }
    }
    placed
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

/// The index a `CREATE INDEX` statement makes (its name bare, as `pg_get_indexdef` prints it, in
/// its table's schema).
fn created_index(s: &Statement) -> Name {
    let schema = match &s.kind {
        StatementKind::CreateIndex { table, .. } => table.schema.as_str(),
        _ => "public",
    };
    let rest = s.sql.split_once("INDEX ").map_or(s.sql.as_str(), |(_, r)| r);
    let name = rest.split(" ON ").next().unwrap_or_default().trim();
    let bare = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).map(|n| n.replace("\"\"", "\""));
    Name::new(schema, &bare.unwrap_or_else(|| name.to_string()))
}

/// A name cut to the 63 bytes PostgreSQL keeps, on a character boundary.
fn truncated(name: &str) -> String {
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// From `ALTER TABLE … ADD CONSTRAINT n UNIQUE [NULLS NOT DISTINCT] (cols) [INCLUDE (…)] [WITH
/// (…)] [DEFERRABLE …]` (or `PRIMARY KEY (…)`): what follows the table in the unique index that
/// can stand in for it, and the deferrability the constraint keeps. `None` for what an index
/// cannot carry (a tablespace clause).
fn unique_index(sql: &str) -> Option<(String, String)> {
    let def = sql.trim_end().trim_end_matches(';');
    let at = def
        .find(" UNIQUE ")
        .map(|i| i + " UNIQUE ".len())
        .or_else(|| def.find(" PRIMARY KEY ").map(|i| i + " PRIMARY KEY ".len()))?;
    let mut body = def[at..].trim().to_string();
    if body.contains("USING INDEX TABLESPACE") {
        return None;
    }
    let mut deferrable = String::new();
    for clause in [" NOT DEFERRABLE", " DEFERRABLE", " INITIALLY DEFERRED", " INITIALLY IMMEDIATE"] {
        if let Some(i) = body.find(clause) {
            deferrable = body[i..].to_string();
            body.truncate(i);
            break;
        }
    }
    // `NULLS NOT DISTINCT` comes before the columns in a constraint, after them in an index.
    if let Some(rest) = body.strip_prefix("NULLS NOT DISTINCT ") {
        let close = rest.find(')')?;
        body = format!("{} NULLS NOT DISTINCT{}", &rest[..=close], &rest[close + 1..]);
    }
    Some((body.trim().to_string(), deferrable))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(kind: StatementKind, sql: &str) -> Statement {
        Statement::new(kind, sql.to_string())
    }

    #[test]
    fn a_foreign_key_to_a_key_built_concurrently_waits_for_it() {
        let accounts = Name::new("public", "accounts");
        let statements = vec![
            st(StatementKind::Other, "CREATE TABLE \"public\".\"sessions\" (\"email\" text);"),
            st(
                StatementKind::CreateIndex { table: accounts, fresh: false },
                "CREATE UNIQUE INDEX accounts_email ON public.accounts USING btree (email);",
            ),
            st(
                StatementKind::Other,
                "ALTER TABLE \"public\".\"sessions\" ADD CONSTRAINT \"s_fk\" FOREIGN KEY (email) REFERENCES public.accounts(email);",
            ),
            st(
                StatementKind::Other,
                "ALTER TABLE \"public\".\"sessions\" ADD CONSTRAINT \"o_fk\" FOREIGN KEY (email) REFERENCES public.other(email);",
            ),
        ];
        let o = online(&statements);
        let sql = |v: &[Statement]| v.iter().map(|s| s.sql.clone()).collect::<Vec<_>>();
        assert_eq!(sql(&o.transactional), [statements[0].sql.clone(), statements[3].sql.clone()]);
        assert_eq!(o.concurrent.last().map(|s| s.sql.clone()), Some(statements[2].sql.clone()));
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
    fn a_new_unique_key_is_built_concurrently_and_a_changed_index_is_swapped_in() {
        let t = Name::new("public", "t");
        let unique =
            |kind, sql: &str| st(StatementKind::AddConstraint { table: t.clone(), name: "t_ab".into(), kind }, sql);
        let statements = vec![
            st(
                StatementKind::DropIndex { index: Name::new("public", "t_c"), table: t.clone() },
                "DROP INDEX \"public\".\"t_c\";",
            ),
            unique(
                ConstraintKind::Unique,
                "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_ab\" UNIQUE NULLS NOT DISTINCT (a, b) INCLUDE (c) DEFERRABLE INITIALLY DEFERRED;",
            ),
            st(
                StatementKind::CreateIndex { table: t.clone(), fresh: false },
                "CREATE INDEX t_c ON public.t USING btree (c, d);",
            ),
        ];
        let o = online(&statements);
        assert!(o.transactional.is_empty(), "{:?}", o.transactional);
        let sql: Vec<String> = o.concurrent.into_iter().map(|s| s.sql).collect();
        assert_eq!(
            sql,
            [
                "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"t_ab\";",
                "CREATE UNIQUE INDEX CONCURRENTLY \"t_ab\" ON \"public\".\"t\" (a, b) NULLS NOT DISTINCT INCLUDE (c);",
                "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_ab\" UNIQUE USING INDEX \"t_ab\" DEFERRABLE INITIALLY DEFERRED;",
                "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"t_c__runner_new\";",
                "CREATE INDEX CONCURRENTLY \"t_c__runner_new\" ON public.t USING btree (c, d);",
                "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"t_c\";",
                "ALTER INDEX \"public\".\"t_c__runner_new\" RENAME TO \"t_c\";",
            ]
        );
        let pk = online(&[unique(
            ConstraintKind::PrimaryKey,
            "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_ab\" PRIMARY KEY (a);",
        )]);
        assert_eq!(
            pk.concurrent[2].sql,
            "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_ab\" PRIMARY KEY USING INDEX \"t_ab\";"
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
