//! Liveness gates routes: a route whose session goes down is withdrawn and
//! stops being guarded; when the session comes up it is installed again.
//!
//! A withdrawn route is marked [`State::Withdrawn`] before the delete is
//! sent, so the delete's own notification is not taken for a loss and the
//! route is never "repaired" back against its session's verdict.

use super::table::State;
use super::{Purpose, Reconciler};
use crate::messages::Gate;
use crate::route::{RouteKey, RouteSpec};

/// What a gate did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct GateOutcome {
    installed: usize,
    withdrawn: usize,
    failed: usize,
}

impl Reconciler {
    pub(super) async fn on_gate(&mut self, gate: Gate) {
        let mut outcome = GateOutcome::default();
        if gate.open {
            let mut work: Vec<(usize, Purpose)> = Vec::new();
            for key in gate.keys.iter().filter(|key| self.gated.contains(*key)) {
                if let Some(i) = self.table.find(key).filter(|&i| self.table.slot(i).state == State::Withdrawn) {
                    self.table.set_state(i, State::Pending);
                    work.push((i, Purpose::Ungated));
                }
            }
            let done = self.install(work.clone()).await;
            outcome.failed = done.failed;
            outcome.installed = work.len() - done.failed;
        } else {
            let mut specs: Vec<RouteSpec> = Vec::new();
            for key in &gate.keys {
                let Some(i) = self.table.find(key).filter(|_| self.gated.contains(key)) else { continue };
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
            outcome.failed =
                self.withdraw(&specs, "cannot withdraw route whose session is down (a later scan withdraws it)").await;
            outcome.withdrawn = specs.len() - outcome.failed;
        }
        let GateOutcome { installed, withdrawn, failed } = outcome;
        let m = &self.metrics.liveness;
        m.route_installs.inc_by(installed as u64);
        m.route_withdraws.inc_by(withdrawn as u64);
        if gate.open {
            m.route_install_failures.inc_by(failed as u64);
        } else {
            m.route_uninstall_failures.inc_by(failed as u64);
        }
        tracing::debug!(open = gate.open, routes = gate.keys.len(), installed, withdrawn, failed, "liveness gate");
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
