//! What can be wrong with revision files and their graph. Every variant names the file (and line,
//! where there is one) so that an operator can go straight to it.

use std::fmt;
use std::path::PathBuf;

/// One problem with the revision files or their graph.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevisionError {
    /// A revision file could not be read.
    #[error("{}: cannot read: {cause}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// Why it could not be read.
        cause: std::io::Error,
    },
    /// A revision file's header or markers do not parse.
    #[error("{}:{line}: {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two files define the same revision id.
    #[error("duplicate revision id `{id}`: {} and {}", first.display(), second.display())]
    DuplicateId {
        /// The revision id.
        id: String,
        /// The first file that defines it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// A revision names a parent no file defines.
    #[error("{}: revision `{revision}` names parent `{parent}`, which no revision file defines", file.display())]
    MissingParent {
        /// The revision.
        revision: String,
        /// The parent it names.
        parent: String,
        /// The file.
        file: PathBuf,
    },
    /// Parents lead back to a revision.
    #[error("revisions form a cycle: {} (files: {})", path.join(" -> "), files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    Cycle {
        /// The ids around the cycle.
        path: Vec<String>,
        /// Their files.
        files: Vec<PathBuf>,
    },
    /// Some files declare parents and this one does not.
    #[error("{}: declares no `parents` while other revisions do (e.g. {}); add `-- parents: <id>` or `-- parents: none`", file.display(), example.display())]
    MixedParents {
        /// The file.
        file: PathBuf,
        /// A file that does declare parents.
        example: PathBuf,
    },
    /// More than one head where one is needed.
    #[error("several heads: {}; write a merge revision with `runner merge`, or name one with `--to`", heads.join(", "))]
    SeveralHeads {
        /// The heads.
        heads: Vec<String>,
    },
    /// No revision has this id or prefix.
    #[error("no revision `{id}` in {}", dir.display())]
    UnknownRevision {
        /// The revision id.
        id: String,
        /// The migrations folder.
        dir: PathBuf,
    },
    /// A prefix matches several revisions.
    #[error("revision prefix `{prefix}` is ambiguous: {}", candidates.join(", "))]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// The revisions it matches.
        candidates: Vec<String>,
    },
    /// The migrations folder is not there.
    #[error("migrations folder {} does not exist (run `runner init`, or set `migrations` in runner.toml)", dir.display())]
    MissingDir {
        /// The migrations folder.
        dir: PathBuf,
    },
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
