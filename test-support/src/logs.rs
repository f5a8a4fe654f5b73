//! The daemon's JSON log lines, collected by a reader thread.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use serde_json::Value;

/// Log lines seen so far. A line that is not JSON is kept as a JSON string.
#[derive(Debug, Default)]
pub struct Logs {
    lines: Mutex<Vec<Value>>,
    closed: AtomicBool,
}

impl Logs {
    /// Starts a thread that reads `stream` line by line into a new `Logs`,
    /// echoing every line to the test's stderr (prefixed with `tag`) so a
    /// failing test shows what the daemon said.
    pub fn collect(stream: impl Read + Send + 'static, tag: String) -> (Arc<Logs>, JoinHandle<()>) {
        let logs = Arc::new(Logs::default());
        let sink = Arc::clone(&logs);
        let handle = thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{tag}] {line}");
                let v = serde_json::from_str::<Value>(&line).unwrap_or(Value::String(line));
                sink.lines.lock().unwrap().push(v);
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        (logs, handle)
    }

    /// Number of lines so far (a mark for [`Logs::find_from`]).
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the stream ended (the daemon exited).
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn snapshot(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// First line at index >= `start` matching `pred`.
    pub fn find_from(&self, start: usize, pred: &dyn Fn(&Value) -> bool) -> Option<Value> {
        self.lines.lock().unwrap().iter().skip(start).find(|v| pred(v)).cloned()
    }

    /// All lines at index >= `start` matching `pred`.
    pub fn all_from(&self, start: usize, pred: &dyn Fn(&Value) -> bool) -> Vec<Value> {
        self.lines.lock().unwrap().iter().skip(start).filter(|v| pred(v)).cloned().collect()
    }
}

/// The line's `message` field.
pub fn message(v: &Value) -> Option<&str> {
    v.get("message").and_then(Value::as_str)
}

/// True when the line's `message` is exactly `msg`.
pub fn is(v: &Value, msg: &str) -> bool {
    message(v) == Some(msg)
}

/// A string field (numbers and booleans are rendered as text).
pub fn field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// An integer field, whether logged as a number or as a numeric string.
pub fn field_u64(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
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
