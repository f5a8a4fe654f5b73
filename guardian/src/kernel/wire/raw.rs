//! Routes kept exactly as the kernel reported them, for guarded routes that
//! guardian's route model cannot express (several next hops with weights,
//! metrics such as mtu, realms, a type other than unicast...).
//!
//! The faithful copy is the kernel's own message, replayed with replace
//! semantics (guard.md). Before it is kept, what the kernel adds on its own
//! is taken out: the cache information and expiry attributes, and the
//! next-hop flags that report state (dead, link down, offloaded) rather
//! than ask for something; only `onlink` and `pervasive` are requests.
//! Two copies of one route then compare equal byte for byte, which is what
//! [`fingerprint`] relies on.
//!
//! Most guarded routes need none of this: one gateway and device, a plain
//! unicast route. Those are kept in the compact route model like guardian's
//! own ([`is_plain`]), so a million of them cost what a million own routes do.

use super::{
    align4, attributes, RTA_DST, RTA_GATEWAY, RTA_MULTIPATH, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTA_VIA,
};
use super::{
    finish, pad, push_attr, push_header, push_rtmsg, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
    RTM_NEWROUTE,
};
use super::{RTMSG_LEN, RTN_UNICAST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE};
use crate::route::raw::fingerprint_of_normalized;
pub use crate::route::raw::RawRoute;
use crate::route::{Addr, Family, Gateway, RouteKey};
use bytes::BufMut;

const RTA_CACHEINFO: u16 = 12;
const RTA_EXPIRES: u16 = 23;
const RTA_PREF: u16 = 20;
/// IPv6 router preference "medium", what a route without RTA_PREF gets.
const ICMPV6_ROUTER_PREF_MEDIUM: u8 = 0;
/// `RTNH_F_PERVASIVE | RTNH_F_ONLINK`: the next-hop flags a request sets;
/// the others (dead, link down, offload, trap, unresolved) are the kernel's report.
const REQUESTED_NH_FLAGS: u8 = 0x2 | 0x4;
/// Where rtm_flags / rtnh_flags sit: byte 8 of the rtmsg, byte 2 of an rtnexthop.
const RTM_FLAGS_AT: usize = 8;
const RTNH_LEN: usize = 8;

/// The copy of a route from an RTM_NEWROUTE payload (a dump or a
/// notification). `None` when the payload is too short to be a route.
pub fn copy(payload: &[u8]) -> Option<RawRoute> {
    let mut out = Vec::with_capacity(payload.len());
    normalize(payload, &mut out)?;
    Some(RawRoute::from_normalized(out))
}

/// The route's [`RawRoute::fingerprint`], without keeping a copy. Called
/// for every dumped route that is not plain: the normalized bytes go into
/// one buffer per thread, not an allocation per route.
pub fn fingerprint(payload: &[u8]) -> u64 {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|out| {
        out.clear();
        match normalize(payload, out) {
            Some(()) => fingerprint_of_normalized(out),
            None => 0,
        }
    })
}

/// What [`crate::messages::KernelRoute::extra`] holds: 0 for a plain route,
/// else its fingerprint.
pub fn extra(payload: &[u8]) -> u64 {
    if is_plain(payload) {
        0
    } else {
        fingerprint(payload)
    }
}

/// Whether the route model ([`crate::route::RouteSpec`] and a protocol)
/// says everything about this route: replaying it through the usual
/// install would recreate it exactly. True for a unicast route with at most
/// one gateway, a device and a preferred source, the scope guardian itself
/// would pick, no flags and no other attribute.
pub fn is_plain(payload: &[u8]) -> bool {
    if payload.len() < RTMSG_LEN {
        return false;
    }
    let (src_len, scope, kind) = (payload[2], payload[6], payload[7]);
    let flags = u32::from_ne_bytes(payload[RTM_FLAGS_AT..RTMSG_LEN].try_into().unwrap());
    let mut gateway = false;
    for (ty, value) in attributes(&payload[RTMSG_LEN..]) {
        match ty {
            RTA_GATEWAY | RTA_VIA => gateway = true,
            RTA_DST | RTA_TABLE | RTA_PRIORITY | RTA_OIF | RTA_PREFSRC | RTA_CACHEINFO | RTA_EXPIRES => {}
            RTA_PREF if value == [ICMPV6_ROUTER_PREF_MEDIUM] => {}
            _ => return false,
        }
    }
    let v4 = payload[0] == libc::AF_INET as u8;
    // What `wire::push_replace` sends: link scope for an IPv4 route without a gateway.
    let expected_scope = if v4 && !gateway { RT_SCOPE_LINK } else { RT_SCOPE_UNIVERSE };
    src_len == 0 && kind == RTN_UNICAST && scope == expected_scope && flags & u32::from(REQUESTED_NH_FLAGS) == 0
}

/// Copies `payload` into `out` without what the kernel adds on its own.
fn normalize(payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if payload.len() < RTMSG_LEN {
        return None;
    }
    out.put_slice(&payload[..RTMSG_LEN]);
    // rtm_flags: RTM_F_* report how the message came about (cloned,
    // notify, offload) and the single-path RTNH_F_* the next hop's state.
    let flags = u32::from_ne_bytes(payload[RTM_FLAGS_AT..RTMSG_LEN].try_into().unwrap());
    out[RTM_FLAGS_AT..RTMSG_LEN].copy_from_slice(&(flags & u32::from(REQUESTED_NH_FLAGS)).to_ne_bytes());
    for (ty, value) in attributes(&payload[RTMSG_LEN..]) {
        match ty {
            RTA_CACHEINFO | RTA_EXPIRES => {}
            RTA_MULTIPATH => {
                let start = out.len();
                out.put_u16_ne(0); // length, patched below
                out.put_u16_ne(RTA_MULTIPATH);
                normalize_nexthops(value, out);
                let len = (out.len() - start) as u16;
                out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
                pad(out);
            }
            _ => push_attr(out, ty, value),
        }
    }
    Some(())
}

/// The rtnexthop entries of an RTA_MULTIPATH, with only the requested flags.
fn normalize_nexthops(mut value: &[u8], out: &mut Vec<u8>) {
    while value.len() >= RTNH_LEN {
        let len = u16::from_ne_bytes([value[0], value[1]]) as usize;
        if len < RTNH_LEN || len > value.len() {
            return;
        }
        let start = out.len();
        out.put_slice(&value[..len]);
        out[start + 2] &= REQUESTED_NH_FLAGS;
        pad(out);
        value = &value[align4(len).min(value.len())..];
    }
}

/// One leg of guardian's own multipath route, its device resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// Of the route's family.
    pub via: Gateway,
    pub ifindex: u32,
    /// 1-256.
    pub weight: u16,
}

/// The exact copy of guardian's own multipath route (two legs or more),
/// laid out as the kernel reports the route once installed, so that its
/// notifications and dumps fingerprint equal to it (checked against a real
/// kernel in `netns_tests.rs`): the attributes in the order the kernel
/// writes them (IPv4 `fib_dump_info`, IPv6 `rt6_fill_node`, which also
/// puts the metric always and the router preference last), each leg an
/// `rtnexthop` with its weight less one and its gateway inside. Replayed,
/// it is a valid request that installs the route.
pub fn multipath(key: &RouteKey, protocol: u8, src: Option<Addr>, legs: &[Leg]) -> RawRoute {
    let mut out = Vec::with_capacity(64 + legs.len() * 32);
    push_rtmsg(&mut out, key.family, key.dst_len, key.tos, key.table, protocol, RT_SCOPE_UNIVERSE, RTN_UNICAST);
    push_attr(&mut out, RTA_TABLE, &key.table.to_ne_bytes());
    if key.dst_len > 0 {
        push_attr(&mut out, RTA_DST, key.dst.bytes(key.family));
    }
    let prefsrc = |out: &mut Vec<u8>| {
        if let Some(src) = src {
            push_attr(out, RTA_PREFSRC, src.bytes(key.family));
        }
    };
    match key.family {
        Family::V4 => {
            if key.metric != 0 {
                push_attr(&mut out, RTA_PRIORITY, &key.metric.to_ne_bytes());
            }
            prefsrc(&mut out);
        }
        Family::V6 => {
            prefsrc(&mut out);
            push_attr(&mut out, RTA_PRIORITY, &key.metric.to_ne_bytes());
        }
    }
    let mut nexthops = Vec::with_capacity(legs.len() * 32);
    for leg in legs {
        let start = nexthops.len();
        let hops = leg.weight.clamp(1, 256) - 1;
        nexthops.extend_from_slice(&[0, 0, 0, hops as u8]);
        nexthops.extend_from_slice(&leg.ifindex.to_ne_bytes());
        push_attr(&mut nexthops, RTA_GATEWAY, leg.via.addr.bytes(leg.via.family));
        let len = (nexthops.len() - start) as u16;
        nexthops[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }
    push_attr(&mut out, RTA_MULTIPATH, &nexthops);
    if key.family == Family::V6 {
        push_attr(&mut out, RTA_PREF, &[ICMPV6_ROUTER_PREF_MEDIUM]);
    }
    copy(&out).expect("a whole rtmsg")
}

/// Appends an RTM_NEWROUTE that puts `route` back, replacing whatever has
/// its identity now.
pub fn push_replay(buf: &mut Vec<u8>, seq: u32, ack: bool, route: &RawRoute) {
    let flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | if ack { NLM_F_ACK } else { 0 };
    let start = push_header(buf, RTM_NEWROUTE, flags, seq);
    buf.put_slice(route.payload());
    finish(buf, start);
}

#[cfg(test)]
mod netns_tests;
#[cfg(test)]
mod tests;
