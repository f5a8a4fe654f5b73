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
use super::{finish, push_header, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, RTM_NEWROUTE};
use super::{RTMSG_LEN, RTN_UNICAST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE};
use crate::route::raw::fingerprint_of_normalized;
pub use crate::route::raw::RawRoute;

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
    out.extend_from_slice(&payload[..RTMSG_LEN]);
    // rtm_flags: RTM_F_* report how the message came about (cloned,
    // notify, offload) and the single-path RTNH_F_* the next hop's state.
    let flags = u32::from_ne_bytes(payload[RTM_FLAGS_AT..RTMSG_LEN].try_into().unwrap());
    out[RTM_FLAGS_AT..RTMSG_LEN].copy_from_slice(&(flags & u32::from(REQUESTED_NH_FLAGS)).to_ne_bytes());
    for (ty, value) in attributes(&payload[RTMSG_LEN..]) {
        match ty {
            RTA_CACHEINFO | RTA_EXPIRES => {}
            RTA_MULTIPATH => {
                let start = out.len();
                out.extend_from_slice(&[0, 0, 0, 0]);
                out[start + 2..start + 4].copy_from_slice(&RTA_MULTIPATH.to_ne_bytes());
                normalize_nexthops(value, out);
                let len = (out.len() - start) as u16;
                out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
                pad(out);
            }
            _ => push_attr_raw(out, ty, value),
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
        out.extend_from_slice(&value[..len]);
        out[start + 2] &= REQUESTED_NH_FLAGS;
        pad(out);
        value = &value[align4(len).min(value.len())..];
    }
}

fn push_attr_raw(out: &mut Vec<u8>, ty: u16, value: &[u8]) {
    out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(value);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Appends an RTM_NEWROUTE that puts `route` back, replacing whatever has
/// its identity now.
pub fn push_replay(buf: &mut Vec<u8>, seq: u32, ack: bool, route: &RawRoute) {
    let flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | if ack { NLM_F_ACK } else { 0 };
    let start = push_header(buf, RTM_NEWROUTE, flags, seq);
    buf.extend_from_slice(route.payload());
    finish(buf, start);
}

#[cfg(test)]
mod netns_tests;
#[cfg(test)]
mod tests;
