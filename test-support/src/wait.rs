//! Polling a condition with a deadline: the only way tests wait. Nothing is
//! ever asserted about how long something took.

use std::thread;
use std::time::{Duration, Instant};

/// Generous deadline for a single event (a repair, a log line).
pub const SHORT: Duration = Duration::from_secs(20);
/// Deadline for work on thousands of routes on a shared, noisy machine.
pub const LONG: Duration = Duration::from_secs(120);

/// Calls `f` every few milliseconds until it returns `Some`, and returns that
/// value. Panics naming `what` (and the last state described by `f`'s
/// `Err`) when `timeout` passes first.
pub fn until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        let last = match f() {
            Ok(v) => return v,
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last state: {last}");
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
