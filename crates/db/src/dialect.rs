//! [`Dialect`]: which database a connection talks to, and the facts about each database that
//! the rest of runner asks for instead of matching on the dialect itself (how to write the
//! current time, how many writers it has, how runners exclude each other, …). One home for each
//! such fact, so a new engine is one more arm here rather than a search of the tree.

/// Which database a connection talks to. The default is PostgreSQL, the primary target: what a
/// schema model is taken to be when nothing says otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL (`postgres://`, `postgresql://`, libpq keyword strings).
    #[default]
    Postgres,
    /// SQLite (`sqlite:` URLs and files).
    Sqlite,
}

/// How runners working on one database keep out of each other's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// A session-level advisory lock, held by a connection and released when it closes, even
    /// when the process dies (PostgreSQL).
    Advisory,
    /// A lease: a row in the state table with a holder and an expiry that the holder renews,
    /// for a database with no advisory locks (SQLite).
    Lease,
}

impl Dialect {
    /// SQLite's schema of the database file itself (as opposed to attached ones).
    pub const SQLITE_SCHEMA: &'static str = "main";

    /// Every dialect, in the order help text lists them.
    pub const ALL: [Dialect; 2] = [Dialect::Postgres, Dialect::Sqlite];

    /// The name used in URLs, output and `runner.toml` (`postgres`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The dialect named `name` in `runner.toml` or on the command line.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The dialect whose URL scheme `text` starts with (`postgres://`, `postgresql://`,
    /// `sqlite:`), whatever its case; `None` for anything else (a path, a keyword string).
    pub fn of_url(text: &str) -> Option<Dialect> {
        let lower = text.trim_start().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else if lower.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else {
            None
        }
    }

    /// The current time as timestamp columns store it: PostgreSQL's `timestamptz`, SQLite's
    /// ISO-8601 UTC text with milliseconds (which sorts as time does).
    pub fn now_sql(self) -> &'static str {
        match self {
            Dialect::Postgres => "now()",
            Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        }
    }

    /// The time `secs` seconds ago, comparable with [`Dialect::now_sql`]'s.
    pub fn seconds_ago_sql(self, secs: u64) -> String {
        match self {
            Dialect::Postgres => format!("now() - interval '{secs} seconds'"),
            Dialect::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{secs} seconds')"),
        }
    }

    /// How many connections can write at once. SQLite has one writer per database file: more
    /// workers would only wait for each other (and time out as busy), so a backfill there runs
    /// one worker on one chunk.
    pub fn max_writers(self) -> Option<usize> {
        match self {
            Dialect::Postgres => None,
            Dialect::Sqlite => Some(1),
        }
    }

    /// `wanted` writers, as many as this database can run at once (at least one).
    pub fn writers(self, wanted: usize) -> usize {
        self.max_writers().map_or(wanted, |most| wanted.min(most)).max(1)
    }

    /// How runners on this database exclude each other.
    pub fn lock_kind(self) -> LockKind {
        match self {
            Dialect::Postgres => LockKind::Advisory,
            Dialect::Sqlite => LockKind::Lease,
        }
    }

    /// The schema objects go in when none is named: SQLite's is always `main`; PostgreSQL's is
    /// the session's `current_schema()`, which only the server knows (`None` here).
    pub fn fixed_default_schema(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => None,
            Dialect::Sqlite => Some(Dialect::SQLITE_SCHEMA),
        }
    }

    /// Whether a read may take a row lock that makes other workers skip the row
    /// (`FOR UPDATE SKIP LOCKED`); SQLite's one writer makes it needless there.
    pub fn skip_locked_sql(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }
}
