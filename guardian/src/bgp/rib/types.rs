//! What the RIB takes in (prefixes, paths, neighbor settings) and what it
//! reports (counters). Its own small types, so that the RIB does not depend
//! on the message codec: the session turns a decoded UPDATE into these.

use super::filter::PrefixFilter;
use crate::route::{Addr, Family};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A neighbor, as [`super::Rib::add_neighbor`] numbered it. Never reused
/// within one RIB, so a change still pending for a removed neighbor cannot
/// be mistaken for a newer neighbor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NeighborId(pub(super) u32);

impl NeighborId {
    pub(super) fn index(self) -> usize {
        self.0 as usize
    }
}

/// ORIGIN (RFC 4271 5.1.1), in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

/// The link-local half of an IPv6 next hop (RFC 2545), with the interface
/// it is on: a link-local address means nothing without one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkLocal {
    pub addr: Ipv6Addr,
    pub interface: String,
}

/// The attributes of one UPDATE that decide best path and where traffic
/// goes, with the facts of the session that sent it. Shared by all the
/// UPDATE's prefixes, and interned: a million prefixes with one set of
/// attributes hold one `Path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub neighbor: NeighborId,
    /// The neighbor's address (tie-break 9.1.2.2 h).
    pub peer_addr: IpAddr,
    /// The BGP Identifier from the neighbor's OPEN (tie-break g).
    pub peer_router_id: Ipv4Addr,
    pub peer_as: u32,
    pub ebgp: bool,
    /// NEXT_HOP, or the global address of MP_REACH_NLRI's next hop.
    pub next_hop: IpAddr,
    pub link_local: Option<LinkLocal>,
    /// LOCAL_PREF; absent (an eBGP path) counts as [`DEFAULT_LOCAL_PREF`].
    pub local_pref: Option<u32>,
    /// AS_PATH length as RFC 4271 9.1.2.2 a counts it (an AS_SET is one).
    pub as_path_len: u32,
    /// The first AS of AS_PATH; the local AS for an empty path. MEDs are
    /// compared only between paths with the same neighbor AS.
    pub neighbor_as: u32,
    pub origin: Origin,
    /// MULTI_EXIT_DISC; absent counts as 0 (RFC 4271 9.1.2.2 c).
    pub med: Option<u32>,
}

/// The degree of preference of a path without LOCAL_PREF (the common
/// default of BGP implementations).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// An NLRI: host bits beyond `len` are cleared on construction, since RFC
/// 4271 4.3 says they are irrelevant and two spellings must be one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub family: Family,
    pub addr: Addr,
    pub len: u8,
}

impl Prefix {
    /// `None` when `len` is longer than the family allows.
    pub fn new(ip: IpAddr, len: u8) -> Option<Prefix> {
        let family = Family::of(&ip);
        if len > family.max_prefix() {
            return None;
        }
        Some(Prefix { family, addr: masked(Addr::from_ip(&ip), len), len })
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.to_ip(self.family)
    }

    /// The address as one big-endian number: an IPv4 address sits in the
    /// top 32 bits, so one mask serves both families.
    pub(super) fn bits(&self) -> u128 {
        u128::from_be_bytes(self.addr.0)
    }
}

/// The top `len` bits set.
pub(super) fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

pub(super) fn masked(addr: Addr, len: u8) -> Addr {
    Addr((u128::from_be_bytes(addr.0) & mask(len)).to_be_bytes())
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip(), self.len)
    }
}

/// What the RIB needs to know of a configured neighbor.
#[derive(Debug, Clone)]
pub struct NeighborConfig {
    /// The configured address: the source of its routes is `bgp:<address>`.
    pub address: IpAddr,
    /// `false`: learn and count, never install (doublezerod's NoInstall).
    /// Such a neighbor's paths are not candidates for best path, so they
    /// cannot hide another neighbor's path that would be installed.
    pub install: bool,
    /// `liveness = "nexthop"`: its routes are gated on a session with the
    /// next hop.
    pub liveness_nexthop: bool,
    pub import: PrefixFilter,
    /// The limit on accepted prefixes (after the import filter: what is
    /// kept and costs memory); `None` for no limit.
    pub max_prefixes: Option<u32>,
}

/// The `[bgp]` settings that shape every learned route.
#[derive(Debug, Clone, Copy)]
pub struct RibConfig {
    pub table: u32,
    /// 0 for an IPv6 route means the kernel's 1024, as for the file's routes.
    pub metric: u32,
    pub multipath: bool,
}

/// What `guardian bgp` shows of a neighbor's prefixes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeighborCounters {
    /// Prefixes announced since the neighbor was added (a counter).
    pub received: u64,
    /// Of those, rejected by the import filter (a counter).
    pub filtered: u64,
    /// Prefixes now in its Adj-RIB-In (after the filter).
    pub accepted: u32,
    /// Prefixes whose desired route uses its path: as the best path, or
    /// as a leg of a multipath route; as of the last
    /// [`super::Rib::take_changes`], i.e. what the reconciler was told.
    pub installed: u32,
    /// Accepted prefixes kept from before a graceful restart, not yet
    /// announced again.
    pub stale: u32,
    /// Accepted prefixes whose next hop is on no connected network.
    pub unresolvable: u32,
}

/// What one announcement did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnounceReport {
    pub accepted: usize,
    pub filtered: usize,
    /// The neighbor now has more accepted prefixes than `max_prefixes`:
    /// the caller closes the session (Cease, subcode 1) and calls
    /// [`super::Rib::neighbor_down`].
    pub max_exceeded: bool,
}
