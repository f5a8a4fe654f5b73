//! The peer's OPEN checked against the neighbor's configuration (RFC 4271
//! 6.2, RFC 6793 for 4-byte ASes, RFC 6286 for the identifier) and the
//! capabilities both sides advertised turned into what the session runs
//! with. Nothing here reads a clock or a socket.

use super::message::{address_type, Notification, AS_TRANS};
use crate::route::Family;
use netgauze_bgp_pkt::capabilities::BgpCapability;
use netgauze_bgp_pkt::notification::{BgpNotificationMessage, OpenMessageError};
use netgauze_bgp_pkt::open::BgpOpenMessage;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Our side of the session, from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub remote_as: u32,
    /// What we propose, in seconds: 0 or at least 3.
    pub hold_time: u16,
    /// The families we advertise (MP-BGP).
    pub families: Vec<Family>,
    /// We advertise graceful restart and act as helper.
    pub graceful_restart: bool,
    pub restart_time_max: Duration,
}

impl Local {
    /// An eBGP session (AS 65001 to 65002, both families, graceful restart)
    /// as the tests and the fuzz target use it.
    pub fn example() -> Local {
        Local {
            local_as: 65001,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            remote_as: 65002,
            hold_time: 90,
            families: vec![Family::V4, Family::V6],
            graceful_restart: true,
            restart_time_max: Duration::from_secs(120),
        }
    }

    pub fn ibgp(&self) -> bool {
        self.local_as == self.remote_as
    }
}

/// What the peer advertised for graceful restart (RFC 4724 3), once both
/// sides did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRestart {
    /// The R bit: the peer has just restarted.
    pub restarting: bool,
    /// Its Restart Time, capped by `restart_time_max`.
    pub restart_time: Duration,
    /// Families the peer keeps forwarding state for across a restart, with
    /// the F bit of this OPEN: a family whose bit is clear after a restart
    /// has lost its routes, so the stale ones go at once.
    pub families: Vec<(Family, bool)>,
}

/// The session's parameters once both OPENs are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_as: u32,
    pub peer_id: Ipv4Addr,
    /// The smaller of both proposals; zero: no keepalives, no hold timer.
    pub hold_time: Duration,
    /// A third of the hold time (RFC 4271 10); zero with it.
    pub keepalive: Duration,
    /// Families both advertised; IPv4 unicast alone when the peer sent no
    /// MP capability at all (RFC 4760 8).
    pub families: Vec<Family>,
    pub asn4: bool,
    pub route_refresh: bool,
    /// `Some` when both advertised graceful restart.
    pub graceful_restart: Option<PeerRestart>,
}

fn open_error(error: OpenMessageError) -> Notification {
    BgpNotificationMessage::OpenMessageError(error)
}

/// Checks the peer's OPEN and negotiates; `Err` is the NOTIFICATION to send.
pub fn negotiate(open: &BgpOpenMessage, local: &Local) -> Result<Negotiated, Notification> {
    let caps = open.capabilities();
    let asn4 = caps.iter().find_map(|c| match c {
        BgpCapability::FourOctetAs(a) => Some(a.asn4()),
        _ => None,
    });
    // RFC 6793 4.2: a 4-byte speaker's AS is in the capability; its My
    // Autonomous System is AS_TRANS when the AS does not fit.
    let peer_as = asn4.unwrap_or(u32::from(open.my_as()));
    let two_byte_ok = match asn4 {
        Some(a) => u32::from(open.my_as()) == a || open.my_as() == AS_TRANS,
        None => open.my_as() != AS_TRANS,
    };
    if peer_as != local.remote_as || !two_byte_ok {
        return Err(open_error(OpenMessageError::BadPeerAs { value: Box::new([]) }));
    }
    let peer_id = open.bgp_id();
    // RFC 6286 2.2: zero is never an identifier; ours is refused from an
    // internal peer only, since identifiers are unique within an AS.
    if peer_id.is_unspecified() || (local.ibgp() && peer_id == local.router_id) {
        return Err(open_error(OpenMessageError::BadBgpIdentifier { value: Box::new([]) }));
    }
    let theirs = open.hold_time();
    if theirs == 1 || theirs == 2 {
        return Err(open_error(OpenMessageError::UnacceptableHoldTime { value: Box::new([]) }));
    }
    let hold = theirs.min(local.hold_time);
    let hold_time = Duration::from_secs(u64::from(hold));

    let mut advertised: Vec<Family> = Vec::new();
    let mut any_mp = false;
    for cap in &caps {
        if let BgpCapability::MultiProtocolExtensions(mp) = cap {
            any_mp = true;
            for family in [Family::V4, Family::V6] {
                if mp.address_type() == address_type(family) && !advertised.contains(&family) {
                    advertised.push(family);
                }
            }
        }
    }
    if !any_mp {
        advertised.push(Family::V4);
    }
    let families: Vec<Family> = local.families.iter().copied().filter(|f| advertised.contains(f)).collect();

    let route_refresh =
        caps.iter().any(|c| matches!(c, BgpCapability::RouteRefresh | BgpCapability::EnhancedRouteRefresh));
    let graceful_restart = if local.graceful_restart {
        caps.iter().find_map(|c| match c {
            BgpCapability::GracefulRestartCapability(gr) => Some(PeerRestart {
                restarting: gr.restart(),
                restart_time: Duration::from_secs(u64::from(gr.time())).min(local.restart_time_max),
                families: gr
                    .address_families()
                    .iter()
                    .filter_map(|af| {
                        let family =
                            [Family::V4, Family::V6].into_iter().find(|f| address_type(*f) == af.address_type())?;
                        Some((family, af.forwarding_state()))
                    })
                    .collect(),
            }),
            _ => None,
        })
    } else {
        None
    };
    Ok(Negotiated {
        peer_as,
        peer_id,
        hold_time,
        keepalive: hold_time / 3,
        families,
        asn4: asn4.is_some(),
        route_refresh,
        graceful_restart,
    })
}

#[cfg(test)]
mod tests;
