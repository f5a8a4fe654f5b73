use super::*;

fn route() -> Route {
    Route {
        dst: Ipv4Addr::new(10, 1, 2, 3),
        dst_len: 32,
        table: 100,
        gateway: Some(Ipv4Addr::new(192, 0, 2, 2)),
        oif: Some(7),
        protocol: 201,
    }
}

#[test]
fn an_add_request_parses_back_as_the_same_route() {
    let msg = add_request(&route(), 9, true);
    let all: Vec<_> = messages(&msg).collect();
    assert_eq!(all.len(), 1);
    let (kind, seq, payload) = all[0];
    assert_eq!((kind, seq), (RTM_NEWROUTE, 9));
    assert_eq!(msg.len() % 4, 0);
    let event = parse_route(kind, payload).unwrap();
    assert_eq!(event, RouteEvent { kind: RTM_NEWROUTE, dst: Ipv4Addr::new(10, 1, 2, 3), dst_len: 32, table: 100 });
}

#[test]
fn a_table_above_255_is_carried_by_the_attribute() {
    let mut r = route();
    r.table = 1000;
    let msg = delete_request(&r, 1);
    let (_, _, payload) = messages(&msg).next().unwrap();
    assert_eq!(payload[4], libc::RT_TABLE_UNSPEC);
    assert_eq!(parse_route(RTM_DELROUTE, payload).unwrap().table, 1000);
}

#[test]
fn two_messages_in_one_datagram_are_both_seen() {
    let mut buf = add_request(&route(), 1, false);
    buf.extend(delete_request(&route(), 2));
    let seqs: Vec<u32> = messages(&buf).map(|(_, s, _)| s).collect();
    assert_eq!(seqs, [1, 2]);
}

#[test]
fn truncated_input_yields_nothing() {
    let msg = add_request(&route(), 1, false);
    assert_eq!(messages(&msg[..msg.len() - 1]).count(), 0);
    assert!(parse_route(RTM_NEWROUTE, &[2, 32]).is_none());
}

/// The local table (255) is in every namespace and holds at least
/// loopback's routes; reading it needs no privilege.
#[test]
fn the_generic_parse_reads_as_many_routes_as_the_raw_dump_counts() {
    let sock = open(&[], 0).expect("a NETLINK_ROUTE socket");
    set_recv_timeout(&sock, Duration::from_secs(5)).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let counted = count_dump(&sock, 255, 1, &mut buf).expect("raw dump");
    let parsed = parse_dump(&sock, 255, 2, &mut buf).expect("netlink-packet-route parse");
    assert!(counted > 0, "the local table holds no route");
    assert_eq!(parsed, counted);
}
