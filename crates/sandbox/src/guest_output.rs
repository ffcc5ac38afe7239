//! The guest's stderr: what a plugin prints there when it fails is the operator's best clue (a
//! Rust panic message, a Python traceback), so it is kept, but bounded (the first
//! [`HEAD`] bytes and the last [`TAIL`]) and never refused: a plugin that prints a lot keeps
//! running, and the end of a long traceback, where the exception is named, is not lost.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes kept from the start of the output.
pub(crate) const HEAD: usize = 1024;
/// Bytes kept from the end of the output.
pub(crate) const TAIL: usize = 4096;

#[derive(Clone, Default)]
pub(crate) struct GuestOutput(Arc<Mutex<Kept>>);

#[derive(Default)]
struct Kept {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: usize,
}

impl GuestOutput {
    fn push(&self, mut bytes: &[u8]) {
        let mut k = self.0.lock().expect("not poisoned");
        let room = HEAD - k.head.len();
        let (first, rest) = bytes.split_at(room.min(bytes.len()));
        k.head.extend_from_slice(first);
        bytes = rest;
        if bytes.len() > TAIL {
            k.dropped += k.tail.len() + bytes.len() - TAIL;
            k.tail.clear();
            bytes = &bytes[bytes.len() - TAIL..];
        }
        let over = (k.tail.len() + bytes.len()).saturating_sub(TAIL);
        k.tail.drain(..over);
        k.dropped += over;
        k.tail.extend(bytes);
    }

    /// What was kept, as text; a cut in the middle is marked.
    pub(crate) fn text(&self) -> String {
        let k = self.0.lock().expect("not poisoned");
        let mut out = String::from_utf8_lossy(&k.head).into_owned();
        if k.dropped > 0 {
            out.push_str(&format!("\n… ({} bytes cut)\n", k.dropped));
        }
        let tail: Vec<u8> = k.tail.iter().copied().collect();
        out.push_str(&String::from_utf8_lossy(&tail));
        out
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// What a failed guest said, in one line: a Python traceback's exception and the frame that
/// raised it (`KeyError: 'x' (app.py:3 in deep)`), a Rust panic's place and message, or else the
/// last lines. `None` when it said nothing.
pub(crate) fn last_words(stderr: &str) -> Option<String> {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        return None;
    }
    if let Some(at) = stderr.rfind("Traceback (most recent call last):") {
        // It ends at a blank line (componentize-py's runtime then reports the exception as a panic).
        let traceback = stderr[at..].split("\n\n").next().unwrap_or_default();
        // The exception is the last line that is not indented (frames and source lines are).
        let exception = traceback.lines().rev().find(|l| !l.starts_with(' ') && !l.trim().is_empty());
        let frame = traceback.lines().rev().find_map(|l| {
            let l = l.trim().strip_prefix("File \"")?;
            let (file, rest) = l.split_once("\", line ")?;
            let (line, func) = rest.split_once(", in ").unwrap_or((rest, "?"));
            Some(format!("{}:{line} in {func}", file.rsplit('/').next().unwrap_or(file)))
        });
        if let Some(exception) = exception.filter(|e| !e.starts_with("Traceback")) {
            return Some(match frame {
                Some(f) => format!("{exception} ({f})"),
                None => exception.to_string(),
            });
        }
    }
    if let Some(at) = stderr.rfind("panicked at ") {
        // A Rust panic: where, then the message, up to the hint about backtraces.
        let start = stderr[..at].rfind('\n').map_or(0, |n| n + 1);
        let words: Vec<&str> =
            stderr[start..].lines().take_while(|l| !l.starts_with("note: ") && !l.trim().is_empty()).collect();
        return Some(words.join(" "));
    }
    // Anything else: its last lines, nearest the failure.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    Some(lines[lines.len().saturating_sub(3)..].join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_head_and_the_tail_of_long_output() {
        let out = GuestOutput::default();
        out.push(&[b'a'; HEAD]);
        for _ in 0..100 {
            out.push(&[b'b'; 1000]);
        }
        out.push(b"the end");
        let text = out.text();
        assert!(text.starts_with(&"a".repeat(HEAD)), "{}", &text[..20]);
        assert!(text.ends_with("the end"));
        assert!(text.contains(&format!("({} bytes cut)", 100_000 + 7 - TAIL)), "{}", &text[HEAD..HEAD + 40]);
        assert_eq!(text.len(), HEAD + TAIL + format!("\n… ({} bytes cut)\n", 100_000 + 7 - TAIL).len());
    }

    #[test]
    fn short_output_is_kept_whole() {
        let out = GuestOutput::default();
        out.push(b"panicked at src/lib.rs:3:5:\nboom\n");
        assert_eq!(out.text(), "panicked at src/lib.rs:3:5:\nboom\n");
    }

    #[test]
    fn a_python_traceback_becomes_its_exception_and_frame() {
        let tb = "Traceback (most recent call last):\n  File \"/0/app.py\", line 12, in process\n    return deep(50)\n  File \"/0/app.py\", line 4, in deep\n    return deep(n - 1)\n  [Previous line repeated 49 more times]\n  File \"/0/app.py\", line 3, in deep\n    return {}[\"missing-key\"]\n           ~~^^^^^^^^^^^^^^^\nKeyError: 'missing-key'\n\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(last_words(tb).unwrap(), "KeyError: 'missing-key' (app.py:3 in deep)");
    }

    #[test]
    fn a_rust_panic_becomes_its_place_and_message_and_anything_else_its_last_lines() {
        let panic = "thread '<unnamed>' panicked at src/lib.rs:9:5:\nboom\nnote: run with RUST_BACKTRACE=1\nmore";
        let said = "thread '<unnamed>' panicked at src/lib.rs:9:5: boom";
        assert_eq!(last_words(panic).unwrap(), said);
        assert_eq!(last_words(&format!("{}{panic}", "noise\n".repeat(100))).unwrap(), said);
        assert_eq!(last_words("a\nb\n\nc\nd\n").unwrap(), "b c d");
        assert_eq!(last_words("  \n"), None);
    }
}
