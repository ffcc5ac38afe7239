//! Who holds a lease or a claim in the state table: a process on a host, and which of its
//! workers. One encoding (`pid 4242 on build-7 #1`), one parser, one liveness rule, for the
//! runner lock's lease, backfill range claims and refresh slots.

/// A process (and optionally one of its workers) that holds something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Its process id.
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
    /// The worker of the process, for backfill range claims.
    pub worker: Option<usize>,
}

impl Owner {
    /// This process (worker `worker`, if any).
    pub fn this_process(worker: Option<usize>) -> Owner {
        Owner { pid: std::process::id(), host: hostname(), worker }
    }

    /// `pid N on HOST`, or `pid N on HOST #k` for a worker.
    pub fn encode(&self) -> String {
        match self.worker {
            Some(k) => format!("pid {} on {} #{k}", self.pid, self.host),
            None => format!("pid {} on {}", self.pid, self.host),
        }
    }

    /// An owner as [`Owner::encode`] wrote it; `None` for anything else.
    pub fn parse(s: &str) -> Option<Owner> {
        let rest = s.strip_prefix("pid ")?;
        let (pid, rest) = rest.split_once(" on ")?;
        let (host, worker) = match rest.rsplit_once(" #") {
            Some((h, k)) if k.chars().all(|c| c.is_ascii_digit()) && !k.is_empty() => (h, k.parse().ok()),
            _ => (rest, None),
        };
        Some(Owner { pid: pid.parse().ok()?, host: host.to_string(), worker })
    }

    /// The same process, whichever worker.
    pub fn same_process(&self, other: &Owner) -> bool {
        self.pid == other.pid && self.host == other.host
    }

    /// Whether this owner's process is known to be gone: it was on this host and no process
    /// with its id runs. Where that cannot be known (another host, no `/proc`), it is not gone;
    /// time-outs then end its claim.
    pub fn is_gone(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `unknown-host`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether a process with this id runs on this machine; where that cannot be known, it does.
pub fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_and_parse_the_old_forms() {
        for o in [
            Owner { pid: 42, host: "build-7".into(), worker: None },
            Owner { pid: 42, host: "build #7".into(), worker: Some(3) },
        ] {
            assert_eq!(Owner::parse(&o.encode()), Some(o));
        }
        assert_eq!(Owner::parse("pid 9 on h #x").unwrap().host, "h #x");
        assert_eq!(Owner::parse("someone else"), None);
        assert!(!Owner::this_process(None).is_gone());
        assert!(Owner { pid: u32::MAX - 1, ..Owner::this_process(None) }.is_gone());
    }
}
