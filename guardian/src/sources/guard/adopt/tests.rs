use super::*;
use crate::route::{Addr, Family, Gateway, RouteKey};

/// An RTM_NEWROUTE payload: rtmsg for an IPv4 /24 in table 254 with
/// protocol 12, then the given attributes (type, value).
fn payload(attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = vec![libc::AF_INET as u8, 24, 0, 0, 254, 12, 0, RTN_UNICAST, 0, 0, 0, 0];
    for (ty, value) in attrs {
        let len = 4 + value.len() as u16;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(value);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    out
}

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_METRICS: u16 = 8;

fn route(payload: &[u8]) -> KernelRoute {
    crate::kernel::wire::parse_route(payload).expect("a route")
}

fn names(index: u32) -> Option<String> {
    (index == 7).then(|| "veth0".to_string())
}

#[test]
fn a_plain_route_is_kept_in_the_route_model() {
    let p = payload(&[(RTA_DST, &[10, 7, 1, 0]), (RTA_GATEWAY, &[192, 0, 2, 2]), (RTA_OIF, &7u32.to_ne_bytes())]);
    let mut set = DesiredRoutes::default();
    assert!(add(&mut set, &route(&p), &p, names));
    assert!(set.raw.is_empty());
    let spec = set.routes[0].spec;
    assert_eq!(
        spec.key,
        RouteKey {
            family: Family::V4,
            table: 254,
            dst: Addr::from_ip(&"10.7.1.0".parse().unwrap()),
            dst_len: 24,
            tos: 0,
            metric: 0
        }
    );
    assert_eq!(spec.via, Some(Gateway::from_ip(&"192.0.2.2".parse().unwrap())));
    assert_eq!(set.devs.name(spec.dev.unwrap()), "veth0");
}

#[test]
fn a_route_with_more_than_the_model_holds_is_kept_as_a_copy() {
    // An mtu (RTA_METRICS holding RTAX_MTU = 2).
    let mtu: Vec<u8> =
        [8u16.to_ne_bytes(), 2u16.to_ne_bytes()].concat().into_iter().chain(1400u32.to_ne_bytes()).collect();
    let p = payload(&[(RTA_DST, &[10, 7, 2, 0]), (RTA_OIF, &7u32.to_ne_bytes()), (RTA_METRICS, &mtu)]);
    let mut set = DesiredRoutes::default();
    assert!(add(&mut set, &route(&p), &p, names));
    let copy = set.raw.get(&route(&p).key).expect("kept as a copy");
    assert_eq!(copy.fingerprint(), crate::kernel::wire::raw::fingerprint(&p));
}

#[test]
fn a_route_over_an_interface_that_cannot_be_named_is_kept_as_a_copy() {
    let p = payload(&[(RTA_DST, &[10, 7, 3, 0]), (RTA_OIF, &9u32.to_ne_bytes())]);
    let mut set = DesiredRoutes::default();
    assert!(add(&mut set, &route(&p), &p, names));
    assert_eq!(set.raw.len(), 1);
}
