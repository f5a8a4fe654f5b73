//! Routes of a guard: another daemon's routes, kept in place. The core
//! tracks them like guardian's own, with the owner's protocol and, for the
//! ones the route model cannot express, an exact copy; but a loss is not
//! repaired here. Who caused it decides (the owner withdrawing or updating
//! its route, or a stranger), and only the guard can ask: the loss goes to
//! it as a [`GuardNotice`], and it answers with a restore, a removal, an
//! update, or nothing (audit). A route the kernel itself removed (its link
//! went down, its address went away) waits for its link or address to come
//! back, then the guard's grace, for the owner to put it back first.

use super::super::table::State;
use super::{Core, Loss, Work};
use crate::messages::{Cause, GuardNotice, GuardTerms, OwnedLoss};
use crate::route::RouteKey;

impl Core {
    pub(super) fn on_guarded_lost(&mut self, i: usize, terms: GuardTerms, loss: Loss) {
        let key = self.table.slot(i).spec.key;
        let by_kernel = matches!(loss.cause, Cause::LinkDown { .. })
            || (loss.cause == Cause::Deleted && loss.requester.is_some_and(|r| r.port_id == 0));
        if by_kernel && !terms.audit {
            // Failed routes are tried again when a link or address returns,
            // after the grace (`events.rs`, `failed_routes`).
            self.table.set_state(i, State::Failed);
            self.errors
                .insert(key, "removed by the kernel: waiting for its link or address, then for the owner".into());
        } else {
            self.table.set_state(i, State::Missing);
        }
        let notice = OwnedLoss {
            guard: self.source(self.table.slot(i).source).guard_name().to_owned(),
            key,
            route: self.display(i),
            cause: loss.cause.clone(),
            noticed: loss.noticed,
            requester: loss.requester,
            link_index: loss.link_index,
            replacement: loss.replacement.clone(),
            lost_at: loss.since.into_std(),
        };
        self.missing.insert(key, loss);
        self.guard_notices.push(GuardNotice::Lost(notice));
    }

    /// What the guards must hear since the last call.
    pub fn take_guard_notices(&mut self) -> Vec<GuardNotice> {
        std::mem::take(&mut self.guard_notices)
    }

    /// A guard found that strangers took these routes: they are repaired
    /// like guardian's own (damping included, counted from the loss). A
    /// route no longer missing (its owner put it back meanwhile), or no
    /// longer this guard's, is left alone.
    pub(super) fn restore(&mut self, keys: &[RouteKey], guard: &str) -> Work {
        let mut work = Vec::new();
        for key in keys {
            let Some(i) = self.table.find(key) else { continue };
            // Failed too: a delete through the kernel's own socket looked
            // like the kernel's doing until eBPF named an ioctl caller.
            let lost = matches!(self.table.slot(i).state, State::Missing | State::Failed);
            if self.source(self.table.slot(i).source).name != guard || !lost {
                continue;
            }
            let Some(loss) = self.missing.get(key).cloned() else { continue };
            let since = loss.since;
            work.extend(self.repair_or_damp(i, loss, since));
        }
        work
    }

    /// The protocols whose routes the guards hold: the monitor passes on
    /// their notifications with exact copies.
    pub fn guarded_protocols(&self) -> Vec<u8> {
        let mut protocols: Vec<u8> = self.sources.iter().filter_map(|s| s.guard.map(|g| g.protocol)).collect();
        protocols.sort_unstable();
        protocols.dedup();
        protocols
    }
}

#[cfg(test)]
mod tests;
