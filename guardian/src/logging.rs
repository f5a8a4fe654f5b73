//! Structured logs on stderr, as text or one JSON object per line.
//!
//! Under systemd, stderr is a stream to the journal, which reads a `<N>`
//! prefix on each line as that line's syslog priority (SyslogLevelPrefix=,
//! on by default). When `JOURNAL_STREAM` names the very file stderr is (its
//! device and inode), every line is prefixed with its level's priority, so
//! `journalctl -p warning -u guardian` shows each repair; the line itself,
//! text or JSON with every field, is unchanged. Elsewhere (a terminal, a
//! pipe, a file, or a child whose stderr was redirected away from the
//! journal it inherited the variable from) lines are written as they are.

use std::io::{IsTerminal, Write};
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the subscriber; `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in a journal or a pipe.
    let ansi = std::io::stderr().is_terminal();
    let writer = Stderr { journal: stderr_is_journal() };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init(),
    }
}

/// Whether `JOURNAL_STREAM` (`DEVICE:INODE`, set by systemd for a service
/// whose stdout or stderr is the journal) names this process's stderr.
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else { return false };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    let Ok(meta) = std::fs::File::from(fd).metadata() else { return false };
    journal_stream_names(&stream, meta.dev(), meta.ino())
}

/// Whether a `JOURNAL_STREAM` value names the file with `dev` and `ino`.
pub fn journal_stream_names(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else { return false };
    d.parse::<u64>() == Ok(dev) && i.parse::<u64>() == Ok(ino)
}

/// The syslog priority of a level, as the journal's `<N>` prefix.
pub fn priority_prefix(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

/// `text` with `prefix` at the start of each of its lines.
pub fn prefix_lines(prefix: &str, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + prefix.len());
    for line in text.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line);
    }
    out
}

/// Hands the formatter one [`Event`] writer per log event.
struct Stderr {
    journal: bool,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Event;

    fn make_writer(&'a self) -> Event {
        Event { prefix: None, buf: Vec::new() }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Event {
        Event { prefix: self.journal.then(|| priority_prefix(meta.level())), buf: Vec::new() }
    }
}

/// One event's output, collected and written to stderr in one piece when
/// dropped (so lines of two threads never interleave), each of its lines
/// prefixed when stderr is the journal.
struct Event {
    prefix: Option<&'static str>,
    buf: Vec<u8>,
}

impl Write for Event {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let out = match self.prefix {
            Some(prefix) => prefix_lines(prefix, &self.buf),
            None => std::mem::take(&mut self.buf),
        };
        // Nowhere to report a failure to write the log itself.
        let _ = std::io::stderr().lock().write_all(&out);
    }
}

#[cfg(test)]
pub mod capture;
#[cfg(test)]
mod tests;
