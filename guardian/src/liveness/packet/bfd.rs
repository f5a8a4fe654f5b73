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
mod tests;
