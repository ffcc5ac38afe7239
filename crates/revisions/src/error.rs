//! What can be wrong with revision files and their graph. Every variant names the file (and line,
//! where there is one) so that an operator can go straight to it.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevisionError {
    #[error("{}: cannot read: {cause}", file.display())]
    Io { file: PathBuf, cause: std::io::Error },
    #[error("{}:{line}: {message}", file.display())]
    Parse { file: PathBuf, line: usize, message: String },
    #[error("duplicate revision id `{id}`: {} and {}", first.display(), second.display())]
    DuplicateId { id: String, first: PathBuf, second: PathBuf },
    #[error("{}: revision `{revision}` names parent `{parent}`, which no revision file defines", file.display())]
    MissingParent { revision: String, parent: String, file: PathBuf },
    #[error("revisions form a cycle: {} (files: {})", path.join(" -> "), files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    Cycle { path: Vec<String>, files: Vec<PathBuf> },
    #[error("{}: declares no `parents` while other revisions do (e.g. {}); add `-- parents: <id>` or `-- parents: none`", file.display(), example.display())]
    MixedParents { file: PathBuf, example: PathBuf },
    #[error("several heads: {}; write a merge revision with `runner merge`, or name one with `--to`", heads.join(", "))]
    SeveralHeads { heads: Vec<String> },
    #[error("no revision `{id}` in {}", dir.display())]
    UnknownRevision { id: String, dir: PathBuf },
    #[error("revision prefix `{prefix}` is ambiguous: {}", candidates.join(", "))]
    Ambiguous { prefix: String, candidates: Vec<String> },
    #[error("migrations folder {} does not exist (run `runner init`, or set `migrations` in runner.toml)", dir.display())]
    MissingDir { dir: PathBuf },
}

/// Several problems found at once: `check` reports them all rather than stopping at the first.
#[derive(Debug)]
pub struct Problems(pub Vec<RevisionError>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl From<RevisionError> for Problems {
    fn from(e: RevisionError) -> Self {
        Problems(vec![e])
    }
}
