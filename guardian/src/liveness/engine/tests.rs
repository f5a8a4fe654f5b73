//! The engine with a fake clock: two engines exchange their packets in
//! memory, with the route verdicts they hand the reconciler checked.

use super::{Binding, Engine, Packet};
use crate::config::{LivenessConfig, LivenessMode};
use crate::liveness::network::Received;
use crate::liveness::packet::auth::{self, AuthKey, AuthType};
use crate::liveness::packet::{bfd, doublezero, Control, Profile, State};
use crate::liveness::registry::{RouteRef, SessionKey};
use crate::messages::Gate;
use crate::metrics::Metrics;
use crate::route::{Addr, Family, RouteKey};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const A: &str = "192.0.2.1";
const B: &str = "192.0.2.2";
const IFINDEX: u32 = 7;
const MS: Duration = Duration::from_millis(1);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn route(n: u8) -> RouteRef {
    let dst = Addr::from_ip(&ip(&format!("10.0.{n}.0")));
    RouteRef {
        key: RouteKey { family: Family::V4, table: 254, dst, dst_len: 24, tos: 0, metric: 0 }.into(),
        no_uninstall: false,
    }
}

fn fast() -> LivenessConfig {
    LivenessConfig {
        desired_tx: Duration::from_millis(100),
        required_rx: Duration::from_millis(100),
        ..LivenessConfig::default()
    }
}

fn binding(local: &str, peer: &str, route: RouteRef) -> Binding {
    Binding {
        route,
        session: SessionKey { profile: Profile::Bfd, peer: ip(peer), local: ip(local), ifindex: IFINDEX },
        ifname: "veth0".into(),
    }
}

/// What the other side's socket reports for a packet `p` sent to it.
fn received(p: &Packet, ttl: u8) -> Received {
    Received {
        payload_len: p.payload().len(),
        truncated: false,
        from: SocketAddr::new(p.source, 49152),
        local: p.to.ip(),
        ifindex: IFINDEX,
        ttl: Some(ttl),
    }
}

/// A bfd packet `c` as A's socket would report it, from `from` on `ifindex`.
fn forged(c: Control, from: &str, ifindex: u32, ttl: u8) -> (Received, [u8; bfd::LEN]) {
    let bytes = bfd::encode(&c);
    let meta = Received {
        payload_len: bytes.len(),
        truncated: false,
        from: SocketAddr::new(ip(from), 49152),
        local: ip(A),
        ifindex,
        ttl: Some(ttl),
    };
    (meta, bytes)
}

fn down(my: u32, your: u32) -> Control {
    let mut c = Control::new(State::Down, my, your);
    c.detect_mult = 3;
    c
}

struct Pair {
    now: Instant,
    a: Engine,
    b: Engine,
    metrics_a: Arc<Metrics>,
    /// Verdicts each side handed out, in order.
    gates_a: Vec<Gate>,
    gates_b: Vec<Gate>,
    /// Packets from A to B are lost.
    cut_a_to_b: bool,
    cut_b_to_a: bool,
}

impl Pair {
    fn new(cfg_a: LivenessConfig, cfg_b: LivenessConfig, routes_a: &[RouteRef], routes_b: &[RouteRef]) -> Pair {
        let now = Instant::now();
        let metrics_a = Arc::new(Metrics::new());
        let mut a = Engine::new(cfg_a, metrics_a.clone(), 1);
        let mut b = Engine::new(cfg_b, Arc::new(Metrics::new()), 2);
        let ba: Vec<Binding> = routes_a.iter().map(|r| binding(A, B, *r)).collect();
        let bb: Vec<Binding> = routes_b.iter().map(|r| binding(B, A, *r)).collect();
        assert!(a.apply_bindings(&ba, &[], now).is_empty());
        assert!(b.apply_bindings(&bb, &[], now).is_empty());
        let mut pair = Pair {
            now,
            a,
            b,
            metrics_a,
            gates_a: Vec::new(),
            gates_b: Vec::new(),
            cut_a_to_b: false,
            cut_b_to_a: false,
        };
        pair.exchange();
        pair
    }

    /// Delivers what each side sent (1 ms later) until nothing is in flight.
    fn exchange(&mut self) {
        for _ in 0..10 {
            self.gates_a.extend(self.a.take_gates());
            self.gates_b.extend(self.b.take_gates());
            let from_a = self.a.take_packets();
            let from_b = self.b.take_packets();
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for p in from_a.iter().filter(|_| !self.cut_a_to_b) {
                self.b.on_datagram(&received(p, 255), p.payload(), self.now + MS);
            }
            for p in from_b.iter().filter(|_| !self.cut_b_to_a) {
                self.a.on_datagram(&received(p, 255), p.payload(), self.now + MS);
            }
        }
    }

    /// Runs both engines' timers in order up to `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next = [self.a.next_wakeup(), self.b.next_wakeup()].into_iter().flatten().min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.a.on_timers(self.now);
                    self.b.on_timers(self.now);
                    self.exchange();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn state(engine: &Engine, now: Instant) -> State {
        engine.view(now)[0].state
    }
}

fn opened(gates: &[Gate]) -> Vec<crate::messages::GateKey> {
    gates.iter().filter(|g| g.open).flat_map(|g| g.keys.clone()).collect()
}

fn closed(gates: &[Gate]) -> Vec<crate::messages::GateKey> {
    gates.iter().filter(|g| !g.open).flat_map(|g| g.keys.clone()).collect()
}

#[test]
fn two_engines_come_up_and_open_the_gate_of_every_route_of_the_session() {
    let mut p = Pair::new(fast(), fast(), &[route(1), route(2)], &[route(3)]);
    p.run_for(Duration::from_secs(5));
    assert_eq!(Pair::state(&p.a, p.now), State::Up);
    assert_eq!(Pair::state(&p.b, p.now), State::Up);
    assert_eq!(p.a.sessions(), 1, "two routes via one peer share one session");
    assert_eq!(opened(&p.gates_a), vec![route(1).key, route(2).key]);
    assert_eq!(opened(&p.gates_b), vec![route(3).key]);
    assert!(closed(&p.gates_a).is_empty());
    assert!(p.metrics_a.encode().contains("guardian_liveness_sessions{state=\"up\"} 1"));
}

#[test]
fn a_session_that_never_comes_up_withdraws_only_after_its_start_up_grace() {
    // No peer answers: B's packets never reach A.
    let mut p = Pair::new(fast(), fast(), &[route(1)], &[]);
    p.cut_b_to_a = true;
    let grace = p.a.startup_grace();
    p.run_for(grace - 10 * MS);
    assert!(closed(&p.gates_a).is_empty(), "withdrawn during the grace: {:?}", p.gates_a);
    p.run_for(20 * MS);
    assert_eq!(closed(&p.gates_a), vec![route(1).key]);
}

#[test]
fn losing_the_peer_after_up_withdraws_at_once_except_no_uninstall_routes() {
    let keep = RouteRef { no_uninstall: true, ..route(2) };
    let mut p = Pair::new(fast(), fast(), &[route(1), keep], &[route(3)]);
    p.run_for(Duration::from_secs(5));
    assert_eq!(Pair::state(&p.a, p.now), State::Up);
    p.cut_b_to_a = true;
    // Detection time 300 ms: well within one second, far inside any grace.
    p.run_for(Duration::from_secs(1));
    assert_eq!(Pair::state(&p.a, p.now), State::Down);
    assert_eq!(closed(&p.gates_a), vec![route(1).key], "no_uninstall route kept");
    // B hears A's Down and withdraws too.
    assert_eq!(closed(&p.gates_b), vec![route(3).key]);
    // Healing brings both back and reopens.
    p.cut_b_to_a = false;
    let before = opened(&p.gates_a).len();
    p.run_for(Duration::from_secs(5));
    assert_eq!(Pair::state(&p.a, p.now), State::Up);
    assert!(opened(&p.gates_a).len() > before);
}

#[test]
fn passive_mode_opens_at_registration_and_never_closes() {
    let passive = LivenessConfig { mode: LivenessMode::Passive, ..fast() };
    let mut p = Pair::new(passive, fast(), &[route(1)], &[route(2)]);
    assert_eq!(opened(&p.gates_a), vec![route(1).key], "installed before any packet");
    p.run_for(Duration::from_secs(5));
    p.cut_b_to_a = true;
    p.run_for(Duration::from_secs(20));
    assert!(closed(&p.gates_a).is_empty(), "{:?}", p.gates_a);
}

#[test]
fn admin_down_closes_the_gate_and_the_peer_sees_admin_down() {
    let mut p = Pair::new(fast(), fast(), &[route(1)], &[route(2)]);
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.a.admin(ip(B), false, p.now), 1);
    // The AdminDown goes out at the next paced transmit.
    p.run_for(Duration::from_millis(200));
    assert_eq!(Pair::state(&p.a, p.now), State::AdminDown);
    assert_eq!(closed(&p.gates_a), vec![route(1).key]);
    let b = &p.b.view(p.now)[0];
    assert_eq!((b.state, b.last_down_reason), (State::Down, Some("remote_admin")));
    assert_eq!(closed(&p.gates_b), vec![route(2).key]);
    assert_eq!(p.a.admin(ip(B), true, p.now), 1);
    p.run_for(Duration::from_secs(5));
    assert_eq!(Pair::state(&p.a, p.now), State::Up);
    assert_eq!(p.a.admin(ip("192.0.2.99"), false, p.now), 0, "no such peer");
}

#[test]
fn packets_with_a_ttl_below_255_are_dropped_in_bfd() {
    let mut p = Pair::new(fast(), fast(), &[route(1)], &[route(2)]);
    let (meta, bytes) = forged(down(0x1234, 0), B, IFINDEX, 64);
    p.a.on_datagram(&meta, &bytes, p.now);
    let text = p.metrics_a.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"ttl\"} 1"), "{text}");
}

#[test]
fn our_discriminator_on_the_wrong_interface_is_not_accepted() {
    let mut p = Pair::new(fast(), fast(), &[route(1)], &[route(2)]);
    p.run_for(Duration::from_secs(5));
    let ours = p.a.view(p.now)[0].local_discriminator;
    let (meta, bytes) = forged(down(0x1234, ours), B, IFINDEX + 1, 255);
    p.a.on_datagram(&meta, &bytes, p.now);
    assert_eq!(Pair::state(&p.a, p.now), State::Up, "a Down on another interface must not take it down");
    let text = p.metrics_a.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"binding\"} 1"), "{text}");
}

#[test]
fn a_packet_from_an_unknown_peer_is_counted_and_ignored() {
    let p = Pair::new(fast(), fast(), &[route(1)], &[route(2)]);
    let mut a = p.a;
    let (meta, bytes) = forged(down(0x1234, 0), "192.0.2.77", IFINDEX, 255);
    a.on_datagram(&meta, &bytes, p.now);
    assert!(p.metrics_a.encode().contains("guardian_liveness_unknown_peer_packets_total 1"));
}

#[test]
fn dropping_the_last_route_ends_the_session_with_one_admin_down() {
    let mut p = Pair::new(fast(), fast(), &[route(1), route(2)], &[route(3)]);
    p.run_for(Duration::from_secs(5));
    // One route left: the session stays.
    assert!(p.a.apply_bindings(&[binding(A, B, route(2))], &[], p.now).is_empty());
    assert_eq!(p.a.sessions(), 1);
    assert!(p.a.take_packets().is_empty(), "nothing to say while the session stays");
    // None left: it ends, telling the peer.
    assert!(p.a.apply_bindings(&[], &[], p.now).is_empty());
    assert_eq!(p.a.sessions(), 0);
    let sent = p.a.take_packets();
    assert_eq!(sent.len(), 1);
    assert_eq!(bfd::decode(sent[0].payload()).unwrap().state, State::AdminDown);
    let text = p.metrics_a.encode();
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("guardian_liveness_sessions{")).collect();
    assert!(series.iter().any(|l| l.contains("\"up\"")), "{text}");
    assert!(series.iter().all(|l| l.ends_with(" 0")), "no session is left in any state: {series:?}");
}

/// A with route 1 and B with route 2, their session Up, A's verdicts so
/// far taken.
fn up() -> Pair {
    let mut p = Pair::new(fast(), fast(), &[route(1)], &[route(2)]);
    p.run_for(Duration::from_secs(5));
    let _ = p.a.take_gates();
    p
}

#[test]
fn a_reload_restates_every_verdict() {
    let mut p = up();
    p.gates_a.clear();
    assert!(p.a.apply_bindings(&[binding(A, B, route(1))], &[], p.now).is_empty());
    assert!(p.a.take_gates().is_empty(), "bindings that did not change restate nothing");
    p.a.restate_all();
    assert_eq!(opened(&p.a.take_gates()), vec![route(1).key]);
}

#[test]
fn a_route_joining_an_up_session_is_let_through_at_once() {
    let mut p = up();
    let both = [binding(A, B, route(1)), binding(A, B, route(3))];
    assert!(p.a.apply_bindings(&both, &[], p.now).is_empty());
    // Only the newcomer: route 1's verdict stands (with thousands of
    // routes on a session, one joining must not restate them all).
    assert_eq!(opened(&p.a.take_gates()), vec![route(3).key]);
}

#[test]
fn a_route_two_sources_bind_follows_the_first_binding_and_is_never_withdrawn_as_unresolved() {
    let mut p = up();
    // The file binds route 1 via B; a source lists it again via another
    // peer, and once more as unresolved.
    let other = binding(A, "192.0.2.9", route(1));
    assert!(p.a.apply_bindings(&[binding(A, B, route(1)), other], &[route(1)], p.now).is_empty());
    assert_eq!(p.a.sessions(), 1, "no session for the second binding");
    p.a.withdraw_unresolved(&[route(1)]);
    assert!(closed(&p.a.take_gates()).is_empty(), "route 1 follows B's session, which is Up");
    assert_eq!(Pair::state(&p.a, p.now), State::Up);
}

/// An engine of `profile` with one route via B, nothing received yet.
fn lone(profile: Profile) -> (Engine, Arc<Metrics>, Instant) {
    let now = Instant::now();
    let metrics = Arc::new(Metrics::new());
    let mut engine = Engine::new(LivenessConfig { profile, ..fast() }, metrics.clone(), 1);
    let b = Binding { session: SessionKey { profile, ..binding(A, B, route(1)).session }, ..binding(A, B, route(1)) };
    assert!(engine.apply_bindings(&[b], &[], now).is_empty());
    let _ = engine.take_packets();
    (engine, metrics, now)
}

/// `c` from B as A's socket reports it, encoded in `profile`.
fn from_b(profile: Profile, c: Control) -> (Received, Vec<u8>) {
    let bytes = match profile {
        Profile::Bfd => bfd::encode(&c).to_vec(),
        Profile::DoubleZero => doublezero::encode(&c).to_vec(),
    };
    let meta = Received {
        payload_len: bytes.len(),
        truncated: false,
        from: SocketAddr::new(ip(B), 49152),
        local: ip(A),
        ifindex: IFINDEX,
        ttl: Some(255),
    };
    (meta, bytes)
}

fn deliver(engine: &mut Engine, profile: Profile, c: Control, now: Instant) {
    let (meta, bytes) = from_b(profile, c);
    engine.on_datagram(&meta, &bytes, now);
}

/// A discriminator of a previous run of A's, which none of A's sessions has.
const OUR_PREVIOUS_LIFE: u32 = 0x0bad_cafe;

#[test]
fn doublezero_peer_naming_our_previous_discriminator_is_taken_as_naming_none_until_up() {
    let (mut a, metrics, t0) = lone(Profile::DoubleZero);
    // doublezerod after our restart: Down, still naming the old us.
    deliver(&mut a, Profile::DoubleZero, down(0x1234, OUR_PREVIOUS_LIFE), t0 + MS);
    assert_eq!(Pair::state(&a, t0), State::Init, "the stale discriminator must not stop the handshake");
    // A's Init (paced after its first packet) names the peer: what makes
    // doublezerod go Up and learn A's new discriminator.
    let paced = t0 + Duration::from_secs(1);
    a.on_timers(paced);
    let sent: Vec<Control> = a.take_packets().iter().map(|p| doublezero::decode(p.payload()).unwrap()).collect();
    assert!(sent.iter().any(|c| (c.state, c.your_discriminator) == (State::Init, 0x1234)), "{sent:?}");
    // Still naming the old one in Init (it learns ours only once Up): A stays Init.
    let mut init = Control::new(State::Init, 0x1234, OUR_PREVIOUS_LIFE);
    init.detect_mult = 3;
    deliver(&mut a, Profile::DoubleZero, init, paced + MS);
    assert_eq!(Pair::state(&a, t0), State::Init);
    // Then it goes Up on our Init and names us: Up.
    let ours = a.view(t0)[0].local_discriminator;
    let up = Control { state: State::Up, your_discriminator: ours, ..init };
    deliver(&mut a, Profile::DoubleZero, up, paced + 2 * MS);
    assert_eq!(Pair::state(&a, t0), State::Up);
    let text = metrics.encode();
    assert!(text.contains("guardian_liveness_stale_discriminator_packets_total 2"), "{text}");

    // Once Up, a discriminator that is not ours is somebody else's: dropped.
    deliver(&mut a, Profile::DoubleZero, down(0x1234, OUR_PREVIOUS_LIFE), paced + 3 * MS);
    assert_eq!(Pair::state(&a, t0), State::Up);
    let text = metrics.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"unknown_discriminator\"} 1"), "{text}");
}

#[test]
fn doublezero_stale_discriminator_from_another_interface_is_not_taken() {
    let (mut a, metrics, t0) = lone(Profile::DoubleZero);
    let (mut meta, bytes) = from_b(Profile::DoubleZero, down(0x1234, OUR_PREVIOUS_LIFE));
    meta.ifindex = IFINDEX + 1;
    a.on_datagram(&meta, &bytes, t0 + MS);
    assert_eq!(Pair::state(&a, t0), State::Down);
    assert!(metrics.encode().contains("guardian_liveness_packets_invalid_total{reason=\"unknown_discriminator\"} 1"));
}

#[test]
fn bfd_stays_rfc_exact_and_discards_a_stale_discriminator() {
    let (mut a, metrics, t0) = lone(Profile::Bfd);
    deliver(&mut a, Profile::Bfd, down(0x1234, OUR_PREVIOUS_LIFE), t0 + MS);
    assert_eq!(Pair::state(&a, t0), State::Down);
    let text = metrics.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"unknown_discriminator\"} 1"), "{text}");
    assert!(!text.contains("guardian_liveness_stale_discriminator_packets_total 1"), "{text}");
}

fn with_key(secret: &[u8]) -> LivenessConfig {
    let key = AuthKey::new(AuthType::MeticulousKeyedSha1, 1, secret).unwrap();
    LivenessConfig { auth: Some(key), ..fast() }
}

#[test]
fn two_engines_with_the_same_key_come_up_and_sign_every_packet() {
    let mut p = Pair::new(with_key(b"secret"), with_key(b"secret"), &[route(1)], &[route(2)]);
    p.run_for(Duration::from_secs(5));
    assert_eq!(Pair::state(&p.a, p.now), State::Up);
    assert_eq!(Pair::state(&p.b, p.now), State::Up);
    p.a.on_timers(p.a.next_wakeup().unwrap());
    let sent = p.a.take_packets();
    assert!(!sent.is_empty());
    for packet in &sent {
        assert_eq!(packet.payload().len(), 52, "24 + a 28-byte SHA1 section");
        assert!(bfd::decode(packet.payload()).unwrap().auth_present);
    }
    assert!(!p.metrics_a.encode().contains("reason=\"auth_"), "{}", p.metrics_a.encode());
}

#[test]
fn a_wrong_key_on_either_side_keeps_both_down() {
    let mut p = Pair::new(with_key(b"secret"), with_key(b"Secret"), &[route(1)], &[route(2)]);
    p.run_for(Duration::from_secs(10));
    assert_eq!(Pair::state(&p.a, p.now), State::Down);
    assert_eq!(Pair::state(&p.b, p.now), State::Down);
    assert!(opened(&p.gates_a).is_empty() && opened(&p.gates_b).is_empty());
    let text = p.metrics_a.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"auth_digest\"}"), "{text}");
}

#[test]
fn a_peer_that_does_not_authenticate_never_brings_the_session_up() {
    let mut p = Pair::new(with_key(b"secret"), fast(), &[route(1)], &[route(2)]);
    p.run_for(Duration::from_secs(10));
    assert_eq!(Pair::state(&p.a, p.now), State::Down);
    assert_eq!(Pair::state(&p.b, p.now), State::Down);
    let text = p.metrics_a.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"auth_missing\"}"), "{text}");
}

#[test]
fn an_authenticated_packet_without_a_configured_key_is_dropped() {
    let (mut a, metrics, t0) = lone(Profile::Bfd);
    let mut buf = [0u8; auth::MAX_LEN];
    buf[..bfd::LEN].copy_from_slice(&bfd::encode(&down(0x1234, 0)));
    let len = auth::sign(&mut buf, &AuthKey::new(AuthType::KeyedSha1, 1, b"secret").unwrap(), 1);
    let (mut meta, _) = from_b(Profile::Bfd, down(0x1234, 0));
    meta.payload_len = len;
    a.on_datagram(&meta, &buf[..len], t0 + MS);
    assert_eq!(Pair::state(&a, t0), State::Down);
    let text = metrics.encode();
    assert!(text.contains("guardian_liveness_packets_invalid_total{reason=\"auth_unexpected\"} 1"), "{text}");
}
