//! Desired routes: what a source (the configuration file, guard selectors,
//! BGP neighbors) asks the reconciler to keep in the
//! kernel. A source never talks to the kernel: it sends [`SourceUpdate`]s,
//! and the reconciler treats every source alike (docs/architecture.md).

use crate::route::raw::RawRoute;
use crate::route::{DevNames, Nexthop, RouteKey, RouteSpec};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The kinds of source, in order of precedence: when two sources want a
/// route with the same identity, the earlier kind holds it (an operator's
/// own file beats a guard, which beats a route learned over BGP); between
/// two sources of one kind, the one that asked first keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Config,
    Guard,
    Bgp,
}

/// Who wants a route: a name shown in `guardian routes` and logs (unique
/// among the daemon's sources), and for guarded routes the owner, the
/// daemon that installs them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub kind: SourceKind,
    pub name: String,
    pub owner: Option<String>,
    /// Set for a guard: its routes belong to another daemon.
    pub guard: Option<GuardTerms>,
}

/// How the reconciler treats the routes of a guard (another daemon's
/// routes, kept in place): they carry the owner's protocol, they are taken
/// as the kernel has them (never installed on arrival, never deleted on
/// leaving), and a loss is not repaired until the guard says a stranger
/// caused it ([`Change::Restore`]), except one the kernel caused, which is
/// put back `kernel_cause_grace` after its link or address returns, unless
/// the owner did it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GuardTerms {
    pub protocol: u8,
    /// Audit: nothing is ever put back, not even after the kernel's doing.
    pub audit: bool,
    pub kernel_cause_grace: Duration,
}

impl Source {
    /// The configuration file's `[[route]]`s.
    pub fn config() -> Source {
        Source { kind: SourceKind::Config, name: "config".to_owned(), owner: None, guard: None }
    }

    /// The `[[guard]]` named `name`: its source is `guard:<name>`, apart
    /// from any other source's name.
    pub fn guard(name: &str, owner: String, terms: GuardTerms) -> Source {
        Source {
            kind: SourceKind::Guard,
            name: format!("{GUARD_PREFIX}{name}"),
            owner: Some(owner),
            guard: Some(terms),
        }
    }

    /// The guard's own name (`bird` for the source `guard:bird`).
    pub fn guard_name(&self) -> &str {
        self.name.strip_prefix(GUARD_PREFIX).unwrap_or(&self.name)
    }
}

const GUARD_PREFIX: &str = "guard:";

/// One route a source wants, and whether a liveness session decides when
/// it is in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesiredRoute {
    pub spec: RouteSpec,
    pub gated: bool,
}

/// Routes with the device names their [`crate::route::DevId`]s refer to.
#[derive(Debug, Clone, Default)]
pub struct DesiredRoutes {
    pub routes: Vec<DesiredRoute>,
    pub devs: DevNames,
    /// Exact copies of the routes the route model cannot express (a guard's
    /// multipath route, say), by identity: these are compared and put back
    /// as copied.
    pub raw: HashMap<RouteKey, Arc<RawRoute>>,
    /// The next hops of guardian's own multipath routes, by identity (their
    /// device ids refer to `devs`). The reconciler builds each route's exact
    /// copy from them with the devices' current interface indexes, and
    /// compares and installs it like a guarded route's copy.
    pub multipath: HashMap<RouteKey, Arc<[Nexthop]>>,
    /// The multipath routes whose legs each follow a liveness session of
    /// their own (`liveness = "nexthop"`): a leg is in the route only while
    /// its session is Up ([`super::GateKey::leg`]).
    pub legs_gated: HashSet<RouteKey>,
}

#[derive(Debug, Clone)]
pub enum Change {
    /// The source's whole set: what it wanted before and is not here is
    /// withdrawn (a configuration file re-read).
    Replace(DesiredRoutes),
    /// Routes added or changed, and routes no longer wanted (one BGP update).
    Update { add: DesiredRoutes, remove: Vec<RouteKey> },
    /// Lost routes of a guard to put back: a stranger took them (see
    /// [`OwnedLoss`]). Routes no longer lost are left alone.
    Restore(Vec<RouteKey>),
    /// BGP's start-up is over (every neighbor sent End-of-RIB, or the wait
    /// ran out): routes of guardian's protocol that no source wants may now
    /// be withdrawn, and BGP routes still waiting are installed. Until
    /// then a restarting guardian leaves the routes it finds alone, so that
    /// those its neighbors announce again are adopted untouched.
    Settled,
}

/// What the reconciler tells the guards.
#[derive(Debug, Clone)]
pub enum GuardNotice {
    /// A guarded route went missing or was replaced.
    Lost(OwnedLoss),
    /// A route of a protocol a guard watches appeared where nothing is
    /// tracked: the owner's new route, when a guard selects it.
    Appeared { route: super::KernelRoute, raw: Arc<RawRoute>, requester: super::Requester },
}

/// A route of a guard went missing or was replaced. The reconciler does
/// not repair it on its own: the guard finds out who did it and answers
/// with a [`Change::Restore`] (a stranger), a removal or an update (the
/// owner), or nothing (audit).
#[derive(Debug, Clone)]
pub struct OwnedLoss {
    /// The guard's name (`[[guard]] name`).
    pub guard: String,
    pub key: RouteKey,
    /// The route as `ip route` would print it.
    pub route: String,
    pub cause: super::Cause,
    pub noticed: super::Noticed,
    /// The request behind the loss, when a notification named one.
    pub requester: Option<super::Requester>,
    pub link_index: Option<u32>,
    /// For a replacement: the route now in the kernel, when it is one of
    /// the guard's protocol (the owner's update, or a stranger's).
    pub replacement: Option<(super::KernelRoute, Arc<RawRoute>)>,
    pub lost_at: std::time::Instant,
}

/// A source's message to the reconciler; `done` (when set) gets the count
/// of what changed once the kernel operations it caused are carried out.
#[derive(Debug)]
pub struct SourceUpdate {
    pub source: Source,
    pub change: Change,
    pub done: Option<oneshot::Sender<SourceReport>>,
}

/// What one [`SourceUpdate`] changed in the tracked set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceReport {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Routes another source of higher precedence holds: kept aside, and
    /// taken up if that source lets go of them.
    pub shadowed: usize,
}
