//! Two [`Session`]s against each other: a tiny in-memory simulator that
//! passes decoded [`Control`] values over a link with a fixed latency,
//! fires the timers the sessions ask for, and advances a fake clock from
//! event to event. Each direction of the link can be cut.

use std::time::{Duration, Instant};

use crate::liveness::packet::{Control, Profile, State};
use crate::liveness::session::{Input, Output, Reason, RouteAction, Session, SessionConfig, Timer, Transition};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);
const A: usize = 0;
const B: usize = 1;

struct Node {
    session: Session,
    transmit: Option<Instant>,
    detect: Option<Instant>,
    transitions: Vec<(Instant, Transition)>,
    routes: Vec<RouteAction>,
    /// When the last packet from the other node was delivered here.
    last_delivery: Option<Instant>,
}

struct Sim {
    now: Instant,
    nodes: Vec<Node>,
    /// (delivery time, destination, packet), in send order.
    in_flight: Vec<(Instant, usize, Control)>,
    /// `cut[i]`: packets sent by node i are lost.
    cut: [bool; 2],
    latency: Duration,
}

enum Event {
    Timer(usize, Timer),
    Deliver(usize),
}

impl Sim {
    fn new(cfg: SessionConfig) -> Sim {
        let t0 = Instant::now();
        let mut sim = Sim { now: t0, nodes: Vec::new(), in_flight: Vec::new(), cut: [false; 2], latency: MS };
        for (i, discriminator) in [(A, 0xaaaa), (B, 0xbbbb)] {
            let (session, out) = Session::new(cfg, discriminator, 100 + i as u64, t0);
            sim.nodes.push(Node {
                session,
                transmit: None,
                detect: None,
                transitions: Vec::new(),
                routes: Vec::new(),
                last_delivery: None,
            });
            sim.apply(i, out);
        }
        sim
    }

    fn apply(&mut self, i: usize, out: Output) {
        let node = &mut self.nodes[i];
        node.transmit = out.deadline(Timer::Transmit);
        node.detect = out.deadline(Timer::Detect);
        if let Some(transition) = out.transition {
            node.transitions.push((self.now, transition));
        }
        node.routes.extend(out.routes);
        if let Some(packet) = out.send {
            if !self.cut[i] {
                self.in_flight.push((self.now + self.latency, 1 - i, packet));
            }
        }
    }

    fn next_event(&self) -> Option<(Instant, Event)> {
        let mut next: Option<(Instant, Event)> = None;
        let mut consider = |at: Option<Instant>, event: Event| {
            if let Some(at) = at {
                if next.as_ref().is_none_or(|(best, _)| at < *best) {
                    next = Some((at, event));
                }
            }
        };
        for (i, node) in self.nodes.iter().enumerate() {
            consider(node.transmit, Event::Timer(i, Timer::Transmit));
            consider(node.detect, Event::Timer(i, Timer::Detect));
        }
        for (k, (at, _, _)) in self.in_flight.iter().enumerate() {
            consider(Some(*at), Event::Deliver(k));
        }
        next
    }

    fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while let Some((at, event)) = self.next_event().filter(|(at, _)| *at <= end) {
            self.now = at;
            let (i, out) = match event {
                Event::Timer(i, timer) => (i, self.nodes[i].session.process(Input::TimerExpired(timer), at)),
                Event::Deliver(k) => {
                    let (_, to, packet) = self.in_flight.remove(k);
                    self.nodes[to].last_delivery = Some(at);
                    (to, self.nodes[to].session.process(Input::Received(&packet), at))
                }
            };
            self.apply(i, out);
        }
        self.now = end;
    }

    fn state(&self, i: usize) -> State {
        self.nodes[i].session.state()
    }

    fn transitions_since(&self, i: usize, since: Instant) -> Vec<(Instant, Transition)> {
        self.nodes[i].transitions.iter().filter(|(at, _)| *at >= since).copied().collect()
    }
}

fn both_come_up_then_a_one_way_cut_takes_both_down(cfg: SessionConfig) {
    let profile = cfg.profile;
    let mut sim = Sim::new(cfg);
    sim.run_for(5 * SEC);
    assert_eq!((sim.state(A), sim.state(B)), (State::Up, State::Up), "{profile:?}: both Up within 5 s");
    for node in &sim.nodes {
        assert_eq!(node.routes, [RouteAction::Install]);
    }
    sim.run_for(20 * SEC);
    assert_eq!((sim.state(A), sim.state(B)), (State::Up, State::Up), "{profile:?}: and they stay Up");
    assert_eq!(sim.nodes[A].transitions.len(), sim.nodes[B].transitions.len());

    // Cut A -> B. B hears nothing and times out one detection time after
    // the last packet it got; A learns it from B's Down.
    let cut_at = sim.now;
    let b_detection = sim.nodes[B].session.detection_time();
    sim.cut[A] = true;
    sim.run_for(10 * SEC);
    let b_changes = sim.transitions_since(B, cut_at);
    let (b_down_at, b_down) = b_changes[0];
    assert_eq!((b_down.from, b_down.to, b_down.reason), (State::Up, State::Down, Reason::Timeout), "{profile:?}");
    let last_heard = sim.nodes[B].last_delivery.unwrap();
    assert_eq!(b_down_at, last_heard + b_detection, "{profile:?}: exactly one detection time");
    assert!(b_down_at - cut_at <= b_detection);
    let (a_down_at, a_down) = sim.transitions_since(A, cut_at)[0];
    assert_eq!((a_down.from, a_down.to, a_down.reason), (State::Up, State::Down, Reason::RemoteDown), "{profile:?}");
    assert!(a_down_at > b_down_at);
    assert!(a_down_at - b_down_at <= SEC + 2 * MS, "{profile:?}: B's Down goes out within one TX interval");
    for i in [A, B] {
        assert_eq!(sim.nodes[i].routes, [RouteAction::Install, RouteAction::Withdraw], "{profile:?} node {i}");
        assert!(sim.transitions_since(i, cut_at).iter().all(|(_, t)| t.to != State::Up), "no Up while cut");
    }

    // Heal the link: both come back.
    sim.cut[A] = false;
    sim.run_for(30 * SEC);
    assert_eq!((sim.state(A), sim.state(B)), (State::Up, State::Up), "{profile:?}: back Up");
}

#[test]
fn two_bfd_sessions_come_up_and_a_one_way_cut_takes_both_down() {
    both_come_up_then_a_one_way_cut_takes_both_down(SessionConfig::new(Profile::Bfd));
}

#[test]
fn two_fast_bfd_sessions_come_up_and_a_one_way_cut_takes_both_down() {
    let cfg = SessionConfig { desired_min_tx: 100 * MS, required_min_rx: 100 * MS, ..SessionConfig::new(Profile::Bfd) };
    both_come_up_then_a_one_way_cut_takes_both_down(cfg);
}

#[test]
fn two_doublezero_sessions_come_up_and_a_one_way_cut_takes_both_down() {
    both_come_up_then_a_one_way_cut_takes_both_down(SessionConfig::new(Profile::DoubleZero));
}

#[test]
fn two_fast_bfd_sessions_finish_their_poll_and_run_at_the_configured_rate() {
    let cfg = SessionConfig { desired_min_tx: 100 * MS, required_min_rx: 100 * MS, ..SessionConfig::new(Profile::Bfd) };
    let mut sim = Sim::new(cfg);
    sim.run_for(10 * SEC);
    for node in &sim.nodes {
        assert_eq!(node.session.state(), State::Up);
        assert!(!node.session.polling());
        assert_eq!(node.session.tx_interval(), 100 * MS);
        assert_eq!(node.session.detection_time(), 300 * MS);
    }
}

#[test]
fn a_session_started_later_still_comes_up() {
    let cfg = SessionConfig::new(Profile::DoubleZero);
    let mut sim = Sim::new(cfg);
    // B is silent (not started) for a while: A backs off meanwhile.
    sim.cut[B] = true;
    sim.run_for(20 * SEC);
    assert_eq!(sim.state(A), State::Down);
    assert!(sim.nodes[A].session.tx_interval() >= 8 * SEC);
    sim.cut[B] = false;
    // B's packets take A out of backoff at once: both Up within a few of
    // B's 1 s intervals (simulated time), not after A's 8 s and more.
    let healed = sim.now;
    while (sim.state(A), sim.state(B)) != (State::Up, State::Up) && sim.now - healed < 10 * SEC {
        sim.run_for(SEC / 10);
    }
    assert_eq!((sim.state(A), sim.state(B)), (State::Up, State::Up));
    assert!(sim.now - healed <= 4 * SEC, "Up {:?} after the cut ended", sim.now - healed);
}
