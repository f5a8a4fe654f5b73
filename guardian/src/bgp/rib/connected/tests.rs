use super::*;
use crate::bgp::rib::types::{NeighborId, Origin};
use std::net::Ipv4Addr;

fn path(next_hop: &str, link_local: Option<(&str, &str)>) -> Path {
    Path {
        neighbor: NeighborId(0),
        peer_addr: next_hop.parse().unwrap(),
        peer_router_id: Ipv4Addr::new(1, 1, 1, 1),
        peer_as: 65002,
        ebgp: true,
        next_hop: next_hop.parse().unwrap(),
        link_local: link_local.map(|(a, i)| LinkLocal { addr: a.parse().unwrap(), interface: i.into() }),
        local_pref: None,
        as_path_len: 1,
        neighbor_as: 65002,
        origin: Origin::Igp,
        med: None,
    }
}

fn connected() -> Connected {
    let mut c = Connected::default();
    c.set("veth0", vec![("192.0.2.1".parse().unwrap(), 24), ("2001:db8::1".parse().unwrap(), 64)]);
    c.set("veth1", vec![("192.0.2.129".parse().unwrap(), 25)]);
    c
}

#[test]
fn a_next_hop_on_a_connected_network_resolves_to_its_interface() {
    let c = connected();
    assert_eq!(c.resolve(&path("192.0.2.2", None)), Some(("192.0.2.2".parse().unwrap(), "veth0")));
    assert_eq!(c.resolve(&path("2001:db8::2", None)), Some(("2001:db8::2".parse().unwrap(), "veth0")));
}

#[test]
fn the_longest_connected_network_wins() {
    assert_eq!(connected().resolve(&path("192.0.2.130", None)).map(|r| r.1), Some("veth1"));
}

#[test]
fn a_next_hop_elsewhere_is_unresolvable_recursion_is_out_of_scope() {
    assert_eq!(connected().resolve(&path("198.51.100.1", None)), None);
}

#[test]
fn a_next_hop_that_is_our_own_address_is_unresolvable() {
    assert_eq!(connected().resolve(&path("192.0.2.1", None)), None);
}

#[test]
fn an_interface_that_goes_away_takes_its_networks_with_it() {
    let mut c = connected();
    c.set("veth0", vec![]);
    assert_eq!(c.resolve(&path("192.0.2.2", None)), None);
}

#[test]
fn the_global_next_hop_is_preferred_then_the_link_local_one_on_its_interface() {
    let c = connected();
    let both = path("2001:db8::2", Some(("fe80::2", "veth0")));
    assert_eq!(c.resolve(&both).unwrap().0, "2001:db8::2".parse::<IpAddr>().unwrap());
    let remote = path("2001:db8:ffff::2", Some(("fe80::2", "veth0")));
    assert_eq!(c.resolve(&remote), Some(("fe80::2".parse().unwrap(), "veth0")));
    // An interface without IPv6 addresses (or unknown) does not carry it.
    assert_eq!(c.resolve(&path("2001:db8:ffff::2", Some(("fe80::2", "veth1")))), None);
    assert_eq!(c.resolve(&path("2001:db8:ffff::2", Some(("fe80::2", "veth9")))), None);
}

#[test]
fn a_bare_link_local_next_hop_needs_its_interface() {
    let c = connected();
    assert_eq!(c.resolve(&path("fe80::2", None)), None);
    assert_eq!(c.resolve(&path("fe80::2", Some(("fe80::2", "veth0")))).map(|r| r.1), Some("veth0"));
}
