//! Telling the service manager how guardian is doing (`Type=notify`):
//! READY=1 once the start-up scan is done, and a one-line STATUS=.
//!
//! ```text
//! reconciler ──watch<Status>──▶ ┌────────┐ ──READY=1 (once), STATUS= (on change, at most 1/s)──▶ NOTIFY_SOCKET
//! metrics (sessions by state) ─▶ │ notify │ ──WATCHDOG=1 until ready (the reconciler's loop pets it after)
//!                               └────────┘
//! ```
//!
//! READY=1 means the reconciler's start-up scan is over: every route of the
//! file that no liveness session gates is installed (or adopted, or failed
//! and retried), and stale routes are withdrawn. It does not wait for
//! routes a liveness session gates (they come in when their session is Up)
//! nor for routes another source (BGP) may send later. RELOADING=1 and
//! STOPPING=1 come from the reload task and the signal loop.

use crate::messages::api::Status;
use crate::metrics::liveness::StateLabels;
use crate::metrics::Metrics;
use crate::systemd::Notifier;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// STATUS= is sent when its text changes, at most this often.
const STATUS_EVERY: Duration = Duration::from_secs(1);

pub async fn run(
    notifier: Notifier,
    mut status: watch::Receiver<Status>,
    metrics: Arc<Metrics>,
    attribution: &'static str,
    watchdog: Option<Duration>,
) {
    // Until ready, the reconciler is in its start-up scan and not in the
    // loop that pets the watchdog: this task does (the start timeout is the
    // guard against a start-up that hangs).
    let mut pet = tokio::time::interval(watchdog.unwrap_or(STATUS_EVERY));
    pet.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = pet.tick() => if watchdog.is_some() { notifier.watchdog() },
        }
        if status.borrow_and_update().ready {
            break;
        }
    }
    let mut last = summary(&status.borrow(), sessions(&metrics), attribution);
    notifier.send(&["READY=1", &format!("STATUS={last}")]);
    tracing::debug!(status = %last, "told the service manager guardian is ready");
    let mut every = tokio::time::interval(STATUS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if status.has_changed().is_err() {
            return;
        }
        let text = summary(&status.borrow(), sessions(&metrics), attribution);
        if text != last {
            notifier.status(&text);
            last = text;
        }
    }
}

/// Liveness sessions (up, all), from the metrics the liveness task keeps.
fn sessions(metrics: &Metrics) -> (i64, i64) {
    let family = &metrics.liveness.sessions;
    let count = |state| family.get(&StateLabels { state }).map(|g| g.get()).unwrap_or(0);
    let all = crate::metrics::liveness::PEER_STATES.iter().map(|s| count(s)).sum();
    (count("up"), all)
}

/// The one line `systemctl status guardian` shows: routes installed of
/// those wanted (and why others are not), sessions Up, attribution.
pub fn summary(status: &Status, (up, sessions): (i64, i64), attribution: &str) -> String {
    let r = &status.routes;
    let mut text = format!("{}/{} routes installed", r.installed, r.desired);
    for (n, what) in [(r.withdrawn, "withdrawn by liveness"), (r.failed, "failed"), (r.damped, "damped")] {
        if n > 0 {
            text.push_str(&format!(", {n} {what}"));
        }
    }
    if sessions > 0 {
        text.push_str(&format!("; {up}/{sessions} liveness sessions up"));
    }
    text.push_str(&format!("; attribution {attribution}"));
    text
}

#[cfg(test)]
mod tests;
