//! The reconciler: the one task that owns the tracked set and keeps the
//! kernel equal to it (see shared/design/reconcile.md).
//!
//! ```text
//!  kernel::monitor ──EventBatch──▶ ┌────────────┐ ──Op batches──▶ kernel::routes ──▶ kernel
//!  control API ─────Command──────▶ │ Reconciler │ ──watch<Status>──▶ control API
//!  timers (scan, retries) ───────▶ └────────────┘ ──▶ metrics, logs
//! ```
//!
//! - `events.rs`: notifications -> losses (and repairs at once);
//! - `scan.rs`: start-up sync and periodic/forced scans of the kernel's tables;
//! - `install.rs`: installs, the `route reinstalled` line, failures and retries;
//! - `commands.rs`: the control API, reload and shutdown.
//!
//! A route enters the set before it is installed and leaves it before it is
//! deleted, in this task, so a repair can never resurrect a withdrawn route.

mod commands;
pub mod damping;
mod decide;
mod events;
mod gate;
mod install;
mod scan;
pub mod table;

pub use gate::Gate;

use crate::config::{Config, DaemonConfig, ReconcileConfig};
use crate::control::api::{CycleReport, RouteCounts, RouteInfo, Status};
use crate::kernel::links::Link;
use crate::kernel::monitor::{EventBatch, Requester};
use crate::kernel::routes::RouteWriter;
use crate::metrics::{FamilyLabels, Metrics};
use crate::route::{DevNames, Family, RouteDisplay, RouteKey, RouteSpec};
use damping::Damping;
use decide::DevIndex;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use table::RouteTable;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Requests from the control API and the daemon.
pub enum Command {
    Routes(oneshot::Sender<Vec<RouteInfo>>),
    Reconcile(oneshot::Sender<CycleReport>),
    Reload(Box<Config>, oneshot::Sender<ReloadReport>),
    Shutdown(oneshot::Sender<()>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
}

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

/// Why a scan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Startup,
    Periodic,
    Manual,
    Overrun,
    LinkOrAddress,
    /// The previous scan could not finish.
    Retry,
    /// A delete was read while guardian's own install of that route was
    /// still unconfirmed, and the confirmation never came (see `events.rs`).
    Unconfirmed,
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Periodic => "periodic",
            Trigger::Manual => "manual",
            Trigger::Overrun => "overrun",
            Trigger::LinkOrAddress => "link_or_address",
            Trigger::Retry => "retry",
            Trigger::Unconfirmed => "unconfirmed_delete",
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

#[derive(Debug, Clone)]
struct Loss {
    since: Instant,
    noticed: Noticed,
    cause: Cause,
    /// The request that caused it, when a notification said.
    requester: Option<Requester>,
    /// For a route flushed with its link: that link's interface index.
    link_index: Option<u32>,
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
        }
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

/// A scan that finds a route missing within this long of its link going
/// down blames the link.
const LINK_DOWN_BLAME: Duration = Duration::from_secs(10);

/// Why a route is being installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Purpose {
    /// First install (start-up, reload).
    Initial,
    /// Putting back a lost route.
    Repair,
    /// Trying again after the kernel refused it.
    Retry,
    /// Installing a route its liveness session let through again (guardian
    /// deleted it when the session went down, so the kernel lacks it).
    Ungated,
}

/// A failed install waits this long before its next try, unless a link or
/// address event (or a scan) comes first.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// A pending resync runs at the latest this long after it was requested,
/// even while events keep arriving.
const RESYNC_MAX_DELAY: Duration = Duration::from_millis(200);
/// A scan whose dump failed is tried again after this long.
/// How long a delete read before guardian's own install of the route is
/// confirmed counts as older than that install. Generous: the confirmation
/// normally follows within milliseconds, and if it never comes a scan decides.
const ECHO_WINDOW: Duration = Duration::from_secs(5);
const SCAN_RETRY_DELAY: Duration = Duration::from_secs(1);

pub struct Reconciler {
    table: RouteTable,
    writer: RouteWriter,
    protocol: u8,
    daemon: DaemonConfig,
    cfg: ReconcileConfig,
    origin: String,
    metrics: Arc<Metrics>,
    status: watch::Sender<Status>,
    repairs: mpsc::UnboundedSender<Repaired>,
    /// When the process started (for the uptime).
    started: std::time::Instant,
    /// The zero of [`table::Slot::sent_at`].
    epoch: Instant,
    /// Every link by name, and whether each interface index is up.
    links: HashMap<String, Link>,
    link_up: HashMap<u32, bool>,
    /// Links that went down or away recently, by index: (name, when).
    links_down: HashMap<u32, (String, Instant)>,
    dev_index: DevIndex,
    missing: HashMap<RouteKey, Loss>,
    damping: HashMap<RouteKey, Damping>,
    errors: HashMap<RouteKey, String>,
    /// Scheduled retries; `retry_at` holds the one time that counts per route,
    /// and heap entries that disagree with it are stale.
    retries: BinaryHeap<Reverse<(Instant, RouteKey)>>,
    retry_at: HashMap<RouteKey, Instant>,
    /// Routes whose liveness session decides whether they are installed.
    gated: HashSet<RouteKey>,
    /// Deletes taken as older than guardian's unconfirmed install, with the
    /// time to check that the install's notification came after all.
    unconfirmed: HashMap<RouteKey, Instant>,
    verify_at: Option<Instant>,
    /// Repairs whose own notification is awaited, by request sequence number
    /// (in sending order), and the latest number per route.
    echo_queue: VecDeque<(u32, RouteKey)>,
    echo_seq: HashMap<RouteKey, u32>,
    resync: Option<(Trigger, Instant)>,
    next_scan: Option<Instant>,
    ready: bool,
    last_cycle: Option<CycleReport>,
    reinstalls: u64,
    overruns: u64,
    stale_withdrawn: usize,
    installed_at_startup: usize,
}

impl Reconciler {
    /// `started` is when the process started, for the status's uptime.
    pub fn new(
        config: Config,
        writer: RouteWriter,
        metrics: Arc<Metrics>,
        status: watch::Sender<Status>,
        repairs: mpsc::UnboundedSender<Repaired>,
        started: std::time::Instant,
    ) -> Reconciler {
        let Config { origin, daemon, reconcile, routes, .. } = config;
        let mut table = RouteTable::new(routes.devs, routes.specs.len());
        for spec in routes.specs {
            table.insert(spec);
        }
        // Until their sessions say otherwise, gated routes are not installed;
        // those already in the kernel are adopted by the start-up scan, so a
        // restart does not blackhole them (liveness.md).
        let gated: HashSet<RouteKey> = routes.liveness.iter().map(|l| l.key).collect();
        for key in &gated {
            if let Some(i) = table.find(key) {
                table.set_state(i, table::State::Withdrawn);
            }
        }
        table.sort();
        table.shrink();
        Reconciler {
            table,
            writer,
            protocol: daemon.route_protocol,
            daemon,
            cfg: reconcile,
            origin,
            metrics,
            status,
            repairs,
            started,
            epoch: Instant::now(),
            links: HashMap::new(),
            link_up: HashMap::new(),
            links_down: HashMap::new(),
            dev_index: DevIndex::default(),
            missing: HashMap::new(),
            damping: HashMap::new(),
            errors: HashMap::new(),
            retries: BinaryHeap::new(),
            retry_at: HashMap::new(),
            gated,
            unconfirmed: HashMap::new(),
            verify_at: None,
            echo_queue: VecDeque::new(),
            echo_seq: HashMap::new(),
            resync: None,
            next_scan: None,
            ready: false,
            last_cycle: None,
            reinstalls: 0,
            overruns: 0,
            stale_withdrawn: 0,
            installed_at_startup: 0,
        }
    }

    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<EventBatch>,
        mut commands: mpsc::Receiver<Command>,
        mut gates: mpsc::UnboundedReceiver<Gate>,
    ) {
        self.initial_sync().await;
        self.next_scan = self.next_scan_time();
        loop {
            let next_retry = self.retries.peek().map(|Reverse((at, _))| *at);
            let resync_at = self.resync.map(|(_, since)| since + RESYNC_MAX_DELAY);
            tokio::select! {
                biased;
                batch = events.recv() => match batch {
                    Some(batch) => self.on_events(batch).await,
                    None => return,
                },
                command = commands.recv() => match command {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.on_command(command).await,
                    None => return,
                },
                Some(gate) = gates.recv() => self.on_gate(gate).await,
                _ = crate::time::sleep_until(resync_at), if resync_at.is_some() => {}
                _ = crate::time::sleep_until(next_retry), if next_retry.is_some() => {}
                _ = crate::time::sleep_until(self.next_scan), if self.next_scan.is_some() => {}
                _ = crate::time::sleep_until(self.verify_at), if self.verify_at.is_some() => {}
            }
            // Timers are checked after every wake-up, not only when their
            // branch wins: a steady stream of events must not starve them.
            self.run_due_timers(events.is_empty()).await;
            self.publish();
        }
    }

    async fn run_due_timers(&mut self, events_drained: bool) {
        let now = Instant::now();
        if self.retries.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            self.retry_due().await;
        }
        if self.verify_at.is_some_and(|at| at <= now) {
            self.verify_unconfirmed(now);
        }
        if self.next_scan.is_some_and(|at| at <= now) {
            self.scan(Trigger::Periodic).await;
            self.forget_calm_damping();
            self.next_scan = self.next_scan_time();
        }
        // Coalesce resync requests: run one when the event queue is drained,
        // or when one has waited long enough.
        if let Some((trigger, since)) = self.resync {
            if (events_drained && since <= now) || now.duration_since(since) >= RESYNC_MAX_DELAY {
                self.resync = None;
                self.scan(trigger).await;
            }
        }
    }

    fn next_scan_time(&self) -> Option<Instant> {
        (!self.cfg.interval.is_zero()).then(|| Instant::now() + self.cfg.interval)
    }

    fn request_resync(&mut self, trigger: Trigger) {
        if self.resync.is_none() {
            self.resync = Some((trigger, Instant::now()));
        }
    }

    /// Schedules a retry of `key` at `at`. An earlier retry already scheduled
    /// stands unless `replace` (a damping back-off must not be cut short).
    fn schedule_retry(&mut self, key: RouteKey, at: Instant, replace: bool) {
        match self.retry_at.get(&key) {
            Some(existing) if !replace && *existing <= at => {}
            _ => {
                self.retry_at.insert(key, at);
                self.retries.push(Reverse((at, key)));
            }
        }
    }

    /// Microseconds since the reconciler started (see [`table::Slot::sent_at`]).
    fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }

    fn display(&self, i: usize) -> String {
        RouteDisplay { spec: &self.table.slot(i).spec, devs: &self.table.devs }.to_string()
    }

    fn route_infos(&self) -> Vec<RouteInfo> {
        let devs = &self.table.devs;
        self.table
            .slots()
            .iter()
            .map(|slot| {
                let s = &slot.spec;
                RouteInfo {
                    dst: format!("{}/{}", s.key.dst_ip(), s.key.dst_len),
                    via: s.via.map(|g| g.ip().to_string()),
                    dev: s.dev.map(|d| devs.name(d).to_owned()),
                    table: s.key.table,
                    src: s.src.map(|a| a.to_ip(s.key.family).to_string()),
                    metric: s.key.metric,
                    family: s.key.family.label().to_owned(),
                    state: slot.state.label().to_owned(),
                    reinstalls: slot.reinstalls,
                    last_error: self.errors.get(&s.key).cloned(),
                }
            })
            .collect()
    }

    fn publish(&mut self) {
        let c = self.table.counts();
        for (family, desired, installed) in [(Family::V4, c.v4, c.installed_v4), (Family::V6, c.v6, c.installed_v6)] {
            let labels = FamilyLabels { family: family.label() };
            self.metrics.routes_desired.get_or_create(&labels).set(desired as i64);
            self.metrics.routes_tracked.get_or_create(&labels).set(installed as i64);
        }
        self.metrics.routes_damped.set(c.damped as i64);
        let status = Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            ready: self.ready,
            config: self.origin.clone(),
            routes: RouteCounts {
                desired: c.v4 + c.v6,
                installed: c.installed,
                pending: c.pending,
                failed: c.failed,
                damped: c.damped,
                withdrawn: c.withdrawn,
            },
            reinstalls: self.reinstalls,
            overruns: self.overruns,
            last_reconcile: self.last_cycle,
            // The control server fills it in: fixed when the daemon starts.
            attribution: String::new(),
        };
        self.status.send_replace(status);
    }

    fn refresh_dev_index(&mut self) {
        self.dev_index.refresh(&self.table.devs, &self.links);
    }

    fn forget_calm_damping(&mut self) {
        let now = std::time::Instant::now();
        let cfg = &self.cfg;
        self.damping.retain(|_, d| !damping::is_calm(d, now, cfg));
    }

    /// Formats a kernel route like a configured one, naming its device.
    fn describe_kernel_route(&self, route: &crate::kernel::wire::KernelRoute) -> String {
        let mut devs = DevNames::default();
        let dev = self.links.values().find(|l| l.index == route.oif).map(|l| devs.intern(&l.name));
        let spec = RouteSpec { key: route.key, via: route.gateway, dev, src: route.prefsrc };
        RouteDisplay { spec: &spec, devs: &devs }.to_string()
    }
}

/// Gives the allocator's free memory back to the system: parsing a large
/// configuration leaves tens of megabytes behind that the daemon never
/// needs again.
fn release_startup_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap pages.
    unsafe {
        libc::malloc_trim(0);
    }
}
