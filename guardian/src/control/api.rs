//! The JSON documents of the control API, shared by the daemon and the CLI.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: f64,
    /// The initial sync is done: configured routes are installed or adopted.
    pub ready: bool,
    pub config: String,
    pub routes: RouteCounts,
    pub reinstalls: u64,
    pub overruns: u64,
    pub last_reconcile: Option<CycleReport>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteCounts {
    pub desired: usize,
    pub installed: usize,
    pub pending: usize,
    pub failed: usize,
    pub damped: usize,
}

/// The outcome of one reconcile cycle.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct CycleReport {
    /// Tracked routes compared with the kernel.
    pub checked: usize,
    /// Routes found missing or changed.
    pub missing: usize,
    pub repaired: usize,
    pub failed: usize,
    /// The whole cycle: kernel dump, comparison and repairs.
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RouteInfo {
    pub dst: String,
    pub via: Option<String>,
    pub dev: Option<String>,
    pub table: u32,
    pub src: Option<String>,
    pub metric: u32,
    pub family: String,
    pub state: String,
    pub reinstalls: u32,
    pub last_error: Option<String>,
}

/// An error answer of the control API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}
