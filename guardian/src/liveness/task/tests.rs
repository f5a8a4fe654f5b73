//! The task with routes from sources other than the file, over real UDP
//! sockets on loopback: peers are 127.0.0.x via `lo`, which nothing
//! answers, so sessions stay Down (the root tests in `netns_tests.rs`
//! bring them Up). Ports come from the kernel (a free one), never 3784,
//! so a running daemon is not disturbed. No capability is needed.

use super::*;
use crate::config::LivenessTarget;
use crate::liveness::packet::Profile;
use crate::logging::capture::Buffer;
use crate::route::{Addr, RouteKey};
use std::net::{Ipv4Addr, UdpSocket};

const DEADLINE: Duration = Duration::from_secs(20);
const SOURCE: &str = "bgp:192.0.2.2";

/// A /24 route via `peer` on `lo`, from 127.0.0.1: no route lookup needed.
fn route(n: u32, peer: &str) -> LivenessRoute {
    let dst = Addr::from_ip(&IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (n << 8))));
    LivenessRoute {
        key: RouteKey { family: Family::V4, table: 254, dst, dst_len: 24, tos: 0, metric: 0 }.into(),
        target: LivenessTarget::Nexthop,
        peer: peer.parse().unwrap(),
        dev: Some("lo".into()),
        src: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        no_uninstall: false,
    }
}

fn config(port: u16) -> LivenessConfig {
    LivenessConfig {
        port,
        desired_tx: Duration::from_millis(100),
        required_rx: Duration::from_millis(100),
        ..LivenessConfig::default()
    }
}

/// A UDP port nobody holds right now.
fn free_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap().local_addr().unwrap().port()
}

/// Whether nobody (the task included) holds `port` for IPv4.
fn port_free(port: u16) -> bool {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

struct Running {
    handle: LivenessHandle,
    gates: mpsc::UnboundedReceiver<Gate>,
    metrics: Arc<Metrics>,
}

/// Starts a task with the file's `routes` on `port`; `tweak` sets what
/// the test shortens (retry interval, grace).
fn start(port: u16, routes: Vec<LivenessRoute>, tweak: impl FnOnce(&mut LivenessTask)) -> Running {
    let (gate_tx, gates) = mpsc::unbounded_channel();
    let metrics = Arc::new(Metrics::new());
    let (mut task, handle, commands) = LivenessTask::new(config(port), routes, metrics.clone(), gate_tx).unwrap();
    tweak(&mut task);
    tokio::spawn(task.run(commands));
    Running { handle, gates, metrics }
}

impl Running {
    /// The sessions once every command sent before has been handled.
    async fn sessions(&self) -> Vec<SessionView> {
        self.handle.sessions().await.expect("the task runs")
    }

    /// Polls the sessions until `ok` holds, or panics after [`DEADLINE`].
    async fn wait_sessions(&self, what: &str, ok: impl Fn(&[SessionView]) -> bool) -> Vec<SessionView> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let sessions = self.sessions().await;
            if ok(&sessions) {
                return sessions;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; sessions: {sessions:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The gates sent so far.
    fn gates(&mut self) -> Vec<Gate> {
        std::iter::from_fn(|| self.gates.try_recv().ok()).collect()
    }
}

/// (peer, routes) of each session.
fn shape(sessions: &[SessionView]) -> Vec<(String, usize)> {
    sessions.iter().map(|s| (s.key.peer.to_string(), s.routes)).collect()
}

fn discriminator(sessions: &[SessionView], peer: &str) -> u32 {
    let s = sessions.iter().find(|s| s.key.peer.to_string() == peer);
    s.unwrap_or_else(|| panic!("no session with {peer}: {sessions:?}")).local_discriminator
}

#[tokio::test]
async fn a_sources_routes_open_the_sockets_get_sessions_and_outlive_reloads_of_the_files() {
    let port = free_port();
    let t = start(port, Vec::new(), |_| {});
    assert!(t.sessions().await.is_empty());
    assert!(port_free(port), "no route needs the port yet");

    t.handle.set_source_routes(SOURCE.into(), vec![route(1, "127.0.0.2"), route(2, "127.0.0.2")]).await;
    let before = t.sessions().await;
    assert_eq!(shape(&before), [("127.0.0.2".into(), 2)], "two routes via one next hop, one session");
    assert!(!port_free(port), "the source's routes opened the port");

    // A reload whose file has a route via another peer, then one without.
    let file = vec![route(3, "127.0.0.3")];
    t.handle.prepare(port, file.clone()).await.unwrap();
    t.handle.reload(config(port), file).await;
    let reloaded = t.sessions().await;
    assert_eq!(shape(&reloaded), [("127.0.0.2".into(), 2), ("127.0.0.3".into(), 1)]);
    t.handle.reload(config(port), Vec::new()).await;
    let after = t.sessions().await;
    assert_eq!(shape(&after), [("127.0.0.2".into(), 2)]);
    assert_eq!(discriminator(&after, "127.0.0.2"), discriminator(&before, "127.0.0.2"), "the same session throughout");
    assert!(!port_free(port), "the source still needs the port");

    t.handle.set_source_routes(SOURCE.into(), Vec::new()).await;
    assert!(t.sessions().await.is_empty(), "no route left: the session ended");
    assert!(port_free(port), "neither the file nor a source needs the port: closed");
}

#[tokio::test]
async fn an_update_of_one_source_keeps_the_sessions_of_its_unchanged_routes_and_of_other_sources() {
    let t = start(0, vec![route(9, "127.0.0.4")], |_| {});
    t.handle.set_source_routes("bgp:a".into(), vec![route(1, "127.0.0.2"), route(2, "127.0.0.3")]).await;
    t.handle.set_source_routes("bgp:b".into(), vec![route(5, "127.0.0.2")]).await;
    let before = t.sessions().await;
    assert_eq!(shape(&before), [("127.0.0.2".into(), 2), ("127.0.0.3".into(), 1), ("127.0.0.4".into(), 1)]);

    // bgp:a drops its route via .3 and gains one via .2.
    t.handle.set_source_routes("bgp:a".into(), vec![route(1, "127.0.0.2"), route(3, "127.0.0.2")]).await;
    let after = t.sessions().await;
    assert_eq!(shape(&after), [("127.0.0.2".into(), 3), ("127.0.0.4".into(), 1)]);
    for peer in ["127.0.0.2", "127.0.0.4"] {
        assert_eq!(discriminator(&after, peer), discriminator(&before, peer), "session with {peer} kept");
    }
    // A route both the file and a source list follows one session.
    t.handle.set_source_routes("bgp:b".into(), vec![route(9, "127.0.0.5")]).await;
    assert_eq!(shape(&t.sessions().await), [("127.0.0.2".into(), 2), ("127.0.0.4".into(), 1)], "the file's binding");
}

#[tokio::test]
async fn a_reload_that_changes_the_profile_moves_the_sources_routes_to_sessions_of_the_new_one() {
    let t = start(0, Vec::new(), |_| {});
    t.handle.set_source_routes(SOURCE.into(), vec![route(1, "127.0.0.2")]).await;
    let profiles = |s: &[SessionView]| s.iter().map(|s| s.key.profile).collect::<Vec<_>>();
    assert_eq!(profiles(&t.sessions().await), [Profile::Bfd]);
    t.handle.reload(LivenessConfig { profile: Profile::DoubleZero, ..config(0) }, Vec::new()).await;
    let after = t.sessions().await;
    assert_eq!(profiles(&after), [Profile::DoubleZero], "{after:?}");
    assert_eq!(after[0].routes, 1);
}

#[tokio::test]
async fn a_source_route_waiting_for_a_taken_port_is_kept_through_the_grace_then_withdrawn_until_the_port_frees() {
    // The task runs on this thread (a current-thread runtime): its errors
    // land here.
    let errors = Buffer::default();
    let writer = errors.clone();
    let subscriber = tracing_subscriber::fmt()
        .without_time()
        .with_ansi(false)
        .with_max_level(tracing::Level::ERROR)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let holder = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = holder.local_addr().unwrap().port();
    let grace = Duration::from_secs(4);
    let mut t = start(port, Vec::new(), |task| {
        task.retry_every = Duration::from_millis(100);
        task.grace_until = Instant::now() + grace;
    });
    let routes = vec![route(1, "127.0.0.2"), route(2, "127.0.0.2")];
    let keys: Vec<GateKey> = routes.iter().map(|r| r.key).collect();
    t.handle.set_source_routes(SOURCE.into(), routes).await;
    assert!(t.sessions().await.is_empty(), "no session without the port");
    // Well inside the grace: as they are (a restart must not withdraw the
    // routes a BGP neighbor re-announces while the port is busy).
    assert!(t.gates().iter().all(|g| g.open), "withdrawn during the grace: {:?}", t.gates());
    let text = t.metrics.encode();
    assert!(text.contains("guardian_liveness_socket_errors_total{op=\"bind\"}"), "{text}");

    // After it: withdrawn, and no session comes without the port.
    let deadline = Instant::now() + grace + DEADLINE;
    let mut closed = Vec::new();
    while !keys.iter().all(|k| closed.contains(k)) {
        assert!(Instant::now() < deadline, "not withdrawn after the grace: {closed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        closed.extend(t.gates().into_iter().filter(|g| !g.open).flat_map(|g| g.keys));
    }
    assert!(t.sessions().await.is_empty());
    // Tried every 100 ms through the grace, said once: the port, its
    // holder (this process) and what to do.
    let text = errors.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    for part in [&format!("UDP port {port} (IPv4) is already in use"), "stop the other BFD daemon", "stay withdrawn"] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }

    // The holder goes: the next retry opens the port and starts the session.
    drop(holder);
    t.wait_sessions("the session once the port is free", |s| shape(s) == [("127.0.0.2".into(), 2)]).await;
    assert!(!port_free(port));
}

/// Not a timing assertion: prints what setting a BGP neighbor's worth of
/// routes costs the task, for the record (`--nocapture`).
#[tokio::test]
async fn ten_thousand_routes_over_two_next_hops_make_two_sessions() {
    let t = start(0, Vec::new(), |_| {});
    let peer = |n: u32| if n.is_multiple_of(2) { "127.0.0.2" } else { "127.0.0.3" };
    let routes: Vec<LivenessRoute> = (0..10_000).map(|n| route(n, peer(n))).collect();

    let started = Instant::now();
    t.handle.set_source_routes(SOURCE.into(), routes.clone()).await;
    let sessions = t.sessions().await;
    let set = started.elapsed();
    assert_eq!(shape(&sessions), [("127.0.0.2".into(), 5_000), ("127.0.0.3".into(), 5_000)]);

    // The next update: one route replaced, 9,999 unchanged.
    let mut next = routes;
    next[0] = route(10_000, "127.0.0.2");
    let started = Instant::now();
    t.handle.set_source_routes(SOURCE.into(), next).await;
    let after = t.sessions().await;
    let update = started.elapsed();
    assert_eq!(shape(&after), shape(&sessions));
    for peer in ["127.0.0.2", "127.0.0.3"] {
        assert_eq!(discriminator(&after, peer), discriminator(&sessions, peer));
    }

    let started = Instant::now();
    t.handle.set_source_routes(SOURCE.into(), Vec::new()).await;
    assert!(t.sessions().await.is_empty());
    let removed = started.elapsed();
    println!("10,000 routes over 2 next hops: set in {set:?}, one replaced in {update:?}, removed in {removed:?}");
}
