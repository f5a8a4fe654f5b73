//! Route events: what the kernel monitor reads and the reconciler acts on.

use crate::route::{Addr, Gateway, RouteKey};
use tokio::time::Instant;

/// A route as the kernel reports it, reduced to what guardian compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelRoute {
    pub key: RouteKey,
    pub gateway: Option<Gateway>,
    pub oif: u32,
    pub prefsrc: Option<Addr>,
    pub protocol: u8,
    pub kind: u8,
    /// A source-specific (IPv6 "from") or multipath route: never one of ours.
    pub unusual: bool,
    /// 0 for a route the route model says everything about; otherwise its
    /// [`crate::route::raw::RawRoute::fingerprint`]. Worked out only for
    /// the routes of protocols a guard watches (`kernel::wire::raw::extra`).
    pub extra: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up: the kernel refuses routes over a link that is not.
    pub up: bool,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// Another process added a route (any protocol). `replace` is set when
    /// it replaced the route with that identity; without it, the route was
    /// added beside one with the same identity (append/prepend) or alone.
    RouteAdded {
        route: KernelRoute,
        replace: bool,
        requester: Requester,
        /// The route's exact copy, for a protocol a guard watches.
        raw: Option<std::sync::Arc<crate::route::raw::RawRoute>>,
    },
    /// A route with guardian's protocol, or one a guard watches, was deleted
    /// (also by guardian: a withdrawal that hit a route still tracked is a
    /// loss too).
    RouteDeleted {
        route: KernelRoute,
        requester: Requester,
    },
    LinkChanged(Link),
    LinkRemoved(Link),
    AddressAdded,
    AddressRemoved,
    /// The socket's buffer overflowed: events were lost, resync.
    Overrun,
    /// Guardian's own add or replace with this request sequence number has
    /// been applied (a run of them is one event, with the run's last number).
    /// A delete read before it happened before it in the kernel.
    OwnEcho {
        seq: u32,
    },
}

/// Who asked the kernel for a change, as its notification says: the
/// requesting socket's port id (0 for the kernel itself) and the request's
/// sequence number. Deleter attribution starts from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requester {
    pub port_id: u32,
    pub seq: u32,
}

/// Events of one wake-up.
#[derive(Debug)]
pub struct EventBatch {
    /// When the first event was read: the best known time of a loss.
    pub received: Instant,
    /// When the last event was read: every event happened before this.
    pub read_done: Instant,
    pub events: Vec<Event>,
}
