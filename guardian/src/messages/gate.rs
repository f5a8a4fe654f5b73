//! Liveness verdicts: which routes may be in the kernel.

use crate::route::RouteKey;

/// A liveness verdict for some routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub keys: Vec<RouteKey>,
    pub open: bool,
}
