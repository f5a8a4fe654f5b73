//! guardian's own multipath routes (`nexthops` in the configuration).
//!
//! Their legs are kept beside the tracked set, by identity; the slot's spec
//! has neither gateway nor device. What the route is in the kernel is worked
//! out from the legs when needed, with the devices' current interface
//! indexes (links come and go, so nothing built from an index is kept):
//! with two legs or more, the exact copy the kernel will report
//! (`kernel::wire::raw::multipath`), compared by fingerprint and installed
//! by replaying it, as a guarded route's copy is; with one leg, a plain
//! route via that leg, since the kernel reports a one-leg multipath route
//! as a plain one anyway (weight dropped), and a plain route is compared
//! and installed as every single-path route is.
//!
//! Legs gated one by one (`liveness = "nexthop"`) are in the route only
//! while their session is Up; see `gate.rs`.

use super::Core;
use crate::kernel::routes::OpError;
use crate::kernel::wire::raw::{self, Leg, RawRoute};
use crate::route::{DevNames, Nexthop, RouteKey, RouteSpec};
use std::fmt::Write;
use std::sync::Arc;

/// The legs of one multipath route.
#[derive(Debug, Clone)]
pub(super) struct Legs {
    /// Device ids of the tracked set's names.
    pub hops: Arc<[Nexthop]>,
    /// Each leg follows its own liveness session.
    pub per_leg: bool,
    /// Bit n: leg n's session is Up (only for `per_leg`).
    pub up: u64,
}

impl Legs {
    /// The legs the route has in the kernel: those whose session is Up;
    /// all of them when the legs are not gated, or when none is Up (the
    /// route is then withdrawn, or adopted at start-up as the kernel has
    /// it while the sessions come up).
    pub fn in_route(&self) -> impl Iterator<Item = &Nexthop> + '_ {
        let all = !self.per_leg || self.up == 0;
        self.hops.iter().enumerate().filter(move |(n, _)| all || self.up & (1 << n) != 0).map(|(_, h)| h)
    }
}

/// The legs a source wants for a route, and whether each follows its own session.
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    pub hops: Arc<[Nexthop]>,
    pub per_leg: bool,
}

/// What a leg's verdict does to its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegChange {
    /// No leg was Up: the route goes in (or, adopted at start-up with every
    /// leg, is narrowed to this one).
    FirstUp,
    /// No leg is Up any more: the route goes.
    LastDown,
    /// Some leg joined or left: the route is replaced.
    Reshaped,
}

/// What a multipath route is in the kernel now.
#[derive(Debug)]
pub(super) enum Shape {
    /// One leg left: a plain route via it.
    Plain(RouteSpec),
    /// Two legs or more: the exact copy.
    Copy(RawRoute),
}

impl Core {
    /// Keeps the legs of `key` (or forgets them, `None`); returns whether
    /// they changed. A leg kept from before (same gateway and device)
    /// keeps its session's verdict: a reload does not take Down legs back
    /// in, nor Up legs out, while the sessions restate.
    pub(super) fn set_legs(&mut self, key: RouteKey, wanted: Option<Wanted>) -> bool {
        let Some(Wanted { hops, per_leg }) = wanted else {
            return self.multipath.remove(&key).is_some();
        };
        let old = self.multipath.get(&key);
        if old.is_some_and(|l| l.hops == hops && l.per_leg == per_leg) {
            return false;
        }
        let mut up = 0;
        if let Some(old) = old.filter(|l| l.per_leg && per_leg) {
            for (n, hop) in hops.iter().enumerate() {
                let before = old.hops.iter().position(|h| (h.via, h.dev) == (hop.via, hop.dev));
                if before.is_some_and(|b| old.up & (1 << b) != 0) {
                    up |= 1 << n;
                }
            }
        }
        self.multipath.insert(key, Legs { hops, per_leg, up });
        true
    }

    /// A verdict for leg `leg` of the multipath route `key` (`open`: its
    /// session is Up). Returns what changes: the route's first leg Up
    /// installs it, its last leg Down withdraws it, any other change
    /// replaces it with the legs Up now. `None`: nothing to do (not a
    /// route whose legs are gated, or the same verdict again).
    pub(super) fn gate_leg(&mut self, key: &RouteKey, leg: u8, open: bool) -> Option<LegChange> {
        let legs = self.multipath.get_mut(key).filter(|l| l.per_leg && (leg as usize) < l.hops.len())?;
        let before = legs.up;
        match open {
            true => legs.up |= 1 << leg,
            false => legs.up &= !(1 << leg),
        }
        match (before != 0, legs.up != 0) {
            _ if legs.up == before => None,
            (false, true) => Some(LegChange::FirstUp),
            (true, false) => Some(LegChange::LastDown),
            _ => Some(LegChange::Reshaped),
        }
    }

    /// The kernel form of `spec` when it is a multipath route of guardian's
    /// own; `None` for any other route. An error when a leg's device does
    /// not exist.
    pub(super) fn shape(&self, spec: &RouteSpec) -> Option<Result<Shape, OpError>> {
        // A plain route names a gateway or a device: no lookup for those.
        if spec.via.is_some() || spec.dev.is_some() {
            return None;
        }
        let legs = self.multipath.get(&spec.key)?;
        let hops: Vec<&Nexthop> = legs.in_route().collect();
        if let [only] = hops[..] {
            return Some(Ok(Shape::Plain(RouteSpec { via: Some(only.via), dev: Some(only.dev), ..*spec })));
        }
        let mut resolved = Vec::with_capacity(hops.len());
        for hop in hops {
            let Some(ifindex) = self.dev_index.get(hop.dev) else {
                let message = format!("device {} does not exist", self.table.devs.name(hop.dev));
                return Some(Err(OpError { errno: libc::ENODEV, message }));
            };
            resolved.push(Leg { via: hop.via, ifindex, weight: hop.weight });
        }
        Some(Ok(Shape::Copy(raw::multipath(&spec.key, self.protocol, spec.src, &resolved))))
    }

    /// " nexthop via A dev X weight 1 nexthop via B dev Y weight 3", as
    /// `ip route` prints the legs in the route now; empty for a plain route.
    pub(super) fn describe_legs(&self, key: &RouteKey) -> String {
        let mut text = String::new();
        if let Some(legs) = self.multipath.get(key) {
            for hop in legs.in_route() {
                let dev = self.table.devs.name(hop.dev);
                let _ = write!(text, " nexthop via {} dev {dev} weight {}", hop.via.ip(), hop.weight);
            }
        }
        text
    }
}

impl Core {
    /// The legs of `key`, as `guardian routes` lists them.
    pub(super) fn nexthop_infos(&self, key: &RouteKey) -> Vec<crate::messages::api::NexthopInfo> {
        let Some(legs) = self.multipath.get(key) else { return Vec::new() };
        let in_route: Vec<&Nexthop> = legs.in_route().collect();
        legs.hops
            .iter()
            .map(|hop| crate::messages::api::NexthopInfo {
                via: hop.via.ip().to_string(),
                dev: self.table.devs.name(hop.dev).to_owned(),
                weight: hop.weight,
                up: in_route.iter().any(|h| std::ptr::eq(*h, hop)),
            })
            .collect()
    }
}

/// Re-expresses legs whose device ids refer to `from` with ids of `to`.
pub(super) fn translate_legs(hops: &[Nexthop], from: &DevNames, to: &mut DevNames) -> Arc<[Nexthop]> {
    hops.iter().map(|h| Nexthop { dev: to.intern(from.name(h.dev)), ..*h }).collect()
}

#[cfg(test)]
mod tests;
