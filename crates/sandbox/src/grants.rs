//! What a plugin may do beyond computing: each capability is off unless granted.

use crate::Value;
use std::collections::BTreeMap;

/// The capabilities a manifest can grant, by the names manifests and errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Lines in the host's log.
    Log,
    /// Configuration values from the manifest.
    Config,
    /// Read-only queries on the database.
    Lookup,
    /// Requests to allow-listed origins.
    Http,
    /// The wall clock (otherwise stopped).
    Clock,
    /// Random bytes (otherwise a fixed sequence).
    Random,
}

impl Capability {
    /// The name manifests and errors use (`lookup`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Config => "config",
            Capability::Lookup => "lookup",
            Capability::Http => "http",
            Capability::Clock => "clock",
            Capability::Random => "random",
        }
    }

    /// The capability a manifest names; `None` for a name it does not know.
    pub fn parse(s: &str) -> Option<Capability> {
        [
            Capability::Log,
            Capability::Config,
            Capability::Lookup,
            Capability::Http,
            Capability::Clock,
            Capability::Random,
        ]
        .into_iter()
        .find(|c| c.name() == s)
    }
}

/// Read-only queries on the plugin's behalf (capability `lookup`), supplied by the backfill engine.
#[async_trait::async_trait]
pub trait Lookup: Send + Sync {
    /// The rows of `query` with `params`, or why there are none.
    async fn lookup(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, LookupError>;
}

/// Why a lookup returned no rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The query is refused or fails (not one plain query, bad SQL, a read-only violation):
    /// the plugin gets the message, and the host logs it as a warning.
    Query(String),
    /// The lookup could not be answered (its time limit, a lost connection): the batch fails,
    /// since a plugin could otherwise treat missing data as an answer.
    Unavailable(String),
}

/// Answers to a plugin's `http` calls in place of the network, for tests of plugins without
/// one (`runner plugin test --http`). The allow-list still decides what may be asked.
pub trait HttpAnswers: Send + Sync {
    /// The response to `request`, or `None` when nothing answers it: the batch then fails, as
    /// a test must not pass on data the plugin never got.
    fn answer(&self, request: &crate::HttpRequest) -> Option<crate::HttpResponse>;
}

/// What one plugin is granted. The default grants nothing.
#[derive(Clone, Default)]
pub struct Grants {
    /// `log`.
    pub log: bool,
    /// `config`: the values the plugin may read (granted when non-empty or `config_granted`).
    pub config: BTreeMap<String, String>,
    /// `config` granted with no values (every read answers `None`).
    pub config_granted: bool,
    /// `lookup`: what answers the plugin's queries.
    pub lookup: Option<std::sync::Arc<dyn Lookup>>,
    /// `http`: allowed origins, `scheme://host:port`, matched exactly.
    pub http_origins: Vec<String>,
    /// Answers in place of the network for the granted origins (tests only).
    pub http_answers: Option<std::sync::Arc<dyn HttpAnswers>>,
    /// `clock`.
    pub clock: bool,
    /// `random`.
    pub random: bool,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("log", &self.log)
            .field("config", &self.config.keys().collect::<Vec<_>>())
            .field("lookup", &self.lookup.is_some())
            .field("http_origins", &self.http_origins)
            .field("http_answers", &self.http_answers.is_some())
            .field("clock", &self.clock)
            .field("random", &self.random)
            .finish()
    }
}

impl Grants {
    /// Whether `c` is granted.
    pub fn allows(&self, c: Capability) -> bool {
        match c {
            Capability::Log => self.log,
            Capability::Config => self.config_granted || !self.config.is_empty(),
            Capability::Lookup => self.lookup.is_some(),
            Capability::Http => !self.http_origins.is_empty(),
            Capability::Clock => self.clock,
            Capability::Random => self.random,
        }
    }
}
