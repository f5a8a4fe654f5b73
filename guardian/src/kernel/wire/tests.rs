use super::*;
use std::net::IpAddr;

fn key(dst: &str, len: u8, table: u32, metric: u32) -> RouteKey {
    let ip: IpAddr = dst.parse().unwrap();
    RouteKey { family: Family::of(&ip), table, dst: Addr::from_ip(&ip), dst_len: len, tos: 0, metric }
}

fn gw(ip: &str) -> Gateway {
    Gateway::from_ip(&ip.parse().unwrap())
}

fn one(buf: &[u8]) -> NlMsg<'_> {
    let mut it = messages(buf);
    let m = it.next().unwrap().unwrap();
    assert!(it.next().is_none());
    m
}

#[test]
fn replace_round_trips_through_the_parser() {
    let req = RouteRequest {
        key: key("10.9.0.0", 24, 100, 20),
        via: Some(gw("192.0.2.2")),
        oif: Some(7),
        src: Some(Addr::from_ip(&"192.0.2.1".parse().unwrap())),
        protocol: 201,
    };
    let mut buf = Vec::new();
    push_replace(&mut buf, 42, true, &req);
    assert_eq!(buf.len() % 4, 0);
    let m = one(&buf);
    assert_eq!(m.ty, RTM_NEWROUTE);
    assert_eq!(m.seq, 42);
    assert_eq!(m.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
    let r = parse_route(m.payload).unwrap();
    assert_eq!(r.key, req.key);
    assert_eq!(r.gateway, req.via);
    assert_eq!(r.oif, 7);
    assert_eq!(r.prefsrc, req.src);
    assert_eq!(r.protocol, 201);
    assert_eq!(r.kind, RTN_UNICAST);
    assert!(!r.unusual);
}

#[test]
fn ipv4_route_via_ipv6_gateway_uses_rta_via() {
    let req = RouteRequest {
        key: key("10.9.0.0", 24, 254, 0),
        via: Some(gw("fe80::1")),
        oif: Some(3),
        src: None,
        protocol: 201,
    };
    let mut buf = Vec::new();
    push_replace(&mut buf, 1, false, &req);
    let r = parse_route(one(&buf).payload).unwrap();
    assert_eq!(r.gateway, Some(gw("fe80::1")));
}

#[test]
fn large_table_ids_travel_in_rta_table() {
    let req =
        RouteRequest { key: key("2001:db8::", 64, 100_000, 1024), via: None, oif: Some(3), src: None, protocol: 201 };
    let mut buf = Vec::new();
    push_replace(&mut buf, 1, false, &req);
    let m = one(&buf);
    assert_eq!(m.payload[4], RT_TABLE_COMPAT);
    assert_eq!(parse_route(m.payload).unwrap().key.table, 100_000);
}

fn delete_of(key: RouteKey, via: Option<Gateway>, oif: Option<u32>) -> RouteRequest {
    RouteRequest { key, via, oif, src: None, protocol: 201 }
}

#[test]
fn delete_carries_identity_protocol_and_next_hop() {
    let k = key("10.9.0.0", 24, 100, 0);
    let mut buf = Vec::new();
    push_delete(&mut buf, 9, true, &delete_of(k, Some(gw("192.0.2.2")), Some(4)));
    let m = one(&buf);
    assert_eq!(m.ty, RTM_DELROUTE);
    let r = parse_route(m.payload).unwrap();
    assert_eq!(r.key, k);
    assert_eq!(r.protocol, 201);
    assert_eq!(r.gateway, Some(gw("192.0.2.2")));
    assert_eq!(r.oif, 4);
    assert_eq!(m.payload[6], RT_SCOPE_NOWHERE);
    assert_eq!(m.payload[7], 0, "any type");
}

#[test]
fn several_messages_in_one_datagram_are_walked_in_order() {
    let mut buf = Vec::new();
    for seq in 0..3 {
        push_delete(&mut buf, seq, seq == 2, &delete_of(key("10.0.0.0", 8, 254, 0), None, None));
    }
    let seqs: Vec<u32> = messages(&buf).map(|m| m.unwrap().seq).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
}

#[test]
fn truncated_and_malformed_datagrams_are_errors_not_panics() {
    let mut buf = Vec::new();
    push_delete(&mut buf, 1, false, &delete_of(key("10.0.0.0", 8, 254, 0), None, None));
    for cut in 1..buf.len() {
        for m in messages(&buf[..cut]).flatten() {
            let _ = parse_route(m.payload);
        }
    }
    assert_eq!(messages(&buf[..10]).next().unwrap().unwrap_err(), WireError::Truncated(10));
    let mut bad = buf.clone();
    bad[0..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert_eq!(messages(&bad).next().unwrap().unwrap_err(), WireError::BadLength(1000));
}

#[test]
fn parse_route_rejects_short_and_foreign_payloads() {
    assert!(parse_route(&[2, 24, 0]).is_none());
    let mut payload = [0u8; 12];
    payload[0] = 7; // not IPv4/IPv6
    assert!(parse_route(&payload).is_none());
    payload[0] = libc::AF_INET as u8;
    payload[8..12].copy_from_slice(&RTM_F_CLONED.to_ne_bytes());
    assert!(parse_route(&payload).is_none(), "cached clones are not routes");
}

#[test]
fn addresses_decode_from_4_or_16_bytes_only() {
    assert_eq!(addr(&[192, 0, 2, 1]), Some(Addr::from_ip(&"192.0.2.1".parse().unwrap())));
    let v6: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    assert_eq!(addr(&v6.octets()), Some(Addr::from_ip(&IpAddr::V6(v6))));
    assert_eq!(addr(&[1, 2, 3]), None);
    assert_eq!(addr(&[0; 5]), None);
    assert_eq!(addr(&[]), None);
}

#[test]
fn attribute_walk_stops_at_a_bad_length() {
    let attrs = [8u8, 0, 1, 0, 10, 0, 0, 1, /* bad: */ 200, 0, 2, 0];
    let got: Vec<_> = attributes(&attrs).collect();
    assert_eq!(got, vec![(1u16, &[10u8, 0, 0, 1][..])]);
}

#[test]
fn error_payload_gives_errno_and_extack_message() {
    let mut payload = Vec::new();
    payload.extend_from_slice(&(-19i32).to_ne_bytes());
    payload.extend_from_slice(&[0u8; NLMSG_HDRLEN]);
    push_attr(&mut payload, 1, b"Nexthop device is not up\0");
    let (errno, msg) = parse_error(&payload).unwrap();
    assert_eq!(errno, 19);
    assert_eq!(msg.as_deref(), Some("Nexthop device is not up"));
    assert_eq!(parse_error(&0i32.to_ne_bytes()).unwrap(), (0, None));
    assert!(parse_error(&[1, 2]).is_none());
}

#[test]
fn dump_request_sets_filters_and_nothing_strict_checking_refuses() {
    let mut buf = Vec::new();
    push_route_dump(&mut buf, 5, Family::V4, 100, 201);
    let m = one(&buf);
    assert_eq!(m.flags, NLM_F_REQUEST | NLM_F_DUMP);
    // dst_len, src_len, tos and scope must be zero under strict checking.
    assert_eq!(&m.payload[..8], &[libc::AF_INET as u8, 0, 0, 0, 100, 201, 0, 0]);
}

#[test]
fn an_error_code_of_i32_min_does_not_overflow() {
    let payload = i32::MIN.to_ne_bytes();
    let (errno, message) = super::parse_error(&payload).expect("an error message");
    assert_eq!((errno, message), (i32::MAX, None));
    assert!(!super::error_text(i32::MIN, None).is_empty());
}
