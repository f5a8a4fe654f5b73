//! Prometheus metrics (`guardian_*`), updated by their owners and encoded on
//! each scrape.

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
}

pub struct Metrics {
    registry: Registry,
    pub routes_tracked: MetricFamily<FamilyLabels, Gauge>,
    pub routes_desired: MetricFamily<FamilyLabels, Gauge>,
    pub reinstalls: MetricFamily<RepairLabels, Counter>,
    pub reinstall_failures: MetricFamily<RepairLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub reconcile_checked: Gauge,
    pub netlink_overruns: Counter,
    pub routes_damped: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("guardian");
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
        let reinstall_failures = MetricFamily::<RepairLabels, Counter>::default();
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
        registry.register("build", "guardian's version", Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]));
        Metrics {
            registry,
            routes_tracked,
            routes_desired,
            reinstalls,
            reinstall_failures,
            reconcile_duration,
            reconcile_checked,
            netlink_overruns,
            routes_damped,
        }
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
