//! A daemon's liveness sessions as `guardian sessions --json` shows them,
//! and waiting for one of them to reach a state.
//!
//! Each session is the JSON object of the control API (`peer`, `local`,
//! `interface`, `state`, `uptime_seconds`, `last_down_reason`,
//! `local_discriminator`, `remote_discriminator`, `in_grace`, ...).

use std::time::Duration;

use serde_json::Value;

use crate::daemon::Daemon;
use crate::wait;

/// Every session, from `guardian sessions --json`.
pub fn list(d: &Daemon) -> Vec<Value> {
    match d.cli_json(&["sessions", "--json"]) {
        Value::Array(sessions) => sessions,
        other => panic!("`guardian sessions --json` did not print an array: {other}"),
    }
}

/// The one session with `peer`; None when there is none. Panics when
/// there are several (the tests configure one path per peer).
pub fn find(d: &Daemon, peer: &str) -> Option<Value> {
    let all = list(d);
    let mut with: Vec<Value> = all.iter().filter(|s| s["peer"] == peer).cloned().collect();
    assert!(with.len() <= 1, "several sessions with peer {peer}: {all:?}");
    with.pop()
}

/// The session with `peer`; panics when there is none.
pub fn get(d: &Daemon, peer: &str) -> Value {
    find(d, peer).unwrap_or_else(|| panic!("no session with peer {peer}: {:?}", list(d)))
}

/// The session's `state` (`admin_down`, `down`, `init`, `up`).
pub fn state(s: &Value) -> &str {
    s["state"].as_str().unwrap_or_else(|| panic!("session without a state: {s}"))
}

/// A numeric field.
pub fn number(s: &Value, key: &str) -> f64 {
    s[key].as_f64().unwrap_or_else(|| panic!("session field {key} is not a number: {s}"))
}

/// Polls the session with `peer` until `pred` holds and returns it.
/// Panics at the deadline (with the last session seen) or when the daemon
/// exits first.
pub fn wait(d: &Daemon, peer: &str, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    wait::until(&format!("session with {peer}: {what}"), timeout, || {
        if let Some(status) = d.try_status() {
            panic!("daemon {} exited ({status:?}) while waiting for its session with {peer}: {what}", d.pid());
        }
        match find(d, peer) {
            Some(s) if pred(&s) => Ok(s),
            Some(s) => Err(s.to_string()),
            None => Err(format!("no session with {peer}")),
        }
    })
}

/// Polls until the session with `peer` is in `state` and returns it.
pub fn wait_state(d: &Daemon, peer: &str, want: &str, timeout: Duration) -> Value {
    wait(d, peer, &format!("state {want}"), timeout, |s| state(s) == want)
}
