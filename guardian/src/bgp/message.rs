//! BGP messages on the wire (RFC 4271 4): finding whole messages in a TCP
//! stream with the Message Header checks (6.1), decoding through
//! netgauze-bgp-pkt, and encoding what guardian sends: OPEN, KEEPALIVE,
//! NOTIFICATION, ROUTE-REFRESH and End-of-RIB.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Marker (16 x 0xff)                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The framing is ours because netgauze accepts UPDATEs up to 65535 bytes
//! (RFC 8654 extended messages), which guardian does not advertise, so a
//! longer one is the peer's error. Nothing here reads a clock or a socket.

use crate::route::Family;
use netgauze_bgp_pkt::capabilities::{
    BgpCapability, FourOctetAsCapability, GracefulRestartCapability, MultiProtocolExtensionsCapability,
};
use netgauze_bgp_pkt::notification::{BgpNotificationMessage, MessageHeaderError, OpenMessageError};
use netgauze_bgp_pkt::open::{BgpOpenMessage, BgpOpenMessageParameter};
use netgauze_bgp_pkt::path_attribute::{MpUnreach, PathAttribute, PathAttributeValue};
use netgauze_bgp_pkt::route_refresh::BgpRouteRefreshMessage;
use netgauze_bgp_pkt::update::BgpUpdateMessage;
use netgauze_bgp_pkt::wire::deserializer::open::{BgpOpenMessageParsingError, BgpParameterParsingError};
use netgauze_bgp_pkt::wire::deserializer::{BgpMessageParsingError, BgpParsingContext};
use netgauze_bgp_pkt::BgpMessage;
use netgauze_iana::address_family::AddressType;
use netgauze_parse_utils::reader::SliceReader;
use netgauze_parse_utils::traits::ParseFromWithOneInput;
use netgauze_parse_utils::WritablePdu;
use std::collections::HashMap;
use std::net::Ipv4Addr;

pub const HEADER_LEN: usize = 19;
/// RFC 4271 4.1; larger only with RFC 8654, which guardian does not advertise.
pub const MAX_LEN: usize = 4096;
/// RFC 4271 4.2.
pub const VERSION: u8 = 4;
/// RFC 6793: the 2-byte stand-in for a 4-byte AS.
pub const AS_TRANS: u16 = 23456;

/// A NOTIFICATION guardian sends, typed by netgauze (code, subcode, data).
pub type Notification = BgpNotificationMessage;

/// The message types guardian knows (RFC 4271 4.1, RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Open,
    Update,
    Notification,
    Keepalive,
    RouteRefresh,
}

impl Kind {
    fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Open,
            2 => Kind::Update,
            3 => Kind::Notification,
            4 => Kind::Keepalive,
            5 => Kind::RouteRefresh,
            _ => return None,
        })
    }

    /// The shortest valid message of this type (RFC 4271 6.1, RFC 2918 3).
    fn min_len(self) -> usize {
        match self {
            Kind::Open => 29,
            Kind::Update => 23,
            Kind::Notification => 21,
            Kind::Keepalive => 19,
            Kind::RouteRefresh => 23,
        }
    }
}

/// The next whole message at the start of `buf`: its type and length, or
/// `None` until all of it has arrived. An error is the NOTIFICATION RFC
/// 4271 6.1 asks for, after which the session closes.
pub fn frame(buf: &[u8]) -> Result<Option<(Kind, usize)>, Notification> {
    if buf.len() < HEADER_LEN {
        // The marker can be checked before the rest arrives, but a peer
        // that sends a bad one gets the same answer a few bytes later.
        return Ok(None);
    }
    if buf[..16].iter().any(|b| *b != 0xff) {
        let error = MessageHeaderError::ConnectionNotSynchronized { value: Box::new([]) };
        return Err(BgpNotificationMessage::MessageHeaderError(error));
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    // The data of Bad Message Length is the erroneous Length field.
    let bad_length = || {
        let error = MessageHeaderError::BadMessageLength { value: Box::new([buf[16], buf[17]]) };
        BgpNotificationMessage::MessageHeaderError(error)
    };
    let Some(kind) = Kind::from_code(buf[18]) else {
        let error = MessageHeaderError::BadMessageType { value: Box::new([buf[18]]) };
        return Err(BgpNotificationMessage::MessageHeaderError(error));
    };
    if !(kind.min_len()..=MAX_LEN).contains(&len)
        || (kind == Kind::Keepalive && len != HEADER_LEN)
        || (kind == Kind::RouteRefresh && len != 23)
    {
        return Err(bad_length());
    }
    Ok((buf.len() >= len).then_some((kind, len)))
}

/// The netgauze context for a session: 4-byte AS numbers in AS_PATH when
/// both sides advertised the capability, and malformed attributes skipped
/// and recorded rather than failing the whole UPDATE, so that RFC 7606 can
/// still find the NLRI to treat as withdrawn (update.rs).
pub fn context(asn4: bool) -> BgpParsingContext {
    BgpParsingContext::new(asn4, HashMap::new(), HashMap::new(), false, false, false, false)
}

/// Parses one whole framed message with netgauze.
pub fn parse(msg: &[u8], ctx: &mut BgpParsingContext) -> Result<BgpMessage, BgpMessageParsingError> {
    BgpMessage::parse(&mut SliceReader::new(msg), ctx)
}

/// Decodes an OPEN; an error is the NOTIFICATION RFC 4271 6.2 asks for.
pub fn decode_open(msg: &[u8]) -> Result<BgpOpenMessage, Notification> {
    let open_error = |error| BgpNotificationMessage::OpenMessageError(error);
    match parse(msg, &mut context(true)) {
        Ok(BgpMessage::Open(open)) => Ok(open),
        Ok(_) => Err(open_error(OpenMessageError::Unspecific { value: Box::new([]) })),
        Err(BgpMessageParsingError::BgpOpenMessageParsingError(e)) => Err(open_error(match e {
            // The data is the largest version we support (6.2).
            BgpOpenMessageParsingError::UnsupportedVersionNumber { .. } => {
                OpenMessageError::UnsupportedVersionNumber { value: Box::new(u16::from(VERSION).to_be_bytes()) }
            }
            BgpOpenMessageParsingError::UnacceptableHoldTime { .. } => {
                OpenMessageError::UnacceptableHoldTime { value: Box::new([]) }
            }
            BgpOpenMessageParsingError::InvalidBgpId { .. } => {
                OpenMessageError::BadBgpIdentifier { value: Box::new([]) }
            }
            BgpOpenMessageParsingError::ParameterError(BgpParameterParsingError::UndefinedParameterType { .. }) => {
                OpenMessageError::UnsupportedOptionalParameter { value: Box::new([]) }
            }
            _ => OpenMessageError::Unspecific { value: Box::new([]) },
        })),
        Err(_) => Err(open_error(OpenMessageError::Unspecific { value: Box::new([]) })),
    }
}

/// A NOTIFICATION the peer sent, taken from the bytes: every code and
/// subcode must be reported, including ones netgauze has no variant for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Received {
    pub fn decode(msg: &[u8]) -> Received {
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        Received {
            code: body.first().copied().unwrap_or(0),
            subcode: body.get(1).copied().unwrap_or(0),
            data: body.get(2..).unwrap_or_default().to_vec(),
        }
    }
}

/// The code and subcode of a NOTIFICATION guardian sends.
pub fn codes(n: &Notification) -> (u8, u8) {
    let bytes = encode(&BgpMessage::Notification(n.clone()));
    (bytes[HEADER_LEN], bytes[HEADER_LEN + 1])
}

/// A NOTIFICATION's code and subcode in words (RFC 4271 4.5, RFC 4486,
/// RFC 8203), for logs, `guardian bgp` and the metrics' labels.
pub fn describe(code: u8, subcode: u8) -> String {
    let sub = match (code, subcode) {
        (1, 1) => "connection not synchronized",
        (1, 2) => "bad message length",
        (1, 3) => "bad message type",
        (2, 1) => "unsupported version number",
        (2, 2) => "bad peer AS",
        (2, 3) => "bad BGP identifier",
        (2, 4) => "unsupported optional parameter",
        (2, 6) => "unacceptable hold time",
        (2, 7) => "unsupported capability",
        (3, 1) => "malformed attribute list",
        (3, 2) => "unrecognized well-known attribute",
        (3, 3) => "missing well-known attribute",
        (3, 4) => "attribute flags error",
        (3, 5) => "attribute length error",
        (3, 6) => "invalid ORIGIN attribute",
        (3, 8) => "invalid NEXT_HOP attribute",
        (3, 9) => "optional attribute error",
        (3, 10) => "invalid network field",
        (3, 11) => "malformed AS_PATH",
        (5, 1) => "unexpected message in OpenSent",
        (5, 2) => "unexpected message in OpenConfirm",
        (5, 3) => "unexpected message in Established",
        (6, 1) => "maximum number of prefixes reached",
        (6, 2) => "administrative shutdown",
        (6, 3) => "peer de-configured",
        (6, 4) => "administrative reset",
        (6, 5) => "connection rejected",
        (6, 6) => "other configuration change",
        (6, 7) => "connection collision resolution",
        (6, 8) => "out of resources",
        (6, 9) => "hard reset",
        _ => "",
    };
    let what = match code {
        1 => "message header error",
        2 => "OPEN message error",
        3 => "UPDATE message error",
        4 => "hold timer expired",
        5 => "finite state machine error",
        6 => "cease",
        7 => "ROUTE-REFRESH message error",
        _ => "unknown error code",
    };
    match (sub, code) {
        ("", 4) => what.to_owned(),
        ("", _) => format!("{what} ({code}/{subcode})"),
        _ => format!("{what}: {sub} ({code}/{subcode})"),
    }
}

/// The error code as a metric label.
pub fn code_label(code: u8) -> &'static str {
    match code {
        1 => "message_header_error",
        2 => "open_message_error",
        3 => "update_message_error",
        4 => "hold_timer_expired",
        5 => "fsm_error",
        6 => "cease",
        7 => "route_refresh_error",
        _ => "unknown",
    }
}

// ---- encoding --------------------------------------------------------------

/// The wire bytes of a message guardian built.
pub fn encode(msg: &BgpMessage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(msg.len());
    // Writing fails only for a message whose fields do not fit their
    // length fields; guardian's own messages are a few dozen bytes.
    msg.write(&mut bytes).expect("guardian's own BGP messages always encode");
    bytes
}

pub fn address_type(family: Family) -> AddressType {
    match family {
        Family::V4 => AddressType::Ipv4Unicast,
        Family::V6 => AddressType::Ipv6Unicast,
    }
}

/// What guardian says about itself in its OPEN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenParams {
    pub local_as: u32,
    pub hold_time: u16,
    pub router_id: Ipv4Addr,
    pub families: Vec<Family>,
    /// Advertise graceful restart (helper side).
    pub graceful_restart: bool,
}

/// Guardian's OPEN: MP-BGP for its families (RFC 4760), 4-byte AS (RFC
/// 6793), route refresh (RFC 2918) and, when configured, graceful restart
/// with no address family: RFC 4724 3 says that is how a speaker that
/// keeps no forwarding state of its own (guardian advertises nothing)
/// declares it supports the procedures of the receiving side.
pub fn open(p: &OpenParams) -> BgpMessage {
    let my_as = u16::try_from(p.local_as).unwrap_or(AS_TRANS);
    let mut caps: Vec<BgpCapability> = p
        .families
        .iter()
        .map(|f| BgpCapability::MultiProtocolExtensions(MultiProtocolExtensionsCapability::new(address_type(*f))))
        .collect();
    caps.push(BgpCapability::RouteRefresh);
    caps.push(BgpCapability::FourOctetAs(FourOctetAsCapability::new(p.local_as)));
    if p.graceful_restart {
        // Restart Time is how long the peer keeps our routes: we have none.
        caps.push(BgpCapability::GracefulRestartCapability(GracefulRestartCapability::new(false, false, 0, [])));
    }
    let params = [BgpOpenMessageParameter::Capabilities(caps.into())];
    BgpMessage::Open(BgpOpenMessage::new(my_as, p.hold_time, p.router_id, params))
}

pub fn keepalive() -> Vec<u8> {
    encode(&BgpMessage::KeepAlive)
}

pub fn notification(n: &Notification) -> Vec<u8> {
    encode(&BgpMessage::Notification(n.clone()))
}

/// Asks the peer to send its routes of a family again (RFC 2918), e.g.
/// after the import filter changed.
pub fn route_refresh(family: Family) -> Vec<u8> {
    let rr =
        BgpRouteRefreshMessage::new(address_type(family), netgauze_bgp_pkt::iana::RouteRefreshSubcode::NormalRequest);
    encode(&BgpMessage::RouteRefresh(rr))
}

/// End-of-RIB (RFC 4724 2): an empty UPDATE for IPv4 unicast, an UPDATE
/// with an empty MP_UNREACH_NLRI for IPv6. guardian sends it at once:
/// having nothing to advertise, its initial update is complete.
pub fn end_of_rib(family: Family) -> Vec<u8> {
    let attrs: Vec<PathAttribute> = match family {
        Family::V4 => Vec::new(),
        Family::V6 => {
            let unreach = PathAttributeValue::MpUnreach(MpUnreach::Ipv6Unicast { nlri: Box::new([]) });
            vec![PathAttribute::from(true, false, false, false, unreach).expect("MP_UNREACH is optional non-transitive")]
        }
    };
    encode(&BgpMessage::Update(BgpUpdateMessage::new([], attrs, [])))
}

#[cfg(test)]
mod tests;
