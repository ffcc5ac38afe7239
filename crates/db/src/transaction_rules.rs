//! Which statements a database can run inside a transaction block, and how to tell afterwards
//! that one it cannot took effect: the facts behind running a `transaction: none` revision so that
//! its progress is recorded only after a statement succeeded, live and in an offline script.

use crate::Dialect;

impl Dialect {
    /// Whether the database can run `sql` inside a transaction block (together with the state
    /// write that records it). PostgreSQL cannot for `CONCURRENTLY` index work, `VACUUM`,
    /// databases and tablespaces, `ALTER SYSTEM`, subscriptions, a `CALL` or `DO` that commits,
    /// and transaction control itself; SQLite cannot for `VACUUM`, `ATTACH`/`DETACH`, settings
    /// (`PRAGMA x = …`, some of which are no-ops inside one) and transaction control.
    pub fn runs_in_transaction(self, sql: &str) -> bool {
        let words: Vec<String> = words(sql).collect();
        let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
        let has = |w: &str| words.iter().take(8).any(|x| x == w);
        let control = matches!(
            word(0),
            "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" | "PREPARE"
        );
        match self {
            Dialect::Postgres => {
                let never = control
                    || matches!(word(0), "VACUUM" | "CALL")
                    || (word(0) == "DO" && (words.iter().any(|w| w == "COMMIT" || w == "ROLLBACK")))
                    || (matches!(word(0), "CREATE" | "DROP") && matches!(word(1), "DATABASE" | "TABLESPACE"))
                    || (word(0) == "ALTER" && matches!(word(1), "SYSTEM"))
                    || (matches!(word(0), "CREATE" | "ALTER" | "DROP") && word(1) == "SUBSCRIPTION")
                    || (word(0) == "DISCARD" && word(1) == "ALL")
                    || (word(0) == "CLUSTER" && words.len() == 1)
                    || (word(0) == "REINDEX" && (has("CONCURRENTLY") || matches!(word(1), "SYSTEM" | "DATABASE")))
                    || (matches!(word(0), "CREATE" | "DROP" | "ALTER") && has("CONCURRENTLY"));
                !never
            }
            Dialect::Sqlite => {
                let never = control
                    || matches!(word(0), "VACUUM" | "ATTACH" | "DETACH")
                    || (word(0) == "PRAGMA" && sql.contains('='));
                !never
            }
        }
    }

    /// Whether a statement that fails inside a transaction block aborts the whole block, so that
    /// a check in it keeps what follows from committing, whatever client runs the script.
    /// PostgreSQL: yes. SQLite: no (only that statement is undone), so a SQLite script relies on
    /// its shell stopping at the first error (`.bail on`).
    pub fn error_aborts_transaction(self) -> bool {
        self == Dialect::Postgres
    }

    /// A statement that fails unless `sql`, a statement run outside a transaction block,
    /// took effect, where runner can name what it did: a PostgreSQL index built or dropped
    /// `CONCURRENTLY` (a failed concurrent build leaves an invalid index behind). `None` where it
    /// cannot say.
    pub fn effect_check(self, sql: &str) -> Option<String> {
        if self != Dialect::Postgres {
            return None;
        }
        let tokens = tokens(sql);
        let up: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
        let at = |i: usize| up.get(i).map(String::as_str).unwrap_or("");
        if at(0) == "CREATE" {
            // CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table …
            let mut i = 1;
            if at(i) == "UNIQUE" {
                i += 1;
            }
            if at(i) != "INDEX" || at(i + 1) != "CONCURRENTLY" {
                return None;
            }
            i += 2;
            if at(i) == "IF" {
                i += 3;
            }
            let name = tokens.get(i).filter(|_| at(i) != "ON")?;
            if at(i + 1) != "ON" {
                return None;
            }
            let mut j = i + 2;
            if at(j) == "ONLY" {
                j += 1;
            }
            let table = qualified(&tokens, j)?;
            let shown = format!("index {name} on {table} is missing or invalid");
            return Some(format!(
                "DO $runner$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = to_regclass({}) AND c.relname = {} AND i.indisvalid) THEN {}; END IF; END $runner$",
                crate::quote_literal(&table),
                crate::quote_literal(&folded(name)),
                raise(&shown)
            ));
        }
        if at(0) == "DROP" && at(1) == "INDEX" && at(2) == "CONCURRENTLY" {
            let mut i = 3;
            if at(i) == "IF" {
                i += 2;
            }
            let name = qualified(&tokens, i)?;
            return Some(format!(
                "DO $runner$ BEGIN IF to_regclass({}) IS NOT NULL THEN {}; END IF; END $runner$",
                crate::quote_literal(&name),
                raise(&format!("index {name} is still there"))
            ));
        }
        None
    }
}

/// `RAISE EXCEPTION` saying that the statement before did not take effect.
fn raise(what: &str) -> String {
    format!(
        "RAISE EXCEPTION {}",
        crate::quote_literal(&format!("runner: the statement before this one reported success, but {what}"))
    )
}

/// An identifier as PostgreSQL stores it: unquoted ones fold to lower case.
fn folded(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => ident.to_lowercase(),
    }
}

/// A possibly schema-qualified name starting at token `i`, as written (quotes kept).
fn qualified(tokens: &[String], i: usize) -> Option<String> {
    let first = tokens.get(i).filter(|t| is_name(t))?;
    let mut name = first.clone();
    let mut j = i + 1;
    while tokens.get(j).is_some_and(|t| t == ".") && tokens.get(j + 1).is_some_and(|t| is_name(t)) {
        name.push('.');
        name.push_str(&tokens[j + 1]);
        j += 2;
    }
    Some(name)
}

fn is_name(t: &str) -> bool {
    t.starts_with('"') || t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Words, `"quoted"` identifiers and single punctuation marks of `sql`.
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut t = String::from('"');
            chars.next();
            while let Some(c) = chars.next() {
                t.push(c);
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        t.push('"');
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            out.push(t);
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut t = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    t.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(t);
        } else {
            out.push(c.to_string());
            chars.next();
        }
    }
    out
}

/// The words of `sql`, upper-cased.
fn words(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use crate::Dialect::{Postgres, Sqlite};

    #[test]
    fn statements_that_cannot_run_in_a_transaction_are_told_apart() {
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "create unique index concurrently if not exists i on t (a)",
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "REINDEX INDEX CONCURRENTLY i",
            "VACUUM ANALYZE t",
            "CREATE DATABASE x",
            "ALTER SYSTEM SET work_mem = '1MB'",
            "CALL refresh_all()",
            "DO $$ BEGIN UPDATE t SET a = 1; COMMIT; END $$",
            "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
            "COMMIT",
        ] {
            assert!(!Postgres.runs_in_transaction(sql), "{sql}");
        }
        for sql in [
            "CREATE INDEX i ON t (a)",
            "UPDATE t SET a = 1 WHERE id < 1000",
            "SET lock_timeout = '5s'",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "DO $$ BEGIN PERFORM 1; END $$",
            "CLUSTER t USING i",
        ] {
            assert!(Postgres.runs_in_transaction(sql), "{sql}");
        }
        assert!(!Sqlite.runs_in_transaction("VACUUM"));
        assert!(!Sqlite.runs_in_transaction("PRAGMA journal_mode = WAL"));
        assert!(Sqlite.runs_in_transaction("CREATE INDEX i ON t (a)"));
    }

    #[test]
    fn a_concurrent_index_build_or_drop_is_checked_by_its_names() {
        let check = Postgres
            .effect_check("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Big_I\" ON ONLY app.\"T\" (a)")
            .unwrap();
        assert!(check.contains("to_regclass('app.\"T\"')") && check.contains("c.relname = 'Big_I'"), "{check}");
        assert!(check.contains("i.indisvalid"), "{check}");
        let check = Postgres.effect_check("create index concurrently Idx on t (a)").unwrap();
        assert!(check.contains("c.relname = 'idx'"), "{check}");
        let check = Postgres.effect_check("DROP INDEX CONCURRENTLY IF EXISTS app.idx").unwrap();
        assert!(check.contains("to_regclass('app.idx') IS NOT NULL"), "{check}");
        assert_eq!(Postgres.effect_check("CREATE INDEX CONCURRENTLY ON t (a)"), None, "no name to check");
        assert_eq!(Postgres.effect_check("VACUUM t"), None);
        assert_eq!(Sqlite.effect_check("CREATE INDEX i ON t (a)"), None);
    }
}
