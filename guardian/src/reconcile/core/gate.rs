//! Liveness gates routes: a route whose session goes down is withdrawn and
//! stops being guarded; when the session comes up it is installed again.
//! A multipath route whose legs follow sessions of their own keeps the legs
//! whose session is Up: it is replaced as legs leave and rejoin, and
//! withdrawn when none is Up (`multipath.rs`).
//!
//! A withdrawn route is marked [`State::Withdrawn`] before the delete is
//! sent, so the delete's own notification is not taken for a loss and the
//! route is never "repaired" back against its session's verdict.

use super::super::table::State;
use super::multipath::LegChange;
use super::{Core, Purpose, WithdrawBatch, Work};
use crate::messages::Gate;
use crate::route::{RouteKey, RouteSpec};

/// What a gate asks of the kernel, in this order: deletes (routes whose
/// session, or last leg's, went down), then installs (routes let through
/// again, and multipath routes replaced with the legs Up now).
#[derive(Debug, Default)]
pub struct GatePlan {
    pub withdraw: WithdrawBatch,
    pub install: Work,
}

impl Core {
    /// A liveness verdict. Only routes that liveness gates are touched.
    pub fn on_gate(&mut self, gate: &Gate) -> GatePlan {
        let mut install: Work = Vec::new();
        let mut withdraw: Vec<RouteSpec> = Vec::new();
        for key in &gate.keys {
            let Some(i) = self.table.find(&key.route).filter(|&i| self.table.slot(i).gated) else { continue };
            let change = match key.leg {
                None if gate.open => LegChange::FirstUp,
                None => LegChange::LastDown,
                Some(leg) => match self.gate_leg(&key.route, leg, gate.open) {
                    Some(change) => change,
                    None => continue,
                },
            };
            let state = self.table.slot(i).state;
            match (change, state) {
                (LegChange::FirstUp, State::Withdrawn) => {
                    self.table.set_state(i, State::Pending);
                    install.push((i, Purpose::Ungated));
                }
                (LegChange::LastDown, State::Withdrawn) => {}
                (LegChange::LastDown, _) => {
                    self.untrack(&key.route);
                    self.table.set_state(i, State::Withdrawn);
                    // A route never installed is not deleted: an IPv4 delete
                    // with metric 0 could hit another route of ours.
                    if matches!(state, State::Installed | State::Missing | State::Damped) {
                        withdraw.push(self.table.slot(i).spec);
                    }
                }
                // The legs in the kernel are not the legs Up now: replaced
                // as a reload would. A route being repaired or retried gets
                // the new legs when that happens.
                (LegChange::FirstUp | LegChange::Reshaped, State::Installed) if key.leg.is_some() => {
                    install.push((i, Purpose::Initial));
                }
                _ => {}
            }
        }
        // A leg joining and another leaving in one wake-up: one replace.
        install.sort_unstable();
        install.dedup_by_key(|(i, _)| *i);
        let withdraw =
            self.withdraw_batch(&withdraw, "cannot withdraw route whose session is down (a later scan withdraws it)");
        GatePlan { withdraw, install }
    }

    /// Counts what a gate did: of `installs` and `withdraws` requested
    /// (each `(requested, failed)`), how many failed.
    pub fn gate_done(&self, gate: &Gate, installs: (usize, usize), withdraws: (usize, usize)) {
        let m = &self.metrics.liveness;
        m.route_installs.inc_by((installs.0 - installs.1) as u64);
        m.route_install_failures.inc_by(installs.1 as u64);
        m.route_withdraws.inc_by((withdraws.0 - withdraws.1) as u64);
        m.route_uninstall_failures.inc_by(withdraws.1 as u64);
        tracing::debug!(
            open = gate.open,
            routes = gate.keys.len(),
            installs = installs.0,
            withdraws = withdraws.0,
            failed = installs.1 + withdraws.1,
            "liveness gate"
        );
    }

    /// Forgets the repair state of a route that is no longer guarded.
    pub(super) fn untrack(&mut self, key: &RouteKey) {
        self.missing.remove(key);
        self.damping.remove(key);
        self.errors.remove(key);
        self.retry_at.remove(key);
        self.unconfirmed.remove(key);
        self.echo_seq.remove(key);
    }
}
