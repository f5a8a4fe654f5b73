//! The liveness task: owns the [`Engine`] and the sockets.
//!
//! ```text
//!  receive sockets (v4, v6) ──datagrams──▶ ┌────────┐ ──packets──▶ send sockets
//!  timer queue (in the engine) ──────────▶ │ engine │
//!  control API ──Command──────────────────▶ └────────┘ ──Gate──▶ reconciler
//! ```
//!
//! One task, one timer queue, a few sockets per family: a wake-up drains
//! what is readable (recvmmsg), runs the timers that are due, and sends
//! everything decided in one go (sendmmsg).
//!
//! The sockets of a family are open exactly while the configuration has a
//! route whose liveness peer is of that family: opened when the task is
//! made (a port another daemon holds stops the start-up, see
//! [`ReceiveSocket`]), and on reload before anything else changes
//! ([`LivenessHandle::prepare`]: a reload that would need a port that is
//! taken is refused whole). A host without liveness routes never holds the
//! port, which BIRD or FRR may want.

use super::engine::{Binding, Engine, Packet, SessionView};
use super::network::{NetworkError, Outgoing, ReceiveSocket, RecvBatch, SendSockets, GTSM_TTL, MAX_BATCH};
use super::registry::{RouteRef, SessionKey};
use crate::config::{LivenessConfig, LivenessRoute};
use crate::kernel::lookup::RouteLookup;
use crate::messages::Gate;
use crate::metrics::liveness::OpLabels;
use crate::metrics::Metrics;
use crate::route::Family;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What decides a route's session: peer, device, source.
type PathQuery = (IpAddr, Option<Arc<str>>, Option<IpAddr>);
/// A session key and interface name, or why there is none yet.
type Resolved = Result<(SessionKey, String), String>;

/// Routes whose session cannot be formed yet are tried again this often.
const RESOLVE_RETRY: Duration = Duration::from_secs(5);
/// Datagrams read per socket per wake-up before timers get their turn.
const READ_BUDGET: usize = 4 * MAX_BATCH;

pub enum Command {
    Sessions(oneshot::Sender<Vec<SessionView>>),
    /// AdminDown (`up == false`) or back up every session with `peer`;
    /// replies with the number of sessions.
    Admin {
        peer: IpAddr,
        up: bool,
        reply: oneshot::Sender<usize>,
    },
    /// Opens the sockets a new configuration needs, before it is applied.
    Prepare {
        port: u16,
        routes: Vec<LivenessRoute>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    Reload {
        config: LivenessConfig,
        routes: Vec<LivenessRoute>,
    },
}

/// The task's end of the control API.
#[derive(Clone)]
pub struct LivenessHandle {
    tx: mpsc::Sender<Command>,
}

impl LivenessHandle {
    pub async fn sessions(&self) -> Option<Vec<SessionView>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Sessions(reply)).await.ok()?;
        rx.await.ok()
    }

    pub async fn admin(&self, peer: IpAddr, up: bool) -> Option<usize> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Admin { peer, up, reply }).await.ok()?;
        rx.await.ok()
    }

    /// Opens the sockets `routes` need on `port` (those not open already),
    /// to be used by the next [`LivenessHandle::reload`]. An error (the
    /// port is taken) means the new configuration cannot run: refuse it.
    pub async fn prepare(&self, port: u16, routes: Vec<LivenessRoute>) -> Result<(), NetworkError> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Prepare { port, routes, reply }).await.is_err() {
            return Ok(()); // the task is gone (shutting down): nothing to refuse
        }
        rx.await.unwrap_or(Ok(()))
    }

    pub async fn reload(&self, config: LivenessConfig, routes: Vec<LivenessRoute>) {
        let _ = self.tx.send(Command::Reload { config, routes }).await;
    }
}

struct Sockets {
    family: Family,
    port: u16,
    receive: ReceiveSocket,
    send: SendSockets,
    batch: RecvBatch,
}

pub struct LivenessTask {
    engine: Engine,
    metrics: Arc<Metrics>,
    gates: mpsc::UnboundedSender<Gate>,
    lookup: Option<RouteLookup>,
    v4: Option<Sockets>,
    v6: Option<Sockets>,
    /// Opened by [`Command::Prepare`] for the reload that follows.
    prepared: Vec<Sockets>,
    routes: Vec<LivenessRoute>,
    /// Routes resolved to their session, and those still waiting.
    bound: Vec<Binding>,
    unresolved: Vec<LivenessRoute>,
    retry_at: Option<Instant>,
    /// Until then, routes without a session stay as they are (start-up grace).
    grace_until: Instant,
    grace_done: bool,
}

impl LivenessTask {
    /// The task, with the sockets its routes need already open: an error
    /// (the port is taken, say) means liveness cannot run. Must be called
    /// inside a tokio runtime.
    pub fn new(
        config: LivenessConfig,
        routes: Vec<LivenessRoute>,
        metrics: Arc<Metrics>,
        gates: mpsc::UnboundedSender<Gate>,
    ) -> Result<(LivenessTask, LivenessHandle, mpsc::Receiver<Command>), NetworkError> {
        let (tx, rx) = mpsc::channel(16);
        let prepared = open_sockets(config.port, &routes, &[])?;
        let engine = Engine::new(config, metrics.clone(), fastrand::u64(..));
        let grace_until = Instant::now() + engine.startup_grace();
        let mut task = LivenessTask {
            engine,
            metrics,
            gates,
            lookup: None,
            v4: None,
            v6: None,
            prepared,
            routes,
            bound: Vec::new(),
            unresolved: Vec::new(),
            retry_at: None,
            grace_until,
            grace_done: false,
        };
        task.use_prepared_sockets();
        Ok((task, LivenessHandle { tx }, rx))
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.bind_routes(false).await;
        loop {
            self.flush();
            let next = [self.engine.next_wakeup(), self.retry_at, (!self.grace_done).then_some(self.grace_until)]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => return,
                },
                result = receive(&mut self.v4) => self.on_received(Family::V4, result),
                result = receive(&mut self.v6) => self.on_received(Family::V6, result),
                _ = crate::time::sleep_until(next.map(tokio::time::Instant::from_std)), if next.is_some() => {}
            }
            let now = Instant::now();
            self.engine.on_timers(now);
            if self.retry_at.is_some_and(|at| at <= now) {
                self.retry_at = None;
                self.bind_routes(true).await;
            }
            if !self.grace_done && self.grace_until <= now {
                self.grace_done = true;
                let refs: Vec<RouteRef> = self.unresolved.iter().map(route_ref).collect();
                self.engine.withdraw_unresolved(&refs);
            }
        }
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Sessions(reply) => {
                let _ = reply.send(self.engine.view(Instant::now()));
            }
            Command::Admin { peer, up, reply } => {
                let n = self.engine.admin(peer, up, Instant::now());
                let _ = reply.send(n);
            }
            Command::Prepare { port, routes, reply } => {
                let open: Vec<&Sockets> = [&self.v4, &self.v6].into_iter().flatten().collect();
                let result = open_sockets(port, &routes, &open).map(|opened| self.prepared = opened);
                let _ = reply.send(result);
            }
            Command::Reload { config, routes } => {
                if self.engine.config().port != config.port {
                    tracing::info!(port = config.port, "liveness port changed");
                }
                self.engine.reconfigure(config, Instant::now());
                self.routes = routes;
                // New sockets before the sessions that use them; sockets no
                // route needs only after the sessions that end have said
                // AdminDown through them.
                self.use_prepared_sockets();
                self.bind_routes(false).await;
                self.engine.restate_all();
                self.flush();
                self.close_unneeded_sockets();
            }
        }
    }

    /// Resolves the configured routes to their sessions (with `retry`, only
    /// those still waiting: the others' paths were looked up already) and
    /// hands the result to the engine.
    async fn bind_routes(&mut self, retry: bool) {
        let mut bindings = if retry { std::mem::take(&mut self.bound) } else { Vec::with_capacity(self.routes.len()) };
        let mut unresolved = Vec::new();
        let mut cache: HashMap<PathQuery, Resolved> = HashMap::new();
        let routes = if retry { self.unresolved.clone() } else { std::mem::take(&mut self.routes) };
        for route in &routes {
            let id = (route.peer, route.dev.clone(), route.src);
            let resolved = match cache.get(&id) {
                Some(r) => r.clone(),
                None => {
                    let r = self.resolve(route).await;
                    cache.insert(id, r.clone());
                    r
                }
            };
            match resolved {
                Ok((session, ifname)) => bindings.push(Binding { route: route_ref(route), session, ifname }),
                Err(why) => {
                    if !self.unresolved.iter().any(|u| u.key == route.key) {
                        tracing::warn!(peer = %route.peer, error = %why, retry = ?RESOLVE_RETRY, "liveness session cannot start yet");
                    }
                    unresolved.push(route.clone());
                }
            }
        }
        if !retry {
            self.routes = routes;
        }
        // Every family with a route has its sockets (opened before the
        // configuration was taken), so this keeps every binding.
        bindings.retain(|b| self.sockets(Family::of(&b.session.peer)).is_some());
        let refs: Vec<RouteRef> = unresolved.iter().map(route_ref).collect();
        for refused in self.engine.apply_bindings(&bindings, &refs, Instant::now()) {
            tracing::error!(error = %refused, "liveness session not created");
        }
        if self.grace_done {
            self.engine.withdraw_unresolved(&refs);
        }
        self.bound = bindings;
        self.unresolved = unresolved;
        self.retry_at = (!self.unresolved.is_empty()).then(|| Instant::now() + RESOLVE_RETRY);
        self.flush();
    }

    /// The session a route follows: its device (configured, else the one
    /// the kernel would use) and its local address (the route's source,
    /// else the one the kernel would pick on that device).
    async fn resolve(&mut self, route: &LivenessRoute) -> Resolved {
        let ifindex = match &route.dev {
            Some(dev) => {
                nix::net::if_::if_nametoindex(dev.as_ref()).map_err(|_| format!("device {dev} does not exist"))?
            }
            None => 0,
        };
        let (ifindex, local) = match route.src {
            Some(src) if ifindex != 0 => (ifindex, src),
            src => {
                if self.lookup.is_none() {
                    self.lookup = Some(RouteLookup::new().map_err(|e| e.to_string())?);
                }
                let lookup = self.lookup.as_mut().expect("just opened");
                let path = lookup
                    .path_to(route.peer, (ifindex != 0).then_some(ifindex))
                    .await
                    .map_err(|e| format!("no path to {}: {e}", route.peer))?;
                let local = src.or(path.source).ok_or_else(|| format!("no local address towards {}", route.peer))?;
                (path.ifindex, local)
            }
        };
        let ifname = match &route.dev {
            Some(dev) => dev.to_string(),
            None => interface_name(ifindex),
        };
        let profile = self.engine.config().profile;
        Ok((SessionKey { profile, peer: route.peer, local, ifindex }, ifname))
    }

    fn sockets(&self, family: Family) -> Option<&Sockets> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }

    /// Puts the sockets just prepared in use, each replacing its family's
    /// (a port change).
    fn use_prepared_sockets(&mut self) {
        for fresh in std::mem::take(&mut self.prepared) {
            tracing::info!(family = fresh.family.label(), port = fresh.port, "liveness sockets open");
            match fresh.family {
                Family::V4 => self.v4 = Some(fresh),
                Family::V6 => self.v6 = Some(fresh),
            }
        }
    }

    /// Closes the sockets of a family no route needs any more, freeing the
    /// port for whoever wants it.
    fn close_unneeded_sockets(&mut self) {
        let needed = needed_families(&self.routes);
        for (family, slot) in [(Family::V4, &mut self.v4), (Family::V6, &mut self.v6)] {
            if !needed.contains(&family) && slot.take().is_some() {
                tracing::info!(family = family.label(), "liveness sockets closed: no route needs them");
            }
        }
    }

    fn on_received(&mut self, family: Family, result: Result<usize, NetworkError>) {
        let Self { engine, metrics, v4, v6, .. } = self;
        let Some(sockets) = (match family {
            Family::V4 => v4.as_mut(),
            Family::V6 => v6.as_mut(),
        }) else {
            return;
        };
        let m = &metrics.liveness;
        let mut result = result;
        let mut budget = READ_BUDGET;
        loop {
            match result {
                Ok(0) => return,
                Ok(n) => {
                    let now = Instant::now();
                    for (meta, bytes) in sockets.batch.iter() {
                        engine.on_datagram(meta, bytes, now);
                    }
                    // Per packet, averaged over the batch: two clock reads per
                    // datagram would cost more than handling most of them.
                    let each = now.elapsed().as_secs_f64() / n as f64;
                    for _ in 0..n {
                        m.receive_seconds.observe(each);
                    }
                    for e in sockets.batch.errors() {
                        m.socket_errors.get_or_create(&OpLabels { op: e.op() }).inc();
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return;
                    }
                }
                Err(e) => {
                    m.socket_errors.get_or_create(&OpLabels { op: e.op() }).inc();
                    tracing::debug!(error = %e, family = sockets.family.label(), "liveness receive failed");
                    return;
                }
            }
            result = sockets.receive.try_recv_batch(&mut sockets.batch);
        }
    }

    fn sockets_mut(&mut self, family: Family) -> Option<&mut Sockets> {
        match family {
            Family::V4 => self.v4.as_mut(),
            Family::V6 => self.v6.as_mut(),
        }
    }

    /// Sends what the engine decided and passes its verdicts on.
    fn flush(&mut self) {
        for gate in self.engine.take_gates() {
            let _ = self.gates.send(gate);
        }
        let mut packets = self.engine.take_packets();
        if packets.is_empty() {
            return;
        }
        // IPv6 goes through one socket per interface: grouping by interface
        // makes one sendmmsg per interface rather than per change of it.
        packets.sort_unstable_by_key(|p| p.ifindex);
        for family in [Family::V4, Family::V6] {
            let of: Vec<&Packet> = packets.iter().filter(|p| Family::of(&p.to.ip()) == family).collect();
            if of.is_empty() {
                continue;
            }
            let Some(sockets) = self.sockets_mut(family) else { continue };
            let outgoing: Vec<Outgoing<'_>> = of
                .iter()
                .map(|p| Outgoing { payload: p.payload(), to: p.to, source: p.source, ifindex: p.ifindex })
                .collect();
            let sent = sockets.send.send_batch(&outgoing);
            let m = &self.metrics.liveness;
            m.packets_sent.inc_by(sent.sent as u64);
            for (_, e) in &sent.failed {
                m.socket_errors.get_or_create(&OpLabels { op: e.op() }).inc();
            }
            if let Some((_, e)) = sent.failed.first() {
                tracing::debug!(failed = sent.failed.len(), error = %e, "liveness sends failed");
            }
        }
    }
}

/// Waits for datagrams on `sockets`, or forever when the family has none.
async fn receive(sockets: &mut Option<Sockets>) -> Result<usize, NetworkError> {
    match sockets {
        Some(s) => s.receive.recv_batch(&mut s.batch).await,
        None => std::future::pending().await,
    }
}

/// The families whose sockets `routes` need: those of their peers.
fn needed_families(routes: &[LivenessRoute]) -> Vec<Family> {
    [Family::V4, Family::V6].into_iter().filter(|f| routes.iter().any(|r| Family::of(&r.peer) == *f)).collect()
}

/// Opens the sockets `routes` need on `port`, except those `open` already
/// has: all or nothing.
fn open_sockets(port: u16, routes: &[LivenessRoute], open: &[&Sockets]) -> Result<Vec<Sockets>, NetworkError> {
    let mut opened = Vec::new();
    for family in needed_families(routes) {
        if open.iter().any(|s| (s.family, s.port) == (family, port)) {
            continue;
        }
        let receive = ReceiveSocket::open(family, port)?;
        // The default buffer holds ~200 datagrams: too few for a burst
        // of thousands of sessions between two wake-ups.
        let _ = receive.set_recv_buffer_size(8 << 20);
        let send = SendSockets::open(family, GTSM_TTL)?;
        opened.push(Sockets { family, port, receive, send, batch: RecvBatch::new(MAX_BATCH, 512) });
    }
    Ok(opened)
}

fn route_ref(route: &LivenessRoute) -> RouteRef {
    RouteRef { key: route.key, no_uninstall: route.no_uninstall }
}

fn interface_name(ifindex: u32) -> String {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_else(|| format!("ifindex {ifindex}"))
}
