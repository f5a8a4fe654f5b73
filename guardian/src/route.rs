//! The route model: what guardian means to have in the kernel, in a compact form.
//!
//! A million routes must fit in well under 150 bytes each, so addresses are
//! stored as fixed 16-byte arrays and device names as small interned ids
//! instead of `IpAddr`/`String`.

pub mod raw;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `RT_TABLE_MAIN`.
pub const MAIN_TABLE: u32 = 254;
/// The metric the kernel gives an IPv6 route that asks for none.
pub const IPV6_DEFAULT_METRIC: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn af(self) -> u8 {
        match self {
            Family::V4 => libc::AF_INET as u8,
            Family::V6 => libc::AF_INET6 as u8,
        }
    }

    pub fn from_af(af: u8) -> Option<Family> {
        match af as i32 {
            libc::AF_INET => Some(Family::V4),
            libc::AF_INET6 => Some(Family::V6),
            _ => None,
        }
    }

    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    pub fn max_prefix(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The label value used in logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

/// An address of either family in 16 bytes; IPv4 uses the first four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    pub fn from_ip(ip: &IpAddr) -> Addr {
        let mut b = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => b.copy_from_slice(&v6.octets()),
        }
        Addr(b)
    }

    /// Builds from raw bytes as found in a netlink attribute (4 or 16 long).
    pub fn from_bytes(bytes: &[u8]) -> Option<Addr> {
        if bytes.len() != 4 && bytes.len() != 16 {
            return None;
        }
        let mut b = [0u8; 16];
        b[..bytes.len()].copy_from_slice(bytes);
        Some(Addr(b))
    }

    pub fn to_ip(self, family: Family) -> IpAddr {
        match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(self.0)),
        }
    }

    pub fn bytes(&self, family: Family) -> &[u8] {
        &self.0[..family.addr_len()]
    }
}

/// The kernel's identity of a route: two routes with the same key cannot
/// coexist in the kernel (one replaces the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    pub family: Family,
    pub table: u32,
    pub dst: Addr,
    pub dst_len: u8,
    pub tos: u8,
    pub metric: u32,
}

/// A gateway; an IPv4 route may have an IPv6 gateway (RTA_VIA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gateway {
    pub family: Family,
    pub addr: Addr,
}

impl Gateway {
    pub fn from_ip(ip: &IpAddr) -> Gateway {
        Gateway { family: Family::of(ip), addr: Addr::from_ip(ip) }
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.to_ip(self.family)
    }
}

/// An index into the daemon's table of device names (see [`DevNames`]).
/// Stored plus one, so `Option<DevId>` costs four bytes, not eight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevId(std::num::NonZeroU32);

impl DevId {
    pub fn from_index(index: u32) -> DevId {
        DevId(std::num::NonZeroU32::new(index + 1).expect("fewer than 2^32 - 1 device names"))
    }

    pub fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

/// A route guardian means to have installed: its identity and the attributes
/// that make a kernel route with that identity "ours".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    pub key: RouteKey,
    pub via: Option<Gateway>,
    pub dev: Option<DevId>,
    pub src: Option<Addr>,
}

/// One next hop (leg) of a multipath route: a gateway of the route's
/// family, the device it is reached through, and its weight (1-256, the
/// kernel's `rtnh_hops` plus one). Multipath routes are rare, so their legs
/// live in a side table keyed by the route's identity, not in [`RouteSpec`]:
/// the spec of a multipath route has neither `via` nor `dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nexthop {
    pub via: Gateway,
    pub dev: DevId,
    pub weight: u16,
}

/// Device names interned once, so a million routes over one device carry a
/// four-byte id each instead of a string.
#[derive(Debug, Default, Clone)]
pub struct DevNames {
    names: Vec<String>,
    ids: std::collections::HashMap<String, DevId>,
}

impl DevNames {
    pub fn intern(&mut self, name: &str) -> DevId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = DevId::from_index(self.names.len() as u32);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    pub fn name(&self, id: DevId) -> &str {
        &self.names[id.index()]
    }

    pub fn id(&self, name: &str) -> Option<DevId> {
        self.ids.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl RouteKey {
    pub fn dst_ip(&self) -> IpAddr {
        self.dst.to_ip(self.family)
    }
}

/// Formats a route the way `ip route` would: `10.9.0.0/24 via 192.0.2.2 dev veth0 table 100`.
pub struct RouteDisplay<'a> {
    pub spec: &'a RouteSpec,
    pub devs: &'a DevNames,
}

impl fmt::Display for RouteDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = &self.spec.key;
        write!(f, "{}/{}", k.dst_ip(), k.dst_len)?;
        if let Some(gw) = &self.spec.via {
            write!(f, " via {}", gw.ip())?;
        }
        if let Some(dev) = self.spec.dev {
            write!(f, " dev {}", self.devs.name(dev))?;
        }
        if k.table != MAIN_TABLE {
            write!(f, " table {}", k.table)?;
        }
        if let Some(src) = self.spec.src {
            write!(f, " src {}", src.to_ip(k.family))?;
        }
        let default_metric = match k.family {
            Family::V4 => 0,
            Family::V6 => IPV6_DEFAULT_METRIC,
        };
        if k.metric != default_metric {
            write!(f, " metric {}", k.metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
