//! The liveness metrics (docs/liveness.md), registered beside the others
//! with the `guardian_` prefix. Per-peer series are opt-in (`per_peer_metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    pub from: &'static str,
    pub to: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    pub peer: String,
    pub local: String,
    pub interface: String,
}

/// A session's labels and one of [`PEER_STATES`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerStateLabels {
    pub peer: String,
    pub local: String,
    pub interface: String,
    pub state: &'static str,
}

/// The `state` label's values (the session states' labels), each a series
/// of `guardian_liveness_peer_state` per session.
pub const PEER_STATES: [&str; 4] = ["admin_down", "down", "init", "up"];

#[derive(Debug, Clone)]
pub struct LivenessMetrics {
    pub sessions: Family<StateLabels, Gauge>,
    pub transitions: Family<TransitionLabels, Counter>,
    pub packets_sent: Counter,
    pub packets_received: Counter,
    pub packets_invalid: Family<ReasonLabels, Counter>,
    pub unknown_peer: Counter,
    pub stale_discriminator: Counter,
    pub socket_errors: Family<OpLabels, Counter>,
    pub route_installs: Counter,
    pub route_withdraws: Counter,
    pub route_install_failures: Counter,
    pub route_uninstall_failures: Counter,
    pub convergence_up: Histogram,
    pub convergence_down: Histogram,
    pub receive_seconds: Histogram,
    pub queue_length: Gauge,
    pub queue_rejected: Counter,
    /// One series per session and state, 1 for the current state and 0 for
    /// the others (as node_exporter's systemd unit state): `== 1` selects
    /// sessions in a state, with no number to decode.
    pub peer_state: Family<PeerStateLabels, Gauge>,
    pub peer_detection_seconds: Family<PeerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl LivenessMetrics {
    pub fn register(registry: &mut Registry) -> LivenessMetrics {
        let m = LivenessMetrics {
            sessions: Family::default(),
            transitions: Family::default(),
            packets_sent: Counter::default(),
            packets_received: Counter::default(),
            packets_invalid: Family::default(),
            unknown_peer: Counter::default(),
            stale_discriminator: Counter::default(),
            socket_errors: Family::default(),
            route_installs: Counter::default(),
            route_withdraws: Counter::default(),
            route_install_failures: Counter::default(),
            route_uninstall_failures: Counter::default(),
            // 1 ms .. ~65 s: from a handshake on a fast link to a slow detection.
            convergence_up: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            convergence_down: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            // 1 us .. ~16 ms per received packet.
            receive_seconds: Histogram::new(exponential_buckets(0.000_001, 2.0, 15)),
            queue_length: Gauge::default(),
            queue_rejected: Counter::default(),
            peer_state: Family::default(),
            peer_detection_seconds: Family::default(),
        };
        let r = registry;
        r.register("liveness_sessions", "Liveness sessions by state", m.sessions.clone());
        r.register("liveness_transitions", "Session state changes by from, to and reason", m.transitions.clone());
        r.register("liveness_packets_sent", "Control packets sent", m.packets_sent.clone());
        r.register("liveness_packets_received", "Valid control packets received", m.packets_received.clone());
        r.register(
            "liveness_packets_invalid",
            "Control packets dropped, by reason (malformed, TTL, binding, discriminator)",
            m.packets_invalid.clone(),
        );
        r.register(
            "liveness_unknown_peer_packets",
            "Control packets from a peer, address or interface no session is configured for",
            m.unknown_peer.clone(),
        );
        r.register(
            "liveness_stale_discriminator_packets",
            "doublezero profile: packets from a session's own peer naming a discriminator of guardian's \
             previous run, accepted as naming none while the session is not Up",
            m.stale_discriminator.clone(),
        );
        r.register("liveness_socket_errors", "Liveness socket errors by operation", m.socket_errors.clone());
        r.register(
            "liveness_route_installs",
            "Routes installed because their session came Up",
            m.route_installs.clone(),
        );
        r.register(
            "liveness_route_withdraws",
            "Routes withdrawn because their session went down",
            m.route_withdraws.clone(),
        );
        r.register(
            "liveness_route_install_failures",
            "Installs on session Up the kernel refused (retried)",
            m.route_install_failures.clone(),
        );
        r.register(
            "liveness_route_uninstall_failures",
            "Withdrawals on session down the kernel refused",
            m.route_uninstall_failures.clone(),
        );
        r.register(
            "liveness_convergence_up_seconds",
            "From a session's creation or last down to Up",
            m.convergence_up.clone(),
        );
        r.register(
            "liveness_convergence_down_seconds",
            "From the last packet received to the session going down",
            m.convergence_down.clone(),
        );
        r.register(
            "liveness_receive_seconds",
            "Handling time of one received control packet",
            m.receive_seconds.clone(),
        );
        r.register("liveness_timer_queue_length", "Entries in the shared timer queue", m.queue_length.clone());
        r.register(
            "liveness_sessions_rejected",
            "Sessions not created because the timer queue was full (raise liveness.queue_bound)",
            m.queue_rejected.clone(),
        );
        r.register(
            "liveness_peer_state",
            "Per session (opt-in): 1 for the session's current state (admin_down, down, init, up), 0 for the others",
            m.peer_state.clone(),
        );
        r.register(
            "liveness_peer_detection_time_seconds",
            "Per session (opt-in): the current detection time",
            m.peer_detection_seconds.clone(),
        );
        m
    }

    /// Sets a session's state series: 1 for `current`, 0 for the other states.
    pub fn set_peer_state(&self, peer: &PeerLabels, current: &'static str) {
        for state in PEER_STATES {
            let value = i64::from(state == current);
            self.peer_state.get_or_create(&peer_state_labels(peer, state)).set(value);
        }
    }

    #[cfg(test)]
    pub(crate) fn touch_every_family(&self) {
        let _ = self.sessions.get_or_create(&StateLabels { state: "up" });
        let _ = self.transitions.get_or_create(&TransitionLabels { from: "down", to: "up", reason: "handshake" });
        let _ = self.packets_invalid.get_or_create(&ReasonLabels { reason: "ttl" });
        let _ = self.socket_errors.get_or_create(&OpLabels { op: "send" });
        let peer = PeerLabels { peer: "192.0.2.2".into(), local: "192.0.2.1".into(), interface: "eth0".into() };
        self.set_peer_state(&peer, "up");
        let _ = self.peer_detection_seconds.get_or_create(&peer);
    }

    /// Removes a session's per-peer series.
    pub fn remove_peer(&self, peer: &PeerLabels) {
        for state in PEER_STATES {
            self.peer_state.remove(&peer_state_labels(peer, state));
        }
        self.peer_detection_seconds.remove(peer);
    }
}

fn peer_state_labels(peer: &PeerLabels, state: &'static str) -> PeerStateLabels {
    PeerStateLabels { peer: peer.peer.clone(), local: peer.local.clone(), interface: peer.interface.clone(), state }
}
