use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    #[error("cannot set up the WASM engine: {0}")]
    Engine(String),
    #[error("plugin {plugin}: cannot read {}: {cause}", path.display())]
    Read { plugin: String, path: PathBuf, cause: std::io::Error },
    #[error("plugin {plugin}: not a valid WebAssembly component: {message}")]
    Invalid { plugin: String, message: String },
    #[error("plugin {plugin}: does not implement the runner:plugin/backfill@0.1.0 world: {message}")]
    WrongWorld { plugin: String, message: String },
    #[error("plugin {plugin}: batch took longer than its limit of {}ms and was stopped", limit.as_millis())]
    Timeout { plugin: String, limit: Duration },
    #[error("plugin {plugin}: tried to use more than its memory limit of {limit_bytes} bytes")]
    MemoryExceeded { plugin: String, limit_bytes: usize },
    #[error("plugin {plugin}: stack overflow (deeper recursion than its stack limit of {limit_bytes} bytes)")]
    StackOverflow { plugin: String, limit_bytes: usize },
    #[error("plugin {plugin}: called `{capability}`, which its manifest does not grant")]
    Denied { plugin: String, capability: &'static str },
    #[error("plugin {plugin}: creates more than {max} {what}, the sandbox's cap for one plugin")]
    LimitExceeded { plugin: String, what: &'static str, max: usize },
    #[error("plugin {plugin}: a lookup could not be answered: {message}")]
    LookupFailed { plugin: String, message: String },
    /// An `http` call that the test answers given to the sandbox did not answer.
    #[error("plugin {plugin}: an http request had no test answer: {message}")]
    HttpUnanswered { plugin: String, message: String },
    #[error("plugin {plugin}: trapped: {reason}")]
    Trapped { plugin: String, reason: String },
    #[error("plugin {plugin}: returned an error: {message}")]
    PluginError { plugin: String, message: String },
    #[error("plugin {plugin}: {message}")]
    BadOutput { plugin: String, message: String },
}
