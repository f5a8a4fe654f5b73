//! Notifications -> losses. A loss is repaired at once in one batch with the
//! other losses of the same wake-up, unless damping holds it back.

use super::super::table::State;
use super::multipath::Shape;
use super::{damping, Core, Damping, Loss, Purpose, Trigger, Work, ECHO_WINDOW};
use crate::messages::GuardNotice;
use crate::messages::{Cause, Event, EventBatch, KernelRoute, Noticed, Requester};
use crate::route::raw::RawRoute;
use crate::route::RouteKey;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;

impl Core {
    /// One batch of notifications read at `batch.received`; returns the
    /// routes to install now (repairs, and failed ones a link or address
    /// came back for).
    pub fn on_events(&mut self, batch: EventBatch, now: Instant) -> Work {
        // Later events of the same batch override earlier ones: a route
        // deleted and added back as ours in one burst is not lost.
        let mut lost: HashMap<usize, LostNow> = HashMap::new();
        let mut retry_failed = false;
        // The device of each deleted route: one whose link is down by the
        // end of the batch went with its link (the kernel deletes it in the
        // context of the request that set the link down).
        let mut over: HashMap<usize, u32> = HashMap::new();
        let read_done = self.micros(batch.read_done);
        for event in batch.events {
            match event {
                Event::RouteAdded { route, replace, requester, raw } => {
                    let Some(i) = self.table.find(&route.key) else {
                        // A route of a protocol a guard watches: the owner's new route, maybe.
                        if let Some(raw) = raw {
                            self.guard_notices.push(GuardNotice::Appeared { route, raw, requester });
                        }
                        continue;
                    };
                    if self.is_ours(i, &route) {
                        lost.remove(&i);
                        self.confirm_install(i);
                        // Someone else put it back as we meant it.
                        if matches!(self.table.slot(i).state, State::Missing | State::Failed | State::Damped) {
                            self.mark_present(i);
                        }
                    } else if replace && self.is_current_loss(i, read_done) {
                        // Another process replaced ours with other attributes.
                        // A route added beside ours (append, prepend) leaves
                        // ours in place; the scans watch what the kernel keeps.
                        let replacement = raw.filter(|_| self.guard_of(i).is_some()).map(|raw| (route, raw));
                        lost.insert(i, (Cause::Replaced, Some(requester), replacement));
                    }
                }
                Event::RouteDeleted { route, requester } => {
                    let Some(i) = self.table.find(&route.key) else { continue };
                    if !self.is_ours(i, &route) || !self.is_current_loss(i, read_done) {
                        continue;
                    }
                    if self.precedes_our_install(i, read_done) {
                        let check_at = batch.received + ECHO_WINDOW;
                        self.unconfirmed.insert(route.key, check_at);
                        self.verify_at = Some(self.verify_at.map_or(check_at, |at| at.min(check_at)));
                        continue;
                    }
                    lost.insert(i, (Cause::Deleted, Some(requester), None));
                    if route.oif != 0 {
                        over.insert(i, route.oif);
                    }
                }
                Event::LinkChanged(link) => {
                    let was_up = self.link_up.insert(link.index, link.up);
                    if !link.up {
                        self.links_down.insert(link.index, (link.name.clone(), batch.received));
                    }
                    let renamed = self.links.get(&link.name).map(|l| l.index) != Some(link.index);
                    self.links.retain(|_, l| l.index != link.index);
                    self.links.insert(link.name.clone(), link.clone());
                    if renamed {
                        self.refresh_dev_index();
                    }
                    match (was_up, link.up) {
                        // IPv4 routes over a link that goes down vanish without a
                        // notification of their own: only a scan can tell.
                        (Some(true), false) => self.request_resync(Trigger::LinkOrAddress, now),
                        (Some(false) | None, true) => retry_failed = true,
                        _ => {}
                    }
                }
                Event::LinkRemoved(link) => {
                    self.links_down.insert(link.index, (link.name.clone(), batch.received));
                    self.link_up.remove(&link.index);
                    self.links.retain(|_, l| l.index != link.index);
                    self.refresh_dev_index();
                    self.request_resync(Trigger::LinkOrAddress, now);
                }
                Event::AddressAdded => retry_failed = true,
                Event::AddressRemoved => self.request_resync(Trigger::LinkOrAddress, now),
                Event::OwnEcho { seq } => self.on_own_echo(seq),
                Event::Overrun => {
                    self.overruns += 1;
                    self.metrics.netlink_overruns.inc();
                    tracing::warn!("netlink overrun, resyncing");
                    self.request_resync(Trigger::Overrun, now);
                }
            }
        }
        let mut lost: Vec<(usize, LostNow)> = lost.into_iter().collect();
        lost.sort_unstable_by_key(|(i, _)| *i);
        for (i, (cause, _, _)) in &mut lost {
            let down = over.get(i).filter(|oif| self.link_up.get(oif) == Some(&false));
            if let (Cause::Deleted, Some(oif)) = (&cause, down) {
                if let Some((name, _)) = self.links_down.get(oif) {
                    *cause = Cause::LinkDown { dev: name.clone() };
                }
            }
        }
        let mut work: Vec<(usize, Purpose)> = lost
            .into_iter()
            .filter_map(|(i, (cause, requester, replacement))| {
                let since = batch.received;
                let link_index = over.get(&i).copied().filter(|_| matches!(cause, Cause::LinkDown { .. }));
                let loss = Loss { since, noticed: Noticed::Event, cause, requester, link_index, replacement };
                self.on_lost(i, loss, now)
            })
            .collect();
        if retry_failed {
            work.extend(self.failed_routes(now));
        }
        work
    }

    /// Whether `route` is the route slot `i` means: guardian's own with its
    /// attributes (a multipath one as its legs make it now), or a guarded
    /// one as the owner has it.
    #[inline]
    pub(super) fn is_ours(&self, i: usize, route: &KernelRoute) -> bool {
        let spec = &self.table.slot(i).spec;
        match self.guard_of(i) {
            None => match self.shape(spec) {
                None => super::super::decide::matches(spec, route, &self.dev_index, self.protocol),
                Some(Ok(Shape::Plain(one_leg))) => {
                    super::super::decide::matches(&one_leg, route, &self.dev_index, self.protocol)
                }
                Some(Ok(Shape::Copy(copy))) => route.protocol == self.protocol && route.extra == copy.fingerprint(),
                // A leg's device is gone: whatever the kernel has is not the route.
                Some(Err(_)) => false,
            },
            Some(terms) => {
                route.protocol == terms.protocol
                    && match self.raw.get(&spec.key) {
                        Some(copy) => route.extra == copy.fingerprint(),
                        None => {
                            route.extra == 0
                                && super::super::decide::matches(spec, route, &self.dev_index, terms.protocol)
                        }
                    }
            }
        }
    }

    /// A loss read before guardian's latest install of the route happened
    /// before that install, which already repaired it (e.g. a scan found the
    /// route missing while the notification waited in the queue).
    fn is_current_loss(&self, i: usize, read_done: u64) -> bool {
        let slot = self.table.slot(i);
        slot.state == State::Installed && read_done >= slot.sent_at
    }

    /// The kernel notifies in the order it applies changes, so a delete read
    /// while the notification of guardian's own install is still awaited
    /// happened before that install: it is what the install repaired (after
    /// an overrun, a resync can repair a route before its delete is read).
    /// The window bounds the wait, since an IPv4 replace identical to the
    /// route in place sends no notification at all.
    fn precedes_our_install(&self, i: usize, read_done: u64) -> bool {
        let slot = self.table.slot(i);
        slot.echo_pending && read_done < slot.sent_at + ECHO_WINDOW.as_micros() as u64
    }

    pub(super) fn await_echo(&mut self, key: RouteKey, seq: u32) {
        self.echo_seq.insert(key, seq);
        self.echo_queue.push_back((seq, key));
    }

    /// Every install up to `seq` has been applied (sequence numbers are
    /// consecutive, so this also settles installs whose own notification was
    /// lost to an overrun, or never sent).
    fn on_own_echo(&mut self, seq: u32) {
        while let Some(&(sent, key)) = self.echo_queue.front() {
            if (seq.wrapping_sub(sent) as i32) < 0 {
                break;
            }
            self.echo_queue.pop_front();
            // A later install of the same route waits for its own number.
            if self.echo_seq.get(&key) == Some(&sent) {
                if let Some(i) = self.table.find(&key) {
                    self.confirm_install(i);
                }
            }
        }
    }

    fn confirm_install(&mut self, i: usize) {
        let slot = self.table.slot_mut(i);
        if slot.echo_pending {
            slot.echo_pending = false;
            let key = slot.spec.key;
            self.echo_seq.remove(&key);
            self.unconfirmed.remove(&key);
        }
    }

    /// Deletes set aside by [`Self::precedes_our_install`] whose install was
    /// never confirmed: a scan tells whether the route is still there.
    pub(super) fn verify_unconfirmed(&mut self, now: Instant) {
        let mut doubtful = false;
        let table = &self.table;
        self.unconfirmed.retain(|key, at| {
            if *at > now {
                return true;
            }
            doubtful |= table.find(key).is_some_and(|i| table.slot(i).echo_pending);
            false
        });
        self.verify_at = self.unconfirmed.values().min().copied();
        if doubtful {
            self.request_resync(Trigger::Unconfirmed, now);
        }
    }

    /// Records a loss; returns the route to repair now, unless damped. A
    /// guarded route's loss goes to its guard instead (`guarded.rs`).
    pub(super) fn on_lost(&mut self, i: usize, loss: Loss, now: Instant) -> Option<(usize, Purpose)> {
        if let Some(terms) = self.guard_of(i) {
            self.on_guarded_lost(i, terms, loss);
            return None;
        }
        self.repair_or_damp(i, loss, now)
    }

    /// A loss to repair: now, or after a back-off when damping says so
    /// (the route is in a fight, or past the rate net: `damping.rs`).
    pub(super) fn repair_or_damp(&mut self, i: usize, loss: Loss, now: Instant) -> Option<(usize, Purpose)> {
        let key = self.table.slot(i).spec.key;
        let since = loss.since.into_std();
        self.missing.entry(key).or_insert(loss);
        let cfg = &self.cfg;
        let d = self.damping.entry(key).or_insert_with(|| Damping::new(since));
        let (delay, first, reason) = match d.on_loss(since, cfg) {
            damping::Verdict::RepairNow => {
                self.table.set_state(i, State::Missing);
                return Some((i, Purpose::Repair));
            }
            damping::Verdict::Wait { delay, first, reason } => (delay, first, reason),
        };
        if first {
            let fighter = d.fighter(cfg).cloned();
            let route = self.display(i);
            match (reason, fighter) {
                (damping::Reason::Fight, Some(who)) => tracing::warn!(
                    route = %route,
                    backoff = ?delay,
                    reason = reason.label(),
                    deleted_by.comm = who.comm.as_str(),
                    deleted_by.uid = who.uid,
                    deleted_by.cgroup = who.cgroup.as_deref(),
                    "route repairs damped"
                ),
                _ => tracing::warn!(
                    route = %route,
                    backoff = ?delay,
                    reason = reason.label(),
                    repairs = cfg.max_repairs_per_route,
                    window = ?cfg.damping_window,
                    "route repairs damped"
                ),
            }
        }
        self.table.set_state(i, State::Damped);
        self.schedule_retry(key, now + delay, true);
        None
    }

    pub(super) fn mark_present(&mut self, i: usize) {
        let key = self.table.slot(i).spec.key;
        self.table.set_state(i, State::Installed);
        self.missing.remove(&key);
        self.errors.remove(&key);
        self.retry_at.remove(&key);
    }

    /// Failed routes to try again now that a link or address came back.
    /// A guarded one waits its guard's grace first: the owner normally puts
    /// back what the kernel removed, and guardian only covers for one that
    /// does not.
    fn failed_routes(&mut self, now: Instant) -> Work {
        let mut work = Vec::new();
        for i in 0..self.table.len() {
            if self.table.slot(i).state != State::Failed {
                continue;
            }
            match self.guard_of(i) {
                None => work.push((i, Purpose::Retry)),
                Some(terms) if terms.audit => {}
                Some(terms) => {
                    let key = self.table.slot(i).spec.key;
                    self.schedule_retry(key, now + terms.kernel_cause_grace, true);
                }
            }
        }
        work
    }
}

/// What replaced a guarded route, when it carries the guard's protocol.
type Replacement = Option<(KernelRoute, Arc<RawRoute>)>;
/// What a batch says about one lost slot: why, who asked, what replaced it.
type LostNow = (Cause, Option<Requester>, Replacement);
