//! The decision process of RFC 4271 9.1.2.2 over one prefix's candidates.
//!
//! Each step keeps only the candidates that are best by it, in this order:
//!
//! | step | keeps |
//! |---|---|
//! | 9.1.1 | highest LOCAL_PREF (absent: 100) |
//! | a | shortest AS_PATH |
//! | b | lowest ORIGIN (IGP, EGP, INCOMPLETE) |
//! | c | a path unless another with the same neighbor AS has a lower MED (absent: 0) |
//! | d | eBGP-learned, when there is any |
//! | e | (IGP cost to the next hop: every next hop is on a connected network, so all tie) |
//! | f | lowest BGP Identifier |
//! | g | lowest peer address |
//!
//! Multipath rule: the paths left after step d are *equal-cost*; they all
//! become legs of one route, the best of them (after f and g) first. Steps
//! f and g only break ties between otherwise equal paths, which is exactly
//! what multipath spreads traffic over; MED being compared per neighbor AS
//! (step c) means equal-cost paths may come from different neighbor ASes,
//! as with FRR's `as-path multipath-relax` minus the AS_PATH contents,
//! which guardian does not keep.

use super::types::{Origin, Path, DEFAULT_LOCAL_PREF};
use std::net::{IpAddr, Ipv4Addr};

/// What the decision process reads of a path, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rank {
    pub local_pref: u32,
    pub as_path_len: u32,
    pub origin: Origin,
    pub neighbor_as: u32,
    pub med: u32,
    pub ebgp: bool,
    pub router_id: Ipv4Addr,
    pub peer_addr: IpAddr,
}

impl Rank {
    pub fn of(p: &Path) -> Rank {
        Rank {
            local_pref: p.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
            as_path_len: p.as_path_len,
            origin: p.origin,
            neighbor_as: p.neighbor_as,
            med: p.med.unwrap_or(0),
            ebgp: p.ebgp,
            router_id: p.peer_router_id,
            peer_addr: p.peer_addr,
        }
    }
}

/// Leaves in `alive` (indexes into `ranks`) the best path first, followed,
/// with `multipath`, by the other equal-cost paths in tie-break order;
/// without it, the best alone. `alive` must hold at least one index.
pub(super) fn select(ranks: &[Rank], multipath: bool, alive: &mut Vec<usize>) {
    keep_best(alive, |i| std::cmp::Reverse(ranks[i].local_pref));
    keep_best(alive, |i| ranks[i].as_path_len);
    keep_best(alive, |i| ranks[i].origin);
    let beaten =
        |i: usize| alive.iter().any(|&j| ranks[j].neighbor_as == ranks[i].neighbor_as && ranks[j].med < ranks[i].med);
    let survivors: Vec<usize> = alive.iter().copied().filter(|&i| !beaten(i)).collect();
    *alive = survivors;
    keep_best(alive, |i| !ranks[i].ebgp);
    alive.sort_by_key(|&i| (ranks[i].router_id, ranks[i].peer_addr));
    if !multipath {
        alive.truncate(1);
    }
}

/// Keeps the indexes whose key is the smallest.
fn keep_best<K: Ord>(alive: &mut Vec<usize>, key: impl Fn(usize) -> K) {
    if let Some(best) = alive.iter().map(|&i| key(i)).min() {
        alive.retain(|&i| key(i) == best);
    }
}

#[cfg(test)]
mod tests;
