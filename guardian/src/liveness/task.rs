//! The liveness task: owns the [`Engine`] and the sockets.
//!
//! ```text
//!  receive sockets (v4, v6) ──datagrams──▶ ┌────────┐ ──packets──▶ send sockets
//!  timer queue (in the engine) ──────────▶ │ engine │
//!  control API, reload ──Command─────────▶ │        │ ──Gate──▶ reconciler
//!  other sources (BGP) ──SourceRoutes────▶ └────────┘
//! ```
//!
//! One task, one timer queue, a few sockets per family: a wake-up drains
//! what is readable (recvmmsg), runs the timers that are due, and sends
//! everything decided in one go (sendmmsg).
//!
//! Routes come from the configuration file (at start, and on reload) and
//! from other sources (a BGP neighbor with `liveness = "nexthop"`), each
//! replacing only its own ([`LivenessHandle::set_source_routes`]); the
//! engine is handed every origin's bindings together. A route keeps its
//! binding until its origin changes it, so one source's update resolves
//! only its new routes.
//!
//! The sockets of a family are open exactly while some route's liveness
//! peer is of that family. For the file's routes they are opened when the
//! task is made (a port another daemon holds stops the start-up, see
//! [`ReceiveSocket`]), and on reload before anything else changes
//! ([`LivenessHandle::prepare`]: a reload that would need a port that is
//! taken is refused whole). For a source's routes, when the first of them
//! needs them: a port that is taken is logged once and those routes wait
//! (withdrawn) for the next retry. A host without liveness routes never
//! holds the port, which BIRD or FRR may want.

use super::engine::{Binding, Engine, Packet, SessionView};
use super::network::{NetworkError, Outgoing, ReceiveSocket, RecvBatch, SendSockets, GTSM_TTL, MAX_BATCH};
use super::registry::{RouteRef, SessionKey};
use crate::config::{LivenessConfig, LivenessRoute};
use crate::kernel::lookup::RouteLookup;
use crate::messages::{Gate, GateKey};
use crate::metrics::liveness::OpLabels;
use crate::metrics::Metrics;
use crate::route::Family;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What decides a route's session: peer, device, source.
type PathQuery = (IpAddr, Option<Arc<str>>, Option<IpAddr>);
/// A session key and interface name, or why there is none yet.
type Resolved = Result<(SessionKey, Arc<str>), String>;

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
    /// Every route `source` contributes now (none: it has none left).
    SourceRoutes {
        source: String,
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

    /// The configuration's routes and settings; the routes of other
    /// sources stay.
    pub async fn reload(&self, config: LivenessConfig, routes: Vec<LivenessRoute>) {
        let _ = self.tx.send(Command::Reload { config, routes }).await;
    }

    /// Replaces the routes `source` (a BGP neighbor: `"bgp:192.0.2.2"`)
    /// contributes; an empty `routes` removes them. The file's routes are
    /// not touched, and a reload leaves these. Sessions no route follows
    /// any more end (AdminDown); routes unchanged since the source's last
    /// call keep their sessions and verdicts. The family's sockets open
    /// with the first route that needs them; while its port is taken
    /// (logged once) the routes wait, withdrawn, and are tried again.
    pub async fn set_source_routes(&self, source: String, routes: Vec<LivenessRoute>) {
        let _ = self.tx.send(Command::SourceRoutes { source, routes }).await;
    }
}

/// Who gave the task some routes. The file sorts first, and a route two
/// origins list follows the first one's binding: the file's, as in the
/// reconciler, where a route both want stays the file's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    File,
    Source(String),
}

/// One origin's routes, each with the session it follows once resolved
/// (`None`: waiting for its device, an address or its family's sockets).
#[derive(Debug, Default)]
struct Part {
    routes: Vec<(LivenessRoute, Option<Binding>)>,
}

impl Part {
    fn new(routes: Vec<LivenessRoute>) -> Part {
        Part { routes: routes.into_iter().map(|r| (r, None)).collect() }
    }

    fn waiting(&self) -> impl Iterator<Item = &LivenessRoute> + '_ {
        self.routes.iter().filter(|(_, b)| b.is_none()).map(|(r, _)| r)
    }

    fn bindings(&self) -> impl Iterator<Item = &Binding> + '_ {
        self.routes.iter().filter_map(|(_, b)| b.as_ref())
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
    /// The file's routes and every source's, with their sessions.
    parts: BTreeMap<Origin, Part>,
    /// Families whose sockets a source's routes need and could not get
    /// (the port is taken): logged once, until they open.
    refused: Vec<Family>,
    retry_at: Option<Instant>,
    /// How often waiting routes are tried again ([`RESOLVE_RETRY`]).
    retry_every: Duration,
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
            parts: BTreeMap::from([(Origin::File, Part::new(routes))]),
            refused: Vec::new(),
            retry_at: None,
            retry_every: RESOLVE_RETRY,
            grace_until,
            grace_done: false,
        };
        task.use_prepared_sockets();
        Ok((task, LivenessHandle { tx }, rx))
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.bind(&[Origin::File], &HashSet::new(), HashMap::new()).await;
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
                let waiting: Vec<Origin> =
                    self.parts.iter().filter(|(_, p)| p.waiting().next().is_some()).map(|(o, _)| o.clone()).collect();
                let warned = self.waiting_keys();
                self.bind(&waiting, &warned, HashMap::new()).await;
            }
            if !self.grace_done && self.grace_until <= now {
                self.grace_done = true;
                let refs: Vec<RouteRef> = self.parts.values().flat_map(Part::waiting).map(route_ref).collect();
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
                let old = self.engine.config();
                let port_changed = old.port != config.port;
                let anew = port_changed || old.profile != config.profile;
                if port_changed {
                    tracing::info!(port = config.port, "liveness port changed");
                }
                self.engine.reconfigure(config, Instant::now());
                // The file's routes are resolved anew; the sources' keep
                // their sessions, unless the profile (part of a session's
                // key) or the port (their sockets) changed.
                let warned = self.waiting_keys();
                if anew {
                    for part in self.parts.values_mut() {
                        part.routes.iter_mut().for_each(|(_, b)| *b = None);
                    }
                }
                self.parts.insert(Origin::File, Part::new(routes));
                // New sockets before the sessions that use them; sockets no
                // route needs only after the sessions that end have said
                // AdminDown through them.
                self.use_prepared_sockets();
                self.close_sockets_on_another_port();
                let origins: Vec<Origin> = match anew {
                    true => self.parts.keys().cloned().collect(),
                    false => vec![Origin::File],
                };
                self.bind(&origins, &warned, HashMap::new()).await;
                self.engine.restate_all();
                self.flush();
                self.close_unneeded_sockets();
            }
            Command::SourceRoutes { source, routes } => self.set_source_routes(source, routes).await,
        }
    }

    /// Replaces what `source` contributes. Routes it had already, unchanged,
    /// keep their bindings, and lend their paths to its new routes: an
    /// update resolves only routes via a new next hop.
    async fn set_source_routes(&mut self, source: String, routes: Vec<LivenessRoute>) {
        tracing::debug!(source, routes = routes.len(), "liveness routes of a source");
        let origin = Origin::Source(source);
        let old = self.parts.remove(&origin).unwrap_or_default();
        let warned: HashSet<GateKey> = old.waiting().map(|r| r.key).collect();
        let mut kept: hashbrown::HashMap<&LivenessRoute, &Binding> =
            old.routes.iter().filter_map(|(r, b)| Some((r, b.as_ref()?))).collect();
        let mut paths: HashMap<PathQuery, Resolved> = HashMap::new();
        for (r, b) in &kept {
            paths.entry((r.peer, r.dev.clone(), r.src)).or_insert_with(|| Ok((b.session, b.ifname.clone())));
        }
        if !routes.is_empty() {
            let routes = routes.into_iter().map(|r| {
                let binding = kept.remove(&r).cloned();
                (r, binding)
            });
            self.parts.insert(origin.clone(), Part { routes: routes.collect() });
        }
        self.bind(&[origin], &warned, paths).await;
        self.close_unneeded_sockets();
    }

    /// The routes waiting for their session, of every origin.
    fn waiting_keys(&self) -> HashSet<GateKey> {
        self.parts.values().flat_map(Part::waiting).map(|r| r.key).collect()
    }

    /// Resolves the waiting routes of `origins` to their sessions (`paths`:
    /// those known already), then hands every origin's bindings to the
    /// engine. A route in `warned` was waiting already and is not warned
    /// about again; the others are, once per path.
    async fn bind(&mut self, origins: &[Origin], warned: &HashSet<GateKey>, mut paths: HashMap<PathQuery, Resolved>) {
        // Whether each family's sockets are open, asked once per pass.
        let mut sockets: [Option<bool>; 2] = [None; 2];
        for origin in origins {
            let Some(mut part) = self.parts.remove(origin) else { continue };
            for (route, binding) in part.routes.iter_mut().filter(|(_, b)| b.is_none()) {
                let family = Family::of(&route.peer);
                let open = match sockets[family_index(family)] {
                    Some(open) => open,
                    None => *sockets[family_index(family)].insert(self.open_sockets_for(family)),
                };
                if !open {
                    continue;
                }
                let path = (route.peer, route.dev.clone(), route.src);
                let resolved = match paths.get(&path) {
                    Some(r) => r.clone(),
                    None => {
                        let r = self.resolve(route).await;
                        if let Err(why) = &r {
                            if !warned.contains(&route.key) {
                                tracing::warn!(peer = %route.peer, error = %why, retry = ?self.retry_every, "liveness session cannot start yet");
                            }
                        }
                        paths.insert(path, r.clone());
                        r
                    }
                };
                if let Ok((session, ifname)) = resolved {
                    *binding = Some(Binding { route: route_ref(route), session, ifname });
                }
            }
            self.parts.insert(origin.clone(), part);
        }
        let now = Instant::now();
        let unresolved: Vec<RouteRef> = self.parts.values().flat_map(Part::waiting).map(route_ref).collect();
        let bindings = self.parts.values().flat_map(Part::bindings);
        for refused in self.engine.apply_bindings(bindings, &unresolved, now) {
            tracing::error!(error = %refused, "liveness session not created");
        }
        if self.grace_done {
            let refs: Vec<RouteRef> =
                origins.iter().filter_map(|o| self.parts.get(o)).flat_map(Part::waiting).map(route_ref).collect();
            self.engine.withdraw_unresolved(&refs);
        }
        // A retry already planned keeps its time: a source updating every
        // second must not put it off for ever.
        self.retry_at = match unresolved.is_empty() {
            true => None,
            false => Some(self.retry_at.unwrap_or(now + self.retry_every)),
        };
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
            Some(dev) => dev.clone(),
            None => interface_name(ifindex).into(),
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
            self.install(fresh);
        }
    }

    /// Puts `fresh` in use, replacing its family's sockets if any.
    fn install(&mut self, fresh: Sockets) {
        tracing::info!(family = fresh.family.label(), port = fresh.port, "liveness sockets open");
        match fresh.family {
            Family::V4 => self.v4 = Some(fresh),
            Family::V6 => self.v6 = Some(fresh),
        }
    }

    /// Opens `family`'s sockets on the configured port unless they are
    /// open: a source's routes need them after the file's were opened. A
    /// port that is taken is logged once (until it opens) and counted;
    /// `false` then, and the routes wait for the next retry.
    fn open_sockets_for(&mut self, family: Family) -> bool {
        let port = self.engine.config().port;
        if self.sockets(family).is_some() {
            return true;
        }
        // Prepared for a reload on this very port: the same sockets.
        if let Some(at) = self.prepared.iter().position(|s| (s.family, s.port) == (family, port)) {
            let sockets = self.prepared.swap_remove(at);
            self.install(sockets);
            return true;
        }
        match open_family(family, port) {
            Ok(sockets) => {
                self.refused.retain(|&f| f != family);
                self.install(sockets);
                true
            }
            Err(e) => {
                self.metrics.liveness.socket_errors.get_or_create(&OpLabels { op: e.op() }).inc();
                if self.refused.contains(&family) {
                    tracing::debug!(error = %e, "liveness sockets still cannot open");
                } else {
                    self.refused.push(family);
                    tracing::error!(
                        error = %e,
                        retry = ?self.retry_every,
                        "liveness sockets cannot open: routes from sources other than the configuration file that need them stay withdrawn until they do"
                    );
                }
                false
            }
        }
    }

    /// After a port change: a family only sources need still listens on
    /// the old port (the file's families were opened anew by `prepare`);
    /// it is opened again on the new one by the sources' routes.
    fn close_sockets_on_another_port(&mut self) {
        let port = self.engine.config().port;
        for slot in [&mut self.v4, &mut self.v6] {
            if slot.as_ref().is_some_and(|s| s.port != port) {
                *slot = None;
            }
        }
    }

    /// Closes the sockets of a family no route of any origin needs any
    /// more, freeing the port for whoever wants it.
    fn close_unneeded_sockets(&mut self) {
        let routes = self.parts.values().flat_map(|p| p.routes.iter().map(|(r, _)| r));
        let needed = needed_families(routes);
        self.refused.retain(|f| needed.contains(f));
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
fn needed_families<'a>(routes: impl IntoIterator<Item = &'a LivenessRoute>) -> Vec<Family> {
    let mut needed = Vec::with_capacity(2);
    for route in routes {
        let family = Family::of(&route.peer);
        if !needed.contains(&family) {
            needed.push(family);
            if needed.len() == 2 {
                break;
            }
        }
    }
    needed.sort_by_key(|&f| family_index(f));
    needed
}

fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

/// Opens the sockets `routes` need on `port`, except those `open` already
/// has: all or nothing.
fn open_sockets(port: u16, routes: &[LivenessRoute], open: &[&Sockets]) -> Result<Vec<Sockets>, NetworkError> {
    let mut opened = Vec::new();
    for family in needed_families(routes) {
        if !open.iter().any(|s| (s.family, s.port) == (family, port)) {
            opened.push(open_family(family, port)?);
        }
    }
    Ok(opened)
}

/// One family's receive socket on `port` and its sending sockets.
fn open_family(family: Family, port: u16) -> Result<Sockets, NetworkError> {
    let receive = ReceiveSocket::open(family, port)?;
    // The default buffer holds ~200 datagrams: too few for a burst
    // of thousands of sessions between two wake-ups.
    let _ = receive.set_recv_buffer_size(8 << 20);
    let send = SendSockets::open(family, GTSM_TTL)?;
    Ok(Sockets { family, port, receive, send, batch: RecvBatch::new(MAX_BATCH, 512) })
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

#[cfg(test)]
mod netns_tests;
#[cfg(test)]
mod tests;
