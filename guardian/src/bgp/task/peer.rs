//! One configured neighbor as the BGP task keeps it: its session, its
//! connection, its graceful restart state and its counts.

use super::io::{ConnId, Connection};
use crate::bgp::handle::NeighborView;
use crate::bgp::open::{Negotiated, PeerRestart};
use crate::bgp::rib::{self, LinkLocal, NeighborId, Origin, Path};
use crate::bgp::session::{Session, SessionConfig, State};
use crate::bgp::update::{PathAttrs, Reach};
use crate::config::{BgpConfig, NeighborConfig, NeighborLiveness};
use crate::route::Family;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;
use tokio::task::JoinHandle;

pub struct Peer {
    pub config: NeighborConfig,
    /// The address as logs and metrics name it (`fe80::1%eth0` for a link-local one).
    pub name: String,
    pub rib_id: NeighborId,
    pub session: Session,
    pub conn: Option<Connection>,
    /// A connect under way: its id and task.
    pub connecting: Option<(ConnId, JoinHandle<()>)>,
    pub established_at: Option<Instant>,
    /// What the last Established session agreed, kept after it ends: the
    /// graceful restart capability decides what is kept as stale.
    pub last_negotiated: Option<Negotiated>,
    /// Families kept as stale (graceful restart), each with the time it is
    /// swept if no End-of-RIB came first.
    pub stale: Vec<(Family, Instant)>,
    /// End-of-RIB still expected for the start-up adoption (families of
    /// the first session since guardian started); `None`: not yet known.
    pub adoption_pending: Option<Vec<Family>>,
    pub adopted: bool,
    pub updates: u64,
    /// The state the metrics last showed; `None` before the first.
    pub state_label: Option<&'static str>,
}

impl Peer {
    pub fn new(bgp: &BgpConfig, config: NeighborConfig, rib_id: NeighborId) -> Peer {
        let name = match &config.interface {
            Some(dev) if is_link_local(config.address) => format!("{}%{dev}", config.address),
            _ => config.address.to_string(),
        };
        Peer {
            name,
            rib_id,
            session: Session::new(SessionConfig::new(bgp, &config)),
            conn: None,
            connecting: None,
            established_at: None,
            last_negotiated: None,
            stale: Vec::new(),
            adoption_pending: None,
            adopted: false,
            updates: 0,
            state_label: None,
            config,
        }
    }

    /// The RIB's part of the neighbor's settings.
    pub fn rib_config(config: &NeighborConfig) -> rib::NeighborConfig {
        rib::NeighborConfig {
            address: config.address,
            install: config.install,
            liveness_nexthop: config.liveness == NeighborLiveness::Nexthop,
            import: rib::PrefixFilter::from_config(&config.import),
            max_prefixes: config.max_prefixes,
        }
    }

    /// Whether `other` can replace this neighbor's settings without a new
    /// session: only the RIB's part (filter, install, liveness, limits) changed.
    pub fn same_session(&self, bgp: &BgpConfig, other: &NeighborConfig) -> bool {
        let (a, b) = (&self.config, other);
        SessionConfig::new(bgp, a) == SessionConfig::new(bgp, b) && a.interface == b.interface && a.md5_key == b.md5_key
    }

    /// The path an UPDATE's attributes give `reach`'s prefixes. `interface`:
    /// where a link-local next hop is (the neighbor's).
    pub fn path(
        &self,
        neg: &Negotiated,
        attrs: &PathAttrs,
        reach: &Reach,
        local_as: u32,
        interface: Option<&str>,
    ) -> Path {
        let link_local = reach
            .next_hop_local
            .or(match reach.next_hop {
                IpAddr::V6(v6) if is_link_local(IpAddr::V6(v6)) => Some(v6),
                _ => None,
            })
            .and_then(|addr: Ipv6Addr| interface.map(|i| LinkLocal { addr, interface: i.to_owned() }));
        Path {
            neighbor: self.rib_id,
            peer_addr: self.config.address,
            peer_router_id: neg.peer_id,
            peer_as: neg.peer_as,
            ebgp: neg.peer_as != local_as,
            next_hop: reach.next_hop,
            link_local,
            local_pref: attrs.local_pref,
            as_path_len: attrs.as_path_len,
            neighbor_as: attrs.neighbor_as().unwrap_or(local_as),
            origin: match attrs.origin {
                0 => Origin::Igp,
                1 => Origin::Egp,
                _ => Origin::Incomplete,
            },
            med: attrs.med,
        }
    }

    /// The peer's graceful restart capability from the last session.
    pub fn restart(&self) -> Option<&PeerRestart> {
        self.last_negotiated.as_ref().and_then(|n| n.graceful_restart.as_ref())
    }

    pub fn view(&self, counters: rib::NeighborCounters, now: Instant) -> NeighborView {
        let idle_for = match self.session.state() {
            State::Idle => self.session.next_deadline().map(|d| d.saturating_duration_since(now).as_secs()),
            _ => None,
        };
        NeighborView {
            address: self.config.address,
            interface: self.config.interface.clone(),
            remote_as: self.config.remote_as,
            passive: self.config.passive,
            state: self.session.state().label().to_owned(),
            uptime_seconds: self.established_at.map(|t| now.saturating_duration_since(t).as_secs()),
            peer_id: self.last_negotiated.as_ref().map(|n| n.peer_id),
            last_error: self.session.last_error().map(ToString::to_string),
            idle_for_seconds: idle_for,
            graceful_restart: !self.stale.is_empty(),
            liveness: self.config.liveness == NeighborLiveness::Nexthop,
            install: self.config.install,
            prefixes_received: counters.received,
            prefixes_accepted: u64::from(counters.accepted),
            prefixes_filtered: counters.filtered,
            prefixes_installed: u64::from(counters.installed),
            prefixes_stale: u64::from(counters.stale),
            prefixes_unresolvable: u64::from(counters.unresolvable),
            updates_received: self.updates,
        }
    }
}

pub fn is_link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}
