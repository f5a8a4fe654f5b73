//! Scans: dump the tables that hold tracked routes (filtered by guardian's
//! protocol in the kernel) and compare. The start-up sync is a scan of every
//! table that adopts what is already in place.

use super::table::State;
use super::{release_startup_memory, Loss, Purpose, Reconciler, Trigger, LINK_DOWN_BLAME, SCAN_RETRY_DELAY};
use crate::kernel::routes::Op;
use crate::kernel::wire::RouteRequest;
use crate::kernel::KernelError;
use crate::messages::api::CycleReport;
use crate::messages::{Cause, KernelRoute, Noticed};
use crate::route::Family;
use tokio::time::Instant;

/// A dump the kernel marks as interrupted (the table changed meanwhile) may
/// have skipped routes; it is repeated this many times before its result is
/// used anyway.
const INTERRUPTED_DUMP_RETRIES: usize = 3;

impl Reconciler {
    pub(super) async fn initial_sync(&mut self) {
        let started = Instant::now();
        match self.writer.dump_links().await {
            Ok(links) => {
                for link in links {
                    self.link_up.insert(link.index, link.up);
                    self.links.insert(link.name.clone(), link);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list interfaces; devices resolve as links appear"),
        }
        self.refresh_dev_index();
        let desired = self.table.len();
        self.scan(Trigger::Startup).await;
        let counts = self.table.counts();
        self.ready = true;
        release_startup_memory();
        tracing::info!(
            installed = self.installed_at_startup,
            adopted = counts.installed.saturating_sub(self.installed_at_startup),
            stale_withdrawn = self.stale_withdrawn,
            failed = counts.failed,
            desired,
            duration = ?started.elapsed(),
            "initial sync complete"
        );
        self.publish();
    }

    /// Dumps the tables that hold tracked routes and repairs what is missing.
    /// Routes of guardian's protocol that match no tracked route are stale
    /// leftovers (of an earlier configuration, or of a withdrawal that
    /// failed) and are withdrawn. At start-up every table is dumped.
    pub(super) async fn scan(&mut self, trigger: Trigger) -> CycleReport {
        let started = Instant::now();
        self.links_down.retain(|_, (_, when)| started.saturating_duration_since(*when) <= LINK_DOWN_BLAME);
        let n = self.table.len();
        let mut seen = vec![0u64; n.div_ceil(64)];
        let mut stale: Vec<KernelRoute> = Vec::new();
        let targets: Vec<(Family, u32)> =
            if trigger == Trigger::Startup { vec![(Family::V4, 0), (Family::V6, 0)] } else { self.table.tables() };
        for (family, table_id) in targets {
            if let Err(e) = self.dump_one(family, table_id, &mut seen, &mut stale).await {
                tracing::error!(error = %e, family = family.label(), table = table_id, "route dump failed; scanning again shortly");
                self.resync = Some((Trigger::Retry, Instant::now() + SCAN_RETRY_DELAY));
                let report = CycleReport { duration_seconds: started.elapsed().as_secs_f64(), ..Default::default() };
                self.last_cycle = Some(report);
                return report;
            }
        }

        let mut work = Vec::new();
        let mut unwanted = Vec::new();
        let mut missing = 0;
        for i in 0..n {
            let present = seen[i / 64] & (1 << (i % 64)) != 0;
            match (self.table.slot(i).state, present) {
                (State::Installed, false) => {
                    missing += 1;
                    let (cause, link_index) = self.scan_cause(i, started);
                    let loss = Loss { since: started, noticed: Noticed::Scan, cause, requester: None, link_index };
                    work.extend(self.on_lost(i, loss));
                }
                (State::Pending, true) => self.mark_present(i), // adopted as it stands
                (State::Pending, false) => work.push((i, Purpose::Initial)),
                (State::Missing | State::Failed | State::Damped, true) => self.mark_present(i),
                (State::Missing, false) => work.push((i, Purpose::Repair)),
                (State::Failed, false) => work.push((i, Purpose::Retry)),
                (State::Installed, true) | (State::Damped, false) | (State::Withdrawn, false) => {}
                // Liveness decides after a restart (adopted routes wait for
                // their sessions); later, one that shows up again goes.
                (State::Withdrawn, true) if trigger == Trigger::Startup => self.mark_present(i),
                (State::Withdrawn, true) => unwanted.push(self.table.slot(i).spec),
            }
        }

        if !stale.is_empty() {
            self.withdraw_stale(stale).await;
        }
        if !unwanted.is_empty() {
            tracing::info!(
                routes = unwanted.len(),
                "routes whose liveness session is down were back in the kernel; withdrawn again"
            );
            self.withdraw(&unwanted, "cannot withdraw route whose session is down").await;
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

    /// Dumps one table, marking the tracked routes found as ours in `seen`
    /// and collecting stale ones.
    async fn dump_one(
        &mut self,
        family: Family,
        table_id: u32,
        seen: &mut [u64],
        stale: &mut Vec<KernelRoute>,
    ) -> Result<(), KernelError> {
        for attempt in 0..=INTERRUPTED_DUMP_RETRIES {
            let mark = stale.len();
            let Self { writer, table, dev_index, protocol, .. } = self;
            let mut next = 0;
            let dumped = writer
                .dump_routes(family, table_id, |route| match table.find_after(next, &route.key) {
                    Some(i) => {
                        next = i + 1;
                        if super::decide::matches(&table.slot(i).spec, route, dev_index, *protocol) {
                            seen[i / 64] |= 1 << (i % 64);
                        }
                    }
                    None => {
                        if route.protocol == *protocol {
                            stale.push(*route);
                        }
                    }
                })
                .await?;
            if !dumped.interrupted || attempt == INTERRUPTED_DUMP_RETRIES {
                return Ok(());
            }
            // Marks of the interrupted attempt stay: a route seen in place is
            // in place, and the next attempt finds anything it missed.
            stale.truncate(mark);
            tracing::debug!(
                family = family.label(),
                table = table_id,
                "route dump interrupted by changes; dumping again"
            );
        }
        Ok(())
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

    async fn withdraw_stale(&mut self, stale: Vec<KernelRoute>) {
        let ops: Vec<Op> = stale
            .iter()
            .map(|r| {
                let oif = (r.oif != 0).then_some(r.oif);
                Op::Delete(RouteRequest { key: r.key, via: r.gateway, oif, src: None, protocol: self.protocol })
            })
            .collect();
        let results = self.writer.apply(&ops).await;
        for (n, stale_route) in stale.iter().enumerate() {
            let route = self.describe_kernel_route(stale_route);
            match results.as_ref().map(|r| &r[n]) {
                Ok(Ok(())) => {
                    self.stale_withdrawn += 1;
                    tracing::warn!(route = %route, "stale route withdrawn");
                }
                Ok(Err(e)) => tracing::error!(route = %route, error = %e, "cannot withdraw stale route"),
                Err(e) => tracing::error!(route = %route, error = %e, "cannot withdraw stale route"),
            }
        }
    }
}
