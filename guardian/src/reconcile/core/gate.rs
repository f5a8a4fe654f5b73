//! Liveness gates routes: a route whose session goes down is withdrawn and
//! stops being guarded; when the session comes up it is installed again.
//!
//! A withdrawn route is marked [`State::Withdrawn`] before the delete is
//! sent, so the delete's own notification is not taken for a loss and the
//! route is never "repaired" back against its session's verdict.

use super::super::table::State;
use super::{Core, Purpose, WithdrawBatch, Work};
use crate::messages::Gate;
use crate::route::{RouteKey, RouteSpec};

/// What a gate asks of the kernel: installs (open) or deletes (closed).
#[derive(Debug)]
pub enum GatePlan {
    Open(Work),
    Close(WithdrawBatch),
}

impl Core {
    /// A liveness verdict. Only routes that liveness gates are touched.
    pub fn on_gate(&mut self, gate: &Gate) -> GatePlan {
        if gate.open {
            let mut work: Work = Vec::new();
            for key in &gate.keys {
                let slot = |i: &usize| self.table.slot(*i);
                if let Some(i) = self.table.find(key).filter(|i| slot(i).gated && slot(i).state == State::Withdrawn) {
                    self.table.set_state(i, State::Pending);
                    work.push((i, Purpose::Ungated));
                }
            }
            return GatePlan::Open(work);
        }
        let mut specs: Vec<RouteSpec> = Vec::new();
        for key in &gate.keys {
            let Some(i) = self.table.find(key).filter(|&i| self.table.slot(i).gated) else { continue };
            let state = self.table.slot(i).state;
            if state == State::Withdrawn {
                continue;
            }
            self.untrack(key);
            self.table.set_state(i, State::Withdrawn);
            // A route never installed is not deleted: an IPv4 delete
            // with metric 0 could hit another route of ours.
            if matches!(state, State::Installed | State::Missing | State::Damped) {
                specs.push(self.table.slot(i).spec);
            }
        }
        GatePlan::Close(
            self.withdraw_batch(&specs, "cannot withdraw route whose session is down (a later scan withdraws it)"),
        )
    }

    /// Counts what a gate did: of `requested` installs (open) or deletes
    /// (closed), `failed` failed.
    pub fn gate_done(&self, gate: &Gate, requested: usize, failed: usize) {
        let m = &self.metrics.liveness;
        let done = requested - failed;
        if gate.open {
            m.route_installs.inc_by(done as u64);
            m.route_install_failures.inc_by(failed as u64);
        } else {
            m.route_withdraws.inc_by(done as u64);
            m.route_uninstall_failures.inc_by(failed as u64);
        }
        tracing::debug!(open = gate.open, routes = gate.keys.len(), done, failed, "liveness gate");
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
