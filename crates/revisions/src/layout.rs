//! Reading a migrations folder: `runner`'s own files, and folders written for other tools, read in
//! place so a team can adopt `runner` without renaming anything.
//!
//! | layout | files | transaction marker |
//! |---|---|---|
//! | native | `ID_name.sql` with `-- runner:up` / `-- runner:down` | `-- transaction: none` |
//! | sqlx, golang-migrate | `NNN_name.up.sql` + `NNN_name.down.sql`, or `NNN_name.sql` | first line `-- no-transaction` |
//! | diesel | `NAME/up.sql` + `NAME/down.sql` | `NAME/metadata.toml`: `run_in_transaction = false` |
//!
//! Anything else in the folder (a README, an editor backup) is listed as ignored rather than
//! skipped silently, so a misnamed revision does not just vanish (sqlx skips such files quietly).

use crate::checksum::Checksum;
use crate::error::RevisionError;
use crate::file::{self, Format, Revision, Script, TxMode};
use crate::splitter;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The revisions found in a folder, and the entries that were not revisions.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The revisions read.
    pub revisions: Vec<Revision>,
    /// The files that could not be read as revisions.
    pub errors: Vec<RevisionError>,
    /// Entries that are not revisions (a README, a backup), reported, not read.
    pub ignored: Vec<PathBuf>,
}

/// Every revision in `dir`, in any of the layouts runner reads.
pub fn load_dir(dir: &Path) -> Loaded {
    let mut loaded = Loaded::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            loaded.errors.push(RevisionError::MissingDir { dir: dir.to_path_buf() });
            return loaded;
        }
        Err(cause) => {
            loaded.errors.push(RevisionError::Io { file: dir.to_path_buf(), cause });
            return loaded;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();

    // sqlx pairs are grouped by their shared stem before parsing.
    let mut pairs: BTreeMap<String, (Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if path.join("up.sql").is_file() {
                push(&mut loaded, read_diesel(&path));
            } else {
                loaded.ignored.push(path);
            }
        } else if let Some(stem) = name.strip_suffix(".up.sql") {
            pairs.entry(stem.to_string()).or_default().0 = Some(path);
        } else if let Some(stem) = name.strip_suffix(".down.sql") {
            pairs.entry(stem.to_string()).or_default().1 = Some(path);
        } else if name.ends_with(".sql") {
            push(&mut loaded, read_file(&path).and_then(|text| file::parse_native(&path, &text)));
        } else {
            loaded.ignored.push(path);
        }
    }
    for (stem, pair) in pairs {
        match pair {
            (Some(up), down) => push(&mut loaded, read_up_down(&stem, &up, down.as_deref())),
            (None, Some(down)) => loaded.errors.push(RevisionError::Parse {
                file: down,
                line: 1,
                message: format!("`{stem}.down.sql` has no matching `{stem}.up.sql`"),
            }),
            (None, None) => {}
        }
    }
    loaded
}

fn push(loaded: &mut Loaded, r: Result<Revision, RevisionError>) {
    match r {
        Ok(r) => loaded.revisions.push(r),
        Err(e) => loaded.errors.push(e),
    }
}

fn read_file(path: &Path) -> Result<String, RevisionError> {
    let bytes = fs::read(path).map_err(|cause| RevisionError::Io { file: path.to_path_buf(), cause })?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        RevisionError::Parse { file: path.to_path_buf(), line, message: "file is not valid UTF-8".into() }
    })
}

fn first_line_no_transaction(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().next().is_some_and(|l| l.trim().eq_ignore_ascii_case("-- no-transaction"))
}

fn read_up_down(stem: &str, up: &Path, down: Option<&Path>) -> Result<Revision, RevisionError> {
    let up_text = read_file(up)?;
    let down = down.map(|d| read_file(d).map(|t| (d.to_path_buf(), t))).transpose()?;
    let tx = if first_line_no_transaction(&up_text) { TxMode::None } else { TxMode::PerRevision };
    let layout = Pair { name: stem, tx, format: Format::UpDownFiles, path: up };
    Ok(layout.revision((up.to_path_buf(), up_text), down))
}

/// A revision kept as an up file and an optional down file, with no header of its own: its id
/// and description come from its name, its checksum covers both files.
struct Pair<'a> {
    name: &'a str,
    tx: TxMode,
    format: Format,
    /// What names the revision (the up file, or diesel's folder).
    path: &'a Path,
}

impl Pair<'_> {
    fn revision(self, up: (PathBuf, String), down: Option<(PathBuf, String)>) -> Revision {
        let (id, description) = file::id_from_name(self.name);
        let mut parts = vec![up.1.as_str()];
        if let Some((_, d)) = &down {
            parts.push(d);
        }
        let checksum = Checksum::of_parts(&parts);
        Revision {
            id,
            parents: None,
            description,
            tx: self.tx,
            up: Script { statements: splitter::split(&up.1, 1), file: up.0 },
            down: down.map(|(file, text)| Script { statements: splitter::split(&text, 1), file }),
            checksum,
            requires_backfills: Vec::new(),
            data_migration: None,
            format: self.format,
            path: self.path.to_path_buf(),
            sort_name: self.name.to_string(),
        }
    }
}

#[derive(serde::Deserialize)]
struct DieselMetadata {
    run_in_transaction: Option<bool>,
}

fn read_diesel(dir: &Path) -> Result<Revision, RevisionError> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let up_path = dir.join("up.sql");
    let down_path = dir.join("down.sql");
    let up_text = read_file(&up_path)?;
    let down_text = if down_path.is_file() { Some(read_file(&down_path)?) } else { None };
    let meta_path = dir.join("metadata.toml");
    let mut tx = TxMode::PerRevision;
    if meta_path.is_file() {
        let text = read_file(&meta_path)?;
        let meta: DieselMetadata = toml::from_str(&text).map_err(|e| RevisionError::Parse {
            file: meta_path.clone(),
            line: crate::toml_line::toml_error_line(&text, &e),
            message: e.message().to_string(),
        })?;
        if meta.run_in_transaction == Some(false) {
            tx = TxMode::None;
        }
    }
    let down = down_text.map(|t| (down_path, t));
    Ok(Pair { name, tx, format: Format::Diesel, path: dir }.revision((up_path, up_text), down))
}
