//! From a prefix's paths to the route guardian wants for it, and from the
//! routes that changed to the messages for the reconciler.
//!
//! Who holds a route: the source `bgp:<neighbor address>` of the neighbor
//! whose path is best, also for a multipath route, whose other legs come
//! from other neighbors. One naming rule for both modes keeps `guardian
//! routes` saying which neighbor leads each route, and a neighbor that goes
//! down takes with it exactly the routes it led. (A single `bgp` source for
//! all neighbors would spare the handovers below, but would lose that.)
//! When the lead moves to another neighbor, the new holder's addition is
//! sent before the old holder's removal: the reconciler keeps the second
//! wish as a claim and hands the route over in place, without a gap.
//!
//! A multipath route's legs are all gated or none: the reconciler gates
//! either the whole route or each leg on a session of its own, so a path
//! from a neighbor whose gating differs from the lead's is left out of it.

use super::attrs::{AttrId, Attrs};
use super::bestpath::{select, Rank};
use super::table::Paths;
use super::types::NeighborId;
use super::Neighbor;
use crate::config::MAX_NEXTHOPS;
use crate::messages::{Change, DesiredRoute, DesiredRoutes, Source, SourceKind};
use crate::route::{DevNames, Nexthop, RouteKey, RouteSpec};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The next hops of a learned route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Legs {
    One(Nexthop),
    /// Two or more, the best path's first.
    Many(Arc<[Nexthop]>),
}

/// The route a prefix's paths make, with the neighbors whose paths are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Want {
    pub lead: NeighborId,
    pub gated: bool,
    pub legs: Legs,
    /// The neighbors of the other legs (multipath).
    pub others: Box<[NeighborId]>,
}

impl Want {
    pub fn neighbors(&self) -> impl Iterator<Item = NeighborId> + '_ {
        std::iter::once(self.lead).chain(self.others.iter().copied())
    }
}

/// A path that may be installed: its next hop resolves and its neighbor installs.
fn candidate<'a>(attrs: &'a Attrs, neighbors: &[Neighbor], a: AttrId) -> Option<(&'a Rank, Nexthop, bool)> {
    let attr = attrs.get(a);
    let n = &neighbors[attr.path.neighbor.index()];
    let hop = attr.hop.filter(|_| n.config.install && !n.removed)?;
    Some((&attr.rank, hop, n.config.liveness_nexthop))
}

/// The route `paths` make, `None` when no path may be installed.
pub(super) fn want(attrs: &Attrs, neighbors: &[Neighbor], multipath: bool, paths: Paths) -> Option<Want> {
    if let Some(a) = paths.single() {
        let (_, hop, gated) = candidate(attrs, neighbors, a)?;
        return Some(Want { lead: attrs.neighbor(a), gated, legs: Legs::One(hop), others: Box::new([]) });
    }
    let cands: Vec<(AttrId, Nexthop, bool)> =
        paths.iter().filter_map(|a| candidate(attrs, neighbors, a).map(|(_, h, g)| (a, h, g))).collect();
    if cands.is_empty() {
        return None;
    }
    let ranks: Vec<Rank> = cands.iter().map(|c| attrs.get(c.0).rank).collect();
    let mut alive: Vec<usize> = (0..cands.len()).collect();
    select(&ranks, multipath, &mut alive);
    let (lead, lead_hop, gated) = cands[alive[0]];
    let mut hops = vec![lead_hop];
    let mut others = Vec::new();
    for &i in &alive[1..] {
        let (a, hop, g) = cands[i];
        if g != gated || hops.len() == MAX_NEXTHOPS {
            continue;
        }
        // Two neighbors with one next hop make one leg; both are in the route.
        if !hops.contains(&hop) {
            hops.push(hop);
        }
        others.push(attrs.neighbor(a));
    }
    let legs = if hops.len() == 1 { Legs::One(lead_hop) } else { Legs::Many(hops.into()) };
    Some(Want { lead: attrs.neighbor(lead), gated, legs, others: others.into() })
}

/// The source of a neighbor's routes.
pub fn source(address: IpAddr) -> Source {
    Source { kind: SourceKind::Bgp, name: format!("bgp:{address}"), owner: None, guard: None }
}

/// A learned route as the reconciler will hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpRoute {
    pub key: RouteKey,
    pub legs: Legs,
    /// Installed only while the next hop's liveness session is Up (each
    /// leg's own session, for a multipath route).
    pub gated: bool,
}

/// One source's part of a batch of changes.
#[derive(Debug, Clone, Default)]
pub struct SourceChanges {
    pub add: Vec<BgpRoute>,
    pub remove: Vec<RouteKey>,
}

/// What changed in the desired routes since the last
/// [`super::Rib::take_changes`], by source; device ids refer to `devs`.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub sources: BTreeMap<NeighborId, (Source, SourceChanges)>,
    pub devs: DevNames,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The changes as messages, in the order to send them: every source's
    /// additions before any source's removals (see the module's comment).
    pub fn into_updates(self) -> Vec<(Source, Change)> {
        let devs = self.devs;
        let mut adds = Vec::new();
        let mut removes = Vec::new();
        for (_, (source, SourceChanges { add, remove })) in self.sources {
            if !add.is_empty() {
                adds.push((source.clone(), Change::Update { add: desired(add, &devs), remove: Vec::new() }));
            }
            if !remove.is_empty() {
                removes.push((source, Change::Update { add: DesiredRoutes::default(), remove }));
            }
        }
        adds.extend(removes);
        adds
    }
}

/// Routes in the reconciler's terms: a multipath route is a spec without
/// gateway or device, with its legs beside it, as the file's are.
fn desired(routes: Vec<BgpRoute>, devs: &DevNames) -> DesiredRoutes {
    let mut out = DesiredRoutes { devs: devs.clone(), ..Default::default() };
    out.routes.reserve_exact(routes.len());
    for BgpRoute { key, legs, gated } in routes {
        let spec = match legs {
            Legs::One(hop) => RouteSpec { key, via: Some(hop.via), dev: Some(hop.dev), src: None },
            Legs::Many(hops) => {
                out.multipath.insert(key, hops);
                if gated {
                    out.legs_gated.insert(key);
                }
                RouteSpec { key, via: None, dev: None, src: None }
            }
        };
        out.routes.push(DesiredRoute { spec, gated });
    }
    out
}
