//! Where in a TOML file a parse error is, for errors that name `file:line` (revision metadata,
//! backfill manifests, `runner.toml` all report through this).

/// The 1-based line of `e` in `text`; line 1 when the error has no position.
pub fn toml_error_line(text: &str, e: &toml::de::Error) -> usize {
    e.span().map_or(1, |s| line_of_offset(text, s.start))
}

/// The 1-based line holding byte `offset` of `text` (an offset past the end, or inside a
/// character, counts the newlines before it rather than panicking).
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> usize {
        let e = toml::from_str::<toml::Table>(text).expect_err("invalid TOML");
        toml_error_line(text, &e)
    }

    #[test]
    fn names_the_line_of_the_error() {
        assert_eq!(line("a = 1\nb = \"ü\"\nc = = 3\n"), 3);
        // An error at the very end of the text (unterminated string) is on its last line.
        assert_eq!(line("a = 1\nb = \"open"), 2);
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_do_not_panic() {
        assert_eq!(line_of_offset("a\nb", 99), 2);
        assert_eq!(line_of_offset("ü\nx", 1), 1);
    }
}
