//! The service manager's notification protocol (sd_notify(3)): one
//! datagram of `KEY=VALUE` lines to the AF_UNIX socket `NOTIFY_SOCKET`
//! names, a filesystem path or, when it starts with `@`, an abstract name.
//!
//! ```text
//! daemon ──READY=1, STATUS=, RELOADING=1, STOPPING=1──▶ ┌──────────┐
//! reconciler loop ──────────────WATCHDOG=1──────────────▶ │ Notifier │ ──datagram──▶ NOTIFY_SOCKET
//! ```
//!
//! Hand-written rather than the `sd-notify` crate: that crate resolves
//! `NOTIFY_SOCKET` as a path only, and systemd (and other managers) may
//! hand out an abstract socket. Nothing here decides *when* to notify:
//! `daemon/notify.rs` does (readiness and status), `reconcile/task.rs`
//! pets the watchdog.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

/// Where notifications go; cheap to clone (one socket, shared).
#[derive(Clone, Debug)]
pub struct Notifier {
    socket: Arc<UnixDatagram>,
    to: Arc<SocketAddr>,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` names, or `None` when guardian does not
    /// run under a service manager that listens (unset, empty, or a value
    /// no socket can be opened for: that one is logged once).
    pub fn from_env() -> Option<Notifier> {
        let value = std::env::var_os("NOTIFY_SOCKET")?;
        let value = value.to_str().filter(|v| !v.is_empty())?;
        match Notifier::new(value) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, socket = value, "NOTIFY_SOCKET is set but unusable; not notifying the service manager");
                None
            }
        }
    }

    /// A notifier for `name`: a path, or `@name` for an abstract socket.
    pub fn new(name: &str) -> std::io::Result<Notifier> {
        let to = match name.strip_prefix('@') {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(abstract_name.as_bytes())?
            }
            None => SocketAddr::from_pathname(name)?,
        };
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(Notifier { socket: Arc::new(socket), to: Arc::new(to) })
    }

    /// Sends one notification (lines joined by newlines). Each send names
    /// the address again, so a service manager that re-created its socket
    /// (systemd's daemon-reexec) still gets it. Failures are logged at
    /// debug: the service manager's view is not worth stopping for.
    pub fn send(&self, lines: &[&str]) {
        let message = lines.join("\n");
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.to) {
            tracing::debug!(error = %e, message, "cannot notify the service manager");
        }
    }

    pub fn ready(&self) {
        self.send(&["READY=1"]);
    }

    /// `RELOADING=1` with the monotonic time, as systemd 253+ wants it.
    pub fn reloading(&self) {
        let now = format!("MONOTONIC_USEC={}", monotonic_usec());
        self.send(&["RELOADING=1", &now]);
    }

    pub fn stopping(&self) {
        self.send(&["STOPPING=1"]);
    }

    /// `STATUS=` with one line (newlines would end the field).
    pub fn status(&self, text: &str) {
        let line = format!("STATUS={}", text.replace('\n', " "));
        self.send(&[&line]);
    }

    pub fn watchdog(&self) {
        self.send(&["WATCHDOG=1"]);
    }
}

/// How often to pet the service manager's watchdog: half of
/// `WATCHDOG_USEC`, when that is set and `WATCHDOG_PID` (when set) is this
/// process (as sd_watchdog_enabled(3) decides).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?.parse::<u64>().ok().filter(|u| *u > 0)?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    Some(Duration::from_micros(usec) / 2)
}

/// The watchdog as the reconciler's loop keeps it: when it is next due.
#[derive(Debug)]
pub struct Watchdog {
    notifier: Notifier,
    interval: Duration,
    next: tokio::time::Instant,
}

impl Watchdog {
    /// `None` unless both a notifier and a watchdog interval are set.
    pub fn from_env(notifier: Option<&Notifier>) -> Option<Watchdog> {
        let interval = watchdog_interval()?;
        let notifier = notifier?.clone();
        Some(Watchdog { notifier, interval, next: tokio::time::Instant::now() })
    }

    /// When the loop must wake up at the latest to pet in time.
    pub fn next(&self) -> tokio::time::Instant {
        self.next
    }

    /// Pets the watchdog when it is due, and schedules the next time.
    pub fn pet_if_due(&mut self, now: tokio::time::Instant) {
        if now >= self.next {
            self.notifier.watchdog();
            self.next = now + self.interval;
        }
    }
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the one we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

#[cfg(test)]
mod tests;
