//! Scans: the task dumps the tables that hold tracked routes (filtered by
//! guardian's protocol in the kernel) into a [`Scan`], route by route, and
//! the core compares. The start-up sync is a scan of every table that
//! adopts what is already in place.

use super::super::table::{SlotSet, State};
use super::{Core, Loss, Purpose, Trigger, WithdrawBatch, Work, LINK_DOWN_BLAME, SCAN_RETRY_DELAY};
use crate::messages::api::CycleReport;
use crate::messages::{Cause, KernelRoute, Noticed};
use crate::route::{Family, RouteSpec};
use tokio::time::Instant;

/// One scan in progress: which tables to dump, and what the dumps showed.
#[derive(Debug)]
pub struct Scan {
    trigger: Trigger,
    started: Instant,
    /// (family, table, protocol); table 0 is every table.
    targets: Vec<(Family, u32, u8)>,
    /// The slots seen in the kernel as ours.
    seen: SlotSet,
    /// Routes of guardian's protocol that match no tracked route.
    stale: Vec<KernelRoute>,
    /// The slot after the last one found: dumps come in the table's order.
    next: usize,
    /// Where the current dump's stale routes begin.
    mark: usize,
}

impl Scan {
    /// The (family, table, protocol) to dump, in order; table 0 is every table.
    pub fn targets(&self) -> Vec<(Family, u32, u8)> {
        self.targets.clone()
    }
}

/// What a finished comparison asks of the kernel, in this order: stale
/// routes out, routes a liveness session keeps out that came back out,
/// then the installs. [`Core::scan_done`] makes the report.
#[derive(Debug)]
pub struct ScanPlan {
    pub stale: WithdrawBatch,
    pub unwanted: WithdrawBatch,
    pub install: Work,
    checked: usize,
    missing: usize,
    started: Instant,
    trigger: Trigger,
}

impl Core {
    /// A scan for `trigger`: at start-up every table, else the tables that
    /// hold tracked routes.
    pub fn begin_scan(&mut self, trigger: Trigger, now: Instant) -> Scan {
        self.links_down.retain(|_, (_, when)| now.saturating_duration_since(*when) <= LINK_DOWN_BLAME);
        let tables = if matches!(trigger, Trigger::Startup | Trigger::BgpSettled) {
            vec![(Family::V4, 0), (Family::V6, 0)]
        } else {
            self.table.tables()
        };
        let mut targets: Vec<(Family, u32, u8)> = tables.into_iter().map(|(f, t)| (f, t, self.protocol)).collect();
        // A guard's routes: its owner's protocol, in whichever tables.
        for protocol in self.guarded_protocols() {
            targets.extend([(Family::V4, 0, protocol), (Family::V6, 0, protocol)]);
        }
        Scan {
            trigger,
            started: now,
            targets,
            seen: SlotSet::with_len(self.table.len()),
            stale: Vec::new(),
            next: 0,
            mark: 0,
        }
    }

    /// A dump (or a repeat of an interrupted one) begins.
    pub fn begin_dump(&self, scan: &mut Scan) {
        scan.next = 0;
        scan.mark = scan.stale.len();
    }

    /// One route of the dump. Called for every route of a table: kept to a
    /// lookup from the last position and a comparison, inlined into the
    /// dump's loop (see `wire::parse_route`).
    #[inline]
    pub fn observe(&self, scan: &mut Scan, route: &KernelRoute) {
        match self.table.find_after(scan.next, &route.key) {
            Some(i) => {
                scan.next = i + 1;
                if self.is_ours(i, route) {
                    scan.seen.insert(i);
                }
            }
            None => {
                if route.protocol == self.protocol {
                    scan.stale.push(*route);
                }
            }
        }
    }

    /// The kernel marked the dump interrupted (the table changed meanwhile):
    /// it is repeated. Marks stay (a route seen in place is in place, and
    /// the repeat finds anything it missed); its stale routes are dropped.
    pub fn dump_interrupted(&self, scan: &mut Scan) {
        scan.stale.truncate(scan.mark);
    }

    /// A dump failed: the scan is abandoned and tried again shortly.
    pub fn scan_failed(&mut self, scan: Scan, now: Instant) -> CycleReport {
        self.resync = Some((Trigger::Retry, now + SCAN_RETRY_DELAY));
        let report = CycleReport { duration_seconds: (now - scan.started).as_secs_f64(), ..Default::default() };
        self.last_cycle = Some(report);
        report
    }

    /// Compares what the dumps showed with the tracked set. Only the slots
    /// that are not installed and seen (usually none) are looked at.
    pub fn finish_scan(&mut self, scan: Scan) -> ScanPlan {
        let Scan { trigger, started, seen, stale, .. } = scan;
        let n = self.table.len();
        let mut install = Vec::new();
        let mut unwanted: Vec<RouteSpec> = Vec::new();
        let mut missing = 0;
        for i in self.table.unsettled(&seen) {
            let present = seen.contains(i);
            match (self.table.slot(i).state, present) {
                (State::Installed, false) => {
                    missing += 1;
                    let (cause, link_index) = self.scan_cause(i, started);
                    let loss = Loss {
                        since: started,
                        noticed: Noticed::Scan,
                        cause,
                        requester: None,
                        link_index,
                        replacement: None,
                    };
                    install.extend(self.on_lost(i, loss, started));
                }
                (State::Pending, true) => self.mark_present(i), // adopted as it stands
                (State::Pending, false) => install.push((i, Purpose::Initial)),
                (State::Missing | State::Failed | State::Damped, true) => self.mark_present(i),
                // A guard decides about its own (`guarded.rs`).
                (State::Missing | State::Failed, false) if self.guard_of(i).is_some() => {}
                (State::Missing, false) => install.push((i, Purpose::Repair)),
                (State::Failed, false) => install.push((i, Purpose::Retry)),
                (State::Installed, true) | (State::Damped, false) | (State::Withdrawn, false) => {}
                // Liveness decides after a restart (adopted routes wait for
                // their sessions); later, one that shows up again goes.
                (State::Withdrawn, true) if trigger == Trigger::Startup => self.mark_present(i),
                (State::Withdrawn, true) => unwanted.push(self.table.slot(i).spec),
            }
        }
        if self.adopting {
            self.adoptable = stale.iter().map(|r| (r.key, *r)).collect();
        }
        if !unwanted.is_empty() {
            tracing::info!(
                routes = unwanted.len(),
                "routes whose liveness session is down were back in the kernel; withdrawn again"
            );
        }
        ScanPlan {
            // While BGP's neighbors come back, what looks stale may be theirs.
            stale: if stale.is_empty() || self.adopting { WithdrawBatch::default() } else { self.stale_batch(&stale) },
            unwanted: self.withdraw_batch(&unwanted, "cannot withdraw route whose session is down"),
            install,
            checked: n,
            missing,
            started,
            trigger,
        }
    }

    /// The scan's report, once its plan was carried out.
    pub fn scan_done(&mut self, plan: &ScanPlan, outcome: super::InstallOutcome, now: Instant) -> CycleReport {
        let report = CycleReport {
            checked: plan.checked,
            missing: plan.missing,
            repaired: outcome.repaired,
            failed: outcome.failed,
            duration_seconds: (now - plan.started).as_secs_f64(),
        };
        self.metrics.reconcile_duration.observe(report.duration_seconds);
        self.metrics.reconcile_checked.set(plan.checked as i64);
        self.last_cycle = Some(report);
        tracing::debug!(trigger = plan.trigger.label(), checked = plan.checked, missing = plan.missing, duration = ?(now - plan.started), "reconcile cycle");
        report
    }

    /// Why a scan found a route missing: IPv4 flushes the routes over a link
    /// that goes down without a notification per route, so a route over a
    /// link that went down lately is blamed on the link.
    fn scan_cause(&self, i: usize, now: Instant) -> (Cause, Option<u32>) {
        let recent = |(index, (name, when)): (&u32, &(String, Instant))| {
            (now.saturating_duration_since(*when) <= LINK_DOWN_BLAME).then(|| (*index, name.clone()))
        };
        let spec = &self.table.slot(i).spec;
        let link = match spec.dev {
            Some(dev) => {
                let name = self.table.devs.name(dev);
                self.links_down.iter().filter(|(_, (n, _))| n == name).find_map(recent)
            }
            // Without a configured device, a single link down lately is the likely cause.
            None => {
                let mut recent_downs = self.links_down.iter().filter_map(recent);
                match (recent_downs.next(), recent_downs.next()) {
                    (Some(link), None) => Some(link),
                    _ => None,
                }
            }
        };
        match link {
            Some((index, dev)) => (Cause::LinkDown { dev }, Some(index)),
            None => (Cause::Deleted, None),
        }
    }
}
