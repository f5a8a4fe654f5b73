use super::super::{push_replace, RouteRequest};
use super::*;
use crate::route::{Addr, Family, Gateway, RouteKey};
use std::net::IpAddr;

fn request(dst: &str, via: Option<&str>, oif: Option<u32>) -> Vec<u8> {
    let ip: IpAddr = dst.parse().unwrap();
    let key = RouteKey { family: Family::of(&ip), table: 254, dst: Addr::from_ip(&ip), dst_len: 24, tos: 0, metric: 0 };
    let via = via.map(|v| Gateway::from_ip(&v.parse().unwrap()));
    let mut buf = Vec::new();
    push_replace(&mut buf, 1, false, &RouteRequest { key, via, oif, src: None, protocol: 12 });
    buf[16..].to_vec()
}

/// An attribute as the kernel lays it out.
fn attr(ty: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_attr(&mut out, ty, value);
    out
}

/// An RTA_MULTIPATH with one rtnexthop per (flags, ifindex, weight - 1).
fn multipath(hops: &[(u8, u32, u8)]) -> Vec<u8> {
    let mut value = Vec::new();
    for &(flags, ifindex, hops_minus_one) in hops {
        value.extend_from_slice(&8u16.to_ne_bytes());
        value.extend_from_slice(&[flags, hops_minus_one]);
        value.extend_from_slice(&ifindex.to_ne_bytes());
    }
    attr(RTA_MULTIPATH, &value)
}

#[test]
fn what_guardian_itself_would_send_is_plain() {
    assert!(is_plain(&request("10.9.0.0", Some("192.0.2.2"), Some(3))));
    assert!(is_plain(&request("10.9.0.0", None, Some(3))));
    assert!(is_plain(&request("2001:db8:9::", Some("2001:db8::2"), Some(3))));
}

#[test]
fn cache_information_and_medium_preference_keep_a_route_plain() {
    let mut payload = request("2001:db8:9::", Some("2001:db8::2"), Some(3));
    payload.extend(attr(RTA_CACHEINFO, &[0; 32]));
    payload.extend(attr(RTA_PREF, &[0]));
    assert!(is_plain(&payload));
    let mut high = request("2001:db8:9::", Some("2001:db8::2"), Some(3));
    high.extend(attr(RTA_PREF, &[1]));
    assert!(!is_plain(&high), "a high preference is something the route model cannot say");
}

#[test]
fn multipath_metrics_other_types_and_onlink_are_not_plain() {
    let mut mp = request("10.9.0.0", None, None);
    mp.extend(multipath(&[(0, 3, 0), (0, 4, 1)]));
    assert!(!is_plain(&mp));
    let mut mtu = request("10.9.0.0", Some("192.0.2.2"), Some(3));
    mtu.extend(attr(8 /* RTA_METRICS */, &attr(2 /* RTAX_MTU */, &1400u32.to_ne_bytes())));
    assert!(!is_plain(&mtu));
    let mut blackhole = request("10.9.0.0", None, None);
    blackhole[7] = 6;
    assert!(!is_plain(&blackhole));
    let mut onlink = request("10.9.0.0", Some("192.0.2.2"), Some(3));
    onlink[8] = 0x4;
    assert!(!is_plain(&onlink));
    let mut universe_without_gateway = request("10.9.0.0", None, Some(3));
    universe_without_gateway[6] = 0;
    assert!(!is_plain(&universe_without_gateway), "ip route add ... scope global dev X is not what guardian sends");
}

#[test]
fn what_the_kernel_adds_does_not_change_the_fingerprint() {
    let mut plain = request("10.9.0.0", None, None);
    plain.extend(multipath(&[(0, 3, 0), (0, 4, 1)]));
    let mut reported = request("10.9.0.0", None, None);
    reported[8] = 0x10; // RTNH_F_LINKDOWN on the route
    reported.extend(multipath(&[(0x1 | 0x10, 3, 0), (0, 4, 1)])); // one hop dead and down
    reported.extend(attr(RTA_CACHEINFO, &[7; 32]));
    reported.extend(attr(RTA_EXPIRES, &[1, 0, 0, 0]));
    assert_eq!(fingerprint(&plain), fingerprint(&reported));
    assert_eq!(copy(&plain), copy(&reported));
    assert_eq!(copy(&reported).unwrap().fingerprint(), fingerprint(&plain));
}

#[test]
fn a_requested_flag_or_another_weight_changes_the_fingerprint() {
    let base = |hops: &[(u8, u32, u8)]| {
        let mut p = request("10.9.0.0", None, None);
        p.extend(multipath(hops));
        fingerprint(&p)
    };
    let plain = base(&[(0, 3, 0), (0, 4, 1)]);
    assert_ne!(plain, base(&[(0, 3, 0), (0, 4, 2)]), "weight");
    assert_ne!(plain, base(&[(0x4, 3, 0), (0, 4, 1)]), "onlink");
    assert_ne!(plain, base(&[(0, 3, 0), (0, 5, 1)]), "device");
}

#[test]
fn a_replay_is_the_copy_in_a_replace_request() {
    let payload = request("10.9.0.0", Some("192.0.2.2"), Some(3));
    let raw = copy(&payload).unwrap();
    let mut buf = Vec::new();
    push_replay(&mut buf, 9, true, &raw);
    let msg = super::super::messages(&buf).next().unwrap().unwrap();
    assert_eq!(msg.ty, RTM_NEWROUTE);
    assert_eq!(msg.seq, 9);
    assert_eq!(msg.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
    assert_eq!(msg.payload, raw.payload());
}

#[test]
fn short_payloads_are_not_routes() {
    assert!(copy(&[0; 4]).is_none());
    assert!(!is_plain(&[0; 4]));
    assert_eq!(fingerprint(&[0; 4]), 0);
    assert_eq!(extra(&[0; 4]), 0);
}

#[test]
fn fingerprints_do_not_carry_over_from_the_route_before() {
    // A long route (two next hops) then a shorter one (an mtu): the reused
    // buffer holds only the second.
    let mut long = request("10.9.0.0", None, None);
    long.extend(multipath(&[(0, 3, 0), (0, 4, 1)]));
    let mut short = request("10.9.1.0", Some("192.0.2.2"), Some(3));
    short.extend(attr(8 /* RTA_METRICS */, &attr(2 /* RTAX_MTU */, &1400u32.to_ne_bytes())));
    let alone = fingerprint(&short);
    assert_ne!(fingerprint(&long), alone);
    assert_eq!(fingerprint(&short), alone);
    assert_eq!(copy(&short).unwrap().fingerprint(), alone);
    assert_eq!(copy(&long).unwrap().fingerprint(), fingerprint(&long));
}
