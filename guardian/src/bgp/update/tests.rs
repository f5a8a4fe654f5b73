use super::*;
use crate::bgp::message::codes;

const PEER_AS: u32 = 65002;

fn ebgp() -> Peer {
    Peer { remote_as: PEER_AS, ibgp: false, asn4: true }
}

fn ibgp() -> Peer {
    Peer { remote_as: 65001, ibgp: true, asn4: true }
}

fn msg(body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(body);
    m
}

/// An UPDATE from its three fields.
fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    msg(&body)
}

const ORIGIN_IGP: [u8; 4] = [0x40, 1, 1, 0];
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 192, 0, 2, 2];

fn as_path(asns: &[u32]) -> Vec<u8> {
    if asns.is_empty() {
        // An internal peer's own routes: an empty AS_PATH, no segment.
        return vec![0x40, 2, 0];
    }
    let mut a = vec![0x40, 2, (2 + 4 * asns.len()) as u8, 2, asns.len() as u8];
    for asn in asns {
        a.extend_from_slice(&asn.to_be_bytes());
    }
    a
}

fn attrs(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn good_v4_attrs() -> Vec<u8> {
    attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS, 65010]), &NEXT_HOP, &[0x80, 4, 4, 0, 0, 0, 50]])
}

/// 10.1.0.0/16 and 10.2.3.0/24 in the NLRI field.
const NLRI: [u8; 7] = [16, 10, 1, 24, 10, 2, 3];

fn p(text: &str) -> Prefix {
    let (a, l) = text.split_once('/').unwrap();
    Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

fn reset(bytes: &[u8], peer: Peer) -> (u8, u8) {
    codes(&decode(bytes, peer).expect_err("a session reset"))
}

#[test]
fn an_ipv4_announcement_has_its_prefixes_next_hop_and_attributes() {
    let u = decode(&update(&[], &good_v4_attrs(), &NLRI), ebgp()).unwrap();
    assert_eq!(u.announced.len(), 1);
    let r = &u.announced[0];
    assert_eq!((r.family, r.next_hop, r.next_hop_local), (Family::V4, "192.0.2.2".parse().unwrap(), None));
    assert_eq!(r.prefixes, vec![p("10.1.0.0/16"), p("10.2.3.0/24")]);
    let a = u.attrs.unwrap();
    assert_eq!(
        (a.origin, a.as_path.clone(), a.as_path_len, a.med, a.local_pref),
        (0, vec![PEER_AS, 65010], 2, Some(50), None)
    );
    assert_eq!(a.neighbor_as(), Some(PEER_AS));
    assert!(u.treated_as_withdraw.is_none() && u.withdrawn.is_empty());
}

#[test]
fn host_bits_a_peer_leaves_set_are_cleared() {
    let u = decode(&update(&[], &good_v4_attrs(), &[16, 10, 1]), ebgp()).unwrap();
    assert_eq!(u.announced[0].prefixes, vec![p("10.1.0.0/16")]);
    let u = decode(&update(&[], &good_v4_attrs(), &[8, 10]), ebgp()).unwrap();
    assert_eq!(u.announced[0].prefixes, vec![p("10.0.0.0/8")]);
}

#[test]
fn ipv6_over_mp_reach_keeps_the_link_local_next_hop() {
    let mut reach = vec![0, 2, 1, 32];
    reach.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
    reach.extend_from_slice(&"fe80::2".parse::<Ipv6Addr>().unwrap().octets());
    reach.push(0);
    reach.extend_from_slice(&[48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    let mut mp = vec![0x80, 14, reach.len() as u8];
    mp.extend_from_slice(&reach);
    let u = decode(&update(&[], &attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS]), &mp]), &[]), ebgp()).unwrap();
    let r = &u.announced[0];
    assert_eq!(r.family, Family::V6);
    assert_eq!(r.next_hop, "2001:db8::2".parse::<IpAddr>().unwrap());
    assert_eq!(r.next_hop_local, Some("fe80::2".parse().unwrap()));
    assert_eq!(r.prefixes, vec![p("2001:db8:1::/48")]);
}

#[test]
fn withdrawals_of_both_families_are_reported() {
    let unreach = [0x80, 15, 8, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8];
    let u = decode(&update(&[24, 10, 2, 3], &unreach, &[]), ebgp()).unwrap();
    assert_eq!(u.withdrawn, vec![p("10.2.3.0/24"), p("2001:db8::/32")]);
    assert!(u.announced.is_empty() && u.attrs.is_none() && u.end_of_rib.is_none());
}

#[test]
fn end_of_rib_is_recognised_for_both_families() {
    assert_eq!(decode(&update(&[], &[], &[]), ebgp()).unwrap().end_of_rib, Some(Family::V4));
    assert_eq!(decode(&update(&[], &[0x80, 15, 3, 0, 2, 1], &[]), ebgp()).unwrap().end_of_rib, Some(Family::V6));
}

#[test]
fn an_undefined_origin_is_treated_as_withdraw() {
    let a = attrs(&[&[0x40, 1, 1, 7], &as_path(&[PEER_AS]), &NEXT_HOP]);
    let u = decode(&update(&[], &a, &NLRI), ebgp()).unwrap();
    assert!(u.announced.is_empty());
    assert_eq!(u.withdrawn, vec![p("10.1.0.0/16"), p("10.2.3.0/24")]);
    assert!(u.treated_as_withdraw.unwrap().contains("origin"));
}

#[test]
fn a_missing_next_hop_is_treated_as_withdraw() {
    let a = attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS])]);
    let u = decode(&update(&[], &a, &NLRI), ebgp()).unwrap();
    assert!(u.announced.is_empty());
    assert!(u.treated_as_withdraw.unwrap().contains("NEXT_HOP"));
}

#[test]
fn a_missing_local_pref_from_an_internal_peer_is_treated_as_withdraw() {
    let a = attrs(&[&ORIGIN_IGP, &as_path(&[]), &NEXT_HOP]);
    let u = decode(&update(&[], &a, &NLRI), ibgp()).unwrap();
    assert!(u.treated_as_withdraw.unwrap().contains("LOCAL_PREF"));
    let with = attrs(&[&ORIGIN_IGP, &as_path(&[]), &NEXT_HOP, &[0x40, 5, 4, 0, 0, 0, 200]]);
    assert_eq!(decode(&update(&[], &with, &NLRI), ibgp()).unwrap().attrs.unwrap().local_pref, Some(200));
}

#[test]
fn an_external_peers_local_pref_is_ignored() {
    let a = attrs(&[&good_v4_attrs(), &[0x40, 5, 4, 0, 0, 0, 200]]);
    assert_eq!(decode(&update(&[], &a, &NLRI), ebgp()).unwrap().attrs.unwrap().local_pref, None);
}

#[test]
fn a_malformed_med_is_treated_as_withdraw() {
    let a = attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS]), &NEXT_HOP, &[0x80, 4, 2, 0, 0]]);
    let u = decode(&update(&[], &a, &NLRI), ebgp()).unwrap();
    assert!(u.announced.is_empty() && u.treated_as_withdraw.is_some());
}

#[test]
fn a_path_not_starting_with_the_external_peers_as_is_treated_as_withdraw() {
    let a = attrs(&[&ORIGIN_IGP, &as_path(&[65099]), &NEXT_HOP]);
    let u = decode(&update(&[], &a, &NLRI), ebgp()).unwrap();
    assert!(u.treated_as_withdraw.unwrap().contains("AS 65099"));
}

#[test]
fn a_multicast_next_hop_is_treated_as_withdraw() {
    let a = attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS]), &[0x40, 3, 4, 224, 0, 0, 1]]);
    assert!(decode(&update(&[], &a, &NLRI), ebgp()).unwrap().treated_as_withdraw.is_some());
}

#[test]
fn a_malformed_aggregator_is_discarded_and_the_routes_kept() {
    let a = attrs(&[&good_v4_attrs(), &[0xc0, 7, 3, 0, 0, 1]]);
    let u = decode(&update(&[], &a, &NLRI), ebgp()).unwrap();
    assert_eq!(u.announced[0].prefixes.len(), 2);
    assert_eq!(u.discarded.len(), 1, "{u:?}");
}

#[test]
fn a_repeated_attribute_counts_once() {
    let a = attrs(&[&good_v4_attrs(), &[0x40, 1, 1, 2]]);
    assert_eq!(decode(&update(&[], &a, &NLRI), ebgp()).unwrap().attrs.unwrap().origin, 0);
}

#[test]
fn a_prefix_longer_than_32_bits_resets_with_invalid_network_field() {
    assert_eq!(reset(&update(&[], &good_v4_attrs(), &[33, 10, 0, 0, 0, 0]), ebgp()), (3, 10));
}

#[test]
fn an_attribute_overrunning_the_list_resets_with_malformed_attribute_list() {
    let mut a = good_v4_attrs();
    a.extend_from_slice(&[0xc0, 8, 40, 0, 0]);
    assert_eq!(reset(&update(&[], &a, &NLRI), ebgp()).0, 3);
}

#[test]
fn a_truncated_mp_reach_resets_the_session() {
    let mp = [0x80, 14, 5, 0, 2, 1, 16, 0x20];
    assert_eq!(reset(&update(&[], &attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS]), &mp]), &[]), ebgp()).0, 3);
}

#[test]
fn mp_unreach_twice_resets_the_session() {
    let unreach = [0x80, 15, 3, 0, 2, 1];
    assert_eq!(reset(&update(&[], &attrs(&[&unreach, &unreach]), &[]), ebgp()), (3, 1));
}

#[test]
fn a_two_byte_as_path_decodes_when_4_byte_as_was_not_negotiated() {
    let path2 = [0x40, 2, 4, 2, 1, 0xfd, 0xea];
    let a = attrs(&[&ORIGIN_IGP, &path2, &NEXT_HOP]);
    let peer = Peer { asn4: false, ..ebgp() };
    assert_eq!(decode(&update(&[], &a, &NLRI), peer).unwrap().attrs.unwrap().as_path, vec![PEER_AS]);
}

#[test]
fn an_mp_reach_too_short_to_hold_its_header_resets_with_attribute_length_error() {
    let mp = [0x80, 14, 2, 0, 2];
    assert_eq!(reset(&update(&[], &attrs(&[&ORIGIN_IGP, &as_path(&[PEER_AS]), &mp]), &[]), ebgp()), (3, 5));
}

#[test]
fn a_community_of_the_wrong_length_is_treated_as_withdraw() {
    let a = attrs(&[&good_v4_attrs(), &[0xc0, 8, 3, 0, 0, 1]]);
    let u = decode(&update(&[], &a, &NLRI), ebgp()).unwrap();
    assert!(u.announced.is_empty());
    assert!(u.treated_as_withdraw.unwrap().contains("attribute 8"));
}

#[test]
fn as4_path_replaces_as_trans_in_a_two_byte_peer_s_path() {
    use super::merge_as4_path;
    // AS_PATH 65002 23456 23456, AS4_PATH 4200000001 4200000002.
    let merged = merge_as4_path((vec![65002, 23456, 23456], 3), Some((vec![4_200_000_001, 4_200_000_002], 2)));
    assert_eq!(merged, (vec![65002, 4_200_000_001, 4_200_000_002], 3));
    // Longer than AS_PATH: ignored.
    let kept = merge_as4_path((vec![65002], 1), Some((vec![1, 2], 2)));
    assert_eq!(kept, (vec![65002], 1));
    assert_eq!(merge_as4_path((vec![1, 2], 2), None), (vec![1, 2], 2));
}

#[test]
fn a_link_local_only_peer_s_unspecified_global_next_hop_gives_way_to_the_link_local_one() {
    // MP_REACH_NLRI IPv6 unicast, next hop :: and fe80::2 (32 bytes), one /64.
    let mut mp = vec![0x00, 0x02, 0x01, 32];
    mp.extend_from_slice(&[0; 16]);
    mp.extend_from_slice(&"fe80::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    mp.push(0);
    mp.extend_from_slice(&[64, 0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 1]);
    let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea];
    attrs.extend_from_slice(&[0x80, 14, mp.len() as u8]);
    attrs.extend_from_slice(&mp);
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    let mut msg = vec![0xff; 16];
    msg.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    msg.push(2);
    msg.extend_from_slice(&body);
    let peer = super::Peer { remote_as: 65002, ibgp: false, asn4: true };
    let u = super::decode(&msg, peer).expect("decodes");
    assert!(u.treated_as_withdraw.is_none(), "{u:?}");
    let r = &u.announced[0];
    assert_eq!(r.next_hop, "fe80::2".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(r.prefixes.len(), 1);
}
