//! The reconciler's decisions, sans I/O: the tracked set, what is known of
//! the kernel's links, and every piece of repair state, changed only by the
//! inputs the task hands in with the time. Nothing here reads a clock, a
//! socket or the kernel, and nothing sends on a channel: a method returns
//! the kernel operations to perform ([`InstallBatch`], [`WithdrawBatch`],
//! a [`Scan`] to fill from dumps) and, once the task reports how they went,
//! the repairs to hand on ([`Repaired`]). Logs and metrics are written here,
//! as the liveness engine does.
//!
//! - `events.rs`: notifications -> losses, and the echo of guardian's own installs;
//! - `fights.rs`: who caused each repaired loss, as attribution tells: fights;
//! - `install.rs`: install batches, their outcome, retries;
//! - `scan.rs`: comparing a dump with the tracked set;
//! - `gate.rs`: liveness verdicts;
//! - `sources.rs`: desired routes from sources (the configuration file,
//!   and next guard selectors and BGP): the tracked set's members;
//! - `settings.rs`: re-read settings, shutdown;
//! - `multipath.rs`: guardian's own multipath routes, their legs and kernel form;
//! - `guarded.rs`: routes of a guard (another daemon's): losses handed to the guard;
//! - `withdraw.rs`: delete batches and their outcome.
//!
//! A route enters the set before it is installed and leaves it before it is
//! deleted, here, so a repair can never resurrect a withdrawn route.

mod events;
mod fights;
mod gate;
mod guarded;
mod install;
mod multipath;
mod scan;
mod settings;
mod sources;
mod withdraw;

#[cfg(test)]
mod tests;

pub use gate::GatePlan;
pub use install::InstallOutcome;
pub use scan::Scan;
pub use withdraw::WithdrawBatch;

use super::damping::{self, Damping};
use super::decide::DevIndex;
use super::table::RouteTable;
use super::Settings;
use crate::config::{DaemonConfig, ReconcileConfig};
use crate::messages::api::{CycleReport, RouteCounts, RouteInfo, Status};
use crate::messages::{Cause, GuardNotice, GuardTerms, KernelRoute, Link, Noticed, Requester, Source};
use crate::metrics::{FamilyLabels, Metrics};
use crate::route::raw::RawRoute;
use crate::route::{DevNames, Family, RouteDisplay, RouteKey, RouteSpec};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

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
    /// BGP's start-up adoption is over ([`Core::settle`]): every table.
    BgpSettled,
}

impl Trigger {
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Periodic => "periodic",
            Trigger::Manual => "manual",
            Trigger::Overrun => "overrun",
            Trigger::LinkOrAddress => "link_or_address",
            Trigger::Retry => "retry",
            Trigger::Unconfirmed => "unconfirmed_delete",
            Trigger::BgpSettled => "bgp_settled",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Loss {
    since: Instant,
    noticed: Noticed,
    cause: Cause,
    /// The request that caused it, when a notification said.
    requester: Option<Requester>,
    /// For a route flushed with its link: that link's interface index.
    link_index: Option<u32>,
    /// For a guarded route replaced: what replaced it, when it carries the
    /// guard's protocol (the guard may take it as the owner's update).
    replacement: Option<(KernelRoute, Arc<RawRoute>)>,
}

/// Why a route is being installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
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

/// Routes to install (slot index, why), the input of [`Core::prepare_install`].
pub type Work = Vec<(usize, Purpose)>;

/// A scan that finds a route missing within this long of its link going
/// down blames the link.
const LINK_DOWN_BLAME: Duration = Duration::from_secs(10);
/// A failed install waits this long before its next try, unless a link or
/// address event (or a scan) comes first.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// A pending resync runs at the latest this long after it was requested,
/// even while events keep arriving.
pub const RESYNC_MAX_DELAY: Duration = Duration::from_millis(200);
/// How long a delete read before guardian's own install of the route is
/// confirmed counts as older than that install. Generous: the confirmation
/// normally follows within milliseconds, and if it never comes a scan decides.
const ECHO_WINDOW: Duration = Duration::from_secs(5);
/// A scan whose dump failed is tried again after this long.
const SCAN_RETRY_DELAY: Duration = Duration::from_secs(1);

pub struct Core {
    pub(super) table: RouteTable,
    protocol: u8,
    daemon: DaemonConfig,
    cfg: ReconcileConfig,
    origin: String,
    metrics: Arc<Metrics>,
    /// The zero of [`super::table::Slot::sent_at`].
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
    /// Every source that has sent routes, indexed by [`super::table::SourceId`].
    sources: Vec<Source>,
    /// Routes wanted by a source other than the one that holds them.
    claims: HashMap<RouteKey, Vec<sources::Claim>>,
    /// Exact copies of the guarded routes the route model cannot express.
    /// Ordered by identity, like the slots: a scan looks each one up in
    /// dump order, and consecutive lookups land in the same node, where a
    /// hash map made each one a random probe (two cache misses at 1M).
    raw: BTreeMap<RouteKey, Arc<RawRoute>>,
    /// The legs of guardian's own multipath routes.
    multipath: HashMap<RouteKey, multipath::Legs>,
    /// What the guards must hear (their routes lost or replaced, routes of
    /// their protocols added), until the task hands it on.
    guard_notices: Vec<GuardNotice>,
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
    /// A restarting guardian waits for its BGP neighbors (`Change::Settled`):
    /// BGP routes are adopted as the kernel has them or installed by a scan,
    /// never on arrival, and nothing of guardian's protocol is purged.
    adopting: bool,
    /// While adopting: routes of guardian's protocol the last scan found
    /// and no source wanted yet, which a neighbor may announce again.
    adoptable: HashMap<RouteKey, KernelRoute>,
    last_cycle: Option<CycleReport>,
    reinstalls: u64,
    overruns: u64,
    stale_withdrawn: usize,
    installed_at_startup: usize,
}

/// What the task must do when [`Core::due`] says a timer is due.
#[derive(Debug, Default)]
pub struct Due {
    /// Routes whose retry or back-off ended.
    pub retries: Work,
    /// A scan to run now, and why.
    pub scan: Option<Trigger>,
}

impl Core {
    /// An empty tracked set: sources fill it ([`Core::apply_source`]). `now`
    /// is the zero of the send times the core keeps.
    pub fn new(settings: Settings, metrics: Arc<Metrics>, now: Instant) -> Core {
        let Settings { origin, daemon, reconcile } = settings;
        Core {
            table: RouteTable::new(DevNames::default(), 0),
            protocol: daemon.route_protocol,
            daemon,
            cfg: reconcile,
            origin,
            metrics,
            epoch: now,
            links: HashMap::new(),
            link_up: HashMap::new(),
            links_down: HashMap::new(),
            dev_index: DevIndex::default(),
            missing: HashMap::new(),
            damping: HashMap::new(),
            errors: HashMap::new(),
            retries: BinaryHeap::new(),
            retry_at: HashMap::new(),
            sources: Vec::new(),
            claims: HashMap::new(),
            raw: BTreeMap::new(),
            multipath: HashMap::new(),
            guard_notices: Vec::new(),
            unconfirmed: HashMap::new(),
            verify_at: None,
            echo_queue: VecDeque::new(),
            echo_seq: HashMap::new(),
            resync: None,
            next_scan: None,
            ready: false,
            adopting: false,
            adoptable: HashMap::new(),
            last_cycle: None,
            reinstalls: 0,
            overruns: 0,
            stale_withdrawn: 0,
            installed_at_startup: 0,
        }
    }

    /// The links the kernel has at start-up (a dump before the first scan).
    pub fn set_links(&mut self, links: Vec<Link>) {
        for link in links {
            self.link_up.insert(link.index, link.up);
            self.links.insert(link.name.clone(), link);
        }
        self.refresh_dev_index();
    }

    /// The initial sync is over: the daemon is ready, periodic scans start.
    pub fn startup_done(&mut self, duration: Duration, now: Instant) {
        self.table.shrink();
        let counts = self.table.counts();
        self.ready = true;
        self.next_scan = self.next_scan_time(now);
        tracing::info!(
            installed = self.installed_at_startup,
            adopted = counts.installed.saturating_sub(self.installed_at_startup),
            stale_withdrawn = self.stale_withdrawn,
            failed = counts.failed,
            desired = self.table.len(),
            duration = ?duration,
            "initial sync complete"
        );
    }

    /// BGP is configured at start: hold the purge and BGP's installs until
    /// [`Core::settle`].
    pub fn hold_for_bgp(&mut self) {
        self.adopting = true;
    }

    /// BGP's neighbors are back (or the wait ran out): a scan of every
    /// table adopts what is in place, installs what is missing and
    /// withdraws what no source wants.
    pub fn settle(&mut self, now: Instant) {
        self.adoptable = HashMap::new();
        if std::mem::take(&mut self.adopting) {
            self.request_resync(Trigger::BgpSettled, now);
        }
    }

    /// The start-up scan is done.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The earliest time [`Core::due`] has something to do.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let next_retry = self.retries.peek().map(|Reverse((at, _))| *at);
        let resync_at = self.resync.map(|(_, since)| since + RESYNC_MAX_DELAY);
        [next_retry, resync_at, self.next_scan, self.verify_at].into_iter().flatten().min()
    }

    /// What is due at `now`. `events_drained`: the event queue is empty, so
    /// a pending resync need not wait for more events to coalesce.
    pub fn due(&mut self, now: Instant, events_drained: bool) -> Due {
        let mut due = Due::default();
        if self.retries.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            due.retries = self.due_retries(now);
        }
        if self.verify_at.is_some_and(|at| at <= now) {
            self.verify_unconfirmed(now);
        }
        if self.next_scan.is_some_and(|at| at <= now) {
            self.forget_calm_damping(now);
            self.next_scan = self.next_scan_time(now);
            due.scan = Some(Trigger::Periodic);
            // The periodic scan covers a pending resync too.
            self.resync = None;
            return due;
        }
        // Coalesce resync requests: run one when the event queue is drained,
        // or when one has waited long enough.
        if let Some((trigger, since)) = self.resync {
            if (events_drained && since <= now) || now.duration_since(since) >= RESYNC_MAX_DELAY {
                self.resync = None;
                due.scan = Some(trigger);
            }
        }
        due
    }

    fn next_scan_time(&self, now: Instant) -> Option<Instant> {
        (!self.cfg.interval.is_zero()).then(|| now + self.cfg.interval)
    }

    pub(super) fn request_resync(&mut self, trigger: Trigger, now: Instant) {
        if self.resync.is_none() {
            self.resync = Some((trigger, now));
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

    /// Microseconds since the core was made (see [`super::table::Slot::sent_at`]).
    fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }

    /// The guard terms of the source holding slot `i`: `None` for guardian's own routes.
    fn guard_of(&self, i: usize) -> Option<GuardTerms> {
        self.source(self.table.slot(i).source).guard
    }

    fn display(&self, i: usize) -> String {
        let spec = &self.table.slot(i).spec;
        let mut text = RouteDisplay { spec, devs: &self.table.devs }.to_string();
        if spec.via.is_none() && spec.dev.is_none() {
            text.push_str(&self.describe_legs(&spec.key));
        }
        text
    }

    /// Every tracked route, as `guardian routes` lists it.
    pub fn route_infos(&self) -> Vec<RouteInfo> {
        let devs = &self.table.devs;
        self.table
            .slots()
            .iter()
            .map(|slot| {
                let s = &slot.spec;
                let source = self.source(slot.source);
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
                    source: source.name.clone(),
                    owner: source.owner.clone(),
                    kind: if source.guard.is_some() { "guarded" } else { "own" }.to_owned(),
                    guard: source.guard.map(|_| source.guard_name().to_owned()),
                    exact_copy: self.raw.contains_key(&s.key),
                    nexthops: self.nexthop_infos(&s.key),
                }
            })
            .collect()
    }

    /// The route gauges, and the status the control API serves.
    /// `uptime` is how long the process has run.
    pub fn status(&self, uptime: Duration) -> Status {
        let c = self.table.counts();
        for (family, desired, installed) in [(Family::V4, c.v4, c.installed_v4), (Family::V6, c.v6, c.installed_v6)] {
            let labels = FamilyLabels { family: family.label() };
            self.metrics.routes_desired.get_or_create(&labels).set(desired as i64);
            self.metrics.routes_tracked.get_or_create(&labels).set(installed as i64);
        }
        self.metrics.routes_damped.set(c.damped as i64);
        Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_seconds: uptime.as_secs_f64(),
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
        }
    }

    fn refresh_dev_index(&mut self) {
        self.dev_index.refresh(&self.table.devs, &self.links);
    }

    fn forget_calm_damping(&mut self, now: Instant) {
        let now = now.into_std();
        let cfg = &self.cfg;
        self.damping.retain(|_, d| !d.is_calm(now, cfg));
    }

    /// Formats a kernel route like a configured one, naming its device.
    fn describe_kernel_route(&self, route: &crate::messages::KernelRoute) -> String {
        let mut devs = DevNames::default();
        let dev = self.links.values().find(|l| l.index == route.oif).map(|l| devs.intern(&l.name));
        let spec = RouteSpec { key: route.key, via: route.gateway, dev, src: route.prefsrc };
        RouteDisplay { spec: &spec, devs: &devs }.to_string()
    }
}
