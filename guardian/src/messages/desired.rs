//! Desired routes: what a source (the configuration file today; guard
//! selectors and BGP neighbors next) asks the reconciler to keep in the
//! kernel. A source never talks to the kernel: it sends [`SourceUpdate`]s,
//! and the reconciler treats every source alike (docs/architecture.md).

use crate::route::{DevNames, RouteKey, RouteSpec};
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
}

impl Source {
    /// The configuration file's `[[route]]`s.
    pub fn config() -> Source {
        Source { kind: SourceKind::Config, name: "config".to_owned(), owner: None }
    }
}

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
}

#[derive(Debug, Clone)]
pub enum Change {
    /// The source's whole set: what it wanted before and is not here is
    /// withdrawn (a configuration file re-read).
    Replace(DesiredRoutes),
    /// Routes added or changed, and routes no longer wanted (one BGP update).
    Update { add: DesiredRoutes, remove: Vec<RouteKey> },
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
