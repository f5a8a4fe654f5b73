//! UPDATE messages (RFC 4271 4.3, RFC 4760 for IPv6) decoded into what the
//! RIB needs, with the revised error handling of RFC 7606: a malformed
//! attribute costs the routes of that UPDATE (treat-as-withdraw) or only
//! the attribute (attribute discard), and the session only where the NLRI
//! themselves cannot be trusted (session reset).
//!
//! | what is wrong (RFC 7606 section) | verdict |
//! |---|---|
//! | NLRI or withdrawn field unparseable, prefix too long (5.3) | session reset, Invalid Network Field |
//! | attribute list cannot be walked: a length overruns it (4) | session reset, Malformed Attribute List |
//! | MP_REACH_NLRI / MP_UNREACH_NLRI malformed or twice (3.g, 5.3, 7.11) | session reset |
//! | ORIGIN, AS_PATH, NEXT_HOP, MED malformed (7.1-7.4) | treat-as-withdraw |
//! | LOCAL_PREF malformed (7.5): from an internal peer / an external one | treat-as-withdraw / discard (eBGP ignores it anyway) |
//! | COMMUNITIES, EXTENDED/LARGE COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST (7.8-7.10, 7.14, RFC 8092) | treat-as-withdraw |
//! | ATOMIC_AGGREGATE, AGGREGATOR, unknown or other optional attributes (7.6, 7.7) | attribute discard |
//! | a mandatory attribute missing when there are NLRI (3.d) | treat-as-withdraw |
//! | other attributes twice (3.g) | all but the first discarded |
//! | eBGP: the AS_PATH does not start with the peer's AS (RFC 4271 6.3) | treat-as-withdraw |
//! | NEXT_HOP not a unicast host address (7.3) | treat-as-withdraw |
//!
//! Treat-as-withdraw here means: every prefix the UPDATE announces is
//! reported as withdrawn, so the RIB drops an earlier path from this peer.
//! Nothing here reads a clock or a socket.

mod lengths;

use super::message::{self, Notification};
use super::rib::Prefix;
use crate::route::Family;
use netgauze_bgp_pkt::iana::PathAttributeType;
use netgauze_bgp_pkt::notification::{BgpNotificationMessage, UpdateMessageError};
use netgauze_bgp_pkt::path_attribute::{AsPath, MpReach, MpUnreach, Origin, PathAttributeValue};
use netgauze_bgp_pkt::wire::deserializer::path_attribute::PathAttributeParsingError;
use netgauze_bgp_pkt::wire::deserializer::BgpMessageParsingError;
use netgauze_bgp_pkt::BgpMessage;
use netgauze_iana::address_family::AddressType;
use std::net::{IpAddr, Ipv6Addr};

/// Who sent the UPDATE, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub remote_as: u32,
    pub ibgp: bool,
    /// Both sides advertised 4-byte AS numbers (RFC 6793).
    pub asn4: bool,
}

/// A decoded UPDATE.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// Prefixes withdrawn, including those of a treated-as-withdraw UPDATE.
    pub withdrawn: Vec<Prefix>,
    /// Prefixes announced, each group with its next hop; empty when the
    /// UPDATE was treated as withdraw.
    pub announced: Vec<Reach>,
    /// The attributes shared by every announced prefix; `None` when
    /// nothing is announced.
    pub attrs: Option<PathAttrs>,
    /// End-of-RIB for this family (RFC 4724 2).
    pub end_of_rib: Option<Family>,
    /// Why the UPDATE was treated as withdraw, for the log.
    pub treated_as_withdraw: Option<String>,
    /// Attributes discarded (RFC 7606 attribute discard), for the log.
    pub discarded: Vec<String>,
}

/// Prefixes of one family with their next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub family: Family,
    /// IPv4 from NEXT_HOP; IPv6 the global address of MP_REACH_NLRI.
    pub next_hop: IpAddr,
    /// The link-local IPv6 next hop when the peer sent one (RFC 2545 3):
    /// guardian installs it with the neighbor's interface.
    pub next_hop_local: Option<Ipv6Addr>,
    pub prefixes: Vec<Prefix>,
}

/// The attributes best-path selection uses (RFC 4271 9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAttrs {
    /// 0 IGP, 1 EGP, 2 INCOMPLETE.
    pub origin: u8,
    /// The AS_SEQUENCE numbers in order (AS_SETs left out of it).
    pub as_path: Vec<u32>,
    /// The length for selection: an AS_SET counts as one (9.1.2.2 a).
    pub as_path_len: u32,
    pub med: Option<u32>,
    /// Only from internal peers; an external peer's is ignored (5.1.5).
    pub local_pref: Option<u32>,
}

impl PathAttrs {
    /// The neighbor AS of the path (for MED comparison): its first AS.
    pub fn neighbor_as(&self) -> Option<u32> {
        self.as_path.first().copied()
    }
}

/// Decodes one whole framed UPDATE; `Err` is a session reset with the
/// NOTIFICATION to send.
pub fn decode(msg: &[u8], peer: Peer) -> Result<Update, Notification> {
    let mut ctx = message::context(peer.asn4);
    let mut update = Update::default();
    let mut withdraw_reason: Option<String> = None;
    let parsed = match message::parse(msg, &mut ctx) {
        Ok(BgpMessage::Update(u)) => u,
        Ok(_) => return Err(update_error(UpdateMessageError::Unspecific { value: Box::new([]) })),
        Err(BgpMessageParsingError::BgpUpdateMessageParsingError(e)) => {
            // An attribute of a length its type forbids fails the whole
            // UPDATE in netgauze; without those attributes it may parse.
            let Some((fixed, dropped)) = lengths::strip(msg, peer.ibgp, peer.asn4).filter(|(_, d)| !d.is_empty())
            else {
                // netgauze's own mapping picks the subcode (Malformed
                // Attribute List for a length that overruns, Invalid
                // Network Field for a bad prefix...).
                return Err(update_error(UpdateMessageError::from(e)));
            };
            for (verdict, what) in dropped {
                match verdict {
                    Verdict::Reset(n) => return Err(n),
                    Verdict::Withdraw => {
                        withdraw_reason.get_or_insert(what);
                    }
                    Verdict::Discard => update.discarded.push(what),
                }
            }
            ctx = message::context(peer.asn4);
            match message::parse(&fixed, &mut ctx) {
                Ok(BgpMessage::Update(u)) => u,
                Ok(_) => return Err(update_error(UpdateMessageError::Unspecific { value: Box::new([]) })),
                Err(BgpMessageParsingError::BgpUpdateMessageParsingError(e)) => {
                    return Err(update_error(UpdateMessageError::from(e)))
                }
                Err(_) => return Err(update_error(UpdateMessageError::MalformedAttributeList { value: Box::new([]) })),
            }
        }
        Err(_) => return Err(update_error(UpdateMessageError::MalformedAttributeList { value: Box::new([]) })),
    };
    for error in ctx.parsing_errors().path_attr_errors() {
        match verdict(error, peer) {
            Verdict::Reset(n) => return Err(n),
            Verdict::Withdraw => {
                withdraw_reason.get_or_insert_with(|| format!("malformed attribute: {error}"));
            }
            Verdict::Discard => update.discarded.push(error.to_string()),
        }
    }
    // netgauze drops non-unicast IPv4 NLRI (multicast, class E) into its
    // ignored list when asked not to fail; they are not routes to install.
    let mut v4 =
        Reach { family: Family::V4, next_hop: IpAddr::from([0, 0, 0, 0]), next_hop_local: None, prefixes: Vec::new() };
    v4.prefixes.extend(parsed.nlri().iter().map(|a| v4_prefix(a.network().address())));
    update.withdrawn.extend(parsed.withdraw_routes().iter().map(|a| v4_prefix(a.network().address())));

    let (mut origin, mut as_path, mut next_hop, mut med, mut local_pref) = (None, None, None, None, None);
    let mut as4_path: Option<(Vec<u32>, u32)> = None;
    let (mut mp_reach, mut mp_unreach) = (0, 0);
    let mut v6: Option<Reach> = None;
    for attr in parsed.path_attributes() {
        match attr.value() {
            // RFC 7606 3.g: of a repeated attribute, only the first counts.
            PathAttributeValue::Origin(o) if origin.is_none() => origin = Some(origin_code(o)),
            PathAttributeValue::AsPath(p) if as_path.is_none() => as_path = Some(flatten(p)),
            // RFC 6793 4.2.3: only from a peer without 4-byte AS numbers;
            // a 4-byte speaker's is ignored.
            PathAttributeValue::As4Path(p) if as4_path.is_none() && !peer.asn4 => {
                as4_path = Some(flatten(&AsPath::As4PathSegments(p.segments().into())));
            }
            PathAttributeValue::NextHop(n) if next_hop.is_none() => next_hop = Some(n.next_hop()),
            PathAttributeValue::MultiExitDiscriminator(m) if med.is_none() => med = Some(m.metric()),
            PathAttributeValue::LocalPreference(l) if local_pref.is_none() => local_pref = Some(l.metric()),
            PathAttributeValue::MpReach(reach) => {
                mp_reach += 1;
                match reach {
                    MpReach::Ipv6Unicast { next_hop_global, next_hop_local, nlri } => {
                        // A peer with only a link-local address on the link
                        // (BIRD on a link-local session) sends :: as the
                        // global next hop, and the link-local one beside it.
                        let global = match next_hop_local {
                            Some(local) if next_hop_global.is_unspecified() => *local,
                            _ => *next_hop_global,
                        };
                        v6 = Some(Reach {
                            family: Family::V6,
                            next_hop: IpAddr::V6(global),
                            next_hop_local: *next_hop_local,
                            prefixes: nlri.iter().map(|a| v6_prefix(a.network().address())).collect(),
                        });
                    }
                    MpReach::Ipv4Unicast { next_hop, nlri, .. } => {
                        // RFC 4760 allows IPv4 unicast over MP_REACH too.
                        v4.next_hop = *next_hop;
                        v4.prefixes.extend(nlri.iter().map(|a| v4_prefix(a.network().address())));
                    }
                    // Families guardian did not advertise: RFC 4760 7 lets
                    // a speaker ignore them.
                    _ => {}
                }
            }
            PathAttributeValue::MpUnreach(unreach) => {
                mp_unreach += 1;
                match unreach {
                    MpUnreach::Ipv6Unicast { nlri } => {
                        update.withdrawn.extend(nlri.iter().map(|a| v6_prefix(a.network().address())));
                    }
                    MpUnreach::Ipv4Unicast { nlri } => {
                        update.withdrawn.extend(nlri.iter().map(|a| v4_prefix(a.network().address())));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if mp_reach > 1 || mp_unreach > 1 {
        // RFC 7606 3.g: a repeated MP attribute leaves the NLRI in doubt.
        return Err(update_error(UpdateMessageError::MalformedAttributeList { value: Box::new([]) }));
    }
    update.end_of_rib = parsed.end_of_rib().and_then(|t| match t {
        AddressType::Ipv4Unicast => Some(Family::V4),
        AddressType::Ipv6Unicast => Some(Family::V6),
        _ => None,
    });
    if let Some(n) = next_hop {
        // The NEXT_HOP attribute is for the NLRI field; an MP_REACH IPv4
        // next hop, when both came, is the one RFC 4760 says to use.
        if !parsed.nlri().is_empty() || v4.next_hop.is_unspecified() {
            v4.next_hop = IpAddr::V4(n);
        }
    }
    let mut announced: Vec<Reach> = Vec::with_capacity(2);
    if !v4.prefixes.is_empty() {
        announced.push(v4);
    }
    if let Some(v6) = v6.filter(|r| !r.prefixes.is_empty()) {
        announced.push(v6);
    }
    if announced.is_empty() {
        return Ok(update);
    }

    // RFC 7606 3.d: missing mandatory attributes, once there is something
    // to announce.
    let missing = if origin.is_none() {
        Some("ORIGIN")
    } else if as_path.is_none() {
        Some("AS_PATH")
    } else if !parsed.nlri().is_empty() && next_hop.is_none() {
        Some("NEXT_HOP")
    } else if peer.ibgp && local_pref.is_none() {
        Some("LOCAL_PREF")
    } else {
        None
    };
    if let Some(name) = missing {
        withdraw_reason.get_or_insert_with(|| format!("missing well-known attribute {name}"));
    }
    let (as_path, as_path_len) = merge_as4_path(as_path.unwrap_or_default(), as4_path);
    if !peer.ibgp && withdraw_reason.is_none() && as_path.first() != Some(&peer.remote_as) {
        // RFC 4271 6.3: an external peer's path starts with its own AS.
        let first = as_path.first().map_or("nothing".to_owned(), |a| format!("AS {a}"));
        withdraw_reason = Some(format!("AS_PATH starts with {first}, not the peer's AS {}", peer.remote_as));
    }
    for reach in &announced {
        if withdraw_reason.is_none() && !unicast_host(reach.next_hop) {
            withdraw_reason = Some(format!("next hop {} is not a unicast host address", reach.next_hop));
        }
    }
    if let Some(reason) = withdraw_reason {
        update.withdrawn.extend(announced.into_iter().flat_map(|r| r.prefixes));
        update.treated_as_withdraw = Some(reason);
        return Ok(update);
    }
    update.attrs = Some(PathAttrs {
        origin: origin.unwrap_or(2),
        as_path,
        as_path_len,
        med,
        local_pref: local_pref.filter(|_| peer.ibgp),
    });
    update.announced = announced;
    Ok(update)
}

enum Verdict {
    Reset(Notification),
    Withdraw,
    Discard,
}

/// RFC 7606's verdict on one attribute netgauze could not parse.
fn verdict(error: &PathAttributeParsingError, peer: Peer) -> Verdict {
    use PathAttributeParsingError as E;
    match error {
        E::MpReachErrorError(_) | E::MpUnreachErrorError(_) => {
            Verdict::Reset(update_error(UpdateMessageError::OptionalAttributeError { value: Box::new([]) }))
        }
        E::OriginError(_) | E::AsPathError(_) | E::NextHopError(_) | E::MultiExitDiscriminatorError(_) => {
            Verdict::Withdraw
        }
        E::LocalPreferenceError(_) if peer.ibgp => Verdict::Withdraw,
        E::LocalPreferenceError(_) => Verdict::Discard,
        E::CommunitiesError(_)
        | E::ExtendedCommunitiesError(_)
        | E::ExtendedCommunitiesErrorIpv6(_)
        | E::LargeCommunitiesError(_)
        | E::OriginatorError(_)
        | E::ClusterListError(_) => Verdict::Withdraw,
        // A flags error is handled as the attribute's own error (3.c).
        E::InvalidPathAttribute { value, .. } => match value {
            Ok(PathAttributeType::MpReachNlri | PathAttributeType::MpUnreachNlri) => {
                Verdict::Reset(update_error(UpdateMessageError::AttributeFlagsError { value: Box::new([]) }))
            }
            Ok(
                PathAttributeType::Origin
                | PathAttributeType::AsPath
                | PathAttributeType::NextHop
                | PathAttributeType::MultiExitDiscriminator
                | PathAttributeType::Communities
                | PathAttributeType::LargeCommunities
                | PathAttributeType::ExtendedCommunities,
            ) => Verdict::Withdraw,
            Ok(PathAttributeType::LocalPreference) if peer.ibgp => Verdict::Withdraw,
            _ => Verdict::Discard,
        },
        // A length that does not match the attribute (4): its value cannot
        // be trusted, the routes can.
        E::Parse(_) => Verdict::Withdraw,
        _ => Verdict::Discard,
    }
}

fn update_error(error: UpdateMessageError) -> Notification {
    BgpNotificationMessage::UpdateMessageError(error)
}

fn origin_code(o: &Origin) -> u8 {
    match o {
        Origin::IGP => 0,
        Origin::EGP => 1,
        Origin::Incomplete => 2,
    }
}

/// RFC 6793 4.2.3: the path a 2-byte peer sent, its AS_TRANS placeholders
/// replaced by AS4_PATH's real numbers: the leading ASes of AS_PATH that
/// AS4_PATH does not cover, then AS4_PATH. An AS4_PATH longer than
/// AS_PATH is ignored.
fn merge_as4_path(as_path: (Vec<u32>, u32), as4_path: Option<(Vec<u32>, u32)>) -> (Vec<u32>, u32) {
    let Some((as4, as4_len)) = as4_path else { return as_path };
    let (asns, len) = as_path;
    if as4_len > len || as4.len() > asns.len() {
        return (asns, len);
    }
    let keep = asns.len() - as4.len();
    let mut merged = asns[..keep].to_vec();
    merged.extend(as4);
    (merged, len)
}

/// The AS_SEQUENCE numbers and the selection length (an AS_SET is one).
fn flatten(path: &AsPath) -> (Vec<u32>, u32) {
    use netgauze_bgp_pkt::path_attribute::AsPathSegmentType::{AsSequence, AsSet};
    let mut asns = Vec::new();
    let mut len = 0u32;
    let mut add = |kind, numbers: &mut dyn Iterator<Item = u32>| match kind {
        AsSequence => {
            let before = asns.len();
            asns.extend(numbers);
            len += (asns.len() - before) as u32;
        }
        AsSet => len += 1,
    };
    match path {
        AsPath::As2PathSegments(segs) => {
            for s in segs.iter() {
                add(s.segment_type(), &mut s.as_numbers().iter().map(|a| u32::from(*a)));
            }
        }
        AsPath::As4PathSegments(segs) => {
            for s in segs.iter() {
                add(s.segment_type(), &mut s.as_numbers().iter().copied());
            }
        }
    }
    (asns, len)
}

/// Host bits cleared: a peer may send them set, the kernel refuses them.
fn v4_prefix(net: ipnet::Ipv4Net) -> Prefix {
    Prefix::new(IpAddr::V4(net.network()), net.prefix_len()).expect("ipnet keeps the length within 32")
}

fn v6_prefix(net: ipnet::Ipv6Net) -> Prefix {
    Prefix::new(IpAddr::V6(net.network()), net.prefix_len()).expect("ipnet keeps the length within 128")
}

fn unicast_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_loopback()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast() || v6.is_loopback()),
    }
}

#[cfg(test)]
mod tests;
