//! Identifiers in SQL that `runner` writes: the one place they are quoted.

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

/// One identifier quoted as it is, dots included: for names read from a catalog, where a dot is
/// part of the name rather than a separator.
pub fn quote_part(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A name as users write it in runner's own files (a backfill, refresh or state table name, a
/// column): ASCII letters, digits and `_`, not starting with a digit. Names outside this rule
/// are refused where they are read, with the file and line, rather than quoted into SQL.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A table, view or index name: a plain name, or `schema.name` of two plain names.
pub fn is_plain_table(s: &str) -> bool {
    match s.split_once('.') {
        Some((schema, name)) => is_plain_name(schema) && is_plain_name(name),
        None => is_plain_name(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_and_tables() {
        for ok in ["scores", "Score_Bands2", "_x"] {
            assert!(is_plain_name(ok) && is_plain_table(ok), "{ok}");
        }
        for bad in ["", "1st", "a-b", "a b", "a.b", "naïve", "a\"b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
        assert!(is_plain_table("public.scores"));
        for bad in ["a.b.c", ".a", "a.", "1a.b", "a.1b"] {
            assert!(!is_plain_table(bad), "{bad}");
        }
    }

    #[test]
    fn quotes_each_part_and_doubles_quotes() {
        assert_eq!(quote_ident("ScoreBands"), "\"ScoreBands\"");
        assert_eq!(quote_ident("public.scores"), "\"public\".\"scores\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
