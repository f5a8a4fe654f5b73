//! Next hop reachability: is a path's next hop on a directly connected
//! network, and through which interface?
//!
//! guardian installs BGP routes as doublezerod does, for single-hop eBGP:
//! the next hop must be on a network of one of this host's interfaces.
//! Recursive resolution (a next hop reached through another route) is out
//! of scope: such a path is *unresolvable*, not a candidate, and counted.
//! The caller supplies each interface's addresses with their prefix
//! lengths (`ip addr`), and updates them as they change.
//!
//! Which address goes into the route, for an IPv6 next hop with both a
//! global and a link-local address (RFC 2545): the global one when it is
//! on a connected network, else the link-local one on its interface (a
//! link-local address is on-link by definition, as long as the interface
//! has IPv6 addresses at all).

use super::types::{mask, LinkLocal, Path, Prefix};
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub(super) struct Connected {
    /// Interface name -> its addresses and prefix lengths.
    interfaces: HashMap<String, Vec<(IpAddr, u8)>>,
}

impl Connected {
    /// Replaces an interface's addresses; none forgets the interface (it
    /// went down or away).
    pub fn set(&mut self, interface: &str, addrs: Vec<(IpAddr, u8)>) {
        if addrs.is_empty() {
            self.interfaces.remove(interface);
        } else {
            self.interfaces.insert(interface.to_owned(), addrs);
        }
    }

    /// The gateway and interface a path's route goes through, or `None`
    /// when its next hop is on no connected network.
    pub fn resolve<'a>(&'a self, path: &'a Path) -> Option<(IpAddr, &'a str)> {
        if let Some(interface) = self.on_link(path.next_hop) {
            return Some((path.next_hop, interface));
        }
        let LinkLocal { addr, interface } = path.link_local.as_ref()?;
        let has_v6 = self.interfaces.get(interface)?.iter().any(|(a, _)| a.is_ipv6());
        has_v6.then_some((IpAddr::V6(*addr), interface.as_str()))
    }

    /// The interface whose network holds `ip` (the longest match), never
    /// when `ip` is one of this host's own addresses (a route via itself
    /// would loop). A link-local address matches nothing here: without an
    /// interface it names no network.
    fn on_link(&self, ip: IpAddr) -> Option<&str> {
        if let IpAddr::V6(v6) = ip {
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                return None;
            }
        }
        let target = Prefix::new(ip, if ip.is_ipv4() { 32 } else { 128 })?;
        let mut best: Option<(u8, &str)> = None;
        for (name, addrs) in &self.interfaces {
            for &(addr, len) in addrs {
                if addr == ip {
                    return None;
                }
                let Some(net) = Prefix::new(addr, len) else { continue };
                let inside = net.family == target.family && target.bits() & mask(len) == net.bits();
                if inside && best.is_none_or(|(l, _)| len > l) {
                    best = Some((len, name));
                }
            }
        }
        best.map(|(_, name)| name)
    }
}

#[cfg(test)]
mod tests;
