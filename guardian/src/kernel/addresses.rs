//! The host's interface addresses, and a watch that says when they may have
//! changed: BGP next hops must be on a connected network (docs/bgp.md), so
//! the BGP task needs each interface's addresses and prefix lengths.
//!
//! Read with getifaddrs (nix) rather than decoded from the notifications:
//! address changes are rare, and a fresh read after any of them is simpler
//! than keeping a copy in step with RTM_NEWADDR/RTM_DELADDR.

use super::socket::{groups, NetlinkSocket};
use nix::net::if_::InterfaceFlags;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Interface name -> its addresses with their prefix lengths.
pub type Addresses = BTreeMap<String, Vec<(IpAddr, u8)>>;

/// The addresses of every interface that is up (an interface that is down
/// has no connected networks: the kernel removed their routes).
pub fn read() -> std::io::Result<Addresses> {
    let mut out = Addresses::new();
    for ifa in nix::ifaddrs::getifaddrs()? {
        if !ifa.flags.contains(InterfaceFlags::IFF_UP) {
            continue;
        }
        let (Some(addr), Some(mask)) = (ifa.address, ifa.netmask) else { continue };
        let pair = if let (Some(a), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            (IpAddr::V4(a.ip()), u32::from(m.ip()).count_ones() as u8)
        } else if let (Some(a), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            (IpAddr::V6(a.ip()), u128::from(m.ip()).count_ones() as u8)
        } else {
            continue;
        };
        out.entry(ifa.interface_name).or_default().push(pair);
    }
    for addrs in out.values_mut() {
        addrs.sort_unstable();
        addrs.dedup();
    }
    Ok(out)
}

/// Links and addresses coming and going.
pub struct AddressWatch {
    socket: NetlinkSocket,
    buf: Vec<u8>,
}

impl AddressWatch {
    pub fn subscribe() -> std::io::Result<AddressWatch> {
        let socket = NetlinkSocket::monitor(&[groups::LINK, groups::IPV4_IFADDR, groups::IPV6_IFADDR], 1 << 20)?;
        Ok(AddressWatch { socket, buf: Vec::with_capacity(16 << 10) })
    }

    /// Returns once something changed (or the socket overran: then too,
    /// the caller reads everything again), having read all that is queued.
    pub async fn changed(&mut self) {
        if self.socket.recv(&mut self.buf).await.is_err() {
            // An overrun, most likely: read everything again, not too often.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        while let Ok(Some(_)) = self.socket.try_recv(&mut self.buf) {}
    }
}
