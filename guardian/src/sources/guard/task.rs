//! The guards' task: takes each guard's routes under guard (at start and
//! on every reload), answers the reconciler's notices about them, and keeps
//! the per-guard metrics. See `../guard.rs` for the picture.

use super::{adopt, verdict};
use crate::attribution::{self, Deleter, DeleterLabels, Deletion, GuardVerdict, Query, Verdict, Who};
use crate::config::{GuardConfig, GuardMode};
use crate::kernel::monitor::WatchedProtocols;
use crate::kernel::routes::RouteWriter;
use crate::kernel::KernelError;
use crate::messages::{Change, DesiredRoutes, GuardNotice, GuardTerms, OwnedLoss, Source, SourceReport, SourceUpdate};
use crate::metrics::guard::{GuardLabels, VerdictLabels};
use crate::metrics::Metrics;
use crate::route::Family;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Orders for the guards' task.
pub enum GuardCommand {
    /// The guards of the configuration just read: each takes the routes it
    /// selects as the kernel has them now; a guard no longer configured
    /// lets go of its routes (they stay in the kernel, unguarded). `done`
    /// gets the number of routes under guard.
    Configure { guards: Vec<GuardConfig>, done: Option<oneshot::Sender<Result<usize, KernelError>>> },
}

pub struct GuardTask {
    guards: Vec<GuardConfig>,
    routes: mpsc::Sender<SourceUpdate>,
    attribution: mpsc::Sender<Query>,
    watched: WatchedProtocols,
    metrics: Arc<Metrics>,
    labels: DeleterLabels,
    /// Dumps the owners' routes (opened on first use: no guard, no socket).
    reader: Option<RouteWriter>,
}

/// A loss whose deleter attribution is still looking for.
type Asked = (OwnedLoss, oneshot::Receiver<Option<Deleter>>);

impl GuardTask {
    pub fn new(
        routes: mpsc::Sender<SourceUpdate>,
        attribution: mpsc::Sender<Query>,
        watched: WatchedProtocols,
        metrics: Arc<Metrics>,
        labels: DeleterLabels,
    ) -> GuardTask {
        GuardTask { guards: Vec::new(), routes, attribution, watched, metrics, labels, reader: None }
    }

    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<GuardCommand>,
        mut notices: mpsc::UnboundedReceiver<GuardNotice>,
    ) {
        // Answers are taken in the order the losses came, so two losses of
        // one route are decided in order; attribution answers them all at
        // once, so one slow answer holds the others back by its wait at most.
        let mut asked: VecDeque<Asked> = VecDeque::new();
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(GuardCommand::Configure { guards, done }) => {
                        let result = self.configure(guards).await;
                        if let Err(e) = &result {
                            tracing::error!(error = %e, "cannot take routes under guard");
                        }
                        if let Some(done) = done {
                            let _ = done.send(result);
                        }
                    }
                    None => break,
                },
                notice = notices.recv() => match notice {
                    Some(GuardNotice::Lost(loss)) => {
                        let (tx, rx) = oneshot::channel();
                        let query = Query::Who { loss: attribution::Lost::of_loss(&loss), reply: tx };
                        if self.attribution.send(query).await.is_ok() {
                            asked.push_back((loss, rx));
                        }
                    }
                    Some(GuardNotice::Appeared { route, raw, .. }) => self.on_appeared(&route, raw).await,
                    None => break,
                },
                answer = front(&mut asked), if !asked.is_empty() => {
                    let (loss, _) = asked.pop_front().expect("not empty");
                    self.decide(loss, answer.unwrap_or(None)).await;
                }
            }
        }
    }

    /// Takes the routes of `guards` under guard; lets go of the routes of
    /// guards gone.
    async fn configure(&mut self, guards: Vec<GuardConfig>) -> Result<usize, KernelError> {
        for gone in self.guards.iter().filter(|g| !guards.iter().any(|n| n.name == g.name)) {
            tracing::info!(guard = %gone.name, "guard removed; its routes stay in the kernel, unguarded");
            self.send(source_of(gone), Change::Replace(DesiredRoutes::default())).await;
            self.metrics.guard.routes.remove(&GuardLabels { guard: gone.name.clone() });
        }
        // Watched first: a route the owner adds while the dump runs reaches
        // the reconciler as an appearance, so none falls between the two.
        let protocols: Vec<u8> = guards.iter().map(|g| g.protocol).collect();
        self.watched.set(&protocols);
        self.guards = guards;
        let mut total = 0;
        for i in 0..self.guards.len() {
            let set = self.dump(&self.guards[i].clone()).await?;
            let guard = &self.guards[i];
            let report = self.send(source_of(guard), Change::Replace(set)).await;
            let held = report.added + report.changed + report.unchanged;
            self.metrics.guard.routes.get_or_create(&GuardLabels { guard: guard.name.clone() }).set(held as i64);
            tracing::info!(guard = %guard.name, protocol = guard.protocol, mode = guard.mode.label(), routes = held, shadowed = report.shadowed, "routes under guard");
            total += held;
        }
        Ok(total)
    }

    /// The routes `guard` selects, as the kernel has them now.
    async fn dump(&mut self, guard: &GuardConfig) -> Result<DesiredRoutes, KernelError> {
        if self.reader.is_none() {
            self.reader = Some(RouteWriter::new(0)?);
        }
        let reader = self.reader.as_mut().expect("opened");
        let mut names = DevNameCache::default();
        let mut set = DesiredRoutes::default();
        for family in [Family::V4, Family::V6] {
            reader
                .dump_protocol(family, 0, guard.protocol, |payload, route| {
                    let k = &route.key;
                    if guard.selects(k.table, route.protocol, k.dst_ip(), k.dst_len) {
                        adopt::add(&mut set, route, payload, |index| names.name(index));
                    }
                })
                .await?;
        }
        Ok(set)
    }

    /// A route of a watched protocol that nothing tracks: the owner's new
    /// route joins the guard that selects it.
    async fn on_appeared(&mut self, route: &crate::messages::KernelRoute, raw: Arc<crate::route::raw::RawRoute>) {
        let k = &route.key;
        let Some(guard) = self.guards.iter().find(|g| g.selects(k.table, route.protocol, k.dst_ip(), k.dst_len)) else {
            return;
        };
        let source = source_of(guard);
        let mut names = DevNameCache::default();
        let mut add = DesiredRoutes::default();
        adopt::add_notified(&mut add, route, raw, |index| names.name(index));
        let labels = GuardLabels { guard: guard.name.clone() };
        let report = self.send(source, Change::Update { add, remove: Vec::new() }).await;
        self.metrics.guard.routes.get_or_create(&labels).inc_by(report.added as i64);
    }

    /// What a loss was, now that attribution says who caused it.
    async fn decide(&mut self, loss: OwnedLoss, deleter: Option<Deleter>) {
        let Some(guard) = self.guards.iter().find(|g| g.name == loss.guard).cloned() else { return };
        let program = program_of(deleter.as_ref());
        let verdict = verdict::decide(&guard, &loss.cause, loss.requester, deleter.as_ref(), program.as_deref());
        let labels = VerdictLabels {
            guard: guard.name.clone(),
            verdict: verdict.label(),
            deleter: self.labels.label(deleter.as_ref()).to_owned(),
        };
        self.metrics.guard.verdicts.get_or_create(&labels).inc();
        let owner = owner_of(&guard);
        if verdict != Verdict::Repaired {
            attribution::log_verdict(&loss, &owner, verdict, deleter.as_ref());
            let note = GuardVerdict { name: guard.name.clone(), owner: owner.clone(), verdict };
            let _ = self.attribution.send(Query::Note(Deletion::of_loss(&loss, deleter, note))).await;
        }
        let source = source_of(&guard);
        let gauge = GuardLabels { guard: guard.name.clone() };
        match verdict {
            // Its `route reinstalled` line comes from attribution once done.
            Verdict::Repaired => {
                self.send(source, Change::Restore(vec![loss.key])).await;
            }
            Verdict::Owner | Verdict::Accepted => match loss.replacement {
                // The owner's new version of the route: follow it.
                Some((route, copy)) if verdict == Verdict::Owner => {
                    let mut names = DevNameCache::default();
                    let mut add = DesiredRoutes::default();
                    adopt::add_notified(&mut add, &route, copy, |index| names.name(index));
                    self.send(source, Change::Update { add, remove: Vec::new() }).await;
                }
                _ => {
                    let report = self
                        .send(source, Change::Update { add: DesiredRoutes::default(), remove: vec![loss.key] })
                        .await;
                    self.metrics.guard.routes.get_or_create(&gauge).dec_by(report.removed as i64);
                }
            },
            // The reconciler waits for the link or address, then the grace.
            Verdict::Kernel | Verdict::WouldRepair => {}
        }
    }

    /// Sends one update and waits until the reconciler has applied it.
    async fn send(&self, source: Source, change: Change) -> SourceReport {
        let (tx, rx) = oneshot::channel();
        if self.routes.send(SourceUpdate { source, change, done: Some(tx) }).await.is_err() {
            return SourceReport::default();
        }
        rx.await.unwrap_or_default()
    }
}

/// The next answer, in order.
async fn front(asked: &mut VecDeque<Asked>) -> Result<Option<Deleter>, oneshot::error::RecvError> {
    match asked.front_mut() {
        Some((_, rx)) => rx.await,
        None => std::future::pending().await,
    }
}

fn source_of(guard: &GuardConfig) -> Source {
    let terms = GuardTerms {
        protocol: guard.protocol,
        audit: guard.mode == GuardMode::Audit,
        kernel_cause_grace: guard.kernel_cause_grace,
    };
    Source::guard(&guard.name, owner_of(guard), terms)
}

/// The owner as logs and `guardian routes` name it.
fn owner_of(guard: &GuardConfig) -> String {
    match (guard.owner.is_empty(), &guard.owner_unit) {
        (false, _) => guard.owner.join(","),
        (true, Some(unit)) => unit.clone(),
        (true, None) => String::new(),
    }
}

/// The program a deleter runs (its command line's first word, without
/// the folder): a thread's comm may be its own (FRR's zebra deletes from
/// `zebra_dplane`), and the command line is in the eBPF record even when
/// the process has already exited (an owner's deletions on its way out).
fn program_of(deleter: Option<&Deleter>) -> Option<String> {
    match deleter.map(|d| &d.who) {
        Some(Who::Process { process, .. }) => {
            let first = process.cmdline.as_deref()?.split(' ').next()?;
            Some(first.rsplit('/').next().unwrap_or(first).to_owned())
        }
        _ => None,
    }
}

/// Interface names by index, looked up once each per pass.
#[derive(Default)]
struct DevNameCache {
    known: HashMap<u32, Option<String>>,
}

impl DevNameCache {
    fn name(&mut self, index: u32) -> Option<String> {
        self.known.entry(index).or_insert_with(|| if_name(index)).clone()
    }
}

fn if_name(index: u32) -> Option<String> {
    nix::net::if_::if_indextoname(index).ok().and_then(|name| name.into_string().ok())
}
