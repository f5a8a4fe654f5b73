//! The liveness engine: every session, their shared timer queue and the
//! routes hanging on them, driven by datagrams, timers, operator commands
//! and configuration, with `now` passed in. Sans-IO: what it decides comes
//! out as packets to send ([`Packet`]) and route verdicts ([`Gate`]) for
//! the task that owns the sockets and talks to the reconciler.
//!
//! Route policy (docs/liveness.md): a session's Up installs its routes, a Down
//! withdraws them, except routes marked `no_uninstall`, in passive mode
//! (installed at registration, never withdrawn), and while a new session is
//! in its start-up grace (it has not been Up yet and has not had a
//! detection time at the slow rate): routes adopted at a restart stay.

use super::network::Received;
use super::packet::auth::{self, AuthError};
use super::packet::{bfd, doublezero, Control, Profile, SenderVersion, State};
use super::registry::{Registry, RouteRef, SessionKey};
use super::scheduler::{QueueFull, TimerQueue, Which};
use super::session::{Input, Output, RouteAction, Session, SessionConfig, Timer};
use crate::config::{LivenessConfig, LivenessMode};
use crate::messages::{Gate, GateKey};
use crate::metrics::liveness::{PeerLabels, StateLabels, TransitionLabels};
use crate::metrics::Metrics;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub to: SocketAddr,
    pub source: IpAddr,
    pub ifindex: u32,
    len: u8,
    /// The longest packet: bfd with a SHA1 section (52), or doublezero (40).
    bytes: [u8; auth::MAX_LEN],
}

impl Packet {
    pub fn payload(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// A route resolved to the session it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub route: RouteRef,
    pub session: SessionKey,
    /// Shared by the bindings of one path: thousands of routes via one
    /// next hop hold one name.
    pub ifname: Arc<str>,
}

/// What `guardian sessions` shows of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionView {
    pub key: SessionKey,
    pub ifname: String,
    pub state: State,
    pub up_for: Option<Duration>,
    pub state_for: Duration,
    pub last_down_reason: Option<&'static str>,
    pub detection_time: Duration,
    pub tx_interval: Duration,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    pub remote_state: State,
    pub peer_passive: bool,
    pub peer_version: Option<SenderVersion>,
    pub routes: usize,
    pub in_grace: bool,
}

pub struct Engine {
    cfg: LivenessConfig,
    registry: Registry,
    timers: TimerQueue,
    rng: fastrand::Rng,
    metrics: Arc<Metrics>,
    /// Peers an operator set AdminDown; sessions created for them later
    /// (a reload) start AdminDown too.
    admin_down: HashSet<IpAddr>,
    outbox: Vec<Packet>,
    gates: Vec<Gate>,
    version: SenderVersion,
}

impl Engine {
    pub fn new(cfg: LivenessConfig, metrics: Arc<Metrics>, seed: u64) -> Engine {
        let timers = TimerQueue::new(cfg.queue_bound(0));
        Engine {
            cfg,
            registry: Registry::default(),
            timers,
            rng: fastrand::Rng::with_seed(seed),
            metrics,
            admin_down: HashSet::new(),
            outbox: Vec::new(),
            gates: Vec::new(),
            version: own_version(),
        }
    }

    pub fn config(&self) -> &LivenessConfig {
        &self.cfg
    }

    pub fn sessions(&self) -> usize {
        self.registry.len()
    }

    /// Packets decided since the last call.
    pub fn take_packets(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.outbox)
    }

    /// Route verdicts decided since the last call.
    pub fn take_gates(&mut self) -> Vec<Gate> {
        std::mem::take(&mut self.gates)
    }

    /// When [`Engine::on_timers`] next has something to do.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.timers.next_wakeup()
    }

    fn session_config(&self) -> SessionConfig {
        let c = &self.cfg;
        SessionConfig {
            profile: c.profile,
            desired_min_tx: c.desired_tx,
            required_min_rx: c.required_rx,
            detect_mult: c.detect_multiplier,
            min_tx_floor: c.min_tx_floor,
            max_tx_ceil: c.max_tx_ceil,
            backoff_max: c.backoff_max,
            passive: c.mode == LivenessMode::Passive,
            honour_peer_passive: c.honour_peer_passive,
            auth: c.auth.as_ref().map(|k| k.auth_type()),
        }
    }

    fn passive(&self) -> bool {
        self.cfg.mode == LivenessMode::Passive
    }

    // ---- configuration ----------------------------------------------------

    /// Makes the sessions and their routes match `bindings` (at start-up,
    /// after a reload, when routes waiting for a device resolve, when a
    /// source's routes change): routes no longer listed are detached,
    /// sessions left without routes end, new sessions start, and routes
    /// that joined a session get its verdict (the others' verdicts stand;
    /// see [`Engine::restate_all`]). A route listed twice follows its first
    /// binding. `unresolved` are routes whose session cannot be formed yet
    /// (no device or address, no socket): they stay as they are until the
    /// start-up grace ends, then follow the rules of a session that is not
    /// Up.
    ///
    /// Costs one hash lookup per binding: the task passes every source's
    /// bindings each time one source changes.
    pub fn apply_bindings<'a>(
        &mut self,
        bindings: impl IntoIterator<Item = &'a Binding>,
        unresolved: &[RouteRef],
        now: Instant,
    ) -> Vec<QueueFull> {
        let bindings = bindings.into_iter();
        // foldhash: one lookup per binding of every source, each time one changes.
        let mut wanted: hashbrown::HashSet<GateKey> = hashbrown::HashSet::with_capacity(bindings.size_hint().0);
        let bindings: Vec<&Binding> = bindings.filter(|b| wanted.insert(b.route.key)).collect();
        let stale: Vec<GateKey> = self.registry.routes().filter(|k| !wanted.contains(*k)).copied().collect();
        for key in stale {
            if let Some(id) = self.registry.detach(&key) {
                self.end_session(id, now);
            }
        }
        self.timers.set_bound(self.cfg.queue_bound(self.registry.len().max(bindings.len())));
        let mut refused = Vec::new();
        let mut joined: Vec<(u32, RouteRef)> = Vec::new();
        for b in bindings {
            let id = match self.registry.find(&b.session) {
                Some(id) => id,
                None => match self.start_session(b.session, b.ifname.to_string(), now) {
                    Ok(id) => id,
                    Err(full) => {
                        self.metrics.liveness.queue_rejected.inc();
                        refused.push(full);
                        continue;
                    }
                },
            };
            if self.registry.session_of(&b.route.key) != Some(id) {
                joined.push((id, b.route));
            }
            if let Some(emptied) = self.registry.attach(id, b.route) {
                self.end_session(emptied, now);
            }
        }
        // Stable: each session's newcomers keep their order.
        joined.sort_by_key(|&(id, _)| id);
        for group in joined.chunk_by(|a, b| a.0 == b.0) {
            let routes: Vec<RouteRef> = group.iter().map(|&(_, r)| r).collect();
            if let Some(gate) = self.verdict(group[0].0, &routes) {
                self.gates.push(gate);
            }
        }
        if !unresolved.is_empty() && self.passive() {
            self.gates.push(Gate { keys: unresolved.iter().map(|r| r.key).collect(), open: true });
        }
        refused
    }

    /// Sends every session's current verdict again: after a reload the
    /// reconciler may have changed what it does with the routes.
    pub fn restate_all(&mut self) {
        let ids: Vec<u32> = self.registry.ids().collect();
        for id in ids {
            self.restate_verdict(id);
        }
    }

    /// The verdict for routes whose session could not be formed, once the
    /// start-up grace is over: withdrawn, unless passive or no_uninstall.
    /// A route that follows a session (another source bound the same
    /// route) is the session's to judge.
    pub fn withdraw_unresolved(&mut self, unresolved: &[RouteRef]) {
        if self.passive() {
            return;
        }
        let keys: Vec<GateKey> = unresolved
            .iter()
            .filter(|r| !r.no_uninstall && self.registry.session_of(&r.key).is_none())
            .map(|r| r.key)
            .collect();
        if !keys.is_empty() {
            self.gates.push(Gate { keys, open: false });
        }
    }

    /// How long after start-up a route may stay without its session Up.
    pub fn startup_grace(&self) -> Duration {
        super::timers::startup_detection_time(
            self.cfg.profile,
            self.cfg.desired_tx,
            self.cfg.required_rx,
            self.cfg.detect_multiplier,
        )
    }

    /// New timer and interval settings for every session (a reload).
    pub fn reconfigure(&mut self, cfg: LivenessConfig, now: Instant) {
        let changed = cfg != self.cfg;
        self.cfg = cfg;
        if !changed {
            return;
        }
        let session_cfg = self.session_config();
        let ids: Vec<u32> = self.registry.ids().collect();
        for id in ids {
            self.process(id, Input::Reconfigure(session_cfg), now);
        }
    }

    fn start_session(&mut self, key: SessionKey, ifname: String, now: Instant) -> Result<u32, QueueFull> {
        let (id, generation) = self.registry.next_id();
        self.timers.register(id, generation)?;
        let discriminator = self.registry.unused_discriminator(&mut self.rng);
        let (session, out) = Session::new(self.session_config(), discriminator, self.rng.u64(..), now);
        let state = session.state();
        let inserted = self.registry.insert(key, session, ifname, now);
        debug_assert_eq!(inserted, id);
        self.count_state(None, Some(state));
        let grace = self.registry.get(id).map(|e| e.session.startup_detection_time()).unwrap_or_default();
        self.timers.arm(id, Which::Grace, Some(now + grace));
        tracing::debug!(peer = %key.peer, local = %key.local, ifindex = key.ifindex, "liveness session created");
        self.apply(id, out, now);
        if self.admin_down.contains(&key.peer) {
            self.process(id, Input::AdminDown, now);
        }
        Ok(id)
    }

    /// Ends a session that has no routes left: one AdminDown so the peer
    /// does not take it for a failure, then it is gone.
    fn end_session(&mut self, id: u32, now: Instant) {
        let mut counted = None;
        if let Some(entry) = self.registry.get_mut(id) {
            counted = Some(entry.session.state());
            let out = entry.session.process(Input::AdminDown, now);
            let farewell = out.send.unwrap_or_else(|| entry.session.current_packet());
            let key = entry.key;
            self.queue_packet(key, farewell);
        }
        if let Some(entry) = self.registry.remove(id) {
            self.count_state(counted, None);
            self.timers.remove(id);
            self.forget_peer_series(&entry.key, &entry.ifname);
            tracing::debug!(peer = %entry.key.peer, "liveness session ended: no route follows it any more");
        }
    }

    // ---- operator ---------------------------------------------------------

    /// AdminDown (`up == false`) or back (`up == true`) every session with
    /// `peer`; returns how many sessions that touched.
    pub fn admin(&mut self, peer: IpAddr, up: bool, now: Instant) -> usize {
        if up {
            self.admin_down.remove(&peer);
        } else {
            self.admin_down.insert(peer);
        }
        let ids: Vec<u32> = self.registry.entries().filter(|(_, e)| e.key.peer == peer).map(|(id, _)| id).collect();
        for &id in &ids {
            self.process(id, if up { Input::AdminUp } else { Input::AdminDown }, now);
        }
        ids.len()
    }

    pub fn view(&self, now: Instant) -> Vec<SessionView> {
        let mut views: Vec<SessionView> = self
            .registry
            .entries()
            .map(|(_, e)| {
                let s = &e.session;
                SessionView {
                    key: e.key,
                    ifname: e.ifname.clone(),
                    state: s.state(),
                    up_for: s.up_since().map(|t| now.saturating_duration_since(t)),
                    state_for: now.saturating_duration_since(e.state_since),
                    last_down_reason: s.last_down_reason().map(|r| r.label()),
                    detection_time: s.detection_time(),
                    tx_interval: s.tx_interval(),
                    local_discriminator: s.local_discriminator(),
                    remote_discriminator: s.remote_discriminator(),
                    remote_state: s.remote_state(),
                    peer_passive: s.peer_passive(),
                    peer_version: s.peer_version(),
                    routes: e.routes.len(),
                    in_grace: e.in_grace,
                }
            })
            .collect();
        views.sort_by_key(|v| v.key);
        views
    }

    // ---- packets and timers -------------------------------------------------

    /// One received datagram.
    pub fn on_datagram(&mut self, meta: &Received, bytes: &[u8], now: Instant) {
        let m = &self.metrics.liveness;
        if meta.truncated {
            m.packets_invalid.get_or_create(&reason("too_long")).inc();
            return;
        }
        let decoded = match self.cfg.profile {
            Profile::Bfd => bfd::decode(bytes),
            Profile::DoubleZero => doublezero::decode(bytes),
        };
        let mut control = match decoded {
            Ok(c) => c,
            Err(e) => {
                m.packets_invalid.get_or_create(&reason(e.reason())).inc();
                return;
            }
        };
        // GTSM (RFC 5881 section 5): only a neighbour one hop away can send 255.
        if self.cfg.profile == Profile::Bfd && meta.ttl != Some(super::network::GTSM_TTL) {
            m.packets_invalid.get_or_create(&reason("ttl")).inc();
            return;
        }
        // RFC 5880 6.8.6: with authentication in use, an unauthenticated
        // packet is discarded, and without it an authenticated one; the
        // digest (stateless) here, the sequence number in the session.
        // decode has checked that Length fits in what was received.
        let checked = match (&self.cfg.auth, control.auth_present) {
            (Some(key), _) => auth::verify(&bytes[..usize::from(bytes[3])], key),
            (None, true) => Err(AuthError::Unexpected),
            (None, false) => Ok(()),
        };
        if let Err(e) = checked {
            m.packets_invalid.get_or_create(&reason(e.reason())).inc();
            return;
        }
        let key =
            SessionKey { profile: self.cfg.profile, peer: meta.from.ip(), local: meta.local, ifindex: meta.ifindex };
        let id = if control.your_discriminator != 0 {
            match self.registry.find_by_discriminator(control.your_discriminator) {
                // Session binding: our discriminator on the wrong path is not ours.
                Some(id) if self.registry.get(id).is_some_and(|e| e.key == key) => id,
                Some(_) => {
                    m.packets_invalid.get_or_create(&reason("binding")).inc();
                    return;
                }
                None => match self.talking_to_our_previous_life(&key) {
                    Some(id) => {
                        m.stale_discriminator.inc();
                        control.your_discriminator = 0;
                        id
                    }
                    None => {
                        m.packets_invalid.get_or_create(&reason("unknown_discriminator")).inc();
                        return;
                    }
                },
            }
        } else {
            match self.registry.find(&key) {
                Some(id) => id,
                None => {
                    m.unknown_peer.inc();
                    return;
                }
            }
        };
        m.packets_received.inc();
        self.process(id, Input::Received(&control), now);
    }

    /// `doublezero` only: the session of `key` when it is not Up, for a
    /// packet from its peer that names a discriminator none of our sessions
    /// has. doublezerod learns a peer's discriminator only while it has none
    /// or while Up; after guardian restarts (new discriminators) it goes
    /// Down and keeps naming the old one while Down and Init. RFC 5880
    /// 6.8.6 would discard those packets, and the two would never meet
    /// again; the packet comes from the session's own peer, address and
    /// interface (session binding holds), so it is taken as naming none:
    /// the handshake then teaches the peer the new discriminator. Never
    /// while Up (a stranger's discriminator on a live session is not
    /// ours), and never in `bfd`, which stays RFC-exact.
    fn talking_to_our_previous_life(&self, key: &SessionKey) -> Option<u32> {
        if key.profile != Profile::DoubleZero {
            return None;
        }
        let id = self.registry.find(key)?;
        (self.registry.get(id)?.session.state() != State::Up).then_some(id)
    }

    /// Runs every timer due at `now`.
    pub fn on_timers(&mut self, now: Instant) {
        while let Some((id, which)) = self.timers.pop_due(now) {
            match which {
                Which::Transmit => self.process(id, Input::TimerExpired(Timer::Transmit), now),
                Which::Detect => self.process(id, Input::TimerExpired(Timer::Detect), now),
                Which::Grace => self.grace_over(id),
            }
        }
        self.metrics.liveness.queue_length.set(self.timers.len() as i64);
    }

    fn grace_over(&mut self, id: u32) {
        let Some(entry) = self.registry.get_mut(id) else { return };
        if !entry.in_grace {
            return;
        }
        entry.in_grace = false;
        if entry.session.state() != State::Up {
            tracing::info!(
                peer = %entry.key.peer,
                interface = %entry.ifname,
                state = entry.session.state().label(),
                routes = entry.routes.len(),
                "liveness session not up after its start-up grace; routes follow its state"
            );
            self.restate_verdict(id);
        }
    }

    fn process(&mut self, id: u32, input: Input<'_>, now: Instant) {
        let Some(entry) = self.registry.get_mut(id) else { return };
        let out = entry.session.process(input, now);
        self.apply(id, out, now);
    }

    /// Carries out what a session decided.
    fn apply(&mut self, id: u32, out: Output, now: Instant) {
        for (timer, at) in out.timers {
            let which = match timer {
                Timer::Transmit => Which::Transmit,
                Timer::Detect => Which::Detect,
            };
            self.timers.arm(id, which, at);
        }
        let Some(entry) = self.registry.get_mut(id) else { return };
        let key = entry.key;
        if let Some(drop) = out.dropped {
            self.metrics.liveness.packets_invalid.get_or_create(&reason(drop.label())).inc();
        }
        if out.peer_restarted {
            tracing::info!(peer = %key.peer, interface = %entry.ifname, "liveness peer restarted (new discriminator); session kept up");
        }
        if let Some(t) = out.transition {
            let was_for = now.saturating_duration_since(entry.state_since);
            entry.state_since = now;
            let m = &self.metrics.liveness;
            let sessions = &m.sessions;
            sessions.get_or_create(&StateLabels { state: t.from.label() }).dec();
            sessions.get_or_create(&StateLabels { state: t.to.label() }).inc();
            m.transitions
                .get_or_create(&TransitionLabels { from: t.from.label(), to: t.to.label(), reason: t.reason.label() })
                .inc();
            if t.to == State::Up {
                entry.in_grace = false;
                m.convergence_up.observe(was_for.as_secs_f64());
                tracing::info!(
                    peer = %key.peer,
                    local = %key.local,
                    interface = %entry.ifname,
                    routes = entry.routes.len(),
                    detect_time = ?entry.session.detection_time(),
                    "liveness session up"
                );
            } else if t.from == State::Up || t.to == State::AdminDown {
                let last_rx = entry.session.last_rx().map(|rx| now.saturating_duration_since(rx));
                if t.from == State::Up {
                    m.convergence_down.observe(last_rx.unwrap_or_default().as_secs_f64());
                }
                tracing::warn!(
                    peer = %key.peer,
                    local = %key.local,
                    interface = %entry.ifname,
                    from = t.from.label(),
                    to = t.to.label(),
                    reason = t.reason.label(),
                    routes = entry.routes.len(),
                    last_packet = ?last_rx,
                    "liveness session down"
                );
            } else {
                tracing::debug!(peer = %key.peer, from = t.from.label(), to = t.to.label(), reason = t.reason.label(), "liveness session state");
            }
            self.publish_peer(id);
        }
        if let Some(action) = out.routes {
            self.route_action(id, action);
        }
        if let Some(control) = out.send {
            self.queue_packet(key, control);
        }
    }

    fn route_action(&mut self, id: u32, action: RouteAction) {
        let Some(entry) = self.registry.get(id) else { return };
        match action {
            RouteAction::Install => {
                let keys: Vec<GateKey> = entry.routes.iter().map(|r| r.key).collect();
                self.gates.push(Gate { keys, open: true });
            }
            // A restarted daemon keeps adopted routes until the grace ends.
            RouteAction::Withdraw if entry.in_grace => {}
            RouteAction::Withdraw => {
                let keys: Vec<GateKey> = entry.routes.iter().filter(|r| !r.no_uninstall).map(|r| r.key).collect();
                if !keys.is_empty() {
                    self.gates.push(Gate { keys, open: false });
                }
            }
        }
    }

    /// Sends the verdict a session's routes should have now.
    fn restate_verdict(&mut self, id: u32) {
        let Some(entry) = self.registry.get(id) else { return };
        if let Some(gate) = self.verdict(id, &entry.routes) {
            self.gates.push(gate);
        }
    }

    /// The verdict `routes` of session `id` should have now, if there is
    /// one to send (none in the start-up grace, or while the policy keeps
    /// them).
    fn verdict(&self, id: u32, routes: &[RouteRef]) -> Option<Gate> {
        let entry = self.registry.get(id)?;
        let up = entry.session.state() == State::Up;
        let keeps = self.passive() || (self.cfg.honour_peer_passive && entry.session.peer_passive());
        let open = if up || self.passive() {
            true
        } else if !entry.in_grace && !keeps {
            false
        } else {
            return None;
        };
        let keys: Vec<GateKey> = routes.iter().filter(|r| open || !r.no_uninstall).map(|r| r.key).collect();
        (!keys.is_empty()).then_some(Gate { keys, open })
    }

    fn queue_packet(&mut self, key: SessionKey, mut control: Control) {
        let mut packet = Packet {
            to: SocketAddr::new(key.peer, self.cfg.port),
            source: key.local,
            ifindex: key.ifindex,
            len: 0,
            bytes: [0; auth::MAX_LEN],
        };
        match key.profile {
            Profile::Bfd => {
                packet.bytes[..bfd::LEN].copy_from_slice(&bfd::encode(&control));
                packet.len = match (&self.cfg.auth, control.auth_sequence) {
                    (Some(k), Some(seq)) => auth::sign(&mut packet.bytes, k, seq) as u8,
                    _ => bfd::LEN as u8,
                };
            }
            Profile::DoubleZero => {
                control.sender_version = Some(self.version);
                packet.bytes[..doublezero::LEN].copy_from_slice(&doublezero::encode(&control));
                packet.len = doublezero::LEN as u8;
            }
        }
        self.outbox.push(packet);
    }

    // ---- metrics -------------------------------------------------------------

    /// Moves one session between the per-state gauges (`None`: created
    /// or ended); kept incrementally, since 10,000 sessions coming up make
    /// 20,000 transitions.
    fn count_state(&self, from: Option<State>, to: Option<State>) {
        let sessions = &self.metrics.liveness.sessions;
        if let Some(from) = from {
            sessions.get_or_create(&StateLabels { state: from.label() }).dec();
        }
        if let Some(to) = to {
            sessions.get_or_create(&StateLabels { state: to.label() }).inc();
        }
    }

    fn publish_peer(&self, id: u32) {
        if !self.cfg.per_peer_metrics {
            return;
        }
        let Some(e) = self.registry.get(id) else { return };
        let labels = peer_labels(&e.key, &e.ifname);
        self.metrics.liveness.set_peer_state(&labels, e.session.state().label());
        self.metrics
            .liveness
            .peer_detection_seconds
            .get_or_create(&labels)
            .set(e.session.detection_time().as_secs_f64());
    }

    fn forget_peer_series(&self, key: &SessionKey, ifname: &str) {
        if self.cfg.per_peer_metrics {
            let labels = peer_labels(key, ifname);
            self.metrics.liveness.remove_peer(&labels);
        }
    }
}

fn reason(reason: &'static str) -> crate::metrics::liveness::ReasonLabels {
    crate::metrics::liveness::ReasonLabels { reason }
}

fn peer_labels(key: &SessionKey, ifname: &str) -> PeerLabels {
    PeerLabels { peer: key.peer.to_string(), local: key.local.to_string(), interface: ifname.to_owned() }
}

/// guardian's version as the doublezero packet carries it; channel 5
/// ("other": guardian is not a doublezero release).
fn own_version() -> SenderVersion {
    let mut parts = env!("CARGO_PKG_VERSION").split(['.', '-']).map(|p| p.parse::<u8>().unwrap_or(0));
    SenderVersion {
        major: parts.next().unwrap_or(0),
        minor: parts.next().unwrap_or(0),
        patch: parts.next().unwrap_or(0),
        channel: 5,
    }
}

#[cfg(test)]
mod tests;
