//! RFC 5880 control packet codec (`bfd` profile): the mandatory section of
//! section 4.1, version 1; the authentication section is [`super::auth`]'s.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Your Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Desired Min TX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Required Min RX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Integers are big-endian; intervals are in microseconds.
//!
//! Encoding: guardian writes version 1, length 24, and the P, F, Diag, State,
//! Detect Mult, discriminators and the three intervals of the [`Control`]. It
//! never sets A ([`super::auth::sign`] appends the section and sets it), M
//! (must be zero), nor C and D: guardian
//! shares fate with its control plane and does not implement Demand mode, so
//! [`Control::control_plane_independent`] and [`Control::demand`] are ignored
//! by [`encode`] (they are only reported by [`decode`]).
//!
//! Decoding applies the reception checks of RFC 5880 section 6.8.6 that need
//! only the packet, in the RFC's order, and returns the first that fails:
//! version, Length (at least 24, or 26 with A set, and no more than the bytes
//! received), Detect Mult, Multipoint, My Discriminator, Your Discriminator
//! (0 only in Down/AdminDown). With A set, [`Control::auth_present`] says so
//! and [`Control::auth_sequence`] carries the keyed section's sequence number;
//! checking the section against the configured key ([`super::auth::verify`])
//! and the sequence against the session's memory are the caller's, as are the
//! checks that need a session (an unknown non-zero Your Discriminator). Bytes
//! received beyond Length are ignored (6.8.6 drops only a Length larger than
//! the payload), and so are bytes 24 up to Length when A is clear: nothing is
//! defined there.

use super::{Control, DecodeError, Diag, State};

/// Length of the mandatory section, and of every packet guardian sends.
pub const LEN: usize = 24;

/// The only protocol version (RFC 5880 4.1).
const VERSION: u8 = 1;
/// The minimum Length when the A bit is set (RFC 5880 6.8.6): the mandatory
/// section plus the Auth Type and Auth Len bytes.
const LEN_WITH_AUTH: u8 = 26;

// Byte 1: |Sta|P|F|C|A|D|M|
const POLL: u8 = 0x20;
const FINAL: u8 = 0x10;
const CPI: u8 = 0x08;
const AUTH: u8 = 0x04;
const DEMAND: u8 = 0x02;
const MULTIPOINT: u8 = 0x01;

/// The 24 bytes of `c`; see the module doc for what is written.
pub fn encode(c: &Control) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0] = VERSION << 5 | c.diag.bits();
    b[1] = (c.state as u8) << 6 | flag(c.poll, POLL) | flag(c.final_, FINAL);
    b[2] = c.detect_mult;
    b[3] = LEN as u8;
    b[4..8].copy_from_slice(&c.my_discriminator.to_be_bytes());
    b[8..12].copy_from_slice(&c.your_discriminator.to_be_bytes());
    b[12..16].copy_from_slice(&c.desired_min_tx_us.to_be_bytes());
    b[16..20].copy_from_slice(&c.required_min_rx_us.to_be_bytes());
    b[20..24].copy_from_slice(&c.required_min_echo_rx_us.to_be_bytes());
    b
}

/// One received UDP payload; see the module doc for the checks.
pub fn decode(bytes: &[u8]) -> Result<Control, DecodeError> {
    if bytes.len() < LEN {
        return Err(DecodeError::Short { len: bytes.len(), min: LEN });
    }
    let version = bytes[0] >> 5;
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let flags = bytes[1];
    let length = bytes[3];
    let min_length = if flags & AUTH != 0 { LEN_WITH_AUTH } else { LEN as u8 };
    if length < min_length || usize::from(length) > bytes.len() {
        return Err(DecodeError::BadLength { length, received: bytes.len() });
    }
    let detect_mult = bytes[2];
    if detect_mult == 0 {
        return Err(DecodeError::ZeroDetectMult);
    }
    if flags & MULTIPOINT != 0 {
        return Err(DecodeError::Multipoint);
    }
    let my_discriminator = be_u32(bytes, 4);
    if my_discriminator == 0 {
        return Err(DecodeError::ZeroDiscriminator);
    }
    let state = State::from_bits(flags >> 6);
    let your_discriminator = be_u32(bytes, 8);
    if your_discriminator == 0 && !matches!(state, State::Down | State::AdminDown) {
        return Err(DecodeError::BadYourDiscriminator { state });
    }
    let auth_present = flags & AUTH != 0;
    // Types 2-5 (keyed MD5 / SHA1) carry a sequence number after 4 bytes.
    let keyed = auth_present && (2..=5).contains(&bytes[LEN]);
    let auth_sequence = if keyed { super::auth::sequence(&bytes[..usize::from(length)]) } else { None };
    Ok(Control {
        state,
        diag: Diag::from_bits(bytes[0]),
        poll: flags & POLL != 0,
        final_: flags & FINAL != 0,
        control_plane_independent: flags & CPI != 0,
        demand: flags & DEMAND != 0,
        detect_mult,
        my_discriminator,
        your_discriminator,
        desired_min_tx_us: be_u32(bytes, 12),
        required_min_rx_us: be_u32(bytes, 16),
        required_min_echo_rx_us: be_u32(bytes, 20),
        passive: false,
        sender_version: None,
        auth_present,
        auth_sequence,
    })
}

fn flag(set: bool, bit: u8) -> u8 {
    if set {
        bit
    } else {
        0
    }
}

/// The caller has checked that `bytes` holds `at + 4` bytes.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
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
        let value =
            Control { diag: Diag::AdministrativelyDown, ..control(State::AdminDown, 9, 0, 1_000_000, 1_000_000) };
        check_fixture(&bytes, value);
    }

    #[test]
    fn up_packet_with_poll_bit_round_trips() {
        let bytes = words([0x20e0_0518, 0xdead_beef, 0x0102_0304, 50_000, 300_000, 0]);
        let value =
            Control { poll: true, detect_mult: 5, ..control(State::Up, 0xdead_beef, 0x0102_0304, 50_000, 300_000) };
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
}
