use super::*;

/// A message with a good header around `body`.
pub(crate) fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

fn header_error(buf: &[u8]) -> (u8, u8) {
    codes(&frame(buf).expect_err("a header error"))
}

#[test]
fn a_message_is_framed_only_once_all_of_it_arrived() {
    let ka = keepalive();
    assert_eq!(frame(&ka[..18]), Ok(None));
    assert_eq!(frame(&ka), Ok(Some((Kind::Keepalive, 19))));
    let mut two = ka.clone();
    two.extend_from_slice(&ka[..5]);
    assert_eq!(frame(&two), Ok(Some((Kind::Keepalive, 19))), "the next message's first bytes stay in the buffer");
    let update = msg(2, &[0, 0, 0, 0]);
    assert_eq!(frame(&update[..20]), Ok(None));
}

#[test]
fn a_bad_marker_is_connection_not_synchronized() {
    let mut ka = keepalive();
    ka[3] = 0;
    assert_eq!(header_error(&ka), (1, 1));
}

#[test]
fn lengths_outside_the_types_range_are_bad_message_length_with_the_length_as_data() {
    let mut long = msg(2, &[0, 0, 0, 0]);
    long[16..18].copy_from_slice(&4097u16.to_be_bytes());
    let n = frame(&long).unwrap_err();
    assert_eq!(codes(&n), (1, 2));
    let bytes = notification(&n);
    assert_eq!(&bytes[HEADER_LEN + 2..], &4097u16.to_be_bytes(), "data: the erroneous Length field");
    assert_eq!(header_error(&msg(4, &[0])), (1, 2), "a KEEPALIVE is exactly 19 bytes");
    assert_eq!(header_error(&msg(1, &[4; 5])), (1, 2), "an OPEN is at least 29");
    assert_eq!(header_error(&msg(5, &[0, 1, 0])), (1, 2), "a ROUTE-REFRESH is 23");
}

#[test]
fn an_unknown_type_is_bad_message_type_with_the_type_as_data() {
    let n = frame(&msg(9, &[])).unwrap_err();
    assert_eq!(codes(&n), (1, 3));
    assert_eq!(notification(&n)[HEADER_LEN + 2..], [9]);
}

#[test]
fn keepalive_is_a_bare_header() {
    assert_eq!(keepalive(), msg(4, &[]));
}

#[test]
fn end_of_rib_is_an_empty_update_or_an_empty_mp_unreach() {
    assert_eq!(end_of_rib(Family::V4), msg(2, &[0, 0, 0, 0]));
    assert_eq!(end_of_rib(Family::V6), msg(2, &[0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1]));
}

#[test]
fn route_refresh_names_the_family() {
    assert_eq!(route_refresh(Family::V6), msg(5, &[0, 2, 0, 1]));
}

#[test]
fn notifications_carry_code_subcode_and_data() {
    let n = BgpNotificationMessage::CeaseError(
        netgauze_bgp_pkt::notification::CeaseError::MaximumNumberOfPrefixesReached { value: Box::new([]) },
    );
    assert_eq!(notification(&n), msg(3, &[6, 1]));
    assert_eq!(codes(&n), (6, 1));
}

#[test]
fn a_received_notification_keeps_codes_netgauze_does_not_know() {
    let r = Received::decode(&msg(3, &[6, 99, 1, 2]));
    assert_eq!(r, Received { code: 6, subcode: 99, data: vec![1, 2] });
}

#[test]
fn notification_codes_read_as_words() {
    assert_eq!(describe(6, 1), "cease: maximum number of prefixes reached (6/1)");
    assert_eq!(describe(4, 0), "hold timer expired");
    assert_eq!(describe(9, 9), "unknown error code (9/9)");
}

#[test]
fn our_open_decodes_with_its_capabilities() {
    let p = OpenParams {
        local_as: 4_200_000_000,
        hold_time: 90,
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        families: vec![Family::V4, Family::V6],
        graceful_restart: true,
    };
    let bytes = encode(&open(&p));
    assert_eq!(frame(&bytes).unwrap(), Some((Kind::Open, bytes.len())));
    let o = decode_open(&bytes).unwrap();
    assert_eq!(o.my_as(), AS_TRANS, "a 4-byte AS goes in the capability");
    assert_eq!((o.hold_time(), o.bgp_id()), (90, p.router_id));
    let caps = o.capabilities();
    assert!(caps.iter().any(|c| matches!(c, BgpCapability::FourOctetAs(a) if a.asn4() == 4_200_000_000)));
    assert!(caps.iter().any(|c| matches!(c, BgpCapability::RouteRefresh)));
    assert!(caps
        .iter()
        .any(|c| matches!(c, BgpCapability::GracefulRestartCapability(g) if g.address_families().is_empty())));
    assert_eq!(caps.iter().filter(|c| matches!(c, BgpCapability::MultiProtocolExtensions(_))).count(), 2);
}

#[test]
fn an_open_of_another_version_is_refused_with_the_version_we_speak() {
    let body = [3, 0xfd, 0xe9, 0, 90, 192, 0, 2, 2, 0];
    let n = decode_open(&msg(1, &body)).unwrap_err();
    assert_eq!(codes(&n), (2, 1));
    assert_eq!(notification(&n)[HEADER_LEN + 2..], [0, 4]);
}

#[test]
fn an_open_with_an_unknown_optional_parameter_is_refused() {
    let body = [4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 2, 3, 7, 1, 0];
    assert_eq!(codes(&decode_open(&msg(1, &body)).unwrap_err()), (2, 4));
}
