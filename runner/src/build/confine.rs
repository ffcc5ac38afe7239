//! What a plugin build's processes can reach.
//!
//! Building a plugin from source runs its author's code natively, as this user: a crate's
//! `build.rs` and proc macros, a `.cargo/config.toml` runner, a `rust-toolchain.toml`, and the
//! packages pip and npm install. That is the trust one gives any dependency, and runner says so
//! (README "Building plugins"). What runner adds is that a build is not *handed* more than it
//! needs, and that nothing it leaves behind is trusted later:
//!
//! - **Environment.** Every toolchain process starts from an empty environment plus the
//!   variables a build needs ([`ALLOWED`]: `PATH` without relative entries, `HOME`, locale, proxy
//!   and certificate settings, where the toolchains live, pip's and npm's own settings). The
//!   database URL, `PG*` variables, passwords, tokens and runner's own settings never reach it.
//! - **Runner's private folders.** On Linux the process runs under a Landlock ruleset (and with
//!   an empty capability bounding set and `no_new_privs`, so that a root build is no exception)
//!   in which the signing key's folder and the plugin cache (compiled plugins, kept builds,
//!   downloads) do not exist for it, nor do raw devices, and it cannot signal other processes.
//!   The signing key is what makes runner load compiled native code from the cache, so a build
//!   that could read it could plant code that runner would later run with the deploy's
//!   credentials in its environment.
//! - **Where Landlock is missing** (another OS, an old or locked-down kernel) the caller retires
//!   the key after the build ([`Confinement::Unconfined`]): everything signed with the key the
//!   build could have read is compiled or built again instead of trusted.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Variables a toolchain process keeps, by exact name.
const ALLOWED: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    // Reaching package registries through a proxy, with the organisation's certificates.
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    // Where the Rust toolchain and its caches are, and which toolchain is selected.
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_TARGET_DIR",
    "CARGO_NET_OFFLINE",
    "CARGO_HTTP_CAINFO",
    "CARGO_HTTP_PROXY",
    "RUSTC_WRAPPER",
];

/// Prefixes of package managers' own settings (index URLs, certificates, timeouts), which
/// their installs need. Registry *tokens* are not among them: pip and npm read those from
/// their configuration files.
const ALLOWED_PREFIXES: &[&str] = &["PIP_", "npm_config_", "NPM_CONFIG_"];

/// Names under [`ALLOWED_PREFIXES`] that are credentials all the same.
fn is_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["TOKEN", "PASSWORD", "AUTH", "SECRET"].iter().any(|w| upper.contains(w))
}

/// A command for a toolchain program: an empty environment plus [`ALLOWED`] from this one.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for (name, value) in std::env::vars_os() {
        let Some(n) = name.to_str() else { continue };
        let kept = ALLOWED.contains(&n) || (ALLOWED_PREFIXES.iter().any(|p| n.starts_with(p)) && !is_credential(n));
        if kept {
            cmd.env(&name, value);
        }
    }
    cmd.env("PATH", absolute_path());
    cmd
}

/// `PATH` without empty or relative entries: a toolchain is looked up where it is installed,
/// never in whatever folder the build happens to run in.
fn absolute_path() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::env::split_paths(&path).filter(|p| p.is_absolute())).unwrap_or_default()
}

/// Whether a build's processes ran confined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// Under the Landlock ruleset: runner's private folders were out of its reach.
    Confined,
    /// Not confined, for the reason given: the caller must not trust what it could have signed.
    Unconfined(String),
}

/// Runs `cmd` to completion, with runner's `private` folders (which must exist) out of its
/// reach where the system allows it. The restriction is put on a thread of its own, which the
/// child inherits and which ends with it, so runner itself keeps its access.
pub fn output(cmd: &mut Command, private: &[PathBuf]) -> std::io::Result<(Output, Confinement)> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let confinement = restrict_this_thread(private);
            cmd.output().map(|o| (o, confinement))
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the build thread panicked")))
    })
}

#[cfg(target_os = "linux")]
fn restrict_this_thread(private: &[PathBuf]) -> Confinement {
    match landlock_rules::restrict(private) {
        Ok(()) => {
            drop_capabilities();
            Confinement::Confined
        }
        Err(why) => Confinement::Unconfined(why),
    }
}

#[cfg(not(target_os = "linux"))]
fn restrict_this_thread(_private: &[PathBuf]) -> Confinement {
    Confinement::Unconfined("this system has no Landlock".into())
}

/// Empties this thread's capability bounding set, so that a child running as root gets no
/// capabilities when it executes (none of `CAP_DAC_READ_SEARCH`, `CAP_SYS_PTRACE`,
/// `CAP_SYS_RAWIO`, which would read around the ruleset). Without `CAP_SETPCAP` (not root)
/// there is nothing to drop: such a child gets no capabilities anyway, and `no_new_privs`
/// (set with the ruleset) keeps setuid programs from granting any.
#[cfg(target_os = "linux")]
fn drop_capabilities() {
    use rustix::thread::{CapabilitySet, remove_capability_from_bounding_set};
    for cap in CapabilitySet::all().iter() {
        let _ = remove_capability_from_bounding_set(cap);
    }
}

#[cfg(target_os = "linux")]
mod landlock_rules {
    use landlock::{
        ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
    };
    use std::path::{Path, PathBuf};

    /// The newest ABI runner knows; older kernels enforce what they can of it.
    const ABI: ABI = ABI::V6;

    /// Devices a build may open: the harmless character devices, never a disk.
    const DEVICES: &[&str] = &[
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/pts",
        "/dev/shm",
        "/dev/ptmx",
    ];

    /// Restricts this thread (and what it starts) to everything but `private` and `/dev`.
    pub fn restrict(private: &[PathBuf]) -> Result<(), String> {
        let all = AccessFs::from_all(ABI);
        let mut hidden: Vec<PathBuf> = Vec::new();
        for p in private {
            // The ruleset is built on real paths: a private folder reached through a link is
            // hidden where it really is.
            hidden.push(p.canonicalize().map_err(|e| format!("{}: {e}", p.display()))?);
        }
        hidden.push(PathBuf::from("/dev"));
        let ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(all)
            .and_then(|r| r.scope(Scope::Signal))
            .and_then(|r| r.create())
            .map_err(|e| e.to_string())?;
        let mut ruleset = carve(ruleset, Path::new("/"), &hidden, all)?;
        for d in DEVICES {
            if let Ok(fd) = PathFd::new(d) {
                ruleset = ruleset.add_rule(PathBeneath::new(fd, all)).map_err(|e| e.to_string())?;
            }
        }
        let status = ruleset.restrict_self().map_err(|e| e.to_string())?;
        match status.ruleset {
            RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(()),
            RulesetStatus::NotEnforced => Err("the kernel does not enforce Landlock".into()),
        }
    }

    /// Grants every entry of `dir` but the hidden ones; the folders that lead to a hidden one are
    /// carved the same way, one level down, and may themselves only be listed. Links are not
    /// followed: a link to a hidden folder must not grant it.
    fn carve(
        mut ruleset: RulesetCreated,
        dir: &Path,
        hidden: &[PathBuf],
        all: BitFlags<AccessFs>,
    ) -> Result<RulesetCreated, String> {
        // A folder this user cannot list keeps nothing for the build: what is in it cannot be
        // named in the ruleset, and a build has no business there.
        let entries = std::fs::read_dir(dir).into_iter().flatten();
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if hidden.contains(&path) || kind.is_symlink() {
                continue;
            }
            if hidden.iter().any(|h| h.starts_with(&path)) {
                ruleset = carve(ruleset, &path, hidden, all)?;
                continue;
            }
            let access = if kind.is_dir() { all } else { all & AccessFs::from_file(ABI) };
            let Ok(fd) = PathFd::new(&path) else { continue };
            ruleset = ruleset.add_rule(PathBeneath::new(fd, access)).map_err(|e| e.to_string())?;
        }
        let fd = PathFd::new(dir).map_err(|e| e.to_string())?;
        ruleset.add_rule(PathBeneath::new(fd, AccessFs::ReadDir)).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toolchain_gets_the_allowed_variables_and_nothing_else() {
        let cmd = command("true");
        let names: Vec<String> =
            cmd.get_envs().filter(|(_, v)| v.is_some()).map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        for name in &names {
            assert!(
                ALLOWED.contains(&name.as_str())
                    || name == "PATH"
                    || ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p)),
                "{name} passed"
            );
        }
        assert!(is_credential("PIP_INDEX_PASSWORD") && is_credential("npm_config__authToken"));
        assert!(!is_credential("PIP_CERT"));
    }

    #[test]
    fn path_keeps_only_absolute_entries() {
        let path = absolute_path();
        assert!(std::env::split_paths(&path).all(|p| p.is_absolute()));
    }
}
