//! rtnetlink route messages, encoded and decoded by hand.
//!
//! Routes are the hot path: a scan walks a million of them and an install
//! writes a million. netlink-packet-route, which allocates a vector of
//! attributes per route, doubles the cost of the kernel's own dump at a
//! million routes (2.0-2.2x), while walking the attributes in place, inlined
//! with the comparison, keeps a whole scan within about 1.1x the dump
//! (`cargo xtask bench --only scan` measures all three side by side;
//! docs/reconcile.md, "What a scan costs"), so routes are handled here. The
//! layouts are stable UAPI (`rtnetlink.h`). Links are rare and their
//! messages go through netlink-packet-route.

pub mod raw;

use bytes::BufMut;

use crate::messages::KernelRoute;
use crate::route::{Addr, Family, Gateway, RouteKey};

pub const NLMSG_HDRLEN: usize = 16;
pub const RTMSG_LEN: usize = 12;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
/// Set on dump messages when the table changed while it was dumped.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_CREATE: u16 = 0x400;

pub const RTA_DST: u16 = 1;
pub const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
pub const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_VIA: u16 = 18;
/// Strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;

const RT_TABLE_COMPAT: u8 = 252;
pub const RTN_UNICAST: u8 = 1;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_NOWHERE: u8 = 255;
pub const RTM_F_CLONED: u32 = 0x200;

/// One netlink message inside a datagram.
#[derive(Debug, Clone, Copy)]
pub struct NlMsg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    /// The port id of the socket that caused it (the requester for notifications).
    pub pid: u32,
    pub payload: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("truncated netlink message ({0} bytes left)")]
    Truncated(usize),
    #[error("netlink message length {0} is invalid")]
    BadLength(u32),
}

/// Iterates over the messages of one datagram.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf }
}

pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        if self.buf.len() < NLMSG_HDRLEN {
            let left = self.buf.len();
            self.buf = &[];
            return Some(Err(WireError::Truncated(left)));
        }
        let len = u32::from_ne_bytes(self.buf[0..4].try_into().unwrap());
        if (len as usize) < NLMSG_HDRLEN || len as usize > self.buf.len() {
            self.buf = &[];
            return Some(Err(WireError::BadLength(len)));
        }
        let msg = NlMsg {
            ty: u16::from_ne_bytes([self.buf[4], self.buf[5]]),
            flags: u16::from_ne_bytes([self.buf[6], self.buf[7]]),
            seq: u32::from_ne_bytes(self.buf[8..12].try_into().unwrap()),
            pid: u32::from_ne_bytes(self.buf[12..16].try_into().unwrap()),
            payload: &self.buf[NLMSG_HDRLEN..len as usize],
        };
        let next = align4(len as usize).min(self.buf.len());
        self.buf = &self.buf[next..];
        Some(Ok(msg))
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The errno of an NLMSG_ERROR payload (0 is an ACK), with the kernel's
/// extended-ack message when it sent one.
/// How an errno and the kernel's extended ack read in a log line:
/// "Nexthop device is not up (Network is down)".
pub fn error_text(errno: i32, extack: Option<String>) -> String {
    let text = std::io::Error::from_raw_os_error(errno.saturating_abs()).to_string();
    match extack {
        Some(m) => format!("{m} ({text})"),
        None => text,
    }
}

pub fn parse_error(payload: &[u8]) -> Option<(i32, Option<String>)> {
    let code = i32::from_ne_bytes(payload.get(0..4)?.try_into().ok()?);
    // With NETLINK_CAP_ACK the original header (16 bytes) follows; then TLVs.
    let mut message = None;
    if let Some(tlvs) = payload.get(4 + NLMSG_HDRLEN..) {
        for (ty, value) in attributes(tlvs) {
            // NLMSGERR_ATTR_MSG
            if ty == 1 {
                let text = value.split(|b| *b == 0).next().unwrap_or(value);
                message = Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    // saturating: a malformed i32::MIN must not overflow (found by fuzzing).
    Some((code.saturating_neg(), message))
}

/// Walks `rtattr`s in place: `(type, value)` pairs; stops at the first malformed one.
pub fn attributes(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let value = &buf[4..len];
        buf = &buf[align4(len).min(buf.len())..];
        Some((ty, value))
    })
}

/// Decodes the payload of an RTM_NEWROUTE/RTM_DELROUTE message. `None` for
/// families other than IPv4/IPv6, cached clones and malformed messages.
///
/// Always inlined: a scan decodes a million routes and compares each at
/// once. Returned from a call, the route goes through memory and is read
/// back before its stores have landed; inlined, with the comparison, guardian's
/// own share of a scan at a million routes drops by about a third.
#[inline(always)]
pub fn parse_route(payload: &[u8]) -> Option<KernelRoute> {
    if payload.len() < RTMSG_LEN {
        return None;
    }
    let family = Family::from_af(payload[0])?;
    let flags = u32::from_ne_bytes(payload[8..12].try_into().unwrap());
    if flags & RTM_F_CLONED != 0 {
        return None;
    }
    let mut key = RouteKey {
        family,
        table: payload[4] as u32,
        dst: Addr::default(),
        dst_len: payload[1],
        tos: payload[3],
        metric: 0,
    };
    let mut route = KernelRoute {
        key,
        gateway: None,
        oif: 0,
        prefsrc: None,
        protocol: payload[5],
        kind: payload[7],
        unusual: payload[2] != 0,
        extra: 0,
    };
    let alen = family.addr_len();
    for (ty, value) in attributes(&payload[RTMSG_LEN..]) {
        match ty {
            RTA_DST if value.len() == alen => key.dst = addr(value)?,
            RTA_TABLE if value.len() == 4 => key.table = u32::from_ne_bytes(value.try_into().unwrap()),
            RTA_PRIORITY if value.len() == 4 => key.metric = u32::from_ne_bytes(value.try_into().unwrap()),
            RTA_OIF if value.len() == 4 => route.oif = u32::from_ne_bytes(value.try_into().unwrap()),
            RTA_GATEWAY if value.len() == alen => route.gateway = Some(Gateway { family, addr: addr(value)? }),
            RTA_VIA if value.len() >= 2 => {
                let via_family = Family::from_af(u16::from_ne_bytes([value[0], value[1]]) as u8)?;
                let bytes = value.get(2..2 + via_family.addr_len())?;
                route.gateway = Some(Gateway { family: via_family, addr: addr(bytes)? });
            }
            RTA_PREFSRC if value.len() == alen => route.prefsrc = Some(addr(value)?),
            RTA_MULTIPATH => route.unusual = true,
            _ => {}
        }
    }
    route.key = key;
    Some(route)
}

/// An address attribute's value (4 or 16 bytes), copied at a fixed size:
/// [`Addr::from_bytes`] copies a run-time length, a call to `memset` and one
/// to `memcpy`, and a scan decodes two addresses per route.
fn addr(value: &[u8]) -> Option<Addr> {
    let mut bytes = [0u8; 16];
    if let Ok(v4) = <[u8; 4]>::try_from(value) {
        bytes[..4].copy_from_slice(&v4);
    } else {
        bytes = value.try_into().ok()?;
    }
    Some(Addr(bytes))
}

// Encoding appends to a plain `Vec<u8>` through `bytes::BufMut`: the
// `put_*_ne` calls read as the layouts above. A batch is encoded into one
// reused buffer and sent by reference, so `BytesMut` (shared, split,
// frozen buffers) would add nothing.

fn push_header(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32) -> usize {
    let start = buf.len();
    buf.put_u32_ne(0); // length, patched by finish()
    buf.put_u16_ne(ty);
    buf.put_u16_ne(flags);
    buf.put_u32_ne(seq);
    buf.put_u32_ne(0); // port id: the kernel's
    start
}

fn finish(buf: &mut Vec<u8>, start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    pad(buf);
}

/// Zeroes up to the next 4-byte boundary (NLMSG_ALIGN, RTA_ALIGN).
fn pad(buf: &mut Vec<u8>) {
    buf.put_bytes(0, align4(buf.len()) - buf.len());
}

fn push_attr(buf: &mut Vec<u8>, ty: u16, value: &[u8]) {
    buf.put_u16_ne((4 + value.len()) as u16);
    buf.put_u16_ne(ty);
    buf.put_slice(value);
    pad(buf);
}

#[allow(clippy::too_many_arguments)]
fn push_rtmsg(buf: &mut Vec<u8>, family: Family, dst_len: u8, tos: u8, table: u32, protocol: u8, scope: u8, kind: u8) {
    let table8 = if table < 256 { table as u8 } else { RT_TABLE_COMPAT };
    buf.put_slice(&[family.af(), dst_len, 0, tos, table8, protocol, scope, kind]);
    buf.put_u32_ne(0); // rtm_flags
}

/// What the kernel needs to install a route, with the device already
/// resolved to its current interface index.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest {
    pub key: RouteKey,
    pub via: Option<Gateway>,
    pub oif: Option<u32>,
    pub src: Option<Addr>,
    pub protocol: u8,
}

/// Appends an RTM_NEWROUTE with replace semantics: installing is idempotent
/// and puts our attributes back over whatever another process wrote.
pub fn push_replace(buf: &mut Vec<u8>, seq: u32, ack: bool, r: &RouteRequest) {
    let flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | if ack { NLM_F_ACK } else { 0 };
    let start = push_header(buf, RTM_NEWROUTE, flags, seq);
    let k = &r.key;
    let scope = if r.via.is_none() && k.family == Family::V4 { RT_SCOPE_LINK } else { RT_SCOPE_UNIVERSE };
    push_rtmsg(buf, k.family, k.dst_len, k.tos, k.table, r.protocol, scope, RTN_UNICAST);
    push_key_attrs(buf, k);
    push_nexthop_attrs(buf, r);
    if let Some(src) = &r.src {
        push_attr(buf, RTA_PREFSRC, src.bytes(k.family));
    }
    finish(buf, start);
}

fn push_nexthop_attrs(buf: &mut Vec<u8>, r: &RouteRequest) {
    let k = &r.key;
    if let Some(gw) = &r.via {
        if gw.family == k.family {
            push_attr(buf, RTA_GATEWAY, gw.addr.bytes(gw.family));
        } else {
            let mut via = [0u8; 18];
            via[0..2].copy_from_slice(&(gw.family.af() as u16).to_ne_bytes());
            let n = gw.family.addr_len();
            via[2..2 + n].copy_from_slice(gw.addr.bytes(gw.family));
            push_attr(buf, RTA_VIA, &via[..2 + n]);
        }
    }
    if let Some(oif) = r.oif {
        push_attr(buf, RTA_OIF, &oif.to_ne_bytes());
    }
}

/// Appends an RTM_DELROUTE for the route with this identity, our protocol
/// and, when given, this gateway and device: a route another process put in
/// its place is left alone. Naming the next hop matters because the kernel
/// reads an IPv4 metric of 0 as "any metric".
pub fn push_delete(buf: &mut Vec<u8>, seq: u32, ack: bool, r: &RouteRequest) {
    let flags = NLM_F_REQUEST | if ack { NLM_F_ACK } else { 0 };
    let start = push_header(buf, RTM_DELROUTE, flags, seq);
    let k = &r.key;
    // Scope "nowhere" and type 0 match a route of any scope and type, as `ip route del` does.
    push_rtmsg(buf, k.family, k.dst_len, k.tos, k.table, r.protocol, RT_SCOPE_NOWHERE, 0);
    push_key_attrs(buf, k);
    push_nexthop_attrs(buf, r);
    finish(buf, start);
}

fn push_key_attrs(buf: &mut Vec<u8>, k: &RouteKey) {
    if k.dst_len > 0 {
        push_attr(buf, RTA_DST, k.dst.bytes(k.family));
    }
    push_attr(buf, RTA_TABLE, &k.table.to_ne_bytes());
    if k.metric != 0 {
        push_attr(buf, RTA_PRIORITY, &k.metric.to_ne_bytes());
    }
}

/// Appends a strict-checking route dump request: the kernel filters by
/// table and protocol itself, so only guardian's routes cross into user space.
pub fn push_route_dump(buf: &mut Vec<u8>, seq: u32, family: Family, table: u32, protocol: u8) {
    let start = push_header(buf, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq);
    // Type 0 means any type: a route of ours replaced by a blackhole must still show up.
    push_rtmsg(buf, family, 0, 0, table, protocol, 0, 0);
    if table != 0 {
        push_attr(buf, RTA_TABLE, &table.to_ne_bytes());
    }
    finish(buf, start);
}

/// Appends a route lookup (`ip route get DST [oif N]`).
pub fn push_route_get(buf: &mut Vec<u8>, seq: u32, dst: std::net::IpAddr, oif: Option<u32>) {
    let family = Family::of(&dst);
    let start = push_header(buf, RTM_GETROUTE, NLM_F_REQUEST, seq);
    push_rtmsg(buf, family, family.max_prefix(), 0, 0, 0, 0, 0);
    push_attr(buf, RTA_DST, Addr::from_ip(&dst).bytes(family));
    if let Some(oif) = oif {
        push_attr(buf, RTA_OIF, &oif.to_ne_bytes());
    }
    finish(buf, start);
}

/// Appends a dump request for all links.
pub fn push_link_dump(buf: &mut Vec<u8>, seq: u32) {
    let start = push_header(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
    buf.put_bytes(0, 16); // struct ifinfomsg, AF_UNSPEC
    finish(buf, start);
}

#[cfg(test)]
mod tests;
