//! Revision checksums.
//!
//! Algorithm `sha256-v1`: SHA-256 over the normalised text of the revision, hex encoded, stored as
//! `sha256-v1:<hex>`. Normalisation removes what editors, git and formatters change without
//! changing meaning: a UTF-8 byte-order mark, CRLF and lone CR line endings (→ LF), whitespace at
//! the end of each line, and blank lines at the end of the file. CRLF checkouts changing
//! checksums is a classic complaint (launchbadge/sqlx#2659). The one thing this gives up is the
//! trailing spaces of a line inside a multi-line string literal; that trade is deliberate.
//!
//! The tag is stored with the hash so that a future algorithm can be introduced without every
//! applied revision suddenly reporting drift (liquibase/liquibase#4457 is what happens otherwise):
//! a stored checksum with an older tag is compared with that older algorithm.

use sha2::{Digest, Sha256};
use std::fmt;

/// The tag of the current algorithm.
pub const ALGORITHM: &str = "sha256-v1";

/// A tagged checksum such as `sha256-v1:9f86d0…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct Checksum(String);

impl Checksum {
    /// Checksum of one or more texts (e.g. an `.up.sql` and its `.down.sql`), each normalised.
    pub fn of_parts(parts: &[&str]) -> Checksum {
        let mut hasher = Sha256::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                // A separator that cannot appear in normalised text keeps ("ab","") ≠ ("a","b").
                hasher.update([0u8]);
            }
            hasher.update(normalise(part).as_bytes());
        }
        Checksum(format!("{ALGORITHM}:{}", hex::encode(hasher.finalize())))
    }

    /// Checksum of statements (an unfinished no-transaction revision's completed ones): what must
    /// not change for `apply --resume` to continue it, while statements not yet run may be edited.
    pub fn of_statements(statements: &[crate::splitter::Statement]) -> Checksum {
        let texts: Vec<&str> = statements.iter().map(|s| s.sql.as_str()).collect();
        Checksum::of_parts(&texts)
    }

    /// A checksum read back from the state table.
    pub fn from_stored(s: &str) -> Checksum {
        Checksum(s.to_string())
    }

    /// The checksum as stored (hex).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a stored checksum was computed with an algorithm this build knows.
    pub fn is_known_algorithm(&self) -> bool {
        self.0.starts_with(&format!("{ALGORITHM}:"))
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Checksum> for String {
    fn from(c: Checksum) -> String {
        c.0
    }
}

/// The normalised form that is hashed (see the module documentation).
pub fn normalise(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        out.push_str(line.trim_end_matches([' ', '\t']));
        out.push('\n');
    }
    let trimmed = out.trim_end_matches(['\n', ' ', '\t']).len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_bom_and_trailing_space_do_not_change_the_checksum() {
        let lf = Checksum::of_parts(&["CREATE TABLE t (id int);\nSELECT 1;\n"]);
        let crlf = Checksum::of_parts(&["CREATE TABLE t (id int);\r\nSELECT 1;\r\n"]);
        let bom = Checksum::of_parts(&["\u{feff}CREATE TABLE t (id int);\nSELECT 1;\n"]);
        let spaces = Checksum::of_parts(&["CREATE TABLE t (id int);   \nSELECT 1;\t\n\n\n"]);
        let no_newline = Checksum::of_parts(&["CREATE TABLE t (id int);\nSELECT 1;"]);
        assert_eq!(lf, crlf);
        assert_eq!(lf, bom);
        assert_eq!(lf, spaces);
        assert_eq!(lf, no_newline);
    }

    #[test]
    fn a_real_edit_changes_the_checksum() {
        let a = Checksum::of_parts(&["CREATE TABLE t (id int);"]);
        let b = Checksum::of_parts(&["CREATE TABLE t (id bigint);"]);
        assert_ne!(a, b);
    }

    #[test]
    fn parts_are_separated() {
        assert_ne!(Checksum::of_parts(&["ab", ""]), Checksum::of_parts(&["a", "b"]));
    }

    #[test]
    fn checksum_is_tagged_and_stable() {
        // Pinned: changing this value breaks every database that recorded it.
        let c = Checksum::of_parts(&["SELECT 1;"]);
        assert_eq!(c.as_str(), "sha256-v1:17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a");
        assert!(c.is_known_algorithm());
    }
}
