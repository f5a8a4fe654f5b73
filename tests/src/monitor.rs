//! `ip monitor route` running in a namespace in the background, to prove
//! that nothing touched a route (e.g. across a daemon restart).

use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::logs::{route_mentions, Logs};
use crate::netns::Netns;
use crate::wait;

/// Table for marker routes; nothing else uses it.
const MARKER_TABLE: &str = "250";

pub struct Monitor {
    child: Child,
    lines: Arc<Logs>,
    reader: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Starts `ip monitor route` in `ns` and returns once it is known to be
    /// subscribed (it has printed a marker route added after its start).
    pub fn start(ns: &Netns) -> Monitor {
        let mut c = ns.ip_cmd(&["monitor", "route"]);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, reader) = Logs::collect(stdout, format!("ip monitor {}", ns.name()));
        let m = Monitor { child, lines, reader: Some(reader) };
        m.sync(ns);
        m
    }

    /// Adds (and removes) a marker route and waits until the monitor has
    /// printed it: every route event before this call has then been printed
    /// too. Returns the index of the marker line. (Retries with a new marker
    /// while the monitor may not have subscribed yet.)
    pub fn sync(&self, ns: &Netns) -> usize {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let deadline = Instant::now() + wait::SHORT;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 250 + 1;
            let marker = format!("198.51.100.{n}");
            let cidr = format!("{marker}/32");
            let start = self.lines.len();
            ns.ip(&["route", "add", "blackhole", &cidr, "table", MARKER_TABLE]);
            let attempt = Instant::now() + Duration::from_secs(2);
            let found = loop {
                let lines = self.lines.snapshot();
                let pos = lines[start..].iter().position(|l| text(l).is_some_and(|t| route_mentions(t, &marker)));
                if let Some(i) = pos {
                    break Some(start + i);
                }
                assert!(!self.lines.closed(), "ip monitor exited");
                if Instant::now() >= attempt {
                    break None;
                }
                thread::sleep(Duration::from_millis(10));
            };
            ns.ip(&["route", "del", "blackhole", &cidr, "table", MARKER_TABLE]);
            match found {
                Some(i) => return i,
                None if Instant::now() < deadline => continue,
                None => panic!("ip monitor in {} never printed a marker route", ns.name()),
            }
        }
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.snapshot().iter().filter_map(|v| text(v).map(str::to_owned)).collect()
    }

    /// Lines from index `from` on that mention the prefix `dst`.
    pub fn mentioning(&self, from: usize, dst: &str) -> Vec<String> {
        self.lines().into_iter().skip(from).filter(|l| route_mentions(l, dst)).collect()
    }
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}
