//! The BGP task: owns the neighbors' sessions and connections, the RIB, the
//! listener (when a neighbor is passive) and the view of the host's
//! addresses; sends the RIB's changes to the reconciler as the sources
//! `bgp:<neighbor>`.
//!
//! ```text
//!  connect / accept ──▶ io.rs (reader and writer task per connection)
//!                          │ Inbound: messages, closes
//!                          ▼
//!   commands ──▶ BgpTask ── Session::handle ──▶ actions: send, close, Up/Down, UPDATE
//!   addresses ─▶   │                                              │
//!   timers ────▶   │◀──────────── rib (best path, next hops) ◀───┘
//!                  └── take_changes ──▶ SourceUpdate ──▶ reconciler
//! ```
//!
//! Start-up adoption: a restarting guardian finds the routes it learned
//! before in the kernel. The reconciler keeps BGP's routes it is told about
//! as they are (no reinstall) and holds its purge of unknown routes of
//! guardian's protocol until this task says every neighbor sent End-of-RIB
//! (or [`ADOPTION_TIMEOUT`]-ish passed): then what no neighbor announced
//! again is withdrawn, and nothing else was touched.

mod configure;
mod io;
mod peer;

use crate::bgp::handle::{BgpCommand, BgpView};
use crate::bgp::message;
use crate::bgp::net::Listener;
use crate::bgp::rib::{BgpRoute, Changes, Legs, Rib};
use crate::bgp::session::{Action, DownReason, Event, State};
use crate::bgp::update::Update;
use crate::config::BgpConfig;
use crate::config::{LivenessRoute, LivenessTarget};
use crate::kernel::addresses::{self, AddressWatch, Addresses};
use crate::liveness::task::LivenessHandle;
use crate::messages::GateKey;
use crate::messages::{Change, Source, SourceKind, SourceUpdate};
use crate::metrics::bgp::NeighborLabels;
use crate::metrics::Metrics;
use crate::route::Family;
use crate::route::{DevNames, Nexthop, RouteKey};
use io::{ConnId, Connection, Inbound};
use peer::Peer;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long the start-up adoption waits at most for the neighbors'
/// End-of-RIB until the configuration says (the longest `restart_time_max`).
pub const ADOPTION_TIMEOUT: Duration = Duration::from_secs(120);

pub struct BgpTask {
    config: Option<BgpConfig>,
    rib: Option<Rib>,
    peers: Vec<Peer>,
    listener: Option<Listener>,
    inbound_tx: mpsc::Sender<Inbound>,
    inbound_rx: mpsc::Receiver<Inbound>,
    sources: mpsc::Sender<SourceUpdate>,
    metrics: Arc<Metrics>,
    addresses: Addresses,
    watch: Option<AddressWatch>,
    liveness: LivenessHandle,
    /// The liveness sessions the gated routes of each neighbor's source
    /// need (`liveness = "nexthop"`), by route.
    gated: HashMap<String, HashMap<RouteKey, Vec<LivenessRoute>>>,
    /// Until when the start-up adoption waits; `None` once it is over.
    adoption: Option<Instant>,
    next_conn: ConnId,
}

/// The source that tells the reconciler the start-up adoption is over.
pub fn settle_source() -> Source {
    Source { kind: SourceKind::Bgp, name: "bgp".to_owned(), owner: None, guard: None }
}

impl BgpTask {
    /// `adopt`: guardian is starting, and the reconciler holds its purge
    /// until this task settles (see the module's comment).
    pub fn new(
        sources: mpsc::Sender<SourceUpdate>,
        liveness: LivenessHandle,
        metrics: Arc<Metrics>,
        adopt: bool,
    ) -> BgpTask {
        let (inbound_tx, inbound_rx) = mpsc::channel(64);
        BgpTask {
            config: None,
            rib: None,
            peers: Vec::new(),
            listener: None,
            inbound_tx,
            inbound_rx,
            sources,
            metrics,
            addresses: Addresses::new(),
            watch: None,
            liveness,
            gated: HashMap::new(),
            adoption: adopt.then(|| Instant::now() + ADOPTION_TIMEOUT),
            next_conn: 1,
        }
    }

    pub async fn run(mut self, config: Option<BgpConfig>, mut commands: mpsc::Receiver<BgpCommand>) {
        self.configure(config).await;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => return,
                },
                Some(inbound) = self.inbound_rx.recv() => self.on_inbound(inbound),
                accepted = accept(self.listener.as_ref()) => self.on_accept(accepted),
                _ = changed(self.watch.as_mut()) => self.refresh_addresses(),
                _ = crate::time::sleep_until(deadline.map(tokio::time::Instant::from_std)), if deadline.is_some() => {}
            }
            self.on_timers(Instant::now());
            self.flush().await;
        }
    }

    async fn on_command(&mut self, command: BgpCommand) {
        match command {
            BgpCommand::View(reply) => {
                let _ = reply.send(self.view());
            }
            BgpCommand::Reset { neighbor, reply } => {
                let now = Instant::now();
                let mut n = 0;
                for i in 0..self.peers.len() {
                    if neighbor.is_none_or(|a| a == self.peers[i].config.address) {
                        n += 1;
                        tracing::info!(neighbor = %self.peers[i].name, "BGP session reset by the administrator");
                        let actions = self.peers[i].session.handle(Event::AdminReset, now);
                        self.act(i, actions, now);
                    }
                }
                let _ = reply.send(n);
            }
            BgpCommand::Configure { config, done } => {
                self.configure(config).await;
                let _ = done.send(());
            }
        }
    }

    fn view(&self) -> BgpView {
        let now = Instant::now();
        let Some(config) = &self.config else { return BgpView::default() };
        let rib = self.rib.as_ref().expect("a configuration has a RIB");
        BgpView {
            enabled: true,
            local_as: Some(config.local_as),
            router_id: Some(config.router_id),
            table: Some(config.table),
            neighbors: self.peers.iter().map(|p| p.view(rib.counters(p.rib_id), now)).collect(),
        }
    }

    // ---- connections -----------------------------------------------------

    fn on_inbound(&mut self, inbound: Inbound) {
        let now = Instant::now();
        match inbound {
            Inbound::Connected { peer, conn, stream } => {
                let Some(i) = self.peers.iter().position(|p| p.config.address == peer) else { return };
                if self.peers[i].connecting.as_ref().is_none_or(|(id, _)| *id != conn) {
                    return; // an attempt given up on
                }
                self.peers[i].connecting = None;
                if self.peers[i].conn.is_some() {
                    return; // the peer's own connection came first
                }
                self.peers[i].conn = Some(Connection::start(conn, stream, self.inbound_tx.clone()));
                let actions = self.peers[i].session.handle(Event::TcpConnectionConfirmed, now);
                self.act(i, actions, now);
            }
            Inbound::ConnectFailed { peer, conn, error } => {
                let Some(i) = self.peers.iter().position(|p| p.config.address == peer) else { return };
                if self.peers[i].connecting.as_ref().is_none_or(|(id, _)| *id != conn) {
                    return;
                }
                self.peers[i].connecting = None;
                tracing::debug!(neighbor = %self.peers[i].name, error = %error, "BGP connect failed");
                let actions = self.peers[i].session.handle(Event::TcpConnectionFails, now);
                self.act(i, actions, now);
            }
            Inbound::Messages { conn, msgs } => {
                let Some(i) = self.peer_of(conn) else { return };
                for msg in &msgs {
                    if msg.get(18) == Some(&3) {
                        self.notification(i, "received", msg);
                    }
                    let actions = self.peers[i].session.handle(Event::Message(msg), now);
                    self.act(i, actions, now);
                    if self.peer_of(conn) != Some(i) {
                        break; // the session closed this connection
                    }
                }
            }
            Inbound::Framing { conn, notification } => {
                let Some(i) = self.peer_of(conn) else { return };
                let actions = self.peers[i].session.handle(Event::FramingError(notification), now);
                self.act(i, actions, now);
            }
            Inbound::Closed { conn, error } => {
                let Some(i) = self.peer_of(conn) else { return };
                if let Some(e) = error {
                    tracing::debug!(neighbor = %self.peers[i].name, error = %e, "BGP connection failed");
                }
                self.peers[i].conn = None;
                let actions = self.peers[i].session.handle(Event::TcpConnectionFails, now);
                self.act(i, actions, now);
            }
        }
    }

    fn peer_of(&self, conn: ConnId) -> Option<usize> {
        self.peers.iter().position(|p| p.conn.as_ref().is_some_and(|c| c.id == conn))
    }

    /// A connection to our listener: kept when it comes from a neighbor
    /// that has none (a connect of ours under way gives way to it), closed
    /// at once otherwise (RFC 4271 6.8's collision: one connection per
    /// neighbor, and the one that got furthest stays).
    fn on_accept(&mut self, accepted: std::io::Result<(tokio::net::TcpStream, IpAddr)>) {
        let now = Instant::now();
        let (stream, from) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "BGP accept failed");
                return;
            }
        };
        let Some(i) = self.peers.iter().position(|p| p.config.address == from) else {
            tracing::warn!(from = %from, "BGP connection from an address that is not a neighbor: closed");
            return;
        };
        let peer = &mut self.peers[i];
        if peer.conn.is_some() || !matches!(peer.session.state(), State::Connect | State::Active) {
            tracing::debug!(neighbor = %peer.name, state = peer.session.state().label(), "BGP connection collision: the new connection is closed");
            return;
        }
        if let Some((_, task)) = peer.connecting.take() {
            task.abort();
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let _ = stream.set_nodelay(true);
        self.peers[i].conn = Some(Connection::start(id, stream, self.inbound_tx.clone()));
        let actions = self.peers[i].session.handle(Event::TcpConnectionConfirmed, now);
        self.act(i, actions, now);
    }

    // ---- the session's actions -------------------------------------------

    fn act(&mut self, i: usize, actions: Vec<Action>, now: Instant) {
        for action in actions {
            match action {
                Action::Connect => self.connect(i),
                Action::Close => {
                    let peer = &mut self.peers[i];
                    peer.conn = None;
                    if let Some((_, task)) = peer.connecting.take() {
                        task.abort();
                    }
                }
                Action::Send(bytes) => {
                    if bytes.get(18) == Some(&3) {
                        self.notification(i, "sent", &bytes);
                    }
                    if let Some(conn) = &self.peers[i].conn {
                        conn.send(bytes);
                    }
                }
                Action::SessionUp(neg) => self.session_up(i, neg, now),
                Action::SessionDown { reason, graceful } => self.session_down(i, reason, graceful, now),
                Action::Update(update) => self.update(i, update, now),
            }
        }
        self.set_state_metric(i);
    }

    fn connect(&mut self, i: usize) {
        let peer = &mut self.peers[i];
        if let Some((_, task)) = peer.connecting.take() {
            task.abort();
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let c = &peer.config;
        let task = io::connect(c.address, c.interface.clone(), c.md5_key.clone(), id, self.inbound_tx.clone());
        peer.connecting = Some((id, task));
    }

    fn session_up(&mut self, i: usize, neg: crate::bgp::open::Negotiated, now: Instant) {
        let peer = &mut self.peers[i];
        peer.established_at = Some(now);
        let labels = NeighborLabels { neighbor: peer.name.clone() };
        self.metrics.bgp.established.get_or_create(&labels).inc();
        let families: Vec<&str> = neg.families.iter().map(|f| f.label()).collect();
        tracing::info!(
            neighbor = %peer.name,
            remote_as = neg.peer_as,
            router_id = %neg.peer_id,
            hold_time = neg.hold_time.as_secs(),
            families = ?families,
            graceful_restart = neg.graceful_restart.is_some(),
            "BGP session up"
        );
        // RFC 4724 4.2: stale routes of a family the new OPEN does not
        // carry with the Forwarding State bit go at once; the others wait
        // for End-of-RIB (at most restart_time_max).
        let keep: Vec<Family> = neg
            .graceful_restart
            .as_ref()
            .map(|gr| gr.families.iter().filter(|(_, f)| *f).map(|(fam, _)| *fam).collect())
            .unwrap_or_default();
        let wait = peer.config.restart_time_max;
        let stale = std::mem::take(&mut peer.stale);
        let rib_id = peer.rib_id;
        let rib = self.rib.as_mut().expect("a session has a RIB");
        for (family, _) in stale {
            if keep.contains(&family) {
                self.peers[i].stale.push((family, now + wait));
            } else {
                let n = rib.sweep_stale(rib_id, family);
                tracing::info!(neighbor = %self.peers[i].name, family = family.label(), routes = n, "BGP stale routes swept: the peer kept no forwarding state");
            }
        }
        let peer = &mut self.peers[i];
        if !peer.adopted && peer.adoption_pending.is_none() {
            peer.adoption_pending = Some(neg.families.clone());
        }
        peer.last_negotiated = Some(neg);
    }

    fn session_down(&mut self, i: usize, reason: DownReason, graceful: bool, now: Instant) {
        let peer = &mut self.peers[i];
        peer.established_at = None;
        let rib = self.rib.as_mut().expect("a session has a RIB");
        let restart = peer.restart().cloned();
        match restart.filter(|_| graceful) {
            Some(gr) => {
                let until = now + gr.restart_time;
                for (family, _) in &gr.families {
                    rib.mark_stale(peer.rib_id, *family);
                    peer.stale.retain(|(f, _)| f != family);
                    peer.stale.push((*family, until));
                }
                tracing::warn!(
                    neighbor = %peer.name,
                    reason = %reason,
                    restart_time = gr.restart_time.as_secs(),
                    "BGP session down; the peer does graceful restart: its routes stay, as stale, until it is back"
                );
            }
            None => {
                rib.neighbor_down(peer.rib_id);
                peer.stale.clear();
                tracing::warn!(neighbor = %peer.name, reason = %reason, "BGP session down; its routes are withdrawn");
            }
        }
    }

    fn update(&mut self, i: usize, update: Update, now: Instant) {
        let local_as = self.config.as_ref().map_or(0, |c| c.local_as);
        let interface = self.peer_interface(i);
        let peer = &mut self.peers[i];
        peer.updates += 1;
        self.metrics.bgp.updates.get_or_create(&NeighborLabels { neighbor: peer.name.clone() }).inc();
        let rib = self.rib.as_mut().expect("a session has a RIB");
        if let Some(why) = &update.treated_as_withdraw {
            let n: usize = update.announced.iter().map(|r| r.prefixes.len()).sum::<usize>() + update.withdrawn.len();
            tracing::warn!(neighbor = %peer.name, reason = %why, prefixes = n, "BGP UPDATE treated as withdraw (RFC 7606)");
        }
        for what in &update.discarded {
            tracing::info!(neighbor = %peer.name, attribute = %what, "BGP attribute discarded (RFC 7606)");
        }
        if !update.withdrawn.is_empty() {
            rib.withdraw(peer.rib_id, &update.withdrawn);
        }
        let mut exceeded = false;
        if let (Some(attrs), Some(neg)) = (&update.attrs, peer.session.negotiated()) {
            for reach in &update.announced {
                let path = peer.path(neg, attrs, reach, local_as, interface.as_deref());
                exceeded |= rib.announce(&path, &reach.prefixes).max_exceeded;
            }
        }
        if let Some(family) = update.end_of_rib {
            if let Some(pos) = peer.stale.iter().position(|(f, _)| *f == family) {
                peer.stale.remove(pos);
                let n = rib.sweep_stale(peer.rib_id, family);
                tracing::info!(neighbor = %peer.name, family = family.label(), swept = n, "BGP End-of-RIB: graceful restart over");
            }
            if let Some(pending) = peer.adoption_pending.as_mut() {
                pending.retain(|f| *f != family);
                if pending.is_empty() {
                    peer.adopted = true;
                }
            }
        }
        if exceeded {
            let limit = peer.config.max_prefixes.unwrap_or(0);
            tracing::warn!(
                neighbor = %peer.name,
                max_prefixes = limit,
                idle = %humantime::format_duration(peer.config.max_prefixes_idle),
                "BGP neighbor sent more prefixes than max_prefixes: session closed (Cease), idle until the time is up or `guardian bgp reset`"
            );
            let actions = peer.session.handle(Event::MaxPrefixesExceeded, now);
            self.act(i, actions, now);
        }
    }

    /// The interface the neighbor is on: configured, or the one whose
    /// network holds its address (for an IPv6 link-local next hop).
    fn peer_interface(&self, i: usize) -> Option<String> {
        let c = &self.peers[i].config;
        c.interface.clone().or_else(|| {
            self.addresses
                .iter()
                .find(|(_, addrs)| addrs.iter().any(|(a, len)| same_network(*a, c.address, *len)))
                .map(|(name, _)| name.clone())
        })
    }

    // ---- timers, addresses, output ---------------------------------------

    fn next_deadline(&self) -> Option<Instant> {
        let sessions = self.peers.iter().filter_map(|p| p.session.next_deadline());
        let stale = self.peers.iter().flat_map(|p| p.stale.iter().map(|(_, t)| *t));
        sessions.chain(stale).chain(self.adoption).min()
    }

    fn on_timers(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if self.peers[i].session.next_deadline().is_some_and(|d| d <= now) {
                let actions = self.peers[i].session.handle(Event::Timer, now);
                self.act(i, actions, now);
            }
            let peer = &mut self.peers[i];
            let (due, kept): (Vec<_>, Vec<_>) = peer.stale.iter().partition(|(_, t)| *t <= now);
            if due.is_empty() {
                continue;
            }
            peer.stale = kept;
            let rib = self.rib.as_mut().expect("a session has a RIB");
            for (family, _) in due {
                let n = rib.sweep_stale(peer.rib_id, family);
                tracing::warn!(neighbor = %peer.name, family = family.label(), swept = n, "BGP graceful restart timed out: stale routes withdrawn");
            }
        }
    }

    fn refresh_addresses(&mut self) {
        let fresh = match addresses::read() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read interface addresses");
                return;
            }
        };
        if let Some(rib) = self.rib.as_mut() {
            for (name, _) in self.addresses.iter().filter(|(n, _)| !fresh.contains_key(*n)) {
                rib.set_connected(name, Vec::new());
            }
            for (name, addrs) in &fresh {
                if self.addresses.get(name) != Some(addrs) {
                    rib.set_connected(name, addrs.clone());
                }
            }
        }
        self.addresses = fresh;
    }

    /// Sends the RIB's changes to the reconciler, and the counts to the
    /// metrics; ends the start-up adoption when it is time.
    async fn flush(&mut self) {
        let Some(rib) = self.rib.as_mut() else { return };
        let changes = rib.take_changes();
        if !changes.is_empty() {
            self.gate(&changes).await;
            for (source, change) in changes.into_updates() {
                if self.sources.send(SourceUpdate { source, change, done: None }).await.is_err() {
                    return; // shutting down
                }
            }
            self.update_prefix_metrics();
        }
        self.settle_if_done(false).await;
    }

    /// Keeps the liveness task's sessions in step with the gated routes:
    /// one per BGP next hop (each leg's, for a multipath route).
    async fn gate(&mut self, changes: &Changes) {
        for (source, part) in changes.sources.values() {
            let set = self.gated.entry(source.name.clone()).or_default();
            let before = set.len();
            let mut changed = false;
            for key in &part.remove {
                changed |= set.remove(key).is_some();
            }
            for route in &part.add {
                let wanted = liveness_routes(route, &changes.devs);
                changed |= match wanted.is_empty() {
                    true => set.remove(&route.key).is_some(),
                    false => set.insert(route.key, wanted.clone()).is_none_or(|old| old != wanted),
                };
            }
            if changed || set.len() != before {
                let routes: Vec<LivenessRoute> = set.values().flatten().cloned().collect();
                self.liveness.set_source_routes(source.name.clone(), routes).await;
            }
        }
    }

    fn update_prefix_metrics(&self) {
        let Some(rib) = self.rib.as_ref() else { return };
        for p in &self.peers {
            let c = rib.counters(p.rib_id);
            let m = &self.metrics.bgp;
            m.set_prefixes(&p.name, "received", c.received);
            m.set_prefixes(&p.name, "accepted", u64::from(c.accepted));
            m.set_prefixes(&p.name, "installed", u64::from(c.installed));
            m.set_prefixes(&p.name, "stale", u64::from(c.stale));
            m.set_prefixes(&p.name, "unresolvable", u64::from(c.unresolvable));
        }
    }

    /// Ends the start-up adoption once every neighbor sent End-of-RIB for
    /// its families, or the wait ran out (`force`: BGP is gone).
    async fn settle_if_done(&mut self, force: bool) {
        let Some(until) = self.adoption else { return };
        let waiting: Vec<&str> = self.peers.iter().filter(|p| !p.adopted).map(|p| p.name.as_str()).collect();
        let timed_out = Instant::now() >= until;
        if !(force || waiting.is_empty() || timed_out) {
            return;
        }
        if waiting.is_empty() {
            tracing::info!("BGP start-up: every neighbor sent End-of-RIB; routes none announced again are withdrawn");
        } else {
            tracing::warn!(waiting = ?waiting, "BGP start-up: no End-of-RIB in time from some neighbors; routes none announced again are withdrawn");
        }
        self.adoption = None;
        for p in &mut self.peers {
            p.adopted = true;
        }
        let settled = SourceUpdate { source: settle_source(), change: Change::Settled, done: None };
        let _ = self.sources.send(settled).await;
    }

    /// A NOTIFICATION sent or received (`msg`, whole): logged and counted.
    fn notification(&self, i: usize, direction: &'static str, msg: &[u8]) {
        let (code, subcode) = (msg.get(19).copied().unwrap_or(0), msg.get(20).copied().unwrap_or(0));
        let what = message::describe(code, subcode);
        match direction {
            "sent" => tracing::warn!(neighbor = %self.peers[i].name, notification = %what, "BGP NOTIFICATION sent"),
            _ => tracing::warn!(neighbor = %self.peers[i].name, notification = %what, "BGP NOTIFICATION received"),
        }
        let labels = crate::metrics::bgp::NotificationLabels {
            neighbor: self.peers[i].name.clone(),
            direction,
            code: message::code_label(code),
        };
        self.metrics.bgp.notifications.get_or_create(&labels).inc();
    }

    fn set_state_metric(&mut self, i: usize) {
        let peer = &mut self.peers[i];
        let label = peer.session.state().label();
        if peer.state_label != Some(label) {
            peer.state_label = Some(label);
            self.metrics.bgp.set_state(&peer.name, label);
        }
    }
}

/// The liveness sessions a learned route waits for: none when it is not
/// gated, one with its next hop, or one per leg of a multipath route.
fn liveness_routes(route: &BgpRoute, devs: &DevNames) -> Vec<LivenessRoute> {
    if !route.gated {
        return Vec::new();
    }
    let one = |leg: Option<u8>, hop: &Nexthop| LivenessRoute {
        key: GateKey { route: route.key, leg },
        target: LivenessTarget::Nexthop,
        peer: hop.via.ip(),
        dev: Some(Arc::from(devs.name(hop.dev))),
        src: None,
        no_uninstall: false,
    };
    match &route.legs {
        Legs::One(hop) => vec![one(None, hop)],
        Legs::Many(hops) => hops.iter().enumerate().map(|(i, h)| one(u8::try_from(i).ok(), h)).collect(),
    }
}

fn same_network(a: IpAddr, b: IpAddr, len: u8) -> bool {
    let network = crate::config::Prefix { addr: a, len };
    network.contains(b, crate::route::Family::of(&b).max_prefix())
}

async fn accept(listener: Option<&Listener>) -> std::io::Result<(tokio::net::TcpStream, IpAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn changed(watch: Option<&mut AddressWatch>) {
    match watch {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
