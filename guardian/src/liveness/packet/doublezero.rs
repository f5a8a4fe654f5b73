//! DoubleZero client route-liveness control packet codec (`doublezero`
//! profile): 40 bytes, big-endian, laid out as doublezerod's own
//! `packet.go` writes it (see the fixtures in the tests).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Ver=1|    0    |Sta|     0     |  Detect Mult  |  Length = 40  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Local Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Peer Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Desired Min TX Interval (us)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Required Min RX Interval (us)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Flags (b0=P) | Version Major | Version Minor | Version Patch |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version Channel|           zero (15 bytes, 25-39) ...          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Flags bit 0 (`P`, the least significant bit of byte 20) is "sender is
//! passive". The BFD-only fields of [`Control`] (diag, P/F, C/D, echo
//! interval) do not exist here: [`encode`] ignores them and [`decode`] returns
//! them neutral. [`decode`] always returns a `sender_version` (all zeros from
//! a sender that predates the field); [`encode`] writes zeros for `None`.
//!
//! Receive checks, in this order: short (< 40 bytes), Length != 40, version
//! != 1, Detect Mult 0, Local Discriminator 0. Reserved bits and bytes (the
//! low 5 bits of byte 0, the low 6 of byte 1, flag bits 1-7, bytes 25-39) and
//! bytes received beyond 40 are ignored, not rejected: `docs/liveness.md` does not
//! ask for it, the fields at bytes 20-24 were themselves carved out of the
//! reserved area, and a receiver that rejected them would drop every packet of
//! a newer peer. (DoubleZero's RFC 7 lists "reserved bits non-zero" as a drop
//! reason but also says reserved is "ignored on RX"; we take the latter.)

use super::{Control, DecodeError, Diag, SenderVersion, State};

/// Length of every packet, in the length field too.
pub const LEN: usize = 40;

const VERSION: u8 = 1;
/// Byte 20: the sender is passive (it never withdraws routes).
const FLAG_PASSIVE: u8 = 0x01;

/// The 40 bytes of `c`; see the module doc for what is written.
pub fn encode(c: &Control) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0] = VERSION << 5;
    b[1] = (c.state as u8) << 6;
    b[2] = c.detect_mult;
    b[3] = LEN as u8;
    b[4..8].copy_from_slice(&c.my_discriminator.to_be_bytes());
    b[8..12].copy_from_slice(&c.your_discriminator.to_be_bytes());
    b[12..16].copy_from_slice(&c.desired_min_tx_us.to_be_bytes());
    b[16..20].copy_from_slice(&c.required_min_rx_us.to_be_bytes());
    b[20] = if c.passive { FLAG_PASSIVE } else { 0 };
    let v = c.sender_version.unwrap_or_default();
    b[21..25].copy_from_slice(&[v.major, v.minor, v.patch, v.channel]);
    b
}

/// One received UDP payload; see the module doc for the checks.
pub fn decode(bytes: &[u8]) -> Result<Control, DecodeError> {
    if bytes.len() < LEN {
        return Err(DecodeError::Short { len: bytes.len(), min: LEN });
    }
    let length = bytes[3];
    if usize::from(length) != LEN {
        return Err(DecodeError::BadLength { length, received: bytes.len() });
    }
    let version = bytes[0] >> 5;
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let detect_mult = bytes[2];
    if detect_mult == 0 {
        return Err(DecodeError::ZeroDetectMult);
    }
    let my_discriminator = be_u32(bytes, 4);
    if my_discriminator == 0 {
        return Err(DecodeError::ZeroDiscriminator);
    }
    Ok(Control {
        state: State::from_bits(bytes[1] >> 6),
        diag: Diag::None,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult,
        my_discriminator,
        your_discriminator: be_u32(bytes, 8),
        desired_min_tx_us: be_u32(bytes, 12),
        required_min_rx_us: be_u32(bytes, 16),
        required_min_echo_rx_us: 0,
        passive: bytes[20] & FLAG_PASSIVE != 0,
        sender_version: Some(SenderVersion {
            major: bytes[21],
            minor: bytes[22],
            patch: bytes[23],
            channel: bytes[24],
        }),
        auth_present: false,
        auth_sequence: None,
    })
}

/// The caller has checked that `bytes` holds `at + 4` bytes.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests;
