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
    /// How deleters are attributed: `ebpf (hook=fentry netns=cookie
    /// memlock=cgroup)`, `netlink-portid` or `none`.
    #[serde(default)]
    pub attribution: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteCounts {
    pub desired: usize,
    pub installed: usize,
    pub pending: usize,
    pub failed: usize,
    pub damped: usize,
    /// Kept out of the kernel because their liveness session is not Up.
    #[serde(default)]
    pub withdrawn: usize,
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
    /// Where the route comes from: `config` (the configuration file), and
    /// next a guard or a BGP neighbor.
    #[serde(default)]
    pub source: String,
    /// For a guarded route: the daemon that owns it.
    #[serde(default)]
    pub owner: Option<String>,
    /// `own` (guardian installs it: the file, BGP) or `guarded` (another
    /// daemon's, kept in place by a `[[guard]]`).
    #[serde(default)]
    pub kind: String,
    /// For a guarded route: the `[[guard]]` that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// Kept as an exact copy of the kernel's route (several next hops,
    /// metrics...): `via` and `dev` say nothing then, `ip -d route` all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact_copy: bool,
    /// An own multipath route's legs (`via`, `dev` empty then); with
    /// per-leg liveness, `up` says whether the leg is in the route now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<NexthopInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NexthopInfo {
    pub via: String,
    pub dev: String,
    pub weight: u16,
    pub up: bool,
}

/// One liveness session, as `guardian sessions` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionInfo {
    pub profile: String,
    pub peer: String,
    pub local: String,
    pub interface: String,
    pub state: String,
    /// Seconds the session has been Up (`None` when it is not Up).
    pub uptime_seconds: Option<f64>,
    /// Seconds in the current state.
    pub state_seconds: f64,
    pub last_down_reason: Option<String>,
    pub detect_time_seconds: f64,
    pub tx_interval_seconds: f64,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    pub remote_state: String,
    /// "active" or "passive" (doublezero peers say; bfd peers are active).
    pub peer_mode: String,
    /// The peer's software version (doublezero), e.g. "0.6.2 stable".
    pub peer_version: Option<String>,
    /// Routes that follow this session.
    pub routes: usize,
    /// Still within its start-up grace (its routes are not withdrawn yet).
    pub in_grace: bool,
}

/// The answer to an admin-down / admin-up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminReport {
    pub peer: String,
    pub sessions: usize,
}

/// The answer to `POST /v1/bgp/reset[/NEIGHBOR]`: the neighbor asked for
/// (none: all of them) and how many sessions were closed to start again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BgpResetReport {
    pub neighbor: Option<std::net::IpAddr>,
    pub neighbors: usize,
}

/// An error answer of the control API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// The answer to `POST /v1/reload`: the file's routes compared with the
/// ones the daemon kept before, once the changes are in the kernel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// The file re-read.
    pub config: String,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Routes another source of higher precedence holds.
    pub shadowed: usize,
}
