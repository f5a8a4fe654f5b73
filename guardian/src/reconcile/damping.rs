//! Damping of routes that are deleted again and again: after
//! `max_repairs_per_route` repairs within `damping_window`, each further
//! repair waits, doubling from one second up to `damping_max_backoff`,
//! instead of fighting another daemon at full speed.

use crate::config::ReconcileConfig;
use std::time::{Duration, Instant};

/// The first delay once a route is damped.
pub const BASE_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damping {
    window_start: Instant,
    repairs: u32,
    /// How many back-offs in a row; reset by a calm window.
    level: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    RepairNow,
    /// Wait this long; `first` is true when the route has just become damped.
    Wait {
        delay: Duration,
        first: bool,
    },
}

/// Decides what to do about one more loss of a route at `now`.
pub fn on_loss(previous: Option<Damping>, now: Instant, cfg: &ReconcileConfig) -> (Damping, Verdict) {
    let mut d = previous.unwrap_or(Damping { window_start: now, repairs: 0, level: 0 });
    if now.duration_since(d.window_start) >= cfg.damping_window {
        // A window without excess losses forgives earlier back-offs.
        if d.repairs <= cfg.max_repairs_per_route {
            d.level = 0;
        }
        d.window_start = now;
        d.repairs = 0;
    }
    d.repairs += 1;
    if d.repairs <= cfg.max_repairs_per_route {
        return (d, Verdict::RepairNow);
    }
    let first = d.level == 0;
    let delay = BASE_BACKOFF.saturating_mul(1u32 << d.level.min(20)).min(cfg.damping_max_backoff);
    d.level += 1;
    (d, Verdict::Wait { delay, first })
}

/// A damping record can be forgotten once a whole window passed without loss.
pub fn is_calm(d: &Damping, now: Instant, cfg: &ReconcileConfig) -> bool {
    now.duration_since(d.window_start) >= cfg.damping_window.saturating_mul(2).max(cfg.damping_max_backoff)
}

#[cfg(test)]
mod tests;
