//! Names as users write them in runner's own files (runner.toml, backfill manifests): the one
//! rule every reader of those files checks them by, so a name that would need quoting is refused
//! with its file and line instead of reaching SQL.

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
}
