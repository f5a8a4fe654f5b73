//! The reconciler: keeps the kernel equal to the tracked set (docs/reconcile.md).
//!
//! - `core/`: every decision, sans I/O: given the tracked set, an input
//!   (events, a scan's dump, a liveness gate, a command, the outcome of an
//!   install) and the time, it returns the kernel operations to perform and
//!   the repairs to report;
//! - `task.rs`: the thin task around it: channels, the netlink writer, timers;
//! - `table.rs` (the tracked set), `damping.rs`, `decide.rs` (is this kernel
//!   route ours?): pure helpers of the core.
//!
//! A route enters the set before it is installed and leaves it before it is
//! deleted, in the core, so a repair can never resurrect a withdrawn route.

mod core;
pub mod damping;
mod decide;
pub mod table;
mod task;

pub use self::core::Trigger;
pub use task::Reconciler;

use crate::config::{Config, DaemonConfig, ReconcileConfig};
use crate::messages::api::{CycleReport, RouteInfo};
use crate::messages::Repaired;
use crate::metrics::Metrics;
use tokio::sync::oneshot;

/// Requests from the control API and the daemon. Routes come another way:
/// from sources, as [`crate::messages::SourceUpdate`]s.
pub enum Command {
    Routes(oneshot::Sender<Vec<RouteInfo>>),
    Reconcile(oneshot::Sender<CycleReport>),
    /// Re-read settings (SIGHUP), applied before the configuration's routes.
    Configure(Box<Settings>, oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// What the reconciler takes from the configuration besides routes.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the configuration came from, as `guardian status` shows it.
    pub origin: String,
    pub daemon: DaemonConfig,
    pub reconcile: ReconcileConfig,
}

impl Settings {
    pub fn of(config: &Config) -> Settings {
        Settings { origin: config.origin.clone(), daemon: config.daemon.clone(), reconcile: config.reconcile.clone() }
    }
}

/// The `route reinstalled` line and counter without attribution: for when
/// the task that attributes losses is gone (guardian is stopping).
pub fn log_unattributed(r: &Repaired, metrics: &Metrics) {
    let labels = crate::metrics::RepairLabels {
        family: r.family.label(),
        noticed: r.noticed.label(),
        deleter: "unknown".into(),
    };
    metrics.reinstalls.get_or_create(&labels).inc();
    crate::attribution::log_reinstalled(r, None);
}
