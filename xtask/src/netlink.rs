//! Just enough rtnetlink for the benchmarks, over netlink-sys sockets:
//! IPv4 route add/delete requests, a table-filtered dump that only counts,
//! and a parser for route notifications. Messages are built and walked by
//! hand (header + rtmsg + attributes): a floor must not pay for an
//! allocating parser. The one exception is [`parse_dump`], the scan bench's
//! generic-parse row, whose point is to pay for one.
//!
//! ```text
//! nlmsghdr  len:u32 type:u16 flags:u16 seq:u32 pid:u32          (16 bytes)
//! rtmsg     family dst_len src_len tos table protocol scope type (8 x u8) flags:u32
//! rtattr    len:u16 type:u16 data, padded to 4 bytes
//! ```

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

pub const RTM_NEWROUTE: u16 = libc::RTM_NEWROUTE;
pub const RTM_DELROUTE: u16 = libc::RTM_DELROUTE;
const RTM_GETROUTE: u16 = libc::RTM_GETROUTE;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLMSG_OVERRUN: u16 = libc::NLMSG_OVERRUN as u16;
const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
const NLM_F_CREATE: u16 = libc::NLM_F_CREATE as u16;
const NLM_F_REPLACE: u16 = libc::NLM_F_REPLACE as u16;
const RTA_DST: u16 = libc::RTA_DST;
const RTA_OIF: u16 = libc::RTA_OIF;
const RTA_GATEWAY: u16 = libc::RTA_GATEWAY;
const RTA_TABLE: u16 = libc::RTA_TABLE;
/// The multicast group of IPv4 route changes (for `add_membership`).
pub const RTNLGRP_IPV4_ROUTE: u32 = libc::RTNLGRP_IPV4_ROUTE;

const HDR_LEN: usize = 16;
const RTMSG_LEN: usize = 12;

/// An IPv4 route as the benchmarks handle it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub dst_len: u8,
    pub table: u32,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
    pub protocol: u8,
}

/// A route message received from the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEvent {
    pub kind: u16,
    pub dst: Ipv4Addr,
    pub dst_len: u8,
    pub table: u32,
}

/// A route socket opened in the calling thread's namespace.
pub fn open(groups: &[u32], rcvbuf: usize) -> Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE).context("opening a NETLINK_ROUTE socket")?;
    sock.bind(&SocketAddr::new(0, 0))?;
    for &group in groups {
        sock.add_membership(group).with_context(|| format!("joining netlink group {group}"))?;
    }
    sock.set_netlink_get_strict_chk(true)?;
    sock.set_ext_ack(true)?;
    if rcvbuf > 0 {
        force_rcvbuf(&sock, rcvbuf)?;
    }
    Ok(sock)
}

/// SO_RCVBUFFORCE (root may exceed net.core.rmem_max).
fn force_rcvbuf(sock: &Socket, bytes: usize) -> Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: valid fd, pointer to a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("setting SO_RCVBUFFORCE");
    }
    Ok(())
}

/// Makes `recv` give up after `timeout` (EAGAIN), so a loop can check a stop flag.
pub fn set_recv_timeout(sock: &Socket, timeout: Duration) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: valid fd, pointer to a timeval of the given size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("setting SO_RCVTIMEO");
    }
    Ok(())
}

/// One datagram into `buf`; Ok(None) on timeout.
pub fn recv(sock: &Socket, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut slice = &mut buf[..];
    match sock.recv(&mut slice, 0) {
        Ok(n) => Ok(Some(n)),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The netlink messages in a datagram: (type, payload after the header).
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < HDR_LEN {
            return None;
        }
        let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
        if len < HDR_LEN || len > buf.len() {
            return None;
        }
        let kind = u16::from_ne_bytes(buf[4..6].try_into().ok()?);
        let seq = u32::from_ne_bytes(buf[8..12].try_into().ok()?);
        let payload = &buf[HDR_LEN..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((kind, seq, payload))
    })
}

/// Parses an IPv4 RTM_NEWROUTE/RTM_DELROUTE payload (other families: None).
pub fn parse_route(kind: u16, payload: &[u8]) -> Option<RouteEvent> {
    if payload.len() < RTMSG_LEN || payload[0] != libc::AF_INET as u8 {
        return None;
    }
    let dst_len = payload[1];
    let mut table = u32::from(payload[4]);
    let mut dst = Ipv4Addr::UNSPECIFIED;
    for (ty, data) in attributes(&payload[RTMSG_LEN..]) {
        match ty {
            RTA_DST if data.len() == 4 => dst = Ipv4Addr::new(data[0], data[1], data[2], data[3]),
            RTA_TABLE if data.len() == 4 => table = u32::from_ne_bytes(data.try_into().ok()?),
            _ => {}
        }
    }
    Some(RouteEvent { kind, dst, dst_len, table })
}

fn attributes(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            return None;
        }
        let data = &buf[4..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((ty, data))
    })
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

struct Builder(Vec<u8>);

impl Builder {
    fn new(kind: u16, flags: u16, seq: u32) -> Self {
        let mut b = Vec::with_capacity(128);
        b.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        Builder(b)
    }

    #[allow(clippy::too_many_arguments)]
    fn rtmsg(mut self, dst_len: u8, table: u32, protocol: u8, scope: u8, ty: u8) -> Self {
        let table8 = if table < 256 { table as u8 } else { libc::RT_TABLE_UNSPEC };
        self.0.extend_from_slice(&[libc::AF_INET as u8, dst_len, 0, 0, table8, protocol, scope, ty]);
        self.0.extend_from_slice(&0u32.to_ne_bytes());
        self
    }

    fn attr(mut self, ty: u16, data: &[u8]) -> Self {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align(self.0.len()), 0);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// RTM_NEWROUTE with create|replace (what a repair does). `ack`: ask for one.
pub fn add_request(route: &Route, seq: u32, ack: bool) -> Vec<u8> {
    let mut flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
    if ack {
        flags |= NLM_F_ACK;
    }
    let scope = if route.gateway.is_some() { libc::RT_SCOPE_UNIVERSE } else { libc::RT_SCOPE_LINK };
    let mut b = Builder::new(RTM_NEWROUTE, flags, seq)
        .rtmsg(route.dst_len, route.table, route.protocol, scope, libc::RTN_UNICAST)
        .attr(RTA_TABLE, &route.table.to_ne_bytes())
        .attr(RTA_DST, &route.dst.octets());
    if let Some(gw) = route.gateway {
        b = b.attr(RTA_GATEWAY, &gw.octets());
    }
    if let Some(oif) = route.oif {
        b = b.attr(RTA_OIF, &oif.to_ne_bytes());
    }
    b.finish()
}

/// RTM_DELROUTE of (table, dst/len), whatever its other attributes, as `ip route del` does.
pub fn delete_request(route: &Route, seq: u32) -> Vec<u8> {
    Builder::new(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, seq)
        .rtmsg(route.dst_len, route.table, 0, libc::RT_SCOPE_NOWHERE, 0)
        .attr(RTA_TABLE, &route.table.to_ne_bytes())
        .attr(RTA_DST, &route.dst.octets())
        .finish()
}

/// RTM_GETROUTE dump of one IPv4 table (a kernel-side filter under strict checking).
pub fn dump_request(table: u32, seq: u32) -> Vec<u8> {
    Builder::new(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .rtmsg(0, table, 0, 0, 0)
        .attr(RTA_TABLE, &table.to_ne_bytes())
        .finish()
}

/// Sends a request (with NLM_F_ACK) and waits for its acknowledgement,
/// skipping unrelated messages (e.g. multicast notifications).
pub fn request(sock: &Socket, msg: &[u8], seq: u32) -> Result<()> {
    sock.send(msg, 0).context("sending a netlink request")?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Some(n) = recv(sock, &mut buf)? else {
            bail!("no netlink acknowledgement (timed out)");
        };
        for (kind, got_seq, payload) in messages(&buf[..n]) {
            if kind == NLMSG_ERROR && got_seq == seq {
                return check_error(payload);
            }
        }
    }
}

fn check_error(payload: &[u8]) -> Result<()> {
    let code = i32::from_ne_bytes(payload.get(0..4).context("short error")?.try_into()?);
    if code != 0 {
        return Err(io::Error::from_raw_os_error(-code)).context("the kernel refused the request");
    }
    Ok(())
}

/// Dumps one table, only counting the route messages (the scan floor).
pub fn count_dump(sock: &Socket, table: u32, seq: u32, buf: &mut [u8]) -> Result<usize> {
    sock.send(&dump_request(table, seq), 0).context("sending the dump request")?;
    let mut count = 0;
    loop {
        let n = recv(sock, buf)?.context("the dump timed out")?;
        for (kind, got_seq, payload) in messages(&buf[..n]) {
            if got_seq != seq {
                continue;
            }
            match kind {
                RTM_NEWROUTE => count += 1,
                NLMSG_DONE => return Ok(count),
                NLMSG_ERROR => {
                    check_error(payload)?;
                }
                NLMSG_OVERRUN => bail!("netlink overrun during the dump"),
                _ => {}
            }
        }
    }
}

/// Dumps one table and decodes every message with netlink-packet-route,
/// the generic parser under rtnetlink (each message into a
/// `NetlinkMessage<RouteNetlinkMessage>` with a vector of attributes, as
/// rtnetlink's codec does), reading each route's destination. Without
/// rtnetlink's futures and channels on top: a lower bound for what a scan
/// through rtnetlink would cost. Returns the number of routes.
pub fn parse_dump(sock: &Socket, table: u32, seq: u32, buf: &mut [u8]) -> Result<usize> {
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::route::RouteAttribute;
    use netlink_packet_route::RouteNetlinkMessage;

    sock.send(&dump_request(table, seq), 0).context("sending the dump request")?;
    let mut count = 0;
    loop {
        let n = recv(sock, buf)?.context("the dump timed out")?;
        let mut at = 0;
        while at + HDR_LEN <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into()?) as usize;
            if len < HDR_LEN || at + len > n {
                bail!("malformed netlink message in the dump (length {len})");
            }
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[at..at + len])
                .map_err(|e| anyhow::anyhow!("netlink-packet-route: {e}"))?;
            at += align(len);
            if msg.header.sequence_number != seq {
                continue;
            }
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(route)) => {
                    let dst = route.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Destination(d) => Some(d.clone()),
                        _ => None,
                    });
                    std::hint::black_box((route.header.destination_prefix_length, dst));
                    count += 1;
                }
                NetlinkPayload::Done(_) => return Ok(count),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(io::Error::from_raw_os_error(-code.get())).context("the kernel refused the dump");
                    }
                }
                NetlinkPayload::Overrun(_) => bail!("netlink overrun during the dump"),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
