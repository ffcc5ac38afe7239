//! The one line a terminal shows for work in progress (a backfill's rows, rate and ETA). It is
//! rewritten in place, and wiped before anything else reaches stderr, so that a log line never
//! lands in the middle of it and a stale count never stays on screen.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static SHOWN: AtomicBool = AtomicBool::new(false);

/// Replaces the status line with `text`.
pub fn show(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{text}");
    let _ = err.flush();
    SHOWN.store(true, Ordering::Relaxed);
}

/// Wipes the status line, if one is shown.
pub fn clear() {
    if SHOWN.swap(false, Ordering::Relaxed) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// stderr for the log subscriber: the status line is wiped before each log line.
pub fn log_writer() -> std::io::Stderr {
    clear();
    std::io::stderr()
}

/// A status line for work that reports no progress of its own (replaying revisions on a
/// scratch database): shown on a terminal only, wiped when dropped, on every path.
pub struct Working;

impl Working {
    /// Shows `text` until the returned guard is dropped.
    pub fn show(text: &str) -> Working {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            show(text);
        }
        Working
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        clear();
    }
}
