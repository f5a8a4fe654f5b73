//! A new configuration, and the withdrawals of shutdown.

use super::super::table::State;
use super::super::ReloadReport;
use super::{Core, Purpose, WithdrawBatch, Work};
use crate::config::Config;
use crate::route::{DevNames, RouteKey, RouteSpec};
use std::collections::HashSet;
use tokio::time::Instant;

/// What a reload asks of the kernel, in this order: removed routes out,
/// then added and changed ones in.
#[derive(Debug)]
pub struct ReloadPlan {
    pub withdraw: WithdrawBatch,
    pub install: Work,
    pub report: ReloadReport,
}

impl Core {
    /// Applies a new configuration: removed routes are untracked (then
    /// withdrawn by the plan); added and changed ones installed; the rest
    /// untouched.
    pub fn reload(&mut self, config: Config, now: Instant) -> ReloadPlan {
        let Config { origin, daemon, reconcile, routes, .. } = config;
        if daemon != self.daemon {
            tracing::warn!("changes to [daemon] take effect when guardian restarts");
        }
        if reconcile.interval != self.cfg.interval {
            self.next_scan = (!reconcile.interval.is_zero()).then(|| now + reconcile.interval);
        }
        self.cfg = reconcile;
        self.origin = origin;
        let new: Vec<RouteSpec> =
            routes.specs.iter().map(|s| translate(s, &routes.devs, &mut self.table.devs)).collect();
        self.refresh_dev_index();
        let wanted: HashSet<RouteKey> = new.iter().map(|s| s.key).collect();
        let mut report = ReloadReport::default();

        // Untracked before the delete is even planned, so nothing repairs them.
        let removed: Vec<RouteKey> =
            self.table.slots().iter().map(|s| s.spec.key).filter(|k| !wanted.contains(k)).collect();
        let mut installed = Vec::new();
        for key in &removed {
            self.untrack(key);
            if let Some(slot) = self.table.remove(key) {
                if slot.state == State::Installed {
                    installed.push(slot.spec);
                }
            }
        }
        report.removed = removed.len();
        let withdraw = self.withdraw_batch(&installed, "cannot withdraw route (a later scan withdraws it as stale)");

        // Liveness decides about gated routes: a new one waits for its
        // session, a withdrawn one stays withdrawn, an installed one stays
        // until its session has had its chance (the liveness task re-sends
        // every verdict after a reload). One no longer gated is guarded again.
        let gated: HashSet<RouteKey> = routes.liveness.iter().map(|l| l.key).collect();
        let mut to_install = Vec::new();
        for spec in new {
            let is_gated = gated.contains(&spec.key);
            match self.table.find(&spec.key) {
                Some(i) if self.table.slot(i).spec == spec => {
                    report.unchanged += 1;
                    if !is_gated && self.table.slot(i).state == State::Withdrawn {
                        self.table.set_state(i, State::Pending);
                        to_install.push(spec.key);
                    }
                }
                Some(i) => {
                    report.changed += 1;
                    let withdrawn = self.table.slot(i).state == State::Withdrawn;
                    self.table.update(i, spec);
                    if is_gated && withdrawn {
                        self.table.set_state(i, State::Withdrawn);
                    } else {
                        to_install.push(spec.key);
                    }
                }
                None => {
                    report.added += 1;
                    let i = self.table.insert(spec);
                    if is_gated {
                        self.table.set_state(i, State::Withdrawn);
                    } else {
                        to_install.push(spec.key);
                    }
                }
            }
        }
        self.gated = gated;
        // Keep the scan's fast path: slots in the kernel's dump order.
        // Sorting moves slots, so indices are taken only afterwards.
        if report.added + report.removed > 0 {
            self.table.sort();
        }
        let install = to_install.iter().filter_map(|k| self.table.find(k)).map(|i| (i, Purpose::Initial)).collect();
        ReloadPlan { withdraw, install, report }
    }

    /// The deletes of `withdraw_on_exit` (nothing without it); the routes
    /// leave the tracked set first.
    pub fn shutdown(&mut self) -> WithdrawBatch {
        if !self.daemon.withdraw_on_exit {
            return WithdrawBatch::default();
        }
        let keys: Vec<RouteKey> = self.table.slots().iter().map(|s| s.spec.key).collect();
        let specs: Vec<RouteSpec> = keys
            .iter()
            .filter_map(|k| self.table.remove(k))
            .filter(|slot| slot.state == State::Installed)
            .map(|slot| slot.spec)
            .collect();
        self.withdraw_batch(&specs, "cannot withdraw route on exit")
    }
}

/// Re-expresses a spec whose device id refers to `from` with ids of `to`.
fn translate(spec: &RouteSpec, from: &DevNames, to: &mut DevNames) -> RouteSpec {
    RouteSpec { dev: spec.dev.map(|d| to.intern(from.name(d))), ..*spec }
}
