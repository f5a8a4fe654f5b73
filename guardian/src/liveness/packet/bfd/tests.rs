use super::*;

/// A 24-byte packet from its six words (the first one holds
/// Vers/Diag, Sta/flags, Detect Mult and Length).
fn words(w: [u32; 6]) -> Vec<u8> {
    w.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// `bytes` decodes to `value`, and `value` encodes to the first 24 bytes.
#[track_caller]
fn check_fixture(bytes: &[u8], value: Control) {
    assert_eq!(decode(bytes), Ok(value), "decode");
    assert_eq!(encode(&value)[..], bytes[..LEN], "encode");
}

fn control(state: State, my: u32, your: u32, tx_us: u32, rx_us: u32) -> Control {
    Control { desired_min_tx_us: tx_us, required_min_rx_us: rx_us, ..Control::new(state, my, your) }
}

#[test]
fn decodes_and_encodes_a_captured_up_packet() {
    // "RX packet dump" of `debug bfd packet` in the Dell Networking
    // S4820T user's guide, "Bidirectional Forwarding Detection (BFD)",
    // page 167: Up, Detect Mult 3, My 5, Your 4, 100 ms TX and RX, no echo.
    let bytes = [
        0x20, 0xc0, 0x03, 0x18, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x86, 0xa0, 0x00, 0x01,
        0x86, 0xa0, 0x00, 0x00, 0x00, 0x00,
    ];
    check_fixture(&bytes, control(State::Up, 5, 4, 100_000, 100_000));
}

#[test]
fn down_packet_may_carry_a_zero_your_discriminator() {
    let bytes = words([0x2040_0318, 0x1234_5678, 0, 1_000_000, 1_000_000, 0]);
    check_fixture(&bytes, control(State::Down, 0x1234_5678, 0, 1_000_000, 1_000_000));
}

#[test]
fn admin_down_packet_may_carry_a_zero_your_discriminator() {
    // Diag 7, Administratively Down (RFC 5880 4.1).
    let bytes = words([0x2700_0318, 9, 0, 1_000_000, 1_000_000, 0]);
    let value = Control { diag: Diag::AdministrativelyDown, ..control(State::AdminDown, 9, 0, 1_000_000, 1_000_000) };
    check_fixture(&bytes, value);
}

#[test]
fn up_packet_with_poll_bit_round_trips() {
    let bytes = words([0x20e0_0518, 0xdead_beef, 0x0102_0304, 50_000, 300_000, 0]);
    let value = Control { poll: true, detect_mult: 5, ..control(State::Up, 0xdead_beef, 0x0102_0304, 50_000, 300_000) };
    check_fixture(&bytes, value);
}

#[test]
fn final_packet_answering_a_poll_round_trips() {
    let bytes = words([0x20d0_0318, 0x0102_0304, 0xdead_beef, 300_000, 50_000, 0]);
    let value = Control { final_: true, ..control(State::Up, 0x0102_0304, 0xdead_beef, 300_000, 50_000) };
    check_fixture(&bytes, value);
}

#[test]
fn init_packet_with_detection_time_expired_diag_round_trips() {
    // Diag 1 (Control Detection Time Expired), Init, a non-zero echo interval.
    let bytes = words([0x2180_0318, 0xffff_ffff, 1, 1_000_000, 2_000_000, 25_000]);
    let value = Control {
        diag: Diag::ControlDetectionTimeExpired,
        required_min_echo_rx_us: 25_000,
        ..control(State::Init, 0xffff_ffff, 1, 1_000_000, 2_000_000)
    };
    check_fixture(&bytes, value);
}

#[test]
fn reserved_diag_is_kept_as_is() {
    // Diag 20 is reserved (9-31); byte 0 = 001 10100.
    let bytes = words([0x3440_0118, 7, 0, 1_000_000, 1_000_000, 0]);
    let value =
        Control { diag: Diag::Reserved(20), detect_mult: 1, ..control(State::Down, 7, 0, 1_000_000, 1_000_000) };
    check_fixture(&bytes, value);
}

#[test]
fn bytes_beyond_the_length_field_are_ignored() {
    let mut bytes = words([0x20c0_0318, 5, 4, 1_000_000, 1_000_000, 0]);
    bytes.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
    check_fixture(&bytes, control(State::Up, 5, 4, 1_000_000, 1_000_000));
}

#[test]
fn length_field_between_24_and_the_payload_is_accepted() {
    // RFC 5880 6.8.6 only drops a Length below the minimum or above the
    // payload; the extra bytes it covers are not interpreted.
    let mut bytes = words([0x20c0_031c, 5, 4, 1_000_000, 1_000_000, 0]);
    bytes.extend_from_slice(&[0; 4]);
    assert_eq!(decode(&bytes), Ok(control(State::Up, 5, 4, 1_000_000, 1_000_000)));
}

#[test]
fn decode_reports_demand_and_cpi_bits_but_encode_never_sets_them() {
    let bytes = words([0x20ca_0318, 5, 4, 1_000_000, 1_000_000, 0]);
    let decoded = decode(&bytes).unwrap();
    assert!(decoded.control_plane_independent && decoded.demand);
    assert_eq!(encode(&decoded)[1], 0xc0);
}

#[test]
fn encode_ignores_doublezero_only_fields() {
    let mut value = control(State::Up, 5, 4, 1_000_000, 1_000_000);
    let plain = encode(&value);
    value.passive = true;
    value.sender_version = Some(super::super::SenderVersion { major: 1, minor: 2, patch: 3, channel: 0 });
    assert_eq!(encode(&value), plain);
}

#[test]
fn decode_rejects_a_truncated_packet() {
    let bytes = words([0x20c0_0318, 5, 4, 1_000_000, 1_000_000, 0]);
    for len in 0..LEN {
        assert_eq!(decode(&bytes[..len]), Err(DecodeError::Short { len, min: LEN }));
    }
}

#[test]
fn decode_rejects_a_version_other_than_1() {
    for (byte0, version) in [(0x00, 0), (0x40, 2), (0xe0, 7)] {
        let bytes = words([u32::from_be_bytes([byte0, 0xc0, 3, 24]), 5, 4, 1_000_000, 1_000_000, 0]);
        assert_eq!(decode(&bytes), Err(DecodeError::BadVersion(version)));
    }
}

#[test]
fn decode_rejects_a_length_field_below_24() {
    let bytes = words([0x20c0_0317, 5, 4, 1_000_000, 1_000_000, 0]);
    assert_eq!(decode(&bytes), Err(DecodeError::BadLength { length: 23, received: 24 }));
}

#[test]
fn decode_rejects_a_length_field_beyond_the_bytes_received() {
    let bytes = words([0x20c0_0319, 5, 4, 1_000_000, 1_000_000, 0]);
    assert_eq!(decode(&bytes), Err(DecodeError::BadLength { length: 25, received: 24 }));
}

#[test]
fn decode_rejects_a_length_below_26_when_authentication_is_present() {
    let bytes = words([0x20c4_0318, 5, 4, 1_000_000, 1_000_000, 0]);
    assert_eq!(decode(&bytes), Err(DecodeError::BadLength { length: 24, received: 24 }));
}

#[test]
fn decode_rejects_zero_detect_multiplier() {
    let bytes = words([0x20c0_0018, 5, 4, 1_000_000, 1_000_000, 0]);
    assert_eq!(decode(&bytes), Err(DecodeError::ZeroDetectMult));
}

#[test]
fn decode_rejects_the_multipoint_bit() {
    let bytes = words([0x20c1_0318, 5, 4, 1_000_000, 1_000_000, 0]);
    assert_eq!(decode(&bytes), Err(DecodeError::Multipoint));
}

#[test]
fn decode_rejects_zero_my_discriminator() {
    let bytes = words([0x2040_0318, 0, 0, 1_000_000, 1_000_000, 0]);
    assert_eq!(decode(&bytes), Err(DecodeError::ZeroDiscriminator));
}

#[test]
fn decode_rejects_zero_your_discriminator_in_init_and_up() {
    for (byte1, state) in [(0x80, State::Init), (0xc0, State::Up)] {
        let bytes = words([u32::from_be_bytes([0x20, byte1, 3, 24]), 5, 0, 1_000_000, 1_000_000, 0]);
        assert_eq!(decode(&bytes), Err(DecodeError::BadYourDiscriminator { state }));
    }
}

#[test]
fn decode_reports_an_authentication_section_and_its_sequence_number() {
    // A, then a keyed SHA1 header (type 4, len 28, key id 1, reserved,
    // sequence 7) and a 20-byte hash: Length 52.
    let mut bytes = words([0x20c4_0334, 5, 4, 1_000_000, 1_000_000, 0]);
    bytes.extend_from_slice(&[4, 28, 1, 0, 0, 0, 0, 7]);
    bytes.extend_from_slice(&[0xab; 20]);
    let c = decode(&bytes).unwrap();
    assert!(c.auth_present);
    assert_eq!(c.auth_sequence, Some(7));
    // Simple password (type 1) has no sequence number.
    let mut bytes = words([0x20c4_031c, 5, 4, 1_000_000, 1_000_000, 0]);
    bytes.extend_from_slice(&[1, 4, 1, b'x']);
    let c = decode(&bytes).unwrap();
    assert_eq!((c.auth_present, c.auth_sequence), (true, None));
}

#[test]
fn every_decode_error_has_a_distinct_snake_case_reason() {
    let errors = [
        DecodeError::Short { len: 0, min: LEN },
        DecodeError::BadLength { length: 0, received: 0 },
        DecodeError::BadVersion(0),
        DecodeError::ZeroDetectMult,
        DecodeError::ZeroDiscriminator,
        DecodeError::BadYourDiscriminator { state: State::Up },
        DecodeError::Multipoint,
    ];
    let mut reasons: Vec<&str> = errors.iter().map(DecodeError::reason).collect();
    assert!(reasons.iter().all(|r| r.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len());
}
