//! Desired routes from sources: routes enter, change and leave the tracked
//! set here, whatever source sent them.
//!
//! One route identity is held by one source at a time (the kernel holds one
//! route per identity). A second source that wants it too is kept aside as
//! a claim; the claim of higher precedence takes the route over when its
//! holder lets go, so nothing a source still wants is withdrawn.

use super::super::table::{SourceId, State};
use super::multipath::{translate_legs, Wanted};
use super::{Core, Purpose, WithdrawBatch, Work};
use crate::messages::{Change, DesiredRoute, DesiredRoutes, Source, SourceKind, SourceReport};
use crate::route::raw::RawRoute;
use crate::route::{DevNames, RouteKey, RouteSpec};
use std::collections::HashSet;
use std::sync::Arc;

/// What an update asks of the kernel, in this order: routes no source
/// wants any more out, then added and changed ones in.
#[derive(Debug)]
pub struct SourcePlan {
    pub withdraw: WithdrawBatch,
    pub install: Work,
    pub report: SourceReport,
}

/// A source's wish for a route another source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Claim {
    source: SourceId,
    route: DesiredRoute,
}

/// What the steps of one update collect.
#[derive(Default)]
struct Steps {
    report: SourceReport,
    withdraw: Vec<RouteSpec>,
    install: Vec<RouteKey>,
}

impl Core {
    /// Applies a source's update. Routes leave the tracked set before their
    /// delete is planned, so nothing repairs them; before the start-up scan
    /// nothing is installed here (that scan installs what is missing).
    pub fn apply_source(&mut self, source: Source, change: Change) -> SourcePlan {
        let name = source.name.clone();
        let id = self.source_id(source);
        let replace = matches!(change, Change::Replace(_));
        let (add, remove) = match change {
            Change::Restore(keys) => {
                let install = self.restore(&keys, &name);
                let report = SourceReport { changed: install.len(), ..SourceReport::default() };
                return SourcePlan { withdraw: WithdrawBatch::default(), install, report };
            }
            Change::Settled => {
                // The task asks for the scan (`Core::settle`); nothing to apply.
                self.adopting = false;
                return SourcePlan {
                    withdraw: WithdrawBatch::default(),
                    install: Work::default(),
                    report: SourceReport::default(),
                };
            }
            Change::Replace(routes) => {
                let wanted: HashSet<RouteKey> = routes.routes.iter().map(|r| r.spec.key).collect();
                let remove = self.keys_of(id).into_iter().filter(|k| !wanted.contains(k)).collect();
                (routes, remove)
            }
            Change::Update { add, remove } => (add, remove),
        };
        let mut steps = Steps::default();
        for key in &remove {
            self.let_go(id, key, &mut steps);
        }
        let DesiredRoutes { routes, devs, mut raw, mut multipath, legs_gated } = add;
        // Room for a first fill at once; a re-read of a known set needs none.
        self.table.reserve(routes.len().saturating_sub(self.table.len()));
        for route in routes {
            let spec = translate(&route.spec, &devs, &mut self.table.devs);
            let copy = raw.remove(&spec.key);
            let legs = multipath.remove(&spec.key).map(|hops| Wanted {
                hops: translate_legs(&hops, &devs, &mut self.table.devs),
                per_leg: legs_gated.contains(&spec.key),
            });
            self.want(id, DesiredRoute { spec, ..route }, copy, legs, &mut steps);
        }
        self.refresh_dev_index();
        let withdraw =
            self.withdraw_batch(&steps.withdraw, "cannot withdraw route (a later scan withdraws it as stale)");
        // Keep the scan's fast path: slots in the kernel's dump order. Sorting
        // moves slots, so indices are taken only afterwards. A small update
        // leaves a few slots out of order: the scan finds those by hash.
        let moved = steps.report.added + steps.report.removed;
        if moved > 0 && (replace || moved * 64 >= self.table.len()) {
            self.table.sort();
        }
        let install = match self.ready {
            true => self.installs_needed(id, &steps.install),
            false => Vec::new(),
        };
        SourcePlan { withdraw, install, report: steps.report }
    }

    /// What an update's added and changed routes need. A restarting
    /// guardian adopts a BGP route it finds in the kernel as it is (never
    /// deleted, never re-added): the last scan saw it.
    fn installs_needed(&mut self, id: SourceId, keys: &[RouteKey]) -> Work {
        let adopting = self.adopting && self.source(id).kind == SourceKind::Bgp;
        let mut work = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(i) = self.table.find(key) else { continue };
            if adopting {
                if let Some(found) = self.adoptable.remove(key) {
                    if self.is_ours(i, &found) {
                        self.mark_present(i);
                        continue;
                    }
                }
            }
            work.push((i, Purpose::Initial));
        }
        work
    }

    /// The id of `source`, known or new. A known name takes the latest
    /// kind and owner.
    fn source_id(&mut self, source: Source) -> SourceId {
        match self.sources.iter().position(|s| s.name == source.name) {
            Some(i) => {
                self.sources[i] = source;
                SourceId(i as u16)
            }
            None => {
                let id = u16::try_from(self.sources.len()).expect("fewer than 65536 sources");
                self.sources.push(source);
                SourceId(id)
            }
        }
    }

    pub(super) fn source(&self, id: SourceId) -> &Source {
        &self.sources[id.0 as usize]
    }

    /// Every route `id` holds or claims.
    fn keys_of(&self, id: SourceId) -> Vec<RouteKey> {
        let held = self.table.slots().iter().filter(|s| s.source == id).map(|s| s.spec.key);
        let claimed = self.claims.iter().filter(|(_, c)| c.iter().any(|c| c.source == id)).map(|(k, _)| *k);
        held.chain(claimed).collect()
    }

    /// `id` wants `route`: added, changed, taken over from a source of lower
    /// precedence, or kept aside as a claim. `legs`: the next hops of one
    /// of guardian's own multipath routes (a claim kept aside does not keep
    /// them: only the configuration file has multipath routes so far).
    fn want(
        &mut self,
        id: SourceId,
        route: DesiredRoute,
        copy: Option<Arc<RawRoute>>,
        legs: Option<Wanted>,
        steps: &mut Steps,
    ) {
        let key = route.spec.key;
        let guarded = self.source(id).guard.is_some();
        let Some(i) = self.table.find(&key) else {
            self.set_legs(key, legs);
            let i = self.table.insert(route.spec, id, route.gated);
            if guarded {
                // Taken from the kernel as it stands: in place already.
                self.table.set_state(i, State::Installed);
                self.set_copy(key, copy);
            } else if !route.gated {
                steps.install.push(key);
            }
            steps.report.added += 1;
            return;
        };
        let holder = self.table.slot(i).source;
        if holder == id {
            let copy_changed = guarded && self.raw.get(&key) != copy.as_ref();
            if guarded {
                self.set_copy(key, copy);
            }
            let legs_changed = self.set_legs(key, legs);
            match self.hold(i, id, route, legs_changed, steps) || copy_changed {
                true => steps.report.changed += 1,
                false => steps.report.unchanged += 1,
            }
            return;
        }
        if self.source(id).kind < self.source(holder).kind {
            let old = self.table.slot(i);
            let aside = Claim { source: holder, route: DesiredRoute { spec: old.spec, gated: old.gated } };
            self.drop_claim(id, &key);
            self.claims.entry(key).or_default().push(aside);
            tracing::info!(
                route = %self.display(i),
                source = %self.source(id).name,
                from = %self.source(holder).name,
                "route taken over by a source of higher precedence"
            );
            let legs_changed = self.set_legs(key, legs);
            self.hold(i, id, route, legs_changed, steps);
            steps.report.added += 1;
        } else {
            self.drop_claim(id, &key);
            self.claims.entry(key).or_default().push(Claim { source: id, route });
            tracing::warn!(
                route = %self.display(i),
                source = %self.source(id).name,
                holder = %self.source(holder).name,
                "route wanted by two sources; the one of higher precedence keeps it, the other waits"
            );
            steps.report.shadowed += 1;
        }
    }

    /// Makes slot `i` the route `id` wants. Returns whether its attributes
    /// (or `legs_changed`, its next hops) changed. Liveness decides about gated routes: a new one waits for its
    /// session, a withdrawn one stays withdrawn, an installed one stays until
    /// its session has had its chance (the liveness task re-sends every
    /// verdict after a reload). One no longer gated is guarded again.
    fn hold(&mut self, i: usize, id: SourceId, route: DesiredRoute, legs_changed: bool, steps: &mut Steps) -> bool {
        let withdrawn = self.table.slot(i).state == State::Withdrawn;
        let changed = self.table.slot(i).spec != route.spec || legs_changed;
        let slot = self.table.slot_mut(i);
        slot.source = id;
        slot.gated = route.gated;
        if self.source(id).guard.is_some() {
            // A guard's update is the owner's route as the kernel has it now.
            if changed {
                self.table.update(i, route.spec);
            }
            self.mark_present(i);
            return changed;
        }
        if changed {
            self.table.update(i, route.spec);
            match route.gated && withdrawn {
                true => self.table.set_state(i, State::Withdrawn),
                false => steps.install.push(route.spec.key),
            }
        } else if !route.gated && withdrawn {
            self.table.set_state(i, State::Pending);
            steps.install.push(route.spec.key);
        }
        changed
    }

    /// `id` no longer wants `key`: the route goes to the best claim waiting
    /// for it, or leaves the tracked set and the kernel.
    fn let_go(&mut self, id: SourceId, key: &RouteKey, steps: &mut Steps) {
        let Some(i) = self.table.find(key).filter(|&i| self.table.slot(i).source == id) else {
            if self.drop_claim(id, key) {
                steps.report.removed += 1;
            }
            return;
        };
        steps.report.removed += 1;
        if let Some(next) = self.best_claim(key) {
            tracing::info!(
                route = %self.display(i),
                source = %self.source(next.source).name,
                from = %self.source(id).name,
                "route handed over to the next source that wants it"
            );
            let legs_changed = self.set_legs(*key, None);
            self.hold(i, next.source, next.route, legs_changed, steps);
            return;
        }
        self.untrack(key);
        self.raw.remove(key);
        self.multipath.remove(key);
        let guarded = self.source(id).guard.is_some();
        if let Some(slot) = self.table.remove(key) {
            // A guard lets go of a route its owner withdrew, or that is no
            // longer guarded: either way it is not guardian's to delete.
            if slot.state == State::Installed && !guarded {
                steps.withdraw.push(slot.spec);
            }
        }
    }

    /// Keeps (or drops) the exact copy of a guarded route.
    fn set_copy(&mut self, key: RouteKey, copy: Option<Arc<RawRoute>>) {
        match copy {
            Some(copy) => self.raw.insert(key, copy),
            None => self.raw.remove(&key),
        };
    }

    /// Takes the waiting claim of highest precedence (the earliest among equals).
    fn best_claim(&mut self, key: &RouteKey) -> Option<Claim> {
        let claims = self.claims.get_mut(key)?;
        let sources = &self.sources;
        let best = (0..claims.len()).min_by_key(|&j| (sources[claims[j].source.0 as usize].kind, j))?;
        let claim = claims.remove(best);
        if claims.is_empty() {
            self.claims.remove(key);
        }
        Some(claim)
    }

    /// Forgets `id`'s claim on `key`; returns whether there was one.
    fn drop_claim(&mut self, id: SourceId, key: &RouteKey) -> bool {
        let Some(claims) = self.claims.get_mut(key) else { return false };
        let before = claims.len();
        claims.retain(|c| c.source != id);
        let dropped = claims.len() < before;
        if claims.is_empty() {
            self.claims.remove(key);
        }
        dropped
    }
}

/// Re-expresses a spec whose device id refers to `from` with ids of `to`.
fn translate(spec: &RouteSpec, from: &DevNames, to: &mut DevNames) -> RouteSpec {
    RouteSpec { dev: spec.dev.map(|d| to.intern(from.name(d))), ..*spec }
}
