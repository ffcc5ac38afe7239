//! Identifiers in SQL that `runner` writes: the one place they are quoted.

/// `name` quoted as an identifier, each part of a dotted `schema.table` on its own (`"a"."b"`),
/// with embedded quotes doubled. Every table, column, view and index name `runner` puts into a
/// statement goes through here, so that `ScoreBands` never folds to `scorebands` and no name
/// can end the identifier early.
pub fn quote_ident(name: &str) -> String {
    name.split('.').map(|p| format!("\"{}\"", p.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn quotes_each_part_and_doubles_quotes() {
        assert_eq!(quote_ident("ScoreBands"), "\"ScoreBands\"");
        assert_eq!(quote_ident("public.scores"), "\"public\".\"scores\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
