use super::*;
use crate::bgp::message::{self, codes, OpenParams};
use netgauze_bgp_pkt::capabilities::{
    FourOctetAsCapability, GracefulRestartAddressFamily, GracefulRestartCapability, MultiProtocolExtensionsCapability,
};
use netgauze_bgp_pkt::open::BgpOpenMessageParameter;

fn local() -> Local {
    Local::example()
}

fn peer_open(my_as: u16, hold: u16, id: [u8; 4], caps: Vec<BgpCapability>) -> BgpOpenMessage {
    BgpOpenMessage::new(my_as, hold, Ipv4Addr::from(id), [BgpOpenMessageParameter::Capabilities(caps.into())])
}

fn as4(asn: u32) -> BgpCapability {
    BgpCapability::FourOctetAs(FourOctetAsCapability::new(asn))
}

fn mp(family: Family) -> BgpCapability {
    BgpCapability::MultiProtocolExtensions(MultiProtocolExtensionsCapability::new(address_type(family)))
}

fn gr(time: u16, families: &[(Family, bool)]) -> BgpCapability {
    let afs: Vec<_> =
        families.iter().map(|(f, fwd)| GracefulRestartAddressFamily::new(*fwd, address_type(*f))).collect();
    BgpCapability::GracefulRestartCapability(GracefulRestartCapability::new(false, false, time, afs))
}

fn refused(open: &BgpOpenMessage, local: &Local) -> (u8, u8) {
    codes(&negotiate(open, local).expect_err("refused"))
}

#[test]
fn hold_time_is_the_smaller_and_keepalive_a_third() {
    let n = negotiate(&peer_open(65002, 30, [192, 0, 2, 2], vec![as4(65002)]), &local()).unwrap();
    assert_eq!((n.hold_time, n.keepalive), (Duration::from_secs(30), Duration::from_secs(10)));
    let zero = negotiate(&peer_open(65002, 0, [192, 0, 2, 2], vec![as4(65002)]), &local()).unwrap();
    assert_eq!((zero.hold_time, zero.keepalive), (Duration::ZERO, Duration::ZERO), "0: no keepalives");
}

#[test]
fn a_hold_time_of_one_or_two_seconds_is_unacceptable() {
    assert_eq!(refused(&peer_open(65002, 2, [192, 0, 2, 2], vec![]), &local()), (2, 6));
}

#[test]
fn the_wrong_peer_as_is_bad_peer_as() {
    assert_eq!(refused(&peer_open(65003, 90, [192, 0, 2, 2], vec![as4(65003)]), &local()), (2, 2));
    assert_eq!(refused(&peer_open(65002, 90, [192, 0, 2, 2], vec![as4(65003)]), &local()), (2, 2));
}

#[test]
fn a_four_byte_peer_as_comes_from_the_capability_behind_as_trans() {
    let l = Local { remote_as: 4_200_000_000, ..local() };
    let n = negotiate(&peer_open(message::AS_TRANS, 90, [192, 0, 2, 2], vec![as4(4_200_000_000)]), &l).unwrap();
    assert_eq!((n.peer_as, n.asn4), (4_200_000_000, true));
    assert_eq!(
        refused(&peer_open(message::AS_TRANS, 90, [192, 0, 2, 2], vec![]), &local()),
        (2, 2),
        "AS_TRANS without the capability"
    );
}

#[test]
fn a_two_byte_peer_without_the_capability_is_accepted() {
    let n = negotiate(&peer_open(65002, 90, [192, 0, 2, 2], vec![]), &local()).unwrap();
    assert_eq!((n.peer_as, n.asn4), (65002, false));
}

#[test]
fn a_zero_identifier_is_bad_and_ours_only_from_an_internal_peer() {
    assert_eq!(refused(&peer_open(65002, 90, [0, 0, 0, 0], vec![]), &local()).0, 2);
    let ibgp = Local { remote_as: 65001, ..local() };
    assert_eq!(refused(&peer_open(65001, 90, [192, 0, 2, 1], vec![]), &ibgp), (2, 3));
    assert!(
        negotiate(&peer_open(65002, 90, [192, 0, 2, 1], vec![]), &local()).is_ok(),
        "RFC 6286: unique within an AS"
    );
}

#[test]
fn families_are_those_both_advertised_and_ipv4_without_any_mp_capability() {
    let n = negotiate(&peer_open(65002, 90, [192, 0, 2, 2], vec![mp(Family::V6)]), &local()).unwrap();
    assert_eq!(n.families, vec![Family::V6]);
    let none = negotiate(&peer_open(65002, 90, [192, 0, 2, 2], vec![]), &local()).unwrap();
    assert_eq!(none.families, vec![Family::V4]);
}

#[test]
fn graceful_restart_keeps_per_family_f_bits_and_caps_the_restart_time() {
    let caps = vec![mp(Family::V4), mp(Family::V6), gr(300, &[(Family::V4, true), (Family::V6, false)])];
    let n = negotiate(&peer_open(65002, 90, [192, 0, 2, 2], caps.clone()), &local()).unwrap();
    let g = n.graceful_restart.unwrap();
    assert_eq!(g.restart_time, Duration::from_secs(120), "capped by restart_time_max");
    assert_eq!(g.families, vec![(Family::V4, true), (Family::V6, false)]);
    let off = Local { graceful_restart: false, ..local() };
    assert!(negotiate(&peer_open(65002, 90, [192, 0, 2, 2], caps), &off).unwrap().graceful_restart.is_none());
}

#[test]
fn route_refresh_is_noted() {
    let n = negotiate(&peer_open(65002, 90, [192, 0, 2, 2], vec![BgpCapability::RouteRefresh]), &local()).unwrap();
    assert!(n.route_refresh);
}

#[test]
fn our_own_open_negotiates_with_a_mirror_of_us() {
    let p = OpenParams {
        local_as: 65002,
        hold_time: 90,
        router_id: Ipv4Addr::new(192, 0, 2, 2),
        families: vec![Family::V4, Family::V6],
        graceful_restart: true,
    };
    let open = message::decode_open(&message::encode(&message::open(&p))).unwrap();
    let n = negotiate(&open, &local()).unwrap();
    assert_eq!(n.families, vec![Family::V4, Family::V6]);
    assert!(n.asn4 && n.route_refresh);
    assert!(n.graceful_restart.unwrap().families.is_empty(), "a helper lists no family");
}
