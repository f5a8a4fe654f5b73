//! For unit tests that need the real kernel: a throw-away network
//! namespace and the loud skip when a prerequisite is missing.

use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Prints `SKIPPED: <test>: reason` past libtest's capture, or fails under
/// CI, where every prerequisite is installed and a skip would hide a gap.
pub fn skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("<test>").to_owned();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("{test}: prerequisites missing under CI (tests must not skip in CI): {reason}");
    }
    let msg = format!("\nSKIPPED: {test}: {reason}\n");
    // SAFETY: writing a byte buffer to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// A network namespace named `<prefix>-<pid>-<n>`, deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new(prefix: &str) -> Result<Netns, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let out = Command::new("ip").args(["netns", "add", &name]).output().map_err(|e| format!("ip: {e}"))?;
        if !out.status.success() {
            return Err(format!("ip netns add: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Netns(name))
    }

    /// `ip -n <ns> args...`, panicking on failure (setup is not optional);
    /// returns the `ip` process's pid.
    pub fn ip(&self, args: &[&str]) -> u32 {
        let child = Command::new("ip").args(["-n", &self.0]).args(args).spawn().expect("spawning ip");
        let pid = child.id();
        let out = child.wait_with_output().expect("waiting for ip");
        assert!(out.status.success(), "ip -n {} {args:?} failed", self.0);
        pid
    }

    /// Runs `f` on a thread that has joined the namespace: sockets it opens
    /// belong to the namespace for life, and /proc/thread-self/net is its.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = std::fs::File::open(format!("/run/netns/{}", self.0)).expect("open the namespace");
                // SAFETY: setns on a valid namespace fd, for this thread only.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("thread in the namespace panicked")
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}
