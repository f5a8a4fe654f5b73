//! The BGP neighbors' metrics (docs/bgp.md): per neighbor, its session's
//! state, what it sent, how many prefixes it has in each stage, and the
//! NOTIFICATIONs either side sent. One neighbor label per configured
//! neighbor: bounded by the configuration.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The session states, in RFC 4271's order: `guardian_bgp_session_state`
/// is 1 for the neighbor's current state and 0 for the others.
pub const STATES: [&str; 6] = ["idle", "connect", "active", "opensent", "openconfirm", "established"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NeighborLabels {
    pub neighbor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub neighbor: String,
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PrefixLabels {
    pub neighbor: String,
    /// `received`, `accepted`, `installed`, `stale`, `unresolvable`.
    pub stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub neighbor: String,
    /// `sent` or `received`.
    pub direction: &'static str,
    /// The error code in words (`hold_timer_expired`, `cease`...).
    pub code: &'static str,
}

pub struct BgpMetrics {
    pub session_state: Family<StateLabels, Gauge>,
    pub established: Family<NeighborLabels, Counter>,
    pub updates: Family<NeighborLabels, Counter>,
    pub prefixes: Family<PrefixLabels, Gauge>,
    pub notifications: Family<NotificationLabels, Counter>,
}

impl BgpMetrics {
    pub fn register(r: &mut Registry) -> BgpMetrics {
        let m = BgpMetrics {
            session_state: Family::default(),
            established: Family::default(),
            updates: Family::default(),
            prefixes: Family::default(),
            notifications: Family::default(),
        };
        r.register(
            "bgp_session_state",
            "1 for each BGP neighbor's current session state (idle ... established), 0 for the others",
            m.session_state.clone(),
        );
        r.register(
            "bgp_sessions_established",
            "Times each BGP neighbor's session reached Established",
            m.established.clone(),
        );
        r.register("bgp_updates_received", "UPDATE messages received, by neighbor", m.updates.clone());
        r.register(
            "bgp_prefixes",
            "Prefixes of each neighbor by stage: received, accepted (past the import filter), installed (best and in the kernel's desired set), stale (graceful restart), unresolvable (next hop not on a connected network)",
            m.prefixes.clone(),
        );
        r.register(
            "bgp_notifications",
            "NOTIFICATION messages by neighbor, direction (sent, received) and error code",
            m.notifications.clone(),
        );
        m
    }

    /// The neighbor's session is now in `state` (one of [`STATES`]).
    pub fn set_state(&self, neighbor: &str, state: &'static str) {
        for s in STATES {
            let labels = StateLabels { neighbor: neighbor.to_owned(), state: s };
            self.session_state.get_or_create(&labels).set(i64::from(s == state));
        }
    }

    pub fn set_prefixes(&self, neighbor: &str, stage: &'static str, n: u64) {
        let labels = PrefixLabels { neighbor: neighbor.to_owned(), stage };
        self.prefixes.get_or_create(&labels).set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A neighbor left the configuration: its series go.
    pub fn forget(&self, neighbor: &str) {
        for state in STATES {
            self.session_state.remove(&StateLabels { neighbor: neighbor.to_owned(), state });
        }
        for stage in ["received", "accepted", "installed", "stale", "unresolvable"] {
            self.prefixes.remove(&PrefixLabels { neighbor: neighbor.to_owned(), stage });
        }
        let labels = NeighborLabels { neighbor: neighbor.to_owned() };
        self.established.remove(&labels);
        self.updates.remove(&labels);
    }

    #[cfg(test)]
    pub(crate) fn touch_every_family(&self) {
        self.set_state("192.0.2.2", "established");
        let n = NeighborLabels { neighbor: "192.0.2.2".into() };
        let _ = self.established.get_or_create(&n);
        let _ = self.updates.get_or_create(&n);
        self.set_prefixes("192.0.2.2", "installed", 0);
        let labels = NotificationLabels { neighbor: "192.0.2.2".into(), direction: "sent", code: "cease" };
        let _ = self.notifications.get_or_create(&labels);
    }
}
