//! The reconciler's own settings, changed by a reload, and the withdrawals
//! of shutdown.

use super::super::table::State;
use super::super::Settings;
use super::{Core, WithdrawBatch};
use crate::route::{RouteKey, RouteSpec};
use tokio::time::Instant;

impl Core {
    /// Applies re-read settings. `[daemon]` is read once, at start.
    pub fn configure(&mut self, settings: Settings, now: Instant) {
        let Settings { origin, daemon, reconcile } = settings;
        if daemon != self.daemon {
            tracing::warn!("changes to [daemon] take effect when guardian restarts");
        }
        if reconcile.interval != self.cfg.interval {
            self.next_scan = (!reconcile.interval.is_zero()).then(|| now + reconcile.interval);
        }
        self.cfg = reconcile;
        self.origin = origin;
    }

    /// The deletes of `withdraw_on_exit` (nothing without it); the routes
    /// leave the tracked set first.
    pub fn shutdown(&mut self) -> WithdrawBatch {
        if !self.daemon.withdraw_on_exit {
            return WithdrawBatch::default();
        }
        // Guarded routes are their owners': they stay.
        let sources = &self.sources;
        let keys: Vec<RouteKey> = self
            .table
            .slots()
            .iter()
            .filter(|s| sources[s.source.0 as usize].guard.is_none())
            .map(|s| s.spec.key)
            .collect();
        let specs: Vec<RouteSpec> = keys
            .iter()
            .filter_map(|k| self.table.remove(k))
            .filter(|slot| slot.state == State::Installed)
            .map(|slot| slot.spec)
            .collect();
        self.withdraw_batch(&specs, "cannot withdraw route on exit")
    }
}
