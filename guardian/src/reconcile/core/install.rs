//! Installing routes: one netlink batch per call, then the outcome per
//! route: a repair to report for a lost route put back, or a failure that
//! is retried later.

use super::super::table::State;
use super::multipath::Shape;
use super::{Core, Damping, Purpose, Trigger, Work, RETRY_DELAY};
use crate::kernel::routes::{Op, OpError};
use crate::kernel::wire::RouteRequest;
use crate::kernel::KernelError;
use crate::messages::{GuardTag, Repaired};
use crate::metrics::FailureLabels;
use crate::route::RouteSpec;
use std::cmp::Reverse;
use std::sync::Arc;
use tokio::time::Instant;

/// Routes to replace in the kernel in one batch: [`InstallBatch::ops`] for
/// the writer, the rest for [`Core::installed`].
#[derive(Debug, Default)]
pub struct InstallBatch {
    pub ops: Vec<Op>,
    /// The slot and purpose of each op, in order.
    sent: Vec<(usize, Purpose)>,
    /// Routes that could not even be sent (their device is missing).
    failed_early: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InstallOutcome {
    /// Lost routes put back (first installs are not counted).
    pub repaired: usize,
    pub failed: usize,
}

impl Core {
    /// The batch that installs `work`. `first_seq` is the sequence number the
    /// writer gives the batch's first op (each next op one more): repairs
    /// wait for their own notification (see `events.rs`). A route that cannot
    /// be expressed (its device is gone) fails at once.
    pub fn prepare_install(&mut self, work: Work, now: Instant, first_seq: u32) -> InstallBatch {
        let mut batch = InstallBatch::default();
        for (i, purpose) in work {
            match self.op_for(i) {
                Ok(op) => {
                    batch.ops.push(op);
                    batch.sent.push((i, purpose));
                }
                Err(e) => {
                    batch.failed_early += 1;
                    self.record_failure(i, e, now);
                }
            }
        }
        // Taken before sending: a loss read before this instant is repaired by this batch.
        let sent_at = self.micros(now);
        for (n, (i, purpose)) in batch.sent.iter().enumerate() {
            let slot = self.table.slot_mut(*i);
            slot.sent_at = sent_at;
            // Only a route known to be absent is sure to be notified:
            // replacing an identical IPv4 route (a reload adding `dev`) is
            // silent. A route liveness lets through again was deleted by
            // guardian, and that delete's notification may still be queued.
            slot.echo_pending =
                *purpose == Purpose::Ungated || matches!(slot.state, State::Missing | State::Damped | State::Failed);
            if slot.echo_pending {
                let key = slot.spec.key;
                self.await_echo(key, first_seq.wrapping_add(n as u32));
            }
        }
        batch
    }

    /// Records how the kernel answered `batch` (per op, or not at all); the
    /// repairs to report to the attribution task.
    pub fn installed(
        &mut self,
        batch: InstallBatch,
        result: Result<Vec<Result<(), OpError>>, KernelError>,
        now: Instant,
    ) -> (InstallOutcome, Vec<Repaired>) {
        let mut outcome = InstallOutcome { failed: batch.failed_early, ..Default::default() };
        let mut repairs = Vec::new();
        match result {
            Ok(results) => {
                for ((i, purpose), result) in batch.sent.into_iter().zip(results) {
                    match result {
                        Ok(()) => {
                            if let Some(repaired) = self.record_success(i, purpose, now) {
                                outcome.repaired += 1;
                                repairs.push(repaired);
                            }
                        }
                        Err(e) => {
                            outcome.failed += 1;
                            self.record_failure(i, e, now);
                        }
                    }
                }
            }
            Err(e) => {
                // The batch's fate is unknown: leave the routes missing and let a scan tell.
                tracing::warn!(error = %e, routes = batch.sent.len(), "route batch outcome unknown; resyncing");
                for (i, _) in batch.sent {
                    if self.table.slot(i).state != State::Installed {
                        self.table.set_state(i, State::Missing);
                    }
                }
                self.request_resync(Trigger::Overrun, now);
            }
        }
        (outcome, repairs)
    }

    /// The install of slot `i`: guardian's route with its protocol (a
    /// multipath one from the copy its legs make), or a guarded one with its
    /// owner's, from its exact copy when it has one.
    fn op_for(&self, i: usize) -> Result<Op, OpError> {
        let spec = self.table.slot(i).spec;
        let Some(terms) = self.guard_of(i) else {
            return match self.shape(&spec) {
                None => self.request_for(&spec).map(Op::Replace),
                Some(Ok(Shape::Plain(one_leg))) => self.request_for(&one_leg).map(Op::Replace),
                Some(Ok(Shape::Copy(copy))) => Ok(Op::Replay(Arc::new(copy))),
                Some(Err(e)) => Err(e),
            };
        };
        if let Some(copy) = self.raw.get(&spec.key) {
            return Ok(Op::Replay(copy.clone()));
        }
        let request = self.request_for(&spec)?;
        Ok(Op::Replace(RouteRequest { protocol: terms.protocol, ..request }))
    }

    pub(super) fn request_for(&self, spec: &RouteSpec) -> Result<RouteRequest, OpError> {
        let oif = match spec.dev {
            None => None,
            Some(dev) => match self.dev_index.get(dev) {
                Some(index) => Some(index),
                None => {
                    return Err(OpError {
                        errno: libc::ENODEV,
                        message: format!("device {} does not exist", self.table.devs.name(dev)),
                    })
                }
            },
        };
        Ok(RouteRequest { key: spec.key, via: spec.via, oif, src: spec.src, protocol: self.protocol })
    }

    /// Records an install the kernel accepted; the repair, when it put back
    /// a lost route.
    fn record_success(&mut self, i: usize, purpose: Purpose, now: Instant) -> Option<Repaired> {
        let key = self.table.slot(i).spec.key;
        let loss = self.missing.remove(&key);
        self.errors.remove(&key);
        self.retry_at.remove(&key);
        self.table.set_state(i, State::Installed);
        if matches!(purpose, Purpose::Initial | Purpose::Ungated) {
            if !self.ready {
                self.installed_at_startup += 1;
            }
            return None;
        }
        // A retry of a route that was never installed is not a reinstall.
        let loss = loss?;
        // A round of a possible fight, whose deleter the attribution task
        // tells later (`fights.rs`).
        let lost_at = loss.since.into_std();
        let cfg = &self.cfg;
        self.damping.entry(key).or_insert_with(|| Damping::new(lost_at)).repaired(lost_at, now.into_std(), cfg);
        let slot = self.table.slot_mut(i);
        slot.reinstalls = slot.reinstalls.saturating_add(1);
        self.reinstalls += 1;
        // Who deleted it is worked out, logged and counted by the attribution
        // task, off the repair path (it may read /proc or wait for an eBPF record).
        Some(Repaired {
            route: self.display(i),
            key,
            link_index: loss.link_index,
            family: key.family,
            noticed: loss.noticed,
            missing_for: now.duration_since(loss.since),
            cause: loss.cause,
            requester: loss.requester,
            lost_at: loss.since.into_std(),
            guard: self.guard_of(i).map(|_| {
                let source = self.source(self.table.slot(i).source);
                GuardTag { guard: source.guard_name().to_owned(), owner: source.owner.clone().unwrap_or_default() }
            }),
        })
    }

    /// Records a refused install. Every failure is tried again after
    /// [`RETRY_DELAY`]; one that waits for a link or an address is also
    /// tried as soon as a link comes up or an address is added.
    fn record_failure(&mut self, i: usize, e: OpError, now: Instant) {
        let key = self.table.slot(i).spec.key;
        self.table.set_state(i, State::Failed);
        if let Some(loss) = self.missing.get(&key) {
            let labels = FailureLabels { family: key.family.label(), noticed: loss.noticed.label() };
            self.metrics.reinstall_failures.get_or_create(&labels).inc();
        }
        if self.errors.get(&key) != Some(&e.message) {
            let retry = if e.waits_for_link() { "when a link or address returns, or in 5s" } else { "in 5s" };
            tracing::warn!(route = %self.display(i), error = %e.message, retry = %retry, "route install failed");
        }
        self.errors.insert(key, e.message);
        self.schedule_retry(key, now + RETRY_DELAY, false);
    }

    /// The routes whose retry is due: damped ones whose back-off ended,
    /// failed ones.
    pub(super) fn due_retries(&mut self, now: Instant) -> Work {
        let mut work = Vec::new();
        while let Some(Reverse((at, key))) = self.retries.peek().copied() {
            if at > now {
                break;
            }
            self.retries.pop();
            if self.retry_at.get(&key) != Some(&at) {
                continue; // superseded by a later schedule, or done
            }
            self.retry_at.remove(&key);
            let Some(i) = self.table.find(&key) else { continue };
            match self.table.slot(i).state {
                State::Damped => work.push((i, Purpose::Repair)),
                State::Failed => work.push((i, Purpose::Retry)),
                _ => {}
            }
        }
        work
    }
}
