//! Requests from the control API and the daemon: route listing, a cycle on
//! demand, configuration reload and shutdown.

use super::table::State;
use super::{Command, Purpose, Reconciler, ReloadReport, Trigger};
use crate::config::Config;
use crate::kernel::routes::Op;
use crate::kernel::wire::RouteRequest;
use crate::route::{DevNames, RouteKey, RouteSpec};
use std::collections::HashSet;

impl Reconciler {
    pub(super) async fn on_command(&mut self, command: Command) {
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

    /// Applies a new configuration: removed routes are untracked, then
    /// withdrawn; added and changed ones installed; the rest untouched.
    async fn reload(&mut self, config: Config) -> ReloadReport {
        let Config { origin, daemon, reconcile, routes, .. } = config;
        if daemon != self.daemon {
            tracing::warn!("changes to [daemon] take effect when guardian restarts");
        }
        if reconcile.interval != self.cfg.interval {
            self.next_scan = (!reconcile.interval.is_zero()).then(|| tokio::time::Instant::now() + reconcile.interval);
        }
        self.cfg = reconcile;
        self.origin = origin;
        let new: Vec<RouteSpec> =
            routes.specs.iter().map(|s| translate(s, &routes.devs, &mut self.table.devs)).collect();
        self.refresh_dev_index();
        let wanted: HashSet<RouteKey> = new.iter().map(|s| s.key).collect();
        let mut report = ReloadReport::default();

        // Untrack first, then delete, so nothing repairs them.
        let removed: Vec<RouteKey> =
            self.table.slots().iter().map(|s| s.spec.key).filter(|k| !wanted.contains(k)).collect();
        let mut installed = Vec::new();
        for key in &removed {
            self.untrack(key);
            if let Some(slot) = self.table.remove(key) {
                if slot.state == State::Installed {
                    installed.push(slot.spec);
                }
            }
        }
        report.removed = removed.len();
        self.withdraw(&installed, "cannot withdraw route (a later scan withdraws it as stale)").await;

        // Liveness decides about gated routes: a new one waits for its
        // session, a withdrawn one stays withdrawn, an installed one stays
        // until its session has had its chance (the liveness task re-sends
        // every verdict after a reload). One no longer gated is guarded again.
        let gated: HashSet<RouteKey> = routes.liveness.iter().map(|l| l.key).collect();
        let mut to_install = Vec::new();
        for spec in new {
            let is_gated = gated.contains(&spec.key);
            match self.table.find(&spec.key) {
                Some(i) if self.table.slot(i).spec == spec => {
                    report.unchanged += 1;
                    if !is_gated && self.table.slot(i).state == State::Withdrawn {
                        self.table.set_state(i, State::Pending);
                        to_install.push(spec.key);
                    }
                }
                Some(i) => {
                    report.changed += 1;
                    let withdrawn = self.table.slot(i).state == State::Withdrawn;
                    self.table.update(i, spec);
                    if is_gated && withdrawn {
                        self.table.set_state(i, State::Withdrawn);
                    } else {
                        to_install.push(spec.key);
                    }
                }
                None => {
                    report.added += 1;
                    let i = self.table.insert(spec);
                    if is_gated {
                        self.table.set_state(i, State::Withdrawn);
                    } else {
                        to_install.push(spec.key);
                    }
                }
            }
        }
        self.gated = gated;
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

    pub(super) async fn shutdown(&mut self) {
        if !self.daemon.withdraw_on_exit {
            return;
        }
        let keys: Vec<RouteKey> = self.table.slots().iter().map(|s| s.spec.key).collect();
        let specs: Vec<RouteSpec> = keys
            .iter()
            .filter_map(|k| self.table.remove(k))
            .filter(|slot| slot.state == State::Installed)
            .map(|slot| slot.spec)
            .collect();
        self.withdraw(&specs, "cannot withdraw route on exit").await;
        tracing::info!(routes = specs.len(), "routes withdrawn on exit");
    }

    /// Deletes routes that are no longer tracked, naming their next hop so
    /// that only guardian's own route with that identity goes. Only routes
    /// that were installed are deleted: the kernel reads an IPv4 metric of 0
    /// as "any metric", so deleting one that is not there could take another
    /// route of ours with the same prefix.
    /// Returns how many deletes failed.
    pub(super) async fn withdraw(&mut self, specs: &[RouteSpec], failure: &'static str) -> usize {
        if specs.is_empty() {
            return 0;
        }
        let ops: Vec<Op> = specs
            .iter()
            .map(|spec| {
                let oif = spec.dev.and_then(|d| self.dev_index.get(d));
                Op::Delete(RouteRequest { key: spec.key, via: spec.via, oif, src: None, protocol: self.protocol })
            })
            .collect();
        match self.writer.apply(&ops).await {
            Ok(results) => {
                let mut failed = 0;
                for (spec, result) in specs.iter().zip(results) {
                    if let Err(e) = result {
                        failed += 1;
                        let route = crate::route::RouteDisplay { spec, devs: &self.table.devs }.to_string();
                        tracing::error!(route = %route, error = %e, "{failure}");
                    }
                }
                failed
            }
            Err(e) => {
                tracing::error!(routes = specs.len(), error = %e, "{failure}");
                specs.len()
            }
        }
    }
}

/// Re-expresses a spec whose device id refers to `from` with ids of `to`.
fn translate(spec: &RouteSpec, from: &DevNames, to: &mut DevNames) -> RouteSpec {
    RouteSpec { dev: spec.dev.map(|d| to.intern(from.name(d))), ..*spec }
}
