//! Liveness verdicts: which routes may be in the kernel.

use crate::route::RouteKey;

/// What a verdict is about: a route, or one leg (next hop) of a multipath
/// route whose legs each follow a session of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GateKey {
    pub route: RouteKey,
    /// The leg's index in the route's `nexthops`; `None`: the whole route.
    pub leg: Option<u8>,
}

impl From<RouteKey> for GateKey {
    fn from(route: RouteKey) -> GateKey {
        GateKey { route, leg: None }
    }
}

/// A liveness verdict for some routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub keys: Vec<GateKey>,
    pub open: bool,
}
