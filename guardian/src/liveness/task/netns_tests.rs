//! Routes a source (BGP) gives the task get real sessions: two namespaces
//! joined by a veth pair, each running a liveness task on a thread of its
//! own, speaking `bfd` over real UDP on port 3784 (each namespace has its
//! own, so the host's is never touched).
//!
//! ```text
//!   G (under test)                           P (the peer: another guardian)
//!   va 192.0.2.1/24 2001:db8::1/64  <-veth->  vb 192.0.2.2/24 2001:db8::2/64
//!   routes from a source, via 192.0.2.2        a file route via 192.0.2.1
//! ```
//!
//! Every wait polls a condition with a deadline. Needs root (namespaces);
//! skips loudly without it.

use super::*;
use crate::config::LivenessTarget;
use crate::liveness::packet::State;
use crate::route::{Addr, RouteKey};
use guardian_test_support::netns::{Netns, VethPair, ADDR4, GW4};
use guardian_test_support::require_netns;
use guardian_test_support::wait::{self, SHORT};
use std::net::{Ipv4Addr, UdpSocket};

const SOURCE: &str = "bgp:192.0.2.2";

fn route(n: u32, peer: &str, dev: &str, src: &str) -> LivenessRoute {
    let dst = Addr::from_ip(&IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (n << 8))));
    LivenessRoute {
        key: RouteKey { family: Family::V4, table: 254, dst, dst_len: 24, tos: 0, metric: 0 }.into(),
        target: LivenessTarget::Nexthop,
        peer: peer.parse().unwrap(),
        dev: Some(dev.into()),
        src: Some(src.parse().unwrap()),
        no_uninstall: false,
    }
}

/// G's route `n` via P.
fn via_p(n: u32) -> LivenessRoute {
    route(n, GW4, "va", ADDR4)
}

fn config() -> LivenessConfig {
    LivenessConfig {
        desired_tx: Duration::from_millis(100),
        required_rx: Duration::from_millis(100),
        ..LivenessConfig::default()
    }
}

/// A liveness task on a thread of its own inside a namespace; it stops
/// (silently: no AdminDown, as when the daemon dies) when dropped.
struct Running {
    handle: Option<LivenessHandle>,
    gates: mpsc::UnboundedReceiver<Gate>,
    /// The last verdict of each route.
    verdicts: HashMap<GateKey, bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    rt: tokio::runtime::Runtime,
}

impl Running {
    fn start(ns: &Netns, routes: Vec<LivenessRoute>) -> Running {
        let (tx, rx) = std::sync::mpsc::channel();
        // A thread started by a thread inside the namespace is inside it too.
        let thread = ns.run_in(move || {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    let (gate_tx, gates) = mpsc::unbounded_channel();
                    let metrics = Arc::new(Metrics::new());
                    let (task, handle, commands) =
                        LivenessTask::new(config(), routes, metrics, gate_tx).expect("liveness task");
                    tx.send((handle, gates)).unwrap();
                    task.run(commands).await;
                });
            })
        });
        let (handle, gates) = rx.recv().expect("the liveness task started");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Running { handle: Some(handle), gates, verdicts: HashMap::new(), thread: Some(thread), rt }
    }

    fn handle(&self) -> &LivenessHandle {
        self.handle.as_ref().expect("running")
    }

    fn sessions(&self) -> Vec<SessionView> {
        self.rt.block_on(self.handle().sessions()).expect("the task runs")
    }

    fn set_source_routes(&self, routes: Vec<LivenessRoute>) {
        self.rt.block_on(self.handle().set_source_routes(SOURCE.into(), routes));
    }

    fn reload(&self, routes: Vec<LivenessRoute>) {
        let port = config().port;
        self.rt.block_on(self.handle().prepare(port, routes.clone())).expect("the port is ours");
        self.rt.block_on(self.handle().reload(config(), routes));
    }

    /// Takes the gates sent since the last call into `verdicts`, and
    /// returns them.
    fn gates(&mut self) -> Vec<Gate> {
        let gates: Vec<Gate> = std::iter::from_fn(|| self.gates.try_recv().ok()).collect();
        for g in &gates {
            for k in &g.keys {
                self.verdicts.insert(*k, g.open);
            }
        }
        gates
    }

    /// Waits until every route of `routes` has the verdict `open`.
    fn wait_verdict(&mut self, routes: &[LivenessRoute], open: bool) {
        let what = if open { "routes let through" } else { "routes withdrawn" };
        wait::until(what, SHORT, || {
            self.gates();
            let wrong: Vec<_> = routes.iter().filter(|r| self.verdicts.get(&r.key) != Some(&open)).collect();
            match wrong.is_empty() {
                true => Ok(()),
                false => Err(format!("verdicts {:?}; sessions {:?}", self.verdicts, self.sessions())),
            }
        });
    }

    /// Waits until the session with `peer` satisfies `ok`.
    fn wait_session(&self, peer: &str, what: &str, ok: impl Fn(&SessionView) -> bool) -> SessionView {
        let peer: IpAddr = peer.parse().unwrap();
        wait::until(what, SHORT, || {
            let sessions = self.sessions();
            match sessions.iter().find(|s| s.key.peer == peer) {
                Some(s) if ok(s) => Ok(s.clone()),
                _ => Err(format!("{sessions:?}")),
            }
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The last handle gone, the task returns and its sockets close.
        self.handle = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_sources_routes_come_up_with_the_peer_go_down_without_it_outlive_reloads_and_end_with_admin_down() {
    require_netns!();
    let lab = VethPair::new("va", "vb");
    let (g_ns, p_ns) = (&lab.a, &lab.b);
    let peer_route = route(100, ADDR4, "vb", GW4);
    let mut peer = Running::start(p_ns, vec![peer_route.clone()]);
    // G starts without a route of its own: no socket until the source's.
    let mut g = Running::start(g_ns, Vec::new());
    assert!(g_ns.run_in(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 3784)).is_ok()), "G holds 3784 without a route");

    let routes = vec![via_p(1), via_p(2)];
    g.set_source_routes(routes.clone());
    let up = g.wait_session(GW4, "G's session with P up", |s| s.state == State::Up && s.routes == 2);
    g.wait_verdict(&routes, true);
    peer.wait_verdict(std::slice::from_ref(&peer_route), true);

    // The file's routes change twice (one joins the session, then none is
    // left): the source's routes keep their session and their verdict.
    g.gates();
    g.reload(vec![via_p(3)]);
    g.wait_verdict(&[via_p(3)], true);
    g.reload(Vec::new());
    let s = g.wait_session(GW4, "back to the source's two routes", |s| s.routes == 2);
    assert_eq!((s.state, s.local_discriminator), (State::Up, up.local_discriminator), "the same session, still Up");
    let closed: Vec<Gate> = g.gates().into_iter().filter(|g| !g.open).collect();
    assert!(closed.is_empty(), "reloads withdrew {closed:?}");
    assert!(routes.iter().all(|r| g.verdicts[&r.key]));

    // The peer dies without a word: a detection time later, withdrawn.
    drop(peer);
    g.wait_session(GW4, "G's session down on a timeout", |s| {
        s.state == State::Down && s.last_down_reason == Some("timeout")
    });
    g.wait_verdict(&routes, false);

    // It comes back: let through again.
    let peer = Running::start(p_ns, vec![peer_route]);
    g.wait_session(GW4, "G's session up again", |s| s.state == State::Up);
    g.wait_verdict(&routes, true);
    peer.wait_session(ADDR4, "P's session up", |s| s.state == State::Up);

    // The source's routes go: the session ends with an AdminDown the peer
    // hears, and G gives the port back.
    g.set_source_routes(Vec::new());
    assert!(g.sessions().is_empty(), "{:?}", g.sessions());
    peer.wait_session(ADDR4, "P told AdminDown", |s| {
        s.state != State::Up && s.last_down_reason == Some("remote_admin")
    });
    assert!(g_ns.run_in(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 3784)).is_ok()), "G still holds 3784");
}
