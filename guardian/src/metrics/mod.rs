//! Prometheus metrics (`guardian_*`, and the usual `process_*`), updated by
//! their owners and encoded on each scrape.

pub mod bgp;
pub mod guard;
pub mod liveness;
pub mod process;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FamilyLabels {
    pub family: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RepairLabels {
    pub family: &'static str,
    /// `event` or `scan`: how the loss was noticed.
    pub noticed: &'static str,
    /// Bounded: `kernel`, `unknown`, `other` or an allow-listed process name.
    pub deleter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FightLabels {
    /// Bounded, as [`RepairLabels::deleter`].
    pub deleter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub family: &'static str,
    pub noticed: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabels {
    /// `ebpf`, `netlink-portid` or `none`.
    pub mode: &'static str,
}

pub struct Metrics {
    /// The root: `process_*` here, guardian's own in a `guardian` sub-registry.
    registry: Registry,
    pub routes_tracked: MetricFamily<FamilyLabels, Gauge>,
    pub routes_desired: MetricFamily<FamilyLabels, Gauge>,
    pub reinstalls: MetricFamily<RepairLabels, Counter>,
    pub reinstall_failures: MetricFamily<FailureLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub reconcile_checked: Gauge,
    pub netlink_overruns: Counter,
    pub routes_damped: Gauge,
    pub route_fights: MetricFamily<FightLabels, Counter>,
    pub attribution_mode: MetricFamily<ModeLabels, Gauge>,
    /// Counts up with the eBPF program's own drop counter (read every 5 s).
    pub attribution_drops: Counter,
    pub attribution_records: Counter,
    pub liveness: liveness::LivenessMetrics,
    pub guard: guard::GuardMetrics,
    pub bgp: bgp::BgpMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut root = Registry::default();
        root.register_collector(Box::new(process::ProcessCollector));
        let registry = root.sub_registry_with_prefix("guardian");
        let routes_tracked = MetricFamily::<FamilyLabels, Gauge>::default();
        registry.register(
            "routes_tracked",
            "Routes guardian has installed and keeps in the kernel",
            routes_tracked.clone(),
        );
        let routes_desired = MetricFamily::<FamilyLabels, Gauge>::default();
        registry.register("routes_desired", "Routes in the configuration", routes_desired.clone());
        let reinstalls = MetricFamily::<RepairLabels, Counter>::default();
        registry.register(
            "route_reinstalls",
            "Routes put back after something removed or changed them",
            reinstalls.clone(),
        );
        let reinstall_failures = MetricFamily::<FailureLabels, Counter>::default();
        registry.register(
            "route_reinstall_failures",
            "Repairs the kernel refused (retried later)",
            reinstall_failures.clone(),
        );
        // 100 us .. ~100 s: a scan of a thousand routes to one of millions.
        let reconcile_duration = Histogram::new(exponential_buckets(0.0001, 2.0, 21));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile cycle (dump, compare, repair)",
            reconcile_duration.clone(),
        );
        let reconcile_checked = Gauge::default();
        registry.register(
            "reconcile_routes_checked",
            "Routes checked by the last reconcile cycle",
            reconcile_checked.clone(),
        );
        let netlink_overruns = Counter::default();
        registry.register(
            "netlink_overruns",
            "Times the kernel dropped route notifications (each causes a full resync)",
            netlink_overruns.clone(),
        );
        let routes_damped = Gauge::default();
        registry.register("routes_damped", "Routes whose repairs are backing off", routes_damped.clone());
        let route_fights = MetricFamily::<FightLabels, Counter>::default();
        registry.register(
            "route_fights",
            "Fights begun: one deleter taking a route again each time guardian put it back",
            route_fights.clone(),
        );
        registry.register(
            "build",
            "guardian's version and the git revision it was built from",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION")), ("revision", crate::GIT_REVISION)]),
        );
        let attribution_mode = MetricFamily::<ModeLabels, Gauge>::default();
        registry.register(
            "attribution_mode",
            "How deleters are found: 1 for the active mode (ebpf, netlink-portid, none)",
            attribution_mode.clone(),
        );
        let attribution_drops = Counter::default();
        registry.register(
            "attribution_drops",
            "Records the eBPF program could not queue because its ring buffer was full",
            attribution_drops.clone(),
        );
        let attribution_records = Counter::default();
        registry.register("attribution_records", "Records read from the eBPF program", attribution_records.clone());
        let liveness = liveness::LivenessMetrics::register(registry);
        let guard = guard::GuardMetrics::register(registry);
        let bgp = bgp::BgpMetrics::register(registry);
        Metrics {
            registry: root,
            liveness,
            guard,
            bgp,
            routes_tracked,
            routes_desired,
            reinstalls,
            reinstall_failures,
            reconcile_duration,
            reconcile_checked,
            netlink_overruns,
            routes_damped,
            route_fights,
            attribution_mode,
            attribution_drops,
            attribution_records,
        }
    }

    /// Gives every labelled family one series, so that an encoding
    /// describes them all (an empty family is left out of a scrape): the
    /// rules, dashboard and README checks read the names off it.
    #[cfg(test)]
    pub(crate) fn touch_every_family(&self) {
        let family = FamilyLabels { family: "ipv4" };
        let _ = self.routes_tracked.get_or_create(&family);
        let _ = self.routes_desired.get_or_create(&family);
        let _ = self.reinstalls.get_or_create(&RepairLabels { family: "ipv4", noticed: "event", deleter: "ip".into() });
        let _ = self.reinstall_failures.get_or_create(&FailureLabels { family: "ipv4", noticed: "event" });
        let _ = self.attribution_mode.get_or_create(&ModeLabels { mode: "ebpf" });
        let _ = self.route_fights.get_or_create(&FightLabels { deleter: "ip".into() });
        self.liveness.touch_every_family();
        self.guard.touch_every_family();
        self.bgp.touch_every_family();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
