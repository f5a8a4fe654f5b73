//! The routing information base between decoded UPDATEs and the
//! reconciler: every neighbor's accepted paths (Adj-RIB-In), the best path
//! per prefix, and the desired routes that follow from them.
//!
//! ```text
//!  announce / withdraw ─▶ import filter ─▶ table (prefix -> one path per neighbor)
//!  neighbor down, stale, sweep ─────────────────▶ │ changed prefixes marked dirty
//!  connected networks ─▶ next hop of each path ─▶ │
//!                                                  ▼ take_changes
//!                          best path (RFC 4271 9.1) ─▶ Changes per `bgp:<neighbor>`
//! ```
//!
//! Pure: nothing here reads a clock, a socket or the kernel. The caller
//! (the BGP task) feeds it what the sessions decode, the interfaces'
//! addresses, and the graceful restart timers' expiry, and sends what
//! [`Rib::take_changes`] returns as `SourceUpdate`s.
//!
//! Decisions, each explained where it is made:
//! - A path is interned once per UPDATE; a prefix holds a four-byte id per
//!   neighbor (`attrs.rs`, `table.rs`).
//! - The import filter runs before anything is kept; prefixes it rejects
//!   are not kept (no soft reconfiguration): after a filter change the
//!   caller asks the peer for a ROUTE-REFRESH.
//! - `max_prefixes` counts accepted prefixes (after the filter, as FRR
//!   does): those are what cost memory.
//! - Next hops must be on a connected network (`connected.rs`); recursive
//!   resolution is out of scope.
//! - Who holds a multipath route, and in which order changes go out
//!   (`desired.rs`); the multipath rule (`bestpath.rs`).
//! - The table and metric are fixed for the life of a `Rib`: changing them
//!   changes every route's identity, so the caller starts a new one.

mod attrs;
mod bestpath;
mod connected;
mod desired;
mod filter;
mod table;
mod types;

pub use desired::{source, BgpRoute, Changes, Legs, SourceChanges};
pub use filter::{FilterError, PrefixFilter};
pub use types::{
    AnnounceReport, LinkLocal, NeighborConfig, NeighborCounters, NeighborId, Origin, Path, Prefix, RibConfig,
    DEFAULT_LOCAL_PREF,
};

use attrs::{AttrId, Attrs};
use connected::Connected;
use desired::Want;
use table::{Key, Paths, Table, Upsert, V4Key, V6Key};

use crate::route::{Addr, DevNames, Family, Gateway, Nexthop, RouteKey, IPV6_DEFAULT_METRIC};
use std::net::IpAddr;

/// A neighbor's settings and counts.
#[derive(Debug)]
struct Neighbor {
    config: NeighborConfig,
    /// Removed from the configuration; kept until its routes' removal is taken.
    removed: bool,
    received: u64,
    filtered: u64,
    accepted: u32,
    installed: u32,
}

/// Everything but the prefixes, so that a table can be changed while the
/// rest is read.
#[derive(Debug)]
struct State {
    config: RibConfig,
    neighbors: Vec<Neighbor>,
    attrs: Attrs,
    connected: Connected,
    devs: DevNames,
}

impl State {
    fn want(&self, paths: Paths) -> Option<Want> {
        if paths.is_empty() {
            return None;
        }
        desired::want(&self.attrs, &self.neighbors, self.config.multipath, paths)
    }

    fn neighbor(&mut self, id: NeighborId) -> &mut Neighbor {
        &mut self.neighbors[id.index()]
    }

    /// Lets go of paths taken out of a table.
    fn release(&mut self, removed: Vec<AttrId>) {
        for a in removed {
            let n = self.attrs.neighbor(a);
            self.neighbor(n).accepted -= 1;
            self.attrs.release(a);
        }
    }
}

/// Where a path's route goes, `None` when its next hop is not on a
/// connected network.
fn hop(connected: &Connected, devs: &mut DevNames, path: &Path) -> Option<Nexthop> {
    let (ip, interface) = connected.resolve(path)?;
    Some(Nexthop { via: Gateway::from_ip(&ip), dev: devs.intern(interface), weight: 1 })
}

/// How much memory the prefixes take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RibMemory {
    pub prefixes: usize,
    /// Tables (hash slots, side lists) and interned paths; the prefixes'
    /// few side lists' contents aside.
    pub bytes: usize,
}

#[derive(Debug)]
pub struct Rib {
    state: State,
    v4: Table<V4Key>,
    v6: Table<V6Key>,
}

impl Rib {
    pub fn new(config: RibConfig) -> Rib {
        let state = State {
            config,
            neighbors: Vec::new(),
            attrs: Attrs::default(),
            connected: Connected::default(),
            devs: DevNames::default(),
        };
        Rib { state, v4: Table::default(), v6: Table::default() }
    }

    pub fn add_neighbor(&mut self, config: NeighborConfig) -> NeighborId {
        let id = NeighborId(self.state.neighbors.len() as u32);
        self.state.neighbors.push(Neighbor {
            config,
            removed: false,
            received: 0,
            filtered: 0,
            accepted: 0,
            installed: 0,
        });
        id
    }

    /// Applies a neighbor's new settings (its address stays: a neighbor at
    /// another address is another source, removed and added). Returns
    /// whether the import filter changed: prefixes the old one rejected
    /// were not kept, so the caller asks the peer to send them again
    /// (ROUTE-REFRESH, or a session reset when the peer lacks it).
    pub fn reconfigure_neighbor(&mut self, id: NeighborId, config: NeighborConfig) -> bool {
        let Rib { state, v4, v6 } = self;
        let old = &state.neighbors[id.index()].config;
        debug_assert_eq!(old.address, config.address, "a new address is a new neighbor");
        let import_changed = old.import != config.import;
        if old.install != config.install || old.liveness_nexthop != config.liveness_nexthop {
            let has = |p: Paths| p.iter().any(|a| state.attrs.neighbor(a) == id);
            v4.touch_all(has, |p| state.want(p));
            v6.touch_all(has, |p| state.want(p));
        }
        state.neighbor(id).config = config;
        if import_changed {
            let removed4 = drop_rejected(v4, state, id);
            let removed6 = drop_rejected(v6, state, id);
            state.release(removed4);
            state.release(removed6);
        }
        import_changed
    }

    /// Drops the neighbor's paths; its routes go at the next take.
    pub fn remove_neighbor(&mut self, id: NeighborId) {
        self.neighbor_down(id);
        self.state.neighbor(id).removed = true;
    }

    pub fn set_multipath(&mut self, on: bool) {
        if self.state.config.multipath == on {
            return;
        }
        let Rib { state, v4, v6 } = self;
        // Only a prefix with two paths or more can change.
        let several = |p: Paths| p.single().is_none() && !p.is_empty();
        v4.touch_all(several, |p| state.want(p));
        v6.touch_all(several, |p| state.want(p));
        state.config.multipath = on;
    }

    /// `prefixes` announced by `path.neighbor` with `path`: each replaces
    /// the neighbor's path for the prefix, or, rejected by the import
    /// filter, withdraws it.
    pub fn announce(&mut self, path: &Path, prefixes: &[Prefix]) -> AnnounceReport {
        let mut report = AnnounceReport::default();
        for family in [Family::V4, Family::V6] {
            if !prefixes.iter().any(|p| p.family == family) {
                continue;
            }
            let Rib { state, v4, v6 } = self;
            let r = match family {
                Family::V4 => announce_in(v4, state, family, path, prefixes),
                Family::V6 => announce_in(v6, state, family, path, prefixes),
            };
            report.accepted += r.accepted;
            report.filtered += r.filtered;
        }
        let n = &self.state.neighbors[path.neighbor.index()];
        report.max_exceeded = n.config.max_prefixes.is_some_and(|max| n.accepted > max);
        report
    }

    pub fn withdraw(&mut self, neighbor: NeighborId, prefixes: &[Prefix]) {
        let Rib { state, v4, v6 } = self;
        let mut removed = Vec::new();
        for p in prefixes {
            let mine = |a| state.attrs.neighbor(a) == neighbor;
            removed.extend(match p.family {
                Family::V4 => v4.remove(p, mine, |p| state.want(p)),
                Family::V6 => v6.remove(p, mine, |p| state.want(p)),
            });
        }
        state.release(removed);
    }

    /// The session closed without graceful restart (or a NOTIFICATION
    /// ended it): every path of the neighbor goes.
    pub fn neighbor_down(&mut self, neighbor: NeighborId) {
        if self.state.neighbors[neighbor.index()].accepted == 0 {
            return;
        }
        let Rib { state, v4, v6 } = self;
        let mine = |a| state.attrs.neighbor(a) == neighbor;
        let removed4 = v4.remove_all(|_, a| mine(a), |p| state.want(p));
        let removed6 = v6.remove_all(|_, a| mine(a), |p| state.want(p));
        state.release(removed4);
        state.release(removed6);
    }

    /// Graceful restart (RFC 4724): the session closed, and the peer's
    /// paths of `family` are kept as stale, still installed, until each is
    /// announced again or [`Rib::sweep_stale`] removes what was not.
    pub fn mark_stale(&mut self, neighbor: NeighborId, family: Family) {
        self.state.attrs.mark_stale(neighbor, family);
    }

    /// End-of-RIB for `family`, or the restart timer ran out: the paths
    /// still stale go. Returns how many.
    pub fn sweep_stale(&mut self, neighbor: NeighborId, family: Family) -> usize {
        if !self.state.attrs.has_stale(neighbor, family) {
            return 0;
        }
        let Rib { state, v4, v6 } = self;
        let stale = |a| {
            let attr = state.attrs.get(a);
            attr.stale && attr.path.neighbor == neighbor
        };
        let removed = match family {
            Family::V4 => v4.remove_all(|_, a| stale(a), |p| state.want(p)),
            Family::V6 => v6.remove_all(|_, a| stale(a), |p| state.want(p)),
        };
        let count = removed.len();
        state.release(removed);
        count
    }

    /// An interface's addresses changed (none: it is down or gone). Paths
    /// whose next hop becomes reachable, unreachable, or reachable another
    /// way are decided again. Rare, so it walks every prefix.
    pub fn set_connected(&mut self, interface: &str, addrs: Vec<(IpAddr, u8)>) {
        let Rib { state, v4, v6 } = self;
        state.connected.set(interface, addrs);
        let (connected, devs) = (&state.connected, &mut state.devs);
        let new = state.attrs.resolutions(|p| hop(connected, devs, p));
        if new.iter().all(Option::is_none) {
            return;
        }
        let affected = |p: Paths| p.iter().any(|a| new[a.0 as usize].is_some());
        v4.touch_all(affected, |p| state.want(p));
        v6.touch_all(affected, |p| state.want(p));
        state.attrs.set_resolutions(new);
    }

    /// The changes to the desired routes since the last call.
    pub fn take_changes(&mut self) -> Changes {
        let Rib { state, v4, v6 } = self;
        let mut out = Changes { devs: state.devs.clone(), ..Default::default() };
        // Counted and sorted by source as they come, so that nothing per
        // prefix is kept on the way.
        let mut installed = vec![0i64; state.neighbors.len()];
        let mut sort = |prefix: Prefix, before: Option<Want>, now: Option<Want>| {
            let key = route_key(&state.config, &prefix);
            for n in before.iter().flat_map(Want::neighbors) {
                installed[n.index()] -= 1;
            }
            for n in now.iter().flat_map(Want::neighbors) {
                installed[n.index()] += 1;
            }
            if let Some(b) = &before {
                if now.as_ref().is_none_or(|w| w.lead != b.lead) {
                    part(&mut out, &state.neighbors, b.lead).remove.push(key);
                }
            }
            if let Some(Want { lead, gated, legs, .. }) = now {
                part(&mut out, &state.neighbors, lead).add.push(BgpRoute { key, legs, gated });
            }
        };
        v4.take(|p| state.want(p), &mut sort);
        v6.take(|p| state.want(p), &mut sort);
        for (n, delta) in state.neighbors.iter_mut().zip(installed) {
            n.installed = (n.installed as i64 + delta) as u32;
        }
        out
    }

    pub fn counters(&self, neighbor: NeighborId) -> NeighborCounters {
        let n = &self.state.neighbors[neighbor.index()];
        let mut c = NeighborCounters {
            received: n.received,
            filtered: n.filtered,
            accepted: n.accepted,
            installed: n.installed,
            ..Default::default()
        };
        // Per path, not per prefix: stale and unresolvable are properties
        // of interned paths, counted by how many prefixes use each.
        for (_, attr) in self.state.attrs.live().filter(|(_, a)| a.path.neighbor == neighbor) {
            c.stale += if attr.stale { attr.refs } else { 0 };
            c.unresolvable += if attr.hop.is_none() { attr.refs } else { 0 };
        }
        c
    }

    pub fn memory(&self) -> RibMemory {
        let attrs = self.state.attrs.len() * (std::mem::size_of::<attrs::Attr>() + std::mem::size_of::<Path>());
        RibMemory {
            prefixes: self.v4.len() + self.v6.len(),
            bytes: self.v4.heap_bytes() + self.v6.heap_bytes() + attrs,
        }
    }
}

/// The changes of neighbor `n`'s source.
fn part<'a>(out: &'a mut Changes, neighbors: &[Neighbor], n: NeighborId) -> &'a mut SourceChanges {
    let address = neighbors[n.index()].config.address;
    &mut out.sources.entry(n).or_insert_with(|| (source(address), Default::default())).1
}

/// A learned route's identity: the configured table and metric.
fn route_key(config: &RibConfig, p: &Prefix) -> RouteKey {
    // As for the file's routes: the kernel stores an IPv6 metric of 0 as 1024.
    let metric = if p.family == Family::V6 && config.metric == 0 { IPV6_DEFAULT_METRIC } else { config.metric };
    RouteKey { family: p.family, table: config.table, dst: Addr(p.addr.0), dst_len: p.len, tos: 0, metric }
}

/// One family's part of [`Rib::announce`].
fn announce_in<K: Key>(
    table: &mut Table<K>,
    state: &mut State,
    family: Family,
    path: &Path,
    prefixes: &[Prefix],
) -> AnnounceReport {
    let State { attrs, connected, devs, .. } = state;
    let attr = attrs.intern(family, path, || hop(connected, devs, path));
    // Held while in use: a rejected prefix may release the neighbor's
    // last use of this very path.
    attrs.add_ref(attr);
    let neighbor = path.neighbor;
    let mut report = AnnounceReport::default();
    let mut released = Vec::new();
    for p in prefixes.iter().filter(|p| p.family == family) {
        if !state.neighbors[neighbor.index()].config.import.accepts(p) {
            report.filtered += 1;
            // A rejected announcement still replaces what the neighbor had.
            released.extend(table.remove(p, |a| state.attrs.neighbor(a) == neighbor, |p| state.want(p)));
            continue;
        }
        report.accepted += 1;
        match table.upsert(p, attr, |a| state.attrs.neighbor(a), |p| state.want(p)) {
            Upsert::Added => {
                state.attrs.add_ref(attr);
                state.neighbor(neighbor).accepted += 1;
            }
            Upsert::Replaced(old) => {
                state.attrs.add_ref(attr);
                released.push(old);
                state.neighbor(neighbor).accepted += 1;
            }
            Upsert::Unchanged => {}
        }
    }
    let n = state.neighbor(neighbor);
    n.received += (report.accepted + report.filtered) as u64;
    n.filtered += report.filtered as u64;
    state.release(released);
    state.attrs.release(attr);
    report
}

/// Takes out the neighbor's paths its (new) import filter rejects.
fn drop_rejected<K: Key>(table: &mut Table<K>, state: &State, id: NeighborId) -> Vec<AttrId> {
    let filter = &state.neighbors[id.index()].config.import;
    let rejected = |k: K, a| state.attrs.neighbor(a) == id && !filter.accepts(&k.prefix());
    table.remove_all(rejected, |p| state.want(p))
}

#[cfg(test)]
mod tests;
