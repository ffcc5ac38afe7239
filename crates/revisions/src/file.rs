//! One revision and the native revision file format.
//!
//! A native file holds both directions under a small header of `-- key: value` comments:
//!
//! ```sql
//! -- id: 20261121083000
//! -- parents: 20261120120000
//! -- description: add user preferences
//! -- transaction: none
//!
//! -- runner:up
//! CREATE INDEX CONCURRENTLY users_email ON users (email);
//!
//! -- runner:down
//! DROP INDEX CONCURRENTLY users_email;
//! ```
//!
//! Every header key is optional. A file with no `-- runner:up` marker is all "up" (a plain numbered
//! folder of SQL files works as is); a missing `-- runner:down` section makes the revision
//! irreversible, while an empty one is an explicit no-op. Header keys are checked strictly: a typo
//! such as `-- parent: x` is an error, not a silently ignored comment.

use crate::checksum::Checksum;
use crate::error::RevisionError;
use crate::splitter::{self, Statement};
use std::path::{Path, PathBuf};

/// How a revision is wrapped in transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxMode {
    /// The revision and its state-table write commit together, or not at all.
    #[default]
    PerRevision,
    /// Statement by statement, with progress recorded after each (for `CREATE INDEX CONCURRENTLY`).
    None,
}

/// One direction of a revision.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Script {
    /// Its statements, in order.
    pub statements: Vec<Statement>,
    /// The file this script was read from (two-file layouts have one per direction).
    pub file: PathBuf,
}

/// The file layout a revision was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `runner`'s own single file with header and `-- runner:up` / `-- runner:down`.
    Native,
    /// `NNN_name.up.sql` + `NNN_name.down.sql` (sqlx, golang-migrate), or sqlx's `NNN_name.sql`.
    UpDownFiles,
    /// diesel's `NAME/up.sql` + `NAME/down.sql` (+ `metadata.toml`).
    Diesel,
}

/// One revision: its header, both directions, and where it was read from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Revision {
    /// Its id (`0042`, `20261203064749`).
    pub id: String,
    /// `None` when the file declared nothing: the layout then orders revisions by name.
    pub parents: Option<Vec<String>>,
    /// What it does, from its header or its name.
    pub description: String,
    /// How it is wrapped in transactions.
    pub tx: TxMode,
    /// The up direction.
    pub up: Script,
    /// The down direction; `None` for an irreversible revision.
    pub down: Option<Script>,
    /// The checksum of its up script, compared with the recorded one (drift).
    pub checksum: Checksum,
    /// Backfills that must be complete before this revision runs (expand → backfill → contract).
    pub requires_backfills: Vec<String>,
    /// A manifest in `backfills/` whose plugin runs over its table inside this revision's
    /// transaction, after its SQL (an atomic data migration).
    pub data_migration: Option<String>,
    /// The layout it was read from.
    pub format: Format,
    /// The file (or folder) that names the revision; what errors point at.
    pub path: PathBuf,
    /// Sort key inside the folder: name order for layouts without declared parents.
    #[serde(skip)]
    pub sort_name: String,
}

impl Revision {
    /// Whether it has a down section.
    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }
}

/// Id and description derived from a file or folder name: `0042_add_users` → (`0042`, "add users").
/// A name without a numeric prefix is its own id.
pub fn id_from_name(stem: &str) -> (String, String) {
    let digits: String = stem.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    let digits = digits.trim_end_matches('-');
    if !digits.is_empty() {
        if let Some(rest) = stem[digits.len()..].strip_prefix('_') {
            return (digits.to_string(), rest.replace('_', " "));
        }
        if digits.len() == stem.len() {
            return (digits.to_string(), String::new());
        }
    }
    (stem.to_string(), stem.replace('_', " "))
}

const KNOWN_KEYS: &[&str] = &["id", "parents", "description", "transaction", "requires-backfill", "data-migration"];

/// Parses a native revision file. `stem` is the file name without `.sql`.
pub fn parse_native(path: &Path, text: &str) -> Result<Revision, RevisionError> {
    let err = |line: usize, message: String| RevisionError::Parse { file: path.to_path_buf(), line, message };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let (up_at, down_at) = sections(&lines).map_err(|(line, message)| err(line, message))?;

    // The header is everything before `-- runner:up`; without the marker only a leading block of
    // comment lines can be a header (it is then also part of the up script, harmlessly).
    let header_end = up_at.unwrap_or_else(|| lines.iter().position(|l| !is_comment_or_blank(l)).unwrap_or(lines.len()));
    let (default_id, default_description) = id_from_name(stem);
    let mut h = Header { id: default_id, description: default_description, ..Header::default() };
    h.read(&lines[..header_end], up_at.is_some()).map_err(|(line, message)| err(line, message))?;

    let (up_range, down_range) = match (up_at, down_at) {
        (Some(u), Some(d)) => ((u + 1, d), Some((d + 1, lines.len()))),
        (Some(u), None) => ((u + 1, lines.len()), None),
        (None, _) => ((0, lines.len()), None),
    };
    let script = |(from, to): (usize, usize)| Script {
        statements: splitter::split(&lines[from..to].join("\n"), from + 1),
        file: path.to_path_buf(),
    };
    let is_todo = |l: &&str| l.trim().strip_prefix("--").is_some_and(|c| c.trim().eq_ignore_ascii_case(TODO_MARKER));
    if let Some(i) = lines[up_range.0..up_range.1].iter().position(is_todo) {
        return Err(err(
            up_range.0 + i + 1,
            format!("`-- {TODO_MARKER}` belongs in the down section (it marks the down SQL as not written yet)"),
        ));
    }
    let down_range = down_range.filter(|(from, to)| !lines[*from..*to].iter().any(is_todo));
    Ok(Revision {
        id: h.id,
        parents: h.parents,
        description: h.description,
        tx: h.tx,
        up: script(up_range),
        down: down_range.map(script),
        checksum: Checksum::of_parts(&[text]),
        requires_backfills: h.requires_backfills,
        data_migration: h.data_migration,
        format: crate::file::Format::Native,
        path: path.to_path_buf(),
        sort_name: stem.to_string(),
    })
}

/// A problem at a 1-based line of the file being parsed.
type LineError = (usize, String);

/// The lines of the `-- runner:up` and `-- runner:down` markers, checked: at most one of each,
/// down after up, and no near-miss spelling of either.
fn sections(lines: &[&str]) -> Result<(Option<usize>, Option<usize>), LineError> {
    let marker = |l: &str| -> Option<&'static str> {
        let t = l.trim().strip_prefix("--")?.trim().to_ascii_lowercase();
        match t.as_str() {
            "runner:up" => Some("up"),
            "runner:down" => Some("down"),
            _ => None,
        }
    };
    // A typo in a marker must not silently turn the down section into more of the up section.
    for (i, l) in lines.iter().enumerate() {
        if let Some(message) = bad_marker(l) {
            return Err((i + 1, message));
        }
    }
    let up_at = lines.iter().position(|l| marker(l) == Some("up"));
    let down_at = lines.iter().position(|l| marker(l) == Some("down"));
    for (i, l) in lines.iter().enumerate() {
        if marker(l).is_some() && Some(i) != up_at && Some(i) != down_at {
            return Err((i + 1, format!("second `{}` marker", l.trim())));
        }
    }
    match (up_at, down_at) {
        (Some(u), Some(d)) if d < u => Err((d + 1, "`-- runner:down` comes before `-- runner:up`".into())),
        (None, Some(d)) => Err((d + 1, "`-- runner:down` without a `-- runner:up` section".into())),
        _ => Ok((up_at, down_at)),
    }
}

/// What a revision's header comments declare.
#[derive(Default)]
struct Header {
    id: String,
    parents: Option<Vec<String>>,
    description: String,
    tx: TxMode,
    requires_backfills: Vec<String>,
    data_migration: Option<String>,
}

impl Header {
    /// Reads `-- key: value` lines. `strict` (the file has a `-- runner:up` marker, so the
    /// header is surely a header): an unknown key is a typo to report, not prose.
    fn read(&mut self, lines: &[&str], strict: bool) -> Result<(), LineError> {
        for (i, raw) in lines.iter().enumerate() {
            let line_no = i + 1;
            let l = raw.trim();
            if l.is_empty() {
                continue;
            }
            let Some(comment) = l.strip_prefix("--") else {
                return Err((line_no, "SQL before the `-- runner:up` marker (move it below the marker)".into()));
            };
            let comment = comment.trim();
            if comment.eq_ignore_ascii_case("no-transaction") {
                self.tx = TxMode::None;
                continue;
            }
            let Some((key, value)) = comment.split_once(':') else {
                continue;
            };
            let key = key.trim();
            // Only `word: value` comments are header keys; prose comments pass through.
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_') {
                continue;
            }
            self.set(key, value.trim(), strict).map_err(|message| (line_no, message))?;
        }
        if self.data_migration.is_some() && self.tx == TxMode::None {
            return Err((
                1,
                "`data-migration` runs inside the revision's transaction; it cannot be combined with `transaction: none`"
                    .into(),
            ));
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str, strict: bool) -> Result<(), String> {
        match key {
            "id" => {
                if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == ',') {
                    return Err(format!("invalid id `{value}`: use letters, digits, `_`, `-`, `.`"));
                }
                self.id = value.to_string();
            }
            "parents" => self.parents = Some(parse_parents(value)),
            "description" => self.description = value.to_string(),
            "data-migration" => self.data_migration = Some(value.to_string()).filter(|v| !v.is_empty()),
            "requires-backfill" => {
                self.requires_backfills = value.split([',', ' ']).filter(|s| !s.is_empty()).map(String::from).collect();
            }
            "transaction" => {
                self.tx = match value {
                    "per-revision" | "true" | "yes" => TxMode::PerRevision,
                    "none" | "false" | "no" => TxMode::None,
                    other => {
                        return Err(format!("invalid transaction mode `{other}`: expected `per-revision` or `none`"));
                    }
                }
            }
            other if strict => {
                let near =
                    KNOWN_KEYS.iter().min_by_key(|k| edit_distance(other, k)).filter(|k| edit_distance(other, k) <= 2);
                let hint = near.map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
                return Err(format!("unknown header key `{other}`{hint}; known keys: {}", KNOWN_KEYS.join(", ")));
            }
            _ => {}
        }
        Ok(())
    }
}

/// In a down section, the placeholder `runner new` writes: the section is not written yet, so
/// the revision counts as irreversible (`revert` refuses) rather than as an explicit no-op.
pub const TODO_MARKER: &str = "runner:todo";

/// Why a comment line that looks like a section marker (`-- runner:…`, `-- runner: down`) is not
/// one of `-- runner:up` and `-- runner:down`.
fn bad_marker(line: &str) -> Option<String> {
    let text = line.trim().strip_prefix("--")?.trim();
    let lower = text.to_ascii_lowercase();
    let rest = lower.strip_prefix("runner")?.trim_start();
    let word = rest.strip_prefix(':')?.trim();
    if lower == "runner:up" || lower == "runner:down" || lower == TODO_MARKER {
        return None;
    }
    let guess =
        ["up", "down"].into_iter().min_by_key(|m| edit_distance(word, m)).filter(|m| edit_distance(word, m) <= 2);
    Some(match guess {
        Some(m) => format!("unknown section marker `-- {text}` (did you mean `-- runner:{m}`?)"),
        None => format!("unknown section marker `-- {text}`; the markers are `-- runner:up` and `-- runner:down`"),
    })
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `a, b` → [a, b]; `none`, `base` or empty → [] (a root revision).
pub fn parse_parents(value: &str) -> Vec<String> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("base") {
        return Vec::new();
    }
    v.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn is_comment_or_blank(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Revision, RevisionError> {
        parse_native(Path::new("migrations/0007_add_prefs.sql"), text)
    }

    #[test]
    fn full_header_and_both_sections() {
        let r = parse("-- id: abc\n-- parents: x, y\n-- description: add prefs\n-- transaction: none\n\n-- runner:up\nCREATE TABLE p (id int);\n-- runner:down\nDROP TABLE p;\n").unwrap();
        assert_eq!(r.id, "abc");
        assert_eq!(r.parents, Some(vec!["x".to_string(), "y".to_string()]));
        assert_eq!(r.description, "add prefs");
        assert_eq!(r.tx, TxMode::None);
        assert_eq!(r.up.statements[0].line, 7);
        assert_eq!(r.down.unwrap().statements[0].sql, "DROP TABLE p");
    }

    #[test]
    fn plain_sql_file_takes_id_from_its_name_and_has_no_down() {
        let r = parse("CREATE TABLE p (id int);").unwrap();
        assert_eq!(r.id, "0007");
        assert_eq!(r.description, "add prefs");
        assert!(r.parents.is_none());
        assert!(r.down.is_none());
    }

    #[test]
    fn sqlx_no_transaction_marker_on_first_line() {
        let r = parse("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);").unwrap();
        assert_eq!(r.tx, TxMode::None);
    }

    #[test]
    fn unknown_header_key_is_an_error_with_its_line() {
        let e = parse("-- id: a\n-- parent: b\n-- runner:up\nSELECT 1;").unwrap_err().to_string();
        assert_eq!(
            e,
            "migrations/0007_add_prefs.sql:2: unknown header key `parent` (did you mean `parents`?); known keys: id, parents, description, transaction, requires-backfill, data-migration"
        );
    }

    #[test]
    fn sql_before_the_up_marker_is_an_error() {
        let e = parse("-- id: a\nCREATE TABLE t ();\n-- runner:up\nSELECT 1;").unwrap_err().to_string();
        assert!(e.starts_with("migrations/0007_add_prefs.sql:2: SQL before"), "{e}");
    }

    #[test]
    fn down_before_up_is_an_error() {
        let e = parse("-- runner:down\nDROP TABLE t;\n-- runner:up\nCREATE TABLE t ();").unwrap_err().to_string();
        assert!(e.contains(":1: `-- runner:down` comes before"), "{e}");
    }

    #[test]
    fn bad_transaction_mode_is_an_error() {
        let e = parse("-- transaction: sometimes\n-- runner:up\nSELECT 1;").unwrap_err().to_string();
        assert!(e.contains(":1: invalid transaction mode `sometimes`"), "{e}");
    }

    #[test]
    fn empty_down_section_is_an_explicit_no_op() {
        let r = parse("-- runner:up\nSELECT 1;\n-- runner:down\n").unwrap();
        assert!(r.down.as_ref().unwrap().statements.is_empty());
        assert!(r.is_reversible());
    }

    #[test]
    fn ids_from_names() {
        assert_eq!(id_from_name("001_init"), ("001".into(), "init".into()));
        assert_eq!(id_from_name("2024-01-01-000000_create_users"), ("2024-01-01-000000".into(), "create users".into()));
        assert_eq!(id_from_name("ae10f_x"), ("ae10f_x".into(), "ae10f x".into()));
        assert_eq!(id_from_name("42"), ("42".into(), "".into()));
    }

    #[test]
    fn a_typo_in_a_section_marker_is_an_error_with_its_line_not_more_up_sql() {
        // Before, `-- runner:dwon` made the down SQL part of the up section: apply dropped the
        // table it had just created.
        for (typo, hint) in [
            ("-- runner:dwon", "did you mean `-- runner:down`?"),
            ("-- runner: down", "did you mean `-- runner:down`?"),
            ("-- Runner : Down", "did you mean `-- runner:down`?"),
            ("-- runner:reverse", "the markers are `-- runner:up` and `-- runner:down`"),
        ] {
            let text = format!("-- runner:up\nCREATE TABLE t (x int);\n\n{typo}\nDROP TABLE t;\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with("migrations/0007_add_prefs.sql:4: unknown section marker"), "{typo}: {e}");
            assert!(e.contains(hint), "{typo}: {e}");
        }
        let e = parse("-- runner:upp\nSELECT 1;\n").unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("did you mean `-- runner:up`?"), "{e}");
        // A second up marker is an error too; prose that mentions runner is not a marker.
        let e = parse("-- runner:up\nSELECT 1;\n-- runner:up\nSELECT 2;\n").unwrap_err().to_string();
        assert!(e.contains(":3: second"), "{e}");
        assert!(parse("-- runner is used here: fine\n-- runner:up\nSELECT 1;\n").is_ok());
    }

    #[test]
    fn a_misspelt_header_key_suggests_the_near_one() {
        let e = parse("-- descripton: x\n-- runner:up\nSELECT 1;\n").unwrap_err().to_string();
        assert!(e.contains("did you mean `description`?"), "{e}");
    }

    #[test]
    fn a_down_section_marked_todo_is_missing_not_a_no_op() {
        let r = parse("-- runner:up\nCREATE TABLE t (x int);\n-- runner:down\n-- runner:todo\n-- write it\n").unwrap();
        assert!(!r.is_reversible(), "an unwritten down section must make revert refuse");
        let r = parse("-- runner:up\nCREATE TABLE t (x int);\n-- runner:down\n").unwrap();
        assert!(r.is_reversible(), "an empty down section is an explicit no-op");
        let e = parse("-- runner:up\n-- runner:todo\nSELECT 1;\n").unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("belongs in the down section"), "{e}");
    }
}
