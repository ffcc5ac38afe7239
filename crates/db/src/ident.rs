//! Identifiers and string literals in SQL that `runner` writes: the one place they are quoted.

use crate::Dialect;

/// `name` quoted as an identifier, each part of a dotted `schema.table` on its own (`"a"."b"`),
/// with embedded quotes doubled. Every table, column, view and index name `runner` puts into a
/// statement goes through here, so that `ScoreBands` never folds to `scorebands` and no name
/// can end the identifier early.
pub fn quote_ident(name: &str) -> String {
    name.split('.').map(quote_part).collect::<Vec<_>>().join(".")
}

/// `s` as a standard SQL string literal, quotes doubled: for names and labels that go into a
/// statement as values (a catalog lookup, an enum label). Both databases read it the same way
/// (PostgreSQL with `standard_conforming_strings`, its default since 9.1).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Dialect {
    /// `value` as a string literal that means the same whatever `standard_conforming_strings` a
    /// revision set for the session (PostgreSQL: `E'…'` when it holds a backslash): for what
    /// runner writes after the user's SQL ran on the same session (state rows, progress).
    pub fn quote_literal(self, value: &str) -> String {
        match self {
            Dialect::Postgres if value.contains('\\') => {
                format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
            }
            _ => quote_literal(value),
        }
    }
}

/// One identifier quoted as it is, dots included: for names read from a catalog, where a dot is
/// part of the name rather than a separator.
pub fn quote_part(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_each_part_and_doubles_quotes() {
        assert_eq!(quote_ident("ScoreBands"), "\"ScoreBands\"");
        assert_eq!(quote_ident("public.scores"), "\"public\".\"scores\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
