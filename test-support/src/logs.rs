//! Line streams of the processes under test (guardian's JSON logs, BIRD's
//! log, `ip monitor`), collected by a reader thread, and predicates on
//! guardian's JSON log lines.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use serde_json::Value;

/// Lines seen so far. A line that is not JSON is kept as a JSON string.
#[derive(Debug, Default)]
pub struct Logs {
    lines: Mutex<Vec<Value>>,
    closed: AtomicBool,
}

impl Logs {
    /// Starts a thread that reads `stream` line by line into a new `Logs`,
    /// echoing every line to the test's stderr (prefixed with `tag`) so a
    /// failing test shows what the process said.
    pub fn collect(stream: impl Read + Send + 'static, tag: String) -> (Arc<Logs>, JoinHandle<()>) {
        Logs::collect_echo(stream, Some(tag))
    }

    /// Like [`Logs::collect`]; `tag: None` keeps the lines without echoing
    /// them (a benchmark's daemon logging 10,000 sessions).
    pub fn collect_echo(stream: impl Read + Send + 'static, tag: Option<String>) -> (Arc<Logs>, JoinHandle<()>) {
        let logs = Arc::new(Logs::default());
        let sink = Arc::clone(&logs);
        let handle = thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if let Some(tag) = &tag {
                    eprintln!("[{tag}] {line}");
                }
                let v = serde_json::from_str::<Value>(&line).unwrap_or(Value::String(line));
                sink.lines().push(v);
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        (logs, handle)
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of lines so far (a mark for [`Logs::find_from`]).
    pub fn len(&self) -> usize {
        self.lines().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the stream ended (the process exited).
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn snapshot(&self) -> Vec<Value> {
        self.lines().clone()
    }

    /// The lines at index >= `start`.
    pub fn lines_from(&self, start: usize) -> Vec<Value> {
        self.lines().get(start..).map(<[Value]>::to_vec).unwrap_or_default()
    }

    /// First line at index >= `start` matching `pred`.
    pub fn find_from(&self, start: usize, pred: &dyn Fn(&Value) -> bool) -> Option<Value> {
        self.lines().iter().skip(start).find(|v| pred(v)).cloned()
    }

    /// All lines at index >= `start` matching `pred`.
    pub fn all_from(&self, start: usize, pred: &dyn Fn(&Value) -> bool) -> Vec<Value> {
        self.lines().iter().skip(start).filter(|v| pred(v)).cloned().collect()
    }

    /// The last `n` lines, one per line, indented (for error messages).
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        if lines.is_empty() {
            return "    (nothing logged)".into();
        }
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        lines[lines.len().saturating_sub(n)..].iter().map(|v| format!("    {}", text(v))).collect::<Vec<_>>().join("\n")
    }
}

/// The line's `message` field.
pub fn message(v: &Value) -> Option<&str> {
    value(v, "message").and_then(Value::as_str)
}

/// True when the line's `message` is exactly `msg`.
pub fn is(v: &Value, msg: &str) -> bool {
    message(v) == Some(msg)
}

/// A field of a JSON log line as logged: flattened (guardian's contract)
/// or under `fields` (tracing-subscriber's default), so a formatting slip
/// does not hide it.
pub fn value<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).or_else(|| v.get("fields")?.get(key))
}

/// A string field (numbers and booleans are rendered as text).
pub fn field(v: &Value, key: &str) -> Option<String> {
    match value(v, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// An integer field, whether logged as a number or as a numeric string.
pub fn field_u64(v: &Value, key: &str) -> Option<u64> {
    match value(v, key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Predicate: message is `msg` and the `route` field contains `needle`
/// (a destination prefix, e.g. `"10.9.0.0/24"`).
pub fn route_msg<'a>(msg: &'a str, needle: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| is(v, msg) && field(v, "route").is_some_and(|r| route_mentions(&r, needle))
}

/// True when a route text names the prefix `dst` as a whole word
/// ("10.9.0.0/24 via ..." mentions "10.9.0.0/24" but not "10.9.0.0/2").
pub fn route_mentions(route_text: &str, dst: &str) -> bool {
    route_text.split_whitespace().any(|w| w == dst)
}
