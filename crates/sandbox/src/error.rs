use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin could not be loaded or a call to it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The engine could not be configured (a bad limit, no memory for the pool).
    #[error("cannot set up the WASM engine: {0}")]
    Engine(String),
    /// The component file could not be read.
    #[error("plugin {plugin}: cannot read {}: {cause}", path.display())]
    Read {
        /// The plugin's name.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        cause: std::io::Error,
    },
    /// The bytes are not a WebAssembly component.
    #[error("plugin {plugin}: not a valid WebAssembly component: {message}")]
    Invalid {
        /// The plugin's name.
        plugin: String,
        /// What was said about it.
        message: String,
    },
    /// The component does not export or import what runner's plugin world says.
    #[error(
        "plugin {plugin}: implements neither runner:plugin/backfill@0.1.0 nor runner:plugin/backfill-columns@0.1.0: {message}"
    )]
    WrongWorld {
        /// The plugin's name.
        plugin: String,
        /// What was said about it.
        message: String,
    },
    /// A call ran out of its time limit (epoch interruption).
    #[error("plugin {plugin}: batch took longer than its limit of {}ms and was stopped", limit.as_millis())]
    Timeout {
        /// The plugin's name.
        plugin: String,
        /// The time limit for one batch.
        limit: Duration,
    },
    /// A call asked for more memory than its limit.
    #[error("plugin {plugin}: tried to use more than its memory limit of {limit_bytes} bytes")]
    MemoryExceeded {
        /// The plugin's name.
        plugin: String,
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// A call recursed deeper than its stack limit.
    #[error("plugin {plugin}: stack overflow (deeper recursion than its stack limit of {limit_bytes} bytes)")]
    StackOverflow {
        /// The plugin's name.
        plugin: String,
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The plugin called a capability its manifest does not grant.
    #[error("plugin {plugin}: called `{capability}`, which its manifest does not grant")]
    Denied {
        /// The plugin's name.
        plugin: String,
        /// The capability it called.
        capability: &'static str,
    },
    /// The plugin created more instances, tables or memories than the sandbox allows.
    #[error("plugin {plugin}: creates more than {max} {what}, the sandbox's cap for one plugin")]
    LimitExceeded {
        /// The plugin's name.
        plugin: String,
        /// What it created too many of.
        what: &'static str,
        /// The cap.
        max: usize,
    },
    /// A granted `lookup` could not be answered.
    #[error("plugin {plugin}: a lookup could not be answered: {message}")]
    LookupFailed {
        /// The plugin's name.
        plugin: String,
        /// What was said about it.
        message: String,
    },
    /// An `http` call that the test answers given to the sandbox did not answer.
    #[error("plugin {plugin}: an http request had no test answer: {message}")]
    HttpUnanswered {
        /// The plugin's name.
        plugin: String,
        /// What was said about it.
        message: String,
    },
    /// The plugin trapped (a panic, an unreachable, a bad access).
    #[error("plugin {plugin}: trapped: {reason}")]
    Trapped {
        /// The plugin's name.
        plugin: String,
        /// The trap, as the engine describes it.
        reason: String,
    },
    /// The plugin returned an error value for the batch.
    #[error("plugin {plugin}: returned an error: {message}")]
    PluginError {
        /// The plugin's name.
        plugin: String,
        /// What was said about it.
        message: String,
    },
    /// The plugin returned something the host cannot use (a change without a key, …).
    #[error("plugin {plugin}: {message}")]
    BadOutput {
        /// The plugin's name.
        plugin: String,
        /// What was said about it.
        message: String,
    },
}
