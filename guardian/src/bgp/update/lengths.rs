//! RFC 7606 7's length checks, done by hand because netgauze fails the
//! whole UPDATE when an attribute's length is wrong for its type (a MED of
//! two bytes), where the RFC wants the routes treated as withdrawn or the
//! attribute discarded. Walks the attribute list, drops each attribute
//! whose length its type forbids, and returns the UPDATE without them, for
//! netgauze to parse again. Nothing here reads a clock or a socket.

use super::{update_error, Verdict};
use netgauze_bgp_pkt::notification::UpdateMessageError;

/// Attribute type codes (RFC 4271 5, RFC 1997, 4360, 4456, 4760, 8092).
const ORIGIN: u8 = 1;
const NEXT_HOP: u8 = 3;
const MED: u8 = 4;
const LOCAL_PREF: u8 = 5;
const ATOMIC_AGGREGATE: u8 = 6;
const AGGREGATOR: u8 = 7;
const COMMUNITIES: u8 = 8;
const ORIGINATOR_ID: u8 = 9;
const CLUSTER_LIST: u8 = 10;
const MP_REACH: u8 = 14;
const MP_UNREACH: u8 = 15;
const EXTENDED_COMMUNITIES: u8 = 16;
const LARGE_COMMUNITIES: u8 = 32;
const EXTENDED_LENGTH: u8 = 0x10;

/// The attributes dropped, each with its verdict and a line for the log,
/// and the UPDATE without them; `None` when the attribute list cannot be
/// walked (a length overruns it), which leaves only a session reset.
/// Each dropped attribute's verdict, with a line for the log.
pub(super) type Dropped = Vec<(Verdict, String)>;

pub(super) fn strip(msg: &[u8], ibgp: bool, asn4: bool) -> Option<(Vec<u8>, Dropped)> {
    const H: usize = super::message::HEADER_LEN;
    let body = msg.get(H..)?;
    let withdrawn_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let at = 2 + withdrawn_len;
    let attrs_len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    let attrs = body.get(at + 2..at + 2 + attrs_len)?;
    let nlri = &body[at + 2 + attrs_len..];

    let mut kept = Vec::with_capacity(attrs.len());
    let mut dropped = Vec::new();
    let mut rest = attrs;
    while !rest.is_empty() {
        let flags = *rest.first()?;
        let code = *rest.get(1)?;
        let (len, head) = if flags & EXTENDED_LENGTH != 0 {
            (usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?])), 4)
        } else {
            (usize::from(*rest.get(2)?), 3)
        };
        let whole = rest.get(..head + len)?;
        rest = &rest[head + len..];
        match wrong_length(code, len, ibgp, asn4) {
            None => kept.extend_from_slice(whole),
            Some(verdict) => dropped.push((verdict, format!("attribute {code} has length {len}, wrong for its type"))),
        }
    }
    let mut out = Vec::with_capacity(msg.len());
    out.extend_from_slice(&msg[..16]);
    let total = H + 2 + withdrawn_len + 2 + kept.len() + nlri.len();
    out.extend_from_slice(&u16::try_from(total).ok()?.to_be_bytes());
    out.push(msg[18]);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(&u16::try_from(kept.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&kept);
    out.extend_from_slice(nlri);
    Some((out, dropped))
}

/// The verdict for an attribute whose length its type forbids, `None`
/// when the length is possible (RFC 7606 7.1-7.14).
fn wrong_length(code: u8, len: usize, ibgp: bool, asn4: bool) -> Option<Verdict> {
    let ok = match code {
        ORIGIN => len == 1,
        NEXT_HOP | MED | LOCAL_PREF | ORIGINATOR_ID => len == 4,
        ATOMIC_AGGREGATE => len == 0,
        AGGREGATOR => len == if asn4 { 8 } else { 6 },
        COMMUNITIES | CLUSTER_LIST => len > 0 && len.is_multiple_of(4),
        EXTENDED_COMMUNITIES => len > 0 && len.is_multiple_of(8),
        LARGE_COMMUNITIES => len > 0 && len.is_multiple_of(12),
        // MP_REACH needs at least AFI, SAFI, next hop length, reserved;
        // MP_UNREACH AFI and SAFI (RFC 4760 3, 4).
        MP_REACH => len >= 5,
        MP_UNREACH => len >= 3,
        _ => true,
    };
    if ok {
        return None;
    }
    Some(match code {
        MP_REACH | MP_UNREACH => {
            Verdict::Reset(update_error(UpdateMessageError::AttributeLengthError { value: Box::new([]) }))
        }
        ATOMIC_AGGREGATE | AGGREGATOR => Verdict::Discard,
        LOCAL_PREF if !ibgp => Verdict::Discard,
        _ => Verdict::Withdraw,
    })
}
