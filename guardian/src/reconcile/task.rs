//! The reconciler task: owns the [`Core`] and the netlink writer, and
//! carries out what the core decides.
//!
//! ```text
//!  sources ───────SourceUpdate───▶ ┌──────┐
//!  kernel::monitor ──EventBatch──▶ │      │ ──InstallBatch / WithdrawBatch──▶ RouteWriter ──▶ kernel
//!  liveness ─────────Gate────────▶ │ Core │ ◀──results, dumped routes─────────┘
//!  control API ─────Command──────▶ │      │ ──Repaired──▶ attribution task
//!  attribution task ──Deleted────▶ └──────┘   (who caused each repaired loss: fights)
//!  timers (Core::next_wakeup) ──────▲        ──watch<Status>──▶ control API
//!                                           ──WATCHDOG=1──▶ service manager
//! ```
//!
//! The loop pets the service manager's watchdog (when it has one) after
//! every wake-up, and wakes up at least as often as the watchdog wants, so
//! a reconciler wedged in an exchange stops petting and gets restarted.
//!
//! Each input is one exchange: hand it to the core with the time, perform
//! the kernel operations it returns in order, report their results back.

use super::core::{Core, GatePlan, InstallOutcome, Scan, Trigger, Work};
use super::{Command, Settings};
use crate::kernel::routes::{Op, OpError, RouteWriter};
use crate::kernel::{wire, KernelError};
use crate::messages::api::{CycleReport, Status};
use crate::messages::{
    Change, Deleted, EventBatch, Gate, GuardNotice, Repaired, SourceKind, SourceReport, SourceUpdate,
};
use crate::metrics::Metrics;
use crate::systemd::Watchdog;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A dump the kernel marks as interrupted (the table changed meanwhile) may
/// have skipped routes; it is repeated this many times before its result is
/// used anyway.
const INTERRUPTED_DUMP_RETRIES: usize = 3;

pub struct Reconciler {
    core: Core,
    writer: RouteWriter,
    metrics: Arc<Metrics>,
    status: watch::Sender<Status>,
    repairs: mpsc::UnboundedSender<Repaired>,
    /// When the process started (for the uptime).
    started: std::time::Instant,
    /// The service manager's watchdog, when it set one.
    watchdog: Option<Watchdog>,
    /// Where guarded routes' losses go (the guards' task).
    guards: Option<mpsc::UnboundedSender<GuardNotice>>,
    /// Routes sources changed since the allocator was last trimmed, and
    /// when to trim it (see [`TRIM_AFTER_ROUTES`]).
    routes_since_trim: usize,
    trim_at: Option<Instant>,
}

impl Reconciler {
    /// `started` is when the process started, for the status's uptime.
    pub fn new(
        settings: Settings,
        writer: RouteWriter,
        metrics: Arc<Metrics>,
        status: watch::Sender<Status>,
        repairs: mpsc::UnboundedSender<Repaired>,
        started: std::time::Instant,
    ) -> Reconciler {
        let core = Core::new(settings, metrics.clone(), Instant::now());
        Reconciler {
            core,
            writer,
            metrics,
            status,
            repairs,
            started,
            watchdog: None,
            guards: None,
            routes_since_trim: 0,
            trim_at: None,
        }
    }

    /// BGP is configured: a restarting guardian adopts its routes (see
    /// [`crate::messages::Change::Settled`]).
    pub fn with_bgp_adoption(mut self) -> Reconciler {
        self.core.hold_for_bgp();
        self
    }

    /// Hands guarded routes' losses to `notices` (the guards' task).
    pub fn with_guards(mut self, notices: mpsc::UnboundedSender<GuardNotice>) -> Reconciler {
        self.guards = Some(notices);
        self
    }

    fn send_guard_notices(&mut self) {
        if let Some(tx) = &self.guards {
            for notice in self.core.take_guard_notices() {
                let _ = tx.send(notice);
            }
        }
    }

    /// Pets `watchdog` from the loop (see the module's header).
    pub fn with_watchdog(mut self, watchdog: Option<Watchdog>) -> Reconciler {
        self.watchdog = watchdog;
        self
    }

    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<EventBatch>,
        mut commands: mpsc::Receiver<Command>,
        mut gates: mpsc::UnboundedReceiver<Gate>,
        mut sources: mpsc::Receiver<SourceUpdate>,
        mut deleted: mpsc::UnboundedReceiver<Deleted>,
    ) {
        // What sources sent before the start, the start-up scan adopts or installs.
        while let Ok(update) = sources.try_recv() {
            self.on_source(update).await;
        }
        self.initial_sync().await;
        loop {
            let next = [self.core.next_wakeup(), self.watchdog.as_ref().map(Watchdog::next), self.trim_at]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                biased;
                batch = events.recv() => match batch {
                    Some(batch) => {
                        let work = self.core.on_events(batch, Instant::now());
                        self.install(work).await;
                    }
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
                Some(update) = sources.recv() => self.on_source(update).await,
                Some(deleted) = deleted.recv() => self.core.attributed(deleted),
                _ = crate::time::sleep_until(next), if next.is_some() => {}
            }
            // Timers are checked after every wake-up, not only when their
            // branch wins: a steady stream of events must not starve them.
            let due = self.core.due(Instant::now(), events.is_empty());
            self.install(due.retries).await;
            if let Some(trigger) = due.scan {
                self.scan(trigger).await;
            }
            if self.trim_at.is_some_and(|at| at <= Instant::now()) {
                self.trim_at = None;
                self.routes_since_trim = 0;
                release_memory();
            }
            self.send_guard_notices();
            self.publish();
            if let Some(watchdog) = &mut self.watchdog {
                watchdog.pet_if_due(Instant::now());
            }
        }
    }

    async fn initial_sync(&mut self) {
        let started = Instant::now();
        match self.writer.dump_links().await {
            Ok(links) => self.core.set_links(links),
            Err(e) => {
                self.core.set_links(Vec::new());
                tracing::error!(error = %e, "cannot list interfaces; devices resolve as links appear");
            }
        }
        self.scan(Trigger::Startup).await;
        self.core.startup_done(started.elapsed(), Instant::now());
        self.send_guard_notices();
        release_memory();
        self.publish();
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Routes(reply) => {
                let _ = reply.send(self.core.route_infos());
            }
            Command::Reconcile(reply) => {
                let report = self.scan(Trigger::Manual).await;
                let _ = reply.send(report);
            }
            Command::Configure(settings, reply) => {
                self.core.configure(*settings, Instant::now());
                let _ = reply.send(());
            }
            Command::Shutdown(_) => unreachable!("handled by the loop"),
        }
    }

    /// A source's routes: removed ones out of the kernel, then new and
    /// changed ones in.
    async fn on_source(&mut self, update: SourceUpdate) {
        let SourceUpdate { source, change, done } = update;
        if matches!(change, Change::Settled) {
            self.core.settle(Instant::now());
            return;
        }
        let (name, kind) = (source.name.clone(), source.kind);
        let plan = self.core.apply_source(source, change);
        // A large load (a BGP full table) leaves the allocator holding what
        // its batches used: give it back once the sources have been quiet.
        self.routes_since_trim += plan.report.added + plan.report.changed + plan.report.removed;
        if self.routes_since_trim >= TRIM_AFTER_ROUTES {
            self.trim_at = Some(Instant::now() + TRIM_QUIET);
        }
        let result = self.apply(&plan.withdraw.ops).await;
        self.core.withdrawn(plan.withdraw, result);
        self.install(plan.install).await;
        log_source_report(&name, kind, plan.report, self.core.is_ready());
        if let Some(done) = done {
            let _ = done.send(plan.report);
        }
    }

    async fn on_gate(&mut self, gate: Gate) {
        let GatePlan { withdraw, install } = self.core.on_gate(&gate);
        let withdraws = withdraw.ops.len();
        let result = self.apply(&withdraw.ops).await;
        let withdraw_failed = self.core.withdrawn(withdraw, result);
        let installs = install.len();
        let outcome = self.install(install).await;
        self.core.gate_done(&gate, (installs, outcome.failed), (withdraws, withdraw_failed));
    }

    async fn shutdown(&mut self) {
        let batch = self.core.shutdown();
        if batch.is_empty() {
            return;
        }
        let routes = batch.ops.len();
        let result = self.apply(&batch.ops).await;
        self.core.withdrawn(batch, result);
        tracing::info!(routes, "routes withdrawn on exit");
    }

    /// Installs `work` in one batch and hands the repairs on.
    async fn install(&mut self, work: Work) -> InstallOutcome {
        if work.is_empty() {
            return InstallOutcome::default();
        }
        let batch = self.core.prepare_install(work, Instant::now(), self.writer.next_op_seq());
        let result = self.apply(&batch.ops).await;
        let (outcome, repairs) = self.core.installed(batch, result, Instant::now());
        for repaired in repairs {
            if let Err(unsent) = self.repairs.send(repaired) {
                super::log_unattributed(&unsent.0, &self.metrics);
            }
        }
        outcome
    }

    /// One batch to the kernel; nothing is sent for an empty one.
    async fn apply(&mut self, ops: &[Op]) -> Result<Vec<Result<(), OpError>>, KernelError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.apply(ops).await
    }

    /// Dumps the tables that hold tracked routes and carries out what the
    /// comparison decides.
    async fn scan(&mut self, trigger: Trigger) -> CycleReport {
        let mut scan = self.core.begin_scan(trigger, Instant::now());
        for (family, table, protocol) in scan.targets() {
            if let Err(e) = self.dump(&mut scan, family, table, protocol).await {
                tracing::error!(error = %e, family = family.label(), table, "route dump failed; scanning again shortly");
                return self.core.scan_failed(scan, Instant::now());
            }
        }
        let mut plan = self.core.finish_scan(scan);
        for batch in [std::mem::take(&mut plan.stale), std::mem::take(&mut plan.unwanted)] {
            let result = self.apply(&batch.ops).await;
            self.core.withdrawn(batch, result);
        }
        let outcome = self.install(std::mem::take(&mut plan.install)).await;
        self.core.scan_done(&plan, outcome, Instant::now())
    }

    /// One table into `scan`, repeated while the kernel says the dump was
    /// interrupted.
    async fn dump(
        &mut self,
        scan: &mut Scan,
        family: crate::route::Family,
        table: u32,
        protocol: u8,
    ) -> Result<(), KernelError> {
        for attempt in 0..=INTERRUPTED_DUMP_RETRIES {
            self.core.begin_dump(scan);
            let Self { writer, core, .. } = self;
            let dumped = match protocol == writer.protocol() {
                true => writer.dump_routes(family, table, |route| core.observe(scan, route)).await?,
                // A guard's routes: compared by their attributes in full.
                false => {
                    let observe = |payload: &[u8], route: &crate::messages::KernelRoute| {
                        let route = crate::messages::KernelRoute { extra: wire::raw::extra(payload), ..*route };
                        core.observe(scan, &route)
                    };
                    writer.dump_protocol(family, table, protocol, observe).await?
                }
            };
            if !dumped.interrupted || attempt == INTERRUPTED_DUMP_RETRIES {
                return Ok(());
            }
            self.core.dump_interrupted(scan);
            tracing::debug!(family = family.label(), table, "route dump interrupted by changes; dumping again");
        }
        Ok(())
    }

    fn publish(&mut self) {
        let status = self.core.status(self.started.elapsed());
        self.status.send_replace(status);
    }
}

/// Routes added, changed or removed by sources after which the allocator's
/// free memory is given back, once no source sent anything for
/// [`TRIM_QUIET`]: measured with 1M BGP routes, 155 -> 141 bytes per route.
const TRIM_AFTER_ROUTES: usize = 100_000;
const TRIM_QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// Gives the allocator's free memory back to the system: parsing a large
/// configuration, or a BGP full table arriving in batches, leaves tens of
/// megabytes behind that the daemon never needs again.
fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap pages.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn log_source_report(source: &str, kind: SourceKind, r: SourceReport, ready: bool) {
    if !ready {
        // The start-up line ("initial sync complete") counts these.
        tracing::debug!(source, added = r.added, shadowed = r.shadowed, "routes received before the start-up scan");
        return;
    }
    let message = match kind {
        SourceKind::Config => "configuration reloaded",
        _ => "routes of a source updated",
    };
    tracing::info!(
        source,
        added = r.added,
        removed = r.removed,
        changed = r.changed,
        unchanged = r.unchanged,
        shadowed = r.shadowed,
        "{message}"
    );
}
