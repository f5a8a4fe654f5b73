use super::*;

/// Up, passive, Detect Mult 3, local 0x11223344, peer 0x55667788, TX
/// 300 ms, RX 1 s, sender 0.7.2-dev.
const UP_PASSIVE: [u8; LEN] = [
    0x20, 0xc0, 0x03, 0x28, // ver 1 | Up | mult 3 | len 40
    0x11, 0x22, 0x33, 0x44, // local discriminator
    0x55, 0x66, 0x77, 0x88, // peer discriminator
    0x00, 0x04, 0x93, 0xe0, // desired min TX 300_000 us
    0x00, 0x0f, 0x42, 0x40, // required min RX 1_000_000 us
    0x01, 0x00, 0x07, 0x02, // flags: passive | version 0.7.2
    0x04, 0x00, 0x00, 0x00, // channel 4 (dev) | zero
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn up_passive() -> Control {
    Control {
        desired_min_tx_us: 300_000,
        passive: true,
        sender_version: Some(SenderVersion { major: 0, minor: 7, patch: 2, channel: 4 }),
        ..Control::new(State::Up, 0x1122_3344, 0x5566_7788)
    }
}

/// Down, not passive, peer discriminator not learned yet, sender 1.2.3.
const DOWN_NO_PEER: [u8; LEN] = [
    0x20, 0x40, 0x05, 0x28, // ver 1 | Down | mult 5 | len 40
    0xca, 0xfe, 0xf0, 0x0d, // local discriminator
    0x00, 0x00, 0x00, 0x00, // peer discriminator 0
    0x00, 0x0f, 0x42, 0x40, // desired min TX 1 s
    0x00, 0x0f, 0x42, 0x40, // required min RX 1 s
    0x00, 0x01, 0x02, 0x03, // flags 0 | version 1.2.3
    0x00, 0x00, 0x00, 0x00, // channel 0 (stable) | zero
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn down_no_peer() -> Control {
    Control {
        detect_mult: 5,
        sender_version: Some(SenderVersion { major: 1, minor: 2, patch: 3, channel: 0 }),
        ..Control::new(State::Down, 0xcafe_f00d, 0)
    }
}

#[track_caller]
fn check_fixture(bytes: &[u8; LEN], value: Control) {
    assert_eq!(decode(bytes), Ok(value), "decode");
    assert_eq!(encode(&value), *bytes, "encode");
}

/// `UP_PASSIVE` with `f` applied.
fn up_passive_with(f: impl FnOnce(&mut [u8; LEN])) -> [u8; LEN] {
    let mut bytes = UP_PASSIVE;
    f(&mut bytes);
    bytes
}

// ---- fixtures laid out from doublezerod's own packet code -------------
//
// doublezerod's `ControlPacket.Marshal` (client/doublezerod/internal/
// liveness/packet.go in the DoubleZero repository, as of August 2026)
// writes, big-endian: byte 0 = (Version & 7) << 5, byte 1 = (State & 3)
// << 6 (0 AdminDown, 1 Down, 2 Init, 3 Up), 2 DetectMult, 3 the constant
// 40, 4-7 LocalDiscr, 8-11 PeerDiscr, 12-15 DesiredMinTxUs, 16-19
// RequiredMinRxUs, 20 Flags (FlagPassive = 1 << 0), 21-24 ClientVersion
// Major, Minor, Patch, Channel (0 stable, 1 alpha, 2 beta, 3 rc, 4 dev,
// 5 other), 25-39 left zero. Its `UnmarshalControlPacket` refuses fewer
// than 40 bytes, byte 3 other than 40 and a version other than 1, in
// that order, and checks nothing else (guardian also refuses a Detect
// Mult or a local discriminator of 0, which doublezerod never sends).

/// doublezerod's own marshalling test values (discriminators
/// 0x11223344 / 0x55667788, intervals 0x01020304 / 0x0A0B0C0D us,
/// Detect Mult 3, Up), at version 1 (its test uses 5 to show the
/// masking; its receiver accepts only 1), passive, client 0.8.1-rc.
const DOUBLEZEROD_UP: [u8; LEN] = [
    0x20, 0xc0, 0x03, 0x28, // (1 & 7) << 5 | (Up & 3) << 6 | 3 | 40
    0x11, 0x22, 0x33, 0x44, // LocalDiscr
    0x55, 0x66, 0x77, 0x88, // PeerDiscr
    0x01, 0x02, 0x03, 0x04, // DesiredMinTxUs
    0x0a, 0x0b, 0x0c, 0x0d, // RequiredMinRxUs
    0x01, 0x00, 0x08, 0x01, // FlagPassive | Major 0, Minor 8, Patch 1
    0x03, 0x00, 0x00, 0x00, // Channel rc | padding
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// What doublezerod sends when its session is shut down: AdminDown,
/// still naming the peer, active, a stable 0.8.1, at its 300 ms default.
const DOUBLEZEROD_ADMIN_DOWN: [u8; LEN] = [
    0x20, 0x00, 0x03, 0x28, // (1 & 7) << 5 | (AdminDown & 3) << 6 | 3 | 40
    0x00, 0x00, 0x30, 0x39, // LocalDiscr 12345
    0xde, 0xad, 0xbe, 0xef, // PeerDiscr
    0x00, 0x04, 0x93, 0xe0, // DesiredMinTxUs 300000
    0x00, 0x04, 0x93, 0xe0, // RequiredMinRxUs 300000
    0x00, 0x00, 0x08, 0x01, // Flags 0 | 0.8.1
    0x00, 0x00, 0x00, 0x00, // Channel stable | padding
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn doublezerods_up_packet_decodes_and_guardian_writes_the_same_bytes() {
    let value = Control {
        desired_min_tx_us: 0x0102_0304,
        required_min_rx_us: 0x0a0b_0c0d,
        passive: true,
        sender_version: Some(SenderVersion { major: 0, minor: 8, patch: 1, channel: 3 }),
        ..Control::new(State::Up, 0x1122_3344, 0x5566_7788)
    };
    check_fixture(&DOUBLEZEROD_UP, value);
}

#[test]
fn doublezerods_admin_down_packet_decodes_and_guardian_writes_the_same_bytes() {
    let value = Control {
        desired_min_tx_us: 300_000,
        required_min_rx_us: 300_000,
        sender_version: Some(SenderVersion { major: 0, minor: 8, patch: 1, channel: 0 }),
        ..Control::new(State::AdminDown, 12345, 0xdead_beef)
    };
    check_fixture(&DOUBLEZEROD_ADMIN_DOWN, value);
}

#[test]
fn guardian_refuses_what_doublezerods_receiver_refuses_in_the_same_order() {
    // Short before length, length before version, as its Unmarshal.
    assert_eq!(decode(&DOUBLEZEROD_UP[..39]), Err(DecodeError::Short { len: 39, min: LEN }));
    let mut bad = DOUBLEZEROD_UP;
    bad[3] = 41;
    bad[0] = 0x40;
    assert_eq!(decode(&bad), Err(DecodeError::BadLength { length: 41, received: LEN }));
    bad[3] = 40;
    assert_eq!(decode(&bad), Err(DecodeError::BadVersion(2)));
}

#[test]
fn up_passive_packet_with_sender_version_round_trips() {
    check_fixture(&UP_PASSIVE, up_passive());
}

#[test]
fn down_packet_with_zero_peer_discriminator_round_trips() {
    check_fixture(&DOWN_NO_PEER, down_no_peer());
}

#[test]
fn init_and_admin_down_states_round_trip() {
    for (byte1, state) in [(0x00, State::AdminDown), (0x80, State::Init)] {
        let bytes = up_passive_with(|b| b[1] = byte1);
        check_fixture(&bytes, Control { state, ..up_passive() });
    }
}

#[test]
fn encode_writes_zeros_for_a_missing_sender_version() {
    let bytes = encode(&Control { sender_version: None, ..up_passive() });
    assert_eq!(bytes[21..25], [0, 0, 0, 0]);
    assert_eq!(bytes[..21], UP_PASSIVE[..21]);
}

#[test]
fn decode_returns_a_zero_sender_version_from_an_older_peer() {
    let bytes = up_passive_with(|b| b[21..25].fill(0));
    assert_eq!(decode(&bytes).unwrap().sender_version, Some(SenderVersion::default()));
}

#[test]
fn encode_ignores_bfd_only_fields() {
    let value = Control {
        diag: Diag::PathDown,
        poll: true,
        final_: true,
        control_plane_independent: true,
        demand: true,
        required_min_echo_rx_us: 50_000,
        ..up_passive()
    };
    assert_eq!(encode(&value), UP_PASSIVE);
}

#[test]
fn decode_ignores_reserved_bits_and_bytes() {
    let bytes = up_passive_with(|b| {
        b[0] |= 0x1f;
        b[1] |= 0x3f;
        b[20] |= 0xfe;
        b[25..].fill(0xff);
    });
    assert_eq!(decode(&bytes), Ok(up_passive()));
}

#[test]
fn decode_ignores_bytes_beyond_40() {
    let mut bytes = UP_PASSIVE.to_vec();
    bytes.extend_from_slice(&[0xaa; 8]);
    assert_eq!(decode(&bytes), Ok(up_passive()));
}

#[test]
fn decode_rejects_a_truncated_packet() {
    for len in 0..LEN {
        assert_eq!(decode(&UP_PASSIVE[..len]), Err(DecodeError::Short { len, min: LEN }));
    }
}

#[test]
fn decode_rejects_a_length_field_other_than_40() {
    for length in [0, 24, 39, 41, 255] {
        let bytes = up_passive_with(|b| b[3] = length);
        assert_eq!(decode(&bytes), Err(DecodeError::BadLength { length, received: LEN }));
    }
}

#[test]
fn decode_rejects_a_version_other_than_1() {
    for (byte0, version) in [(0x00, 0), (0x40, 2), (0xe0, 7)] {
        let bytes = up_passive_with(|b| b[0] = byte0);
        assert_eq!(decode(&bytes), Err(DecodeError::BadVersion(version)));
    }
}

#[test]
fn decode_rejects_a_bfd_packet() {
    // A 24-byte RFC 5880 packet is short; padded to 40 its length is wrong.
    let bfd = super::super::bfd::encode(&Control::new(State::Down, 1, 0));
    assert_eq!(decode(&bfd), Err(DecodeError::Short { len: 24, min: LEN }));
    let mut padded = bfd.to_vec();
    padded.resize(LEN, 0);
    assert_eq!(decode(&padded), Err(DecodeError::BadLength { length: 24, received: LEN }));
}

#[test]
fn decode_rejects_zero_detect_multiplier() {
    let bytes = up_passive_with(|b| b[2] = 0);
    assert_eq!(decode(&bytes), Err(DecodeError::ZeroDetectMult));
}

#[test]
fn decode_rejects_zero_local_discriminator() {
    let bytes = up_passive_with(|b| b[4..8].fill(0));
    assert_eq!(decode(&bytes), Err(DecodeError::ZeroDiscriminator));
}
