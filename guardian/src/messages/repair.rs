//! Repairs and their causes: what the reconciler hands the attribution task,
//! and who the attribution task found behind each (what damping needs to
//! tell a fight from bad luck).

use super::events::Requester;
use crate::route::{Family, RouteKey};
use std::time::Duration;

/// How a loss was noticed (the `noticed` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noticed {
    Event,
    Scan,
}

impl Noticed {
    pub fn label(self) -> &'static str {
        match self {
            Noticed::Event => "event",
            Noticed::Scan => "scan",
        }
    }
}

/// What happened to a lost route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Deleted (by a request, or found missing by a scan).
    Deleted,
    /// Replaced by a route with other attributes.
    Replaced,
    /// Flushed because its link went down or away.
    LinkDown { dev: String },
}

impl Cause {
    pub fn label(&self) -> &'static str {
        match self {
            Cause::Deleted => "deleted",
            Cause::Replaced => "replaced",
            Cause::LinkDown { .. } => "link_down",
        }
    }

    /// The link whose going down flushed the route.
    pub fn link(&self) -> Option<&str> {
        match self {
            Cause::LinkDown { dev } => Some(dev),
            _ => None,
        }
    }
}

/// A lost route that guardian put back, for the task that says who took it.
#[derive(Debug, Clone)]
pub struct Repaired {
    /// The route as `ip route` would print it.
    pub route: String,
    pub key: RouteKey,
    /// For a route flushed with its link: that link's interface index.
    pub link_index: Option<u32>,
    pub family: Family,
    pub noticed: Noticed,
    pub missing_for: Duration,
    pub cause: Cause,
    /// The request behind the loss, when a notification named one.
    pub requester: Option<Requester>,
    /// When the loss was noticed.
    pub lost_at: std::time::Instant,
    /// For a guarded route: the guard, and the owner whose route it is.
    pub guard: Option<GuardTag>,
}

/// Who deleted a route, as far as fights go: a pid changes with every run
/// of a script's `ip`, so it is no identity; a name alone would merge
/// unrelated tools. Name, user and cgroup (a systemd unit) together name
/// one deleter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeleterId {
    /// The task name (at most 15 bytes; any process can choose its own).
    pub comm: String,
    pub uid: u32,
    /// The cgroup v2 path, when known.
    pub cgroup: Option<String>,
}

/// Attribution -> reconciler, after a repair was attributed: who caused the
/// loss noticed at `lost_at` (the [`Repaired::lost_at`] it answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub key: RouteKey,
    pub lost_at: std::time::Instant,
    /// `None` when no process is known: the kernel did it, the deleter was
    /// gone before it could be named, or attribution is off. Such losses
    /// never make a fight.
    pub deleter: Option<DeleterId>,
    /// The deleter's bounded metric label (`ip`, `other`, ...).
    pub label: String,
}

/// Which guard a repaired route belongs to, for the reinstall line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardTag {
    pub guard: String,
    pub owner: String,
}

#[cfg(test)]
impl Repaired {
    /// A repair of 10.9.0.0/24 in the main table, for tests of what reports it.
    pub fn example(route: &str, cause: Cause, missing_for: Duration, lost_at: std::time::Instant) -> Repaired {
        let dst: std::net::IpAddr = "10.9.0.0".parse().unwrap();
        Repaired {
            route: route.into(),
            key: RouteKey {
                family: Family::V4,
                table: crate::route::MAIN_TABLE,
                dst: crate::route::Addr::from_ip(&dst),
                dst_len: 24,
                tos: 0,
                metric: 0,
            },
            link_index: None,
            family: Family::V4,
            noticed: Noticed::Event,
            missing_for,
            cause,
            requester: None,
            lost_at,
            guard: None,
        }
    }
}
