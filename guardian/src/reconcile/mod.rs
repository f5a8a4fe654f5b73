//! The reconciler: the one task that owns the tracked set and keeps the
//! kernel equal to it (see shared/design/reconcile.md).
//!
//! ```text
//!  kernel::monitor ──EventBatch──▶ ┌────────────┐ ──Op batches──▶ kernel::routes ──▶ kernel
//!  control API ─────Command──────▶ │ Reconciler │ ──watch<Status>──▶ control API
//!  timers (scan, retries) ───────▶ └────────────┘ ──▶ metrics, logs
//! ```
//!
//! A route enters the set before it is installed and leaves it before it is
//! deleted, in this task, so a repair can never resurrect a withdrawn route.

pub mod damping;
mod decide;
pub mod table;

use crate::config::{Config, DaemonConfig, ReconcileConfig};
use crate::control::api::{CycleReport, RouteCounts, RouteInfo, Status};
use crate::kernel::links::Link;
use crate::kernel::monitor::{Event, EventBatch};
use crate::kernel::routes::{Op, OpError, RouteWriter};
use crate::kernel::wire::{KernelRoute, RouteRequest};
use crate::kernel::KernelError;
use crate::metrics::{FamilyLabels, Metrics, RepairLabels};
use crate::route::{DevNames, Family, RouteDisplay, RouteKey, RouteSpec};
use damping::Damping;
use decide::{matches, DevIndex};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use table::{RouteTable, State};
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
    fn label(self) -> &'static str {
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
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Periodic => "periodic",
            Trigger::Manual => "manual",
            Trigger::Overrun => "overrun",
            Trigger::LinkOrAddress => "link_or_address",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Loss {
    since: Instant,
    noticed: Noticed,
}

/// Why a route is being installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Purpose {
    /// First install (start-up, reload).
    Initial,
    /// Putting back a lost route.
    Repair,
    /// Trying again after the kernel refused it.
    Retry,
}

/// A failed install waits this long before its next try, unless a link or
/// address event (or a scan) comes first.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// A pending resync runs at the latest this long after it was requested,
/// even while events keep arriving.
const RESYNC_MAX_DELAY: Duration = Duration::from_millis(200);

pub struct Reconciler {
    table: RouteTable,
    writer: RouteWriter,
    protocol: u8,
    daemon: DaemonConfig,
    cfg: ReconcileConfig,
    origin: String,
    metrics: Arc<Metrics>,
    status: watch::Sender<Status>,
    started: std::time::Instant,
    /// Every link by name, and the interface index of each configured device.
    links: HashMap<String, Link>,
    link_up: HashMap<u32, bool>,
    dev_index: DevIndex,
    missing: HashMap<RouteKey, Loss>,
    damping: HashMap<RouteKey, Damping>,
    errors: HashMap<RouteKey, String>,
    retries: BinaryHeap<Reverse<(Instant, RouteKey)>>,
    resync: Option<(Trigger, Instant)>,
    ready: bool,
    last_cycle: Option<CycleReport>,
    reinstalls: u64,
    overruns: u64,
    stale_withdrawn_at_startup: usize,
    installed_at_startup: usize,
}

impl Reconciler {
    pub fn new(
        config: Config,
        writer: RouteWriter,
        metrics: Arc<Metrics>,
        status: watch::Sender<Status>,
        started: std::time::Instant,
    ) -> Reconciler {
        let Config { origin, daemon, reconcile, routes } = config;
        let mut table = RouteTable::new(routes.devs, routes.specs.len());
        for spec in routes.specs {
            table.insert(spec);
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
            started,
            links: HashMap::new(),
            link_up: HashMap::new(),
            dev_index: DevIndex::default(),
            missing: HashMap::new(),
            damping: HashMap::new(),
            errors: HashMap::new(),
            retries: BinaryHeap::new(),
            resync: None,
            ready: false,
            last_cycle: None,
            reinstalls: 0,
            overruns: 0,
            stale_withdrawn_at_startup: 0,
            installed_at_startup: 0,
        }
    }

    pub async fn run(mut self, mut events: mpsc::Receiver<EventBatch>, mut commands: mpsc::Receiver<Command>) {
        self.initial_sync().await;
        let mut next_scan = self.next_scan_time();
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
                _ = sleep_until(resync_at), if resync_at.is_some() => {}
                _ = sleep_until(next_retry), if next_retry.is_some() => self.retry_due().await,
                _ = sleep_until(next_scan), if next_scan.is_some() => {
                    self.scan(Trigger::Periodic).await;
                    self.forget_calm_damping();
                    next_scan = self.next_scan_time();
                }
            }
            // Coalesce resync requests: run one when the event queue is
            // drained, or when one has waited long enough.
            if let Some((trigger, since)) = self.resync {
                if events.is_empty() || since.elapsed() >= RESYNC_MAX_DELAY {
                    self.resync = None;
                    self.scan(trigger).await;
                }
            }
            self.publish();
        }
    }

    fn next_scan_time(&self) -> Option<Instant> {
        (!self.cfg.interval.is_zero()).then(|| Instant::now() + self.cfg.interval)
    }

    async fn initial_sync(&mut self) {
        let started = Instant::now();
        match self.writer.dump_links().await {
            Ok(links) => {
                for link in links {
                    self.link_up.insert(link.index, link.up);
                    self.links.insert(link.name.clone(), link);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot list interfaces; devices resolve as links appear")
            }
        }
        self.refresh_dev_index();
        let before = self.table.counts();
        self.scan(Trigger::Startup).await;
        let counts = self.table.counts();
        self.ready = true;
        release_startup_memory();
        tracing::info!(
            installed = self.installed_at_startup,
            adopted = counts.installed.saturating_sub(self.installed_at_startup),
            stale_withdrawn = self.stale_withdrawn_at_startup,
            failed = counts.failed,
            desired = before.v4 + before.v6,
            duration = ?started.elapsed(),
            "initial sync complete"
        );
        self.publish();
    }

    // ---- events ---------------------------------------------------------

    async fn on_events(&mut self, batch: EventBatch) {
        let mut lost = Vec::new();
        let mut retry_failed = false;
        for event in batch.events {
            match event {
                Event::RouteAdded(route) => {
                    let Some(i) = self.table.find(&route.key) else {
                        continue;
                    };
                    let ours = matches(&self.table.slot(i).spec, &route, &self.dev_index, self.protocol);
                    let slot = self.table.slot(i);
                    match slot.state {
                        // Another process replaced our route with other attributes.
                        State::Installed if !ours && slot.echo_pending == 0 => lost.push(i),
                        // Someone else put it back as we meant it.
                        State::Missing | State::Failed | State::Damped if ours => self.mark_present(i),
                        _ => {}
                    }
                }
                Event::RouteDeleted(route) => {
                    let Some(i) = self.table.find(&route.key) else {
                        continue;
                    };
                    let slot = self.table.slot(i);
                    // A delete read while our own install is unconfirmed
                    // happened before that install: it is already repaired.
                    if slot.state == State::Installed
                        && slot.echo_pending == 0
                        && matches(&slot.spec, &route, &self.dev_index, self.protocol)
                    {
                        lost.push(i);
                    }
                }
                Event::OwnInstall(key) => {
                    if let Some(i) = self.table.find(&key) {
                        let slot = self.table.slot_mut(i);
                        slot.echo_pending = slot.echo_pending.saturating_sub(1);
                    }
                }
                Event::LinkChanged(link) => {
                    let was_up = self.link_up.insert(link.index, link.up);
                    let renamed = self.links.get(&link.name).map(|l| l.index) != Some(link.index);
                    self.links.retain(|_, l| l.index != link.index);
                    self.links.insert(link.name.clone(), link.clone());
                    if renamed {
                        self.refresh_dev_index();
                    }
                    match (was_up, link.up) {
                        (Some(true), false) => self.request_resync(Trigger::LinkOrAddress),
                        (Some(false) | None, true) => {
                            self.refresh_dev_index();
                            retry_failed = true;
                        }
                        _ => {}
                    }
                }
                Event::LinkRemoved(link) => {
                    self.link_up.remove(&link.index);
                    self.links.retain(|_, l| l.index != link.index);
                    self.refresh_dev_index();
                    self.request_resync(Trigger::LinkOrAddress);
                }
                Event::AddressAdded => retry_failed = true,
                Event::AddressRemoved => self.request_resync(Trigger::LinkOrAddress),
                Event::Overrun => {
                    self.overruns += 1;
                    self.metrics.netlink_overruns.inc();
                    tracing::warn!("netlink overrun, resyncing");
                    // Echoes may have been lost with the rest.
                    self.table.clear_echoes();
                    self.request_resync(Trigger::Overrun);
                }
            }
        }
        lost.sort_unstable();
        lost.dedup();
        let mut work = Vec::new();
        for i in lost {
            if let Some(item) = self.on_lost(i, Noticed::Event, batch.received) {
                work.push(item);
            }
        }
        if retry_failed {
            work.extend(self.failed_routes());
        }
        self.install(work).await;
    }

    fn request_resync(&mut self, trigger: Trigger) {
        if self.resync.is_none() {
            self.resync = Some((trigger, Instant::now()));
        }
    }

    /// Records a loss; returns the route to repair now, unless damped.
    fn on_lost(&mut self, i: usize, noticed: Noticed, since: Instant) -> Option<(usize, Purpose)> {
        let key = self.table.slot(i).spec.key;
        self.missing.entry(key).or_insert(Loss { since, noticed });
        let (d, verdict) = damping::on_loss(self.damping.get(&key).copied(), since.into_std(), &self.cfg);
        self.damping.insert(key, d);
        match verdict {
            damping::Verdict::RepairNow => {
                self.table.set_state(i, State::Missing);
                Some((i, Purpose::Repair))
            }
            damping::Verdict::Wait { delay, first } => {
                self.table.set_state(i, State::Damped);
                if first {
                    tracing::warn!(
                        route = %self.display(i),
                        backoff = ?delay,
                        repairs = self.cfg.max_repairs_per_route,
                        window = ?self.cfg.damping_window,
                        "route repairs damped"
                    );
                }
                self.retries.push(Reverse((Instant::now() + delay, key)));
                None
            }
        }
    }

    fn mark_present(&mut self, i: usize) {
        let key = self.table.slot(i).spec.key;
        self.table.set_state(i, State::Installed);
        self.missing.remove(&key);
        self.errors.remove(&key);
    }

    fn failed_routes(&self) -> Vec<(usize, Purpose)> {
        (0..self.table.len())
            .filter(|&i| self.table.slot(i).state == State::Failed)
            .map(|i| (i, Purpose::Retry))
            .collect()
    }

    async fn retry_due(&mut self) {
        let now = Instant::now();
        let mut work = Vec::new();
        while let Some(Reverse((at, key))) = self.retries.peek().copied() {
            if at > now {
                break;
            }
            self.retries.pop();
            let Some(i) = self.table.find(&key) else {
                continue;
            };
            match self.table.slot(i).state {
                State::Damped => work.push((i, Purpose::Repair)),
                State::Failed => work.push((i, Purpose::Retry)),
                _ => {}
            }
        }
        work.sort_unstable();
        work.dedup();
        self.install(work).await;
    }

    // ---- scans ------------------------------------------------------------

    /// Dumps the tables that hold tracked routes and repairs what is missing.
    /// At start-up it also adopts routes already in place and withdraws
    /// stale ones (our protocol, in no configuration).
    async fn scan(&mut self, trigger: Trigger) -> CycleReport {
        let started = Instant::now();
        let startup = trigger == Trigger::Startup;
        let n = self.table.len();
        let mut seen = vec![0u64; n.div_ceil(64)];
        let mut stale: Vec<KernelRoute> = Vec::new();
        // At start-up every table is dumped: stale routes may be anywhere.
        let targets: Vec<(Family, u32)> =
            if startup { vec![(Family::V4, 0), (Family::V6, 0)] } else { self.table.tables() };
        for (family, table_id) in targets {
            let Self { writer, table, dev_index, protocol, .. } = self;
            let mut next = 0;
            let result = writer
                .dump_routes(family, table_id, |route| match table.find_after(next, &route.key) {
                    Some(i) => {
                        next = i + 1;
                        if matches(&table.slot(i).spec, route, dev_index, *protocol) {
                            seen[i / 64] |= 1 << (i % 64);
                        }
                    }
                    None => {
                        if startup && route.protocol == *protocol {
                            stale.push(*route);
                        }
                    }
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, family = family.label(), table = table_id, "route dump failed; the scan is incomplete");
                let report =
                    CycleReport { checked: 0, duration_seconds: started.elapsed().as_secs_f64(), ..Default::default() };
                self.last_cycle = Some(report);
                return report;
            }
        }

        let mut work = Vec::new();
        let mut missing = 0;
        for i in 0..n {
            let present = seen[i / 64] & (1 << (i % 64)) != 0;
            match (self.table.slot(i).state, present) {
                (State::Installed, false) => {
                    missing += 1;
                    work.extend(self.on_lost(i, Noticed::Scan, started));
                }
                (State::Pending, true) => self.mark_present(i), // adopted as it stands
                (State::Pending, false) => work.push((i, Purpose::Initial)),
                (State::Missing | State::Failed | State::Damped, true) => self.mark_present(i),
                (State::Missing, false) => work.push((i, Purpose::Repair)),
                (State::Failed, false) => work.push((i, Purpose::Retry)),
                (State::Installed, true) | (State::Damped, false) => {}
            }
        }

        if startup && !stale.is_empty() {
            self.withdraw_stale(stale).await;
        }
        let outcome = self.install(work).await;
        let report = CycleReport {
            checked: n,
            missing,
            repaired: outcome.repaired,
            failed: outcome.failed,
            duration_seconds: started.elapsed().as_secs_f64(),
        };
        self.metrics.reconcile_duration.observe(report.duration_seconds);
        self.metrics.reconcile_checked.set(n as i64);
        self.last_cycle = Some(report);
        tracing::debug!(trigger = trigger.label(), checked = n, missing, duration = ?started.elapsed(), "reconcile cycle");
        report
    }

    async fn withdraw_stale(&mut self, stale: Vec<KernelRoute>) {
        let ops: Vec<Op> = stale.iter().map(|r| Op::Delete(r.key)).collect();
        let results = self.writer.apply(&ops).await;
        for (n, stale_route) in stale.iter().enumerate() {
            let route = self.describe_kernel_route(stale_route);
            match results.as_ref().map(|r| &r[n]) {
                Ok(Ok(())) => {
                    self.stale_withdrawn_at_startup += 1;
                    tracing::warn!(route = %route, "stale route withdrawn");
                }
                Ok(Err(e)) => tracing::error!(route = %route, error = %e, "cannot withdraw stale route"),
                Err(e) => tracing::error!(route = %route, error = %e, "cannot withdraw stale route"),
            }
        }
    }

    /// Formats a kernel route like a configured one, naming its device.
    fn describe_kernel_route(&self, route: &KernelRoute) -> String {
        let mut devs = DevNames::default();
        let dev = self.links.values().find(|l| l.index == route.oif).map(|l| devs.intern(&l.name));
        let spec = RouteSpec { key: route.key, via: route.gateway, dev, src: route.prefsrc };
        RouteDisplay { spec: &spec, devs: &devs }.to_string()
    }

    // ---- installs -----------------------------------------------------------

    /// Installs the given routes in one batch and records the outcome.
    async fn install(&mut self, work: Vec<(usize, Purpose)>) -> InstallOutcome {
        let mut outcome = InstallOutcome::default();
        if work.is_empty() {
            return outcome;
        }
        let mut ops = Vec::with_capacity(work.len());
        let mut sent = Vec::with_capacity(work.len());
        for (i, purpose) in work {
            let spec = self.table.slot(i).spec;
            match self.request_for(&spec) {
                Ok(request) => {
                    ops.push(Op::Replace(request));
                    sent.push((i, purpose));
                }
                Err(e) => {
                    outcome.failed += 1;
                    self.record_failure(i, purpose, e);
                }
            }
        }
        match self.writer.apply(&ops).await {
            Ok(results) => {
                let now = Instant::now();
                for ((i, purpose), result) in sent.into_iter().zip(results) {
                    match result {
                        Ok(()) => {
                            if self.record_success(i, purpose, now) {
                                outcome.repaired += 1;
                            }
                        }
                        Err(e) => {
                            outcome.failed += 1;
                            self.record_failure(i, purpose, e);
                        }
                    }
                }
            }
            Err(e) => {
                // The batch's fate is unknown: leave the routes missing and let a scan tell.
                tracing::warn!(error = %e, routes = sent.len(), "route batch outcome unknown; resyncing");
                for (i, _) in sent {
                    if self.table.slot(i).state == State::Installed {
                        continue;
                    }
                    self.table.set_state(i, State::Missing);
                }
                if let KernelError::RepliesLost | KernelError::Io(_) = e {
                    self.request_resync(Trigger::Overrun);
                }
            }
        }
        outcome
    }

    fn request_for(&self, spec: &RouteSpec) -> Result<RouteRequest, OpError> {
        let oif = match spec.dev {
            None => None,
            Some(dev) => match self.dev_index.get(dev) {
                Some(index) => Some(index),
                None => {
                    return Err(OpError {
                        errno: libc::ENODEV,
                        message: format!("device {} does not exist", self.table.devs.name(dev)),
                    })
                }
            },
        };
        Ok(RouteRequest { key: spec.key, via: spec.via, oif, src: spec.src, protocol: self.protocol })
    }

    /// Records an install the kernel accepted; true when it repaired a loss.
    fn record_success(&mut self, i: usize, purpose: Purpose, now: Instant) -> bool {
        let key = self.table.slot(i).spec.key;
        let loss = self.missing.remove(&key);
        self.errors.remove(&key);
        self.table.set_state(i, State::Installed);
        let slot = self.table.slot_mut(i);
        slot.echo_pending = slot.echo_pending.saturating_add(1);
        if purpose == Purpose::Initial {
            if !self.ready {
                self.installed_at_startup += 1;
            }
            return false;
        }
        // A retry of a route that was never installed is not a reinstall.
        let Some(loss) = loss else { return false };
        slot.reinstalls = slot.reinstalls.saturating_add(1);
        self.reinstalls += 1;
        let family = key.family.label();
        self.metrics.reinstalls.get_or_create(&RepairLabels { family, noticed: loss.noticed.label() }).inc();
        tracing::warn!(
            route = %self.display(i),
            family = %family,
            noticed = %loss.noticed.label(),
            missing_for = ?now.duration_since(loss.since),
            "route reinstalled"
        );
        true
    }

    fn record_failure(&mut self, i: usize, purpose: Purpose, e: OpError) {
        let key = self.table.slot(i).spec.key;
        self.table.set_state(i, State::Failed);
        if let Some(loss) = self.missing.get(&key) {
            let labels = RepairLabels { family: key.family.label(), noticed: loss.noticed.label() };
            self.metrics.reinstall_failures.get_or_create(&labels).inc();
        }
        let message = e.message.clone();
        let repeated = self.errors.get(&key) == Some(&message);
        if !repeated {
            let retry = if e.waits_for_link() { "when the link or address returns" } else { "in 5s" };
            tracing::warn!(route = %self.display(i), error = %message, retry = %retry, "route install failed");
        }
        let _ = purpose;
        self.errors.insert(key, message);
        if !e.waits_for_link() {
            self.retries.push(Reverse((Instant::now() + RETRY_DELAY, key)));
        }
    }

    // ---- commands -----------------------------------------------------------

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Routes(reply) => {
                let _ = reply.send(self.route_infos());
            }
            Command::Reconcile(reply) => {
                let report = self.scan(Trigger::Manual).await;
                let _ = reply.send(report);
            }
            Command::Reload(config, reply) => {
                let report = self.reload(*config).await;
                let _ = reply.send(report);
            }
            Command::Shutdown(_) => unreachable!("handled by the loop"),
        }
    }

    async fn reload(&mut self, config: Config) -> ReloadReport {
        let Config { origin, daemon, reconcile, routes } = config;
        if daemon != self.daemon {
            tracing::warn!("changes to [daemon] take effect when guardian restarts");
        }
        self.cfg = reconcile;
        self.origin = origin;
        let new: Vec<RouteSpec> =
            routes.specs.iter().map(|s| translate(s, &routes.devs, &mut self.table.devs)).collect();
        self.refresh_dev_index();
        let wanted: std::collections::HashSet<RouteKey> = new.iter().map(|s| s.key).collect();
        let mut report = ReloadReport::default();

        // Withdraw first: untrack, then delete, so nothing repairs them.
        let removed: Vec<RouteKey> =
            self.table.slots().iter().map(|s| s.spec.key).filter(|k| !wanted.contains(k)).collect();
        for key in &removed {
            self.table.remove(key);
            self.missing.remove(key);
            self.damping.remove(key);
            self.errors.remove(key);
        }
        report.removed = removed.len();
        if !removed.is_empty() {
            let ops: Vec<Op> = removed.iter().map(|k| Op::Delete(*k)).collect();
            match self.writer.apply(&ops).await {
                Ok(results) => {
                    for (key, r) in removed.iter().zip(results) {
                        if let Err(e) = r {
                            tracing::error!(route = %format!("{}/{}", key.dst_ip(), key.dst_len), error = %e, "cannot withdraw route");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot withdraw removed routes"),
            }
        }

        let mut to_install = Vec::new();
        for spec in new {
            match self.table.find(&spec.key) {
                Some(i) if self.table.slot(i).spec == spec => report.unchanged += 1,
                Some(i) => {
                    report.changed += 1;
                    self.table.update(i, spec);
                    to_install.push(spec.key);
                }
                None => {
                    report.added += 1;
                    self.table.insert(spec);
                    to_install.push(spec.key);
                }
            }
        }
        // Keep the scan's fast path: slots in the kernel's dump order.
        // Sorting moves slots, so indices are taken only afterwards.
        if report.added + report.removed > 0 {
            self.table.sort();
        }
        let work = to_install.iter().filter_map(|k| self.table.find(k)).map(|i| (i, Purpose::Initial)).collect();
        self.install(work).await;
        tracing::info!(
            added = report.added,
            removed = report.removed,
            changed = report.changed,
            unchanged = report.unchanged,
            "configuration reloaded"
        );
        report
    }

    async fn shutdown(&mut self) {
        if !self.daemon.withdraw_on_exit {
            return;
        }
        let keys: Vec<RouteKey> = self.table.slots().iter().map(|s| s.spec.key).collect();
        for key in &keys {
            self.table.remove(key);
        }
        let ops: Vec<Op> = keys.iter().map(|k| Op::Delete(*k)).collect();
        match self.writer.apply(&ops).await {
            Ok(_) => tracing::info!(routes = keys.len(), "routes withdrawn on exit"),
            Err(e) => tracing::error!(error = %e, "cannot withdraw routes on exit"),
        }
    }

    // ---- reporting ------------------------------------------------------------

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
            },
            reinstalls: self.reinstalls,
            overruns: self.overruns,
            last_reconcile: self.last_cycle,
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
}

#[derive(Debug, Default, Clone, Copy)]
struct InstallOutcome {
    /// Lost routes put back (first installs are not counted).
    repaired: usize,
    failed: usize,
}

/// Re-expresses a spec whose device id refers to `from` with ids of `to`.
fn translate(spec: &RouteSpec, from: &DevNames, to: &mut DevNames) -> RouteSpec {
    RouteSpec { dev: spec.dev.map(|d| to.intern(from.name(d))), ..*spec }
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

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
