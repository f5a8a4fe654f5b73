//! The sending sockets of one family, as the session layer should use them.
//!
//! IPv4 needs one socket: with `IP_PKTINFO` naming an interface, the kernel
//! only considers routes through it, or takes the destination as on-link
//! there (`fib_table_lookup` skips next hops on other devices), even when
//! a source address is given.
//!
//! IPv6 does not: `ip6_route_output_flags` makes the interface of
//! `IPV6_PKTINFO` binding (`RT6_LOOKUP_F_IFACE`) only when the source
//! address is unspecified, the destination is link-local or multicast, or
//! the socket is bound to a device. With the route's source address given,
//! the interface is a mere preference and a probe follows whatever route
//! the table has, through another device if need be (seen on 6.18, see
//! `netns_tests`). That is the false Up docs/liveness.md forbids, so global IPv6
//! destinations get one socket bound to each interface (`SO_BINDTOIFINDEX`),
//! opened on first use: a few sockets per family, never one per session.
//!
//! Bound that way, IPv6 needs a route through the interface (a connected
//! prefix, or a covering route): unlike IPv4 it does not take the peer as
//! on-link there, and the send fails with `ENETUNREACH`. So a `destination`
//! liveness target over IPv6 whose host route is withdrawn can only be
//! probed if some other route to it goes through the same interface.

use super::{BatchSent, NetworkError, Outgoing, SendSocket};
use crate::route::Family;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

#[derive(Debug)]
pub struct SendSockets {
    family: Family,
    ttl: u8,
    /// Not bound to a device: all IPv4 sends, IPv6 sends with ifindex 0.
    shared: SendSocket,
    /// IPv6 only: by ifindex.
    devices: HashMap<u32, SendSocket>,
}

impl SendSockets {
    /// Opens the shared socket now (so a startup problem shows at once);
    /// IPv6 device sockets open on first use.
    pub fn open(family: Family, ttl: u8) -> Result<Self, NetworkError> {
        Ok(SendSockets { family, ttl, shared: SendSocket::open(family, ttl)?, devices: HashMap::new() })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The source port of datagrams sent through `ifindex`, once its socket
    /// exists (always for IPv4). Stable for as long as the socket lives.
    pub fn local_port(&self, ifindex: u32) -> Option<u16> {
        match self.key(ifindex) {
            None => Some(self.shared.local_port()),
            Some(dev) => self.devices.get(&dev).map(SendSocket::local_port),
        }
    }

    /// Sockets bound to a device (IPv6), besides the shared one.
    pub fn device_sockets(&self) -> usize {
        self.devices.len()
    }

    /// Closes the socket of a deleted interface (a send through it reporting
    /// `ENODEV` does this too). Returns whether there was one.
    pub fn close_device(&mut self, ifindex: u32) -> bool {
        self.devices.remove(&ifindex).is_some()
    }

    /// [`SendSocket::send`] through the socket for `ifindex`, opening it if
    /// needed (an open failure is returned as is: op `open`, `setsockopt`
    /// or `bind`).
    pub fn send(&mut self, payload: &[u8], to: SocketAddr, source: IpAddr, ifindex: u32) -> Result<(), NetworkError> {
        let result = self.socket(ifindex)?.send(payload, to, source, ifindex);
        if let Err(e) = &result {
            self.forget_if_gone(ifindex, e);
        }
        result
    }

    /// [`SendSocket::send_batch`] split by socket: one call per run of
    /// consecutive datagrams that use the same one (for IPv6, sort by
    /// ifindex for long runs; IPv4 has one socket). Every datagram is
    /// either sent or in `failed`.
    pub fn send_batch(&mut self, datagrams: &[Outgoing<'_>]) -> BatchSent {
        let mut out = BatchSent::default();
        let mut start = 0;
        while start < datagrams.len() {
            let key = self.key(datagrams[start].ifindex);
            let len = datagrams[start..].iter().take_while(|d| self.key(d.ifindex) == key).count();
            let run = &datagrams[start..start + len];
            match self.socket(run[0].ifindex) {
                Ok(socket) => {
                    let sent = socket.send_batch(run);
                    out.sent += sent.sent;
                    out.calls += sent.calls;
                    for (i, e) in sent.failed {
                        self.forget_if_gone(run[i].ifindex, &e);
                        out.failed.push((start + i, e));
                    }
                }
                Err(e) => {
                    // The socket could not be opened: the whole run fails,
                    // the first datagram with the error itself.
                    let rest: Vec<_> = run.iter().enumerate().skip(1).map(|(i, d)| (start + i, like(&e, d))).collect();
                    out.failed.push((start, e));
                    out.failed.extend(rest);
                }
            }
            start += len;
        }
        out
    }

    /// Which device socket serves `ifindex`: `None` for the shared one.
    fn key(&self, ifindex: u32) -> Option<u32> {
        match self.family {
            Family::V6 if ifindex != 0 => Some(ifindex),
            _ => None,
        }
    }

    /// Opens the socket for `ifindex` now rather than at its first send
    /// (to report a problem when a session is created, or to open it from
    /// a thread in another network namespace: a socket belongs to the
    /// namespace of the thread that opens it). Returns its source port.
    pub fn open_device(&mut self, ifindex: u32) -> Result<u16, NetworkError> {
        self.socket(ifindex).map(SendSocket::local_port)
    }

    fn socket(&mut self, ifindex: u32) -> Result<&SendSocket, NetworkError> {
        let Some(dev) = self.key(ifindex).and_then(NonZeroU32::new) else {
            return Ok(&self.shared);
        };
        if !self.devices.contains_key(&ifindex) {
            // Device sockets share one port when they can (the shared
            // socket's port is taken for them: it has no device).
            let preferred = self.devices.values().next().map(SendSocket::local_port);
            let socket = SendSocket::open_on_device(self.family, self.ttl, dev, preferred)?;
            self.devices.insert(ifindex, socket);
        }
        Ok(&self.devices[&ifindex])
    }

    fn forget_if_gone(&mut self, ifindex: u32, e: &NetworkError) {
        if let NetworkError::Send { source, .. } = e {
            if source.raw_os_error() == Some(libc::ENODEV) {
                self.devices.remove(&ifindex);
            }
        }
    }
}

/// A send error for datagram `d` carrying the same cause as `e`.
fn like(e: &NetworkError, d: &Outgoing<'_>) -> NetworkError {
    let source = match e.io_error().and_then(io::Error::raw_os_error) {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::other(e.to_string()),
    };
    NetworkError::Send { to: d.to, from: d.source, ifindex: d.ifindex, source }
}
