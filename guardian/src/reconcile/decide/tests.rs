use super::*;
use crate::route::{Addr, Family, Gateway, RouteKey};

fn setup() -> (RouteSpec, KernelRoute, DevIndex) {
    let mut names = DevNames::default();
    let dev = names.intern("veth0");
    let mut links = HashMap::new();
    links.insert("veth0".to_owned(), Link { index: 7, name: "veth0".into(), up: true });
    let mut index = DevIndex::default();
    index.refresh(&names, &links);
    let key = RouteKey {
        family: Family::V4,
        table: 100,
        dst: Addr::from_ip(&"10.9.0.0".parse().unwrap()),
        dst_len: 24,
        tos: 0,
        metric: 0,
    };
    let via = Some(Gateway::from_ip(&"192.0.2.2".parse().unwrap()));
    let spec = RouteSpec { key, via, dev: Some(dev), src: None };
    let route = KernelRoute {
        key,
        gateway: via,
        oif: 7,
        prefsrc: None,
        protocol: 201,
        kind: RTN_UNICAST,
        unusual: false,
        extra: 0,
    };
    (spec, route, index)
}

#[test]
fn identical_route_matches() {
    let (spec, route, devs) = setup();
    assert!(matches(&spec, &route, &devs, 201));
}

#[test]
fn another_gateway_device_source_protocol_or_type_is_a_loss() {
    let (spec, route, devs) = setup();
    let other_gw = KernelRoute { gateway: Some(Gateway::from_ip(&"192.0.2.9".parse().unwrap())), ..route };
    assert!(!matches(&spec, &other_gw, &devs, 201));
    assert!(!matches(&spec, &KernelRoute { oif: 8, ..route }, &devs, 201));
    let with_src = KernelRoute { prefsrc: Some(Addr::from_ip(&"192.0.2.1".parse().unwrap())), ..route };
    assert!(!matches(&spec, &with_src, &devs, 201));
    assert!(!matches(&spec, &KernelRoute { protocol: 3, ..route }, &devs, 201));
    assert!(!matches(&spec, &KernelRoute { kind: 6, ..route }, &devs, 201), "a blackhole is not our route");
    assert!(!matches(&spec, &KernelRoute { unusual: true, ..route }, &devs, 201));
}

#[test]
fn a_route_without_configured_device_accepts_any_device() {
    let (mut spec, route, devs) = setup();
    spec.dev = None;
    assert!(matches(&spec, &KernelRoute { oif: 99, ..route }, &devs, 201));
}

#[test]
fn a_device_that_does_not_exist_never_matches() {
    let (spec, route, _) = setup();
    assert!(!matches(&spec, &route, &DevIndex::default(), 201));
}
