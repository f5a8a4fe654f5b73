//! The guards' metrics (docs/guard.md): per guard, how many routes it
//! holds and what it decided about each deletion, by bounded deleter label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardLabels {
    pub guard: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    pub guard: String,
    /// `repaired`, `would_repair` (audit), `owner`, `kernel`, `accepted`.
    pub verdict: &'static str,
    /// Bounded like `guardian_route_reinstalls_total`'s.
    pub deleter: String,
}

pub struct GuardMetrics {
    pub routes: Family<GuardLabels, Gauge>,
    pub verdicts: Family<VerdictLabels, Counter>,
}

impl GuardMetrics {
    pub fn register(r: &mut Registry) -> GuardMetrics {
        let m = GuardMetrics { routes: Family::default(), verdicts: Family::default() };
        r.register("guarded_routes", "Routes of other daemons a guard holds, by guard", m.routes.clone());
        r.register(
            "guard_verdicts",
            "Deletions and replacements of guarded routes, by guard, what guardian decided and who did it",
            m.verdicts.clone(),
        );
        m
    }

    #[cfg(test)]
    pub(crate) fn touch_every_family(&self) {
        let _ = self.routes.get_or_create(&GuardLabels { guard: "bird".into() });
        let labels = VerdictLabels { guard: "bird".into(), verdict: "repaired", deleter: "ip".into() };
        let _ = self.verdicts.get_or_create(&labels);
    }
}
