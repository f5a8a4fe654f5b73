//! Interop: guardian's `bfd` profile against BIRD 2's `protocol bfd`.
//!
//! ```text
//!   namespace G (guardian)                      namespace B (BIRD 2)
//!   va  192.0.2.1/24  <------- veth ------->  vb  192.0.2.2/24
//!   10.9.0.0/24 via 192.0.2.2, liveness = "nexthop"
//!                                              protocol bfd { neighbor 192.0.2.1; }
//! ```
//!
//! Both sides at 100 ms with multiplier 3. BIRD's `neighbor` makes a BFD
//! session of its own, without BGP. Each wait is a poll with a deadline of
//! the detection time plus seconds (the `bfd` profile runs at 1 s until
//! Up), never a sleep.

use std::time::{Duration, Instant};

use guardian_tests::bird::{BfdSession, Bird};
use guardian_tests::netns::{Netns, ADDR4, DEV, GW4, PEER};
use guardian_tests::nft::Rule;
use guardian_tests::wait::{self, SHORT};
use guardian_tests::{ip, require_netns, require_tool, sessions, Config, Daemon, RouteSpec};

/// Slack on top of a detection time before a missed Down is a failure.
const SLACK: Duration = Duration::from_secs(5);

fn bird_config() -> String {
    format!(
        r#"log stderr all;
router id {GW4};
debug protocols {{ states, events }};
protocol device {{}}
protocol bfd {{
    interface "{PEER}" {{
        min rx interval 100 ms;
        min tx interval 100 ms;
        multiplier 3;
    }};
    neighbor {ADDR4};
}}
"#
    )
}

fn route() -> RouteSpec {
    RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV).liveness("nexthop")
}

fn guardian_config() -> Config {
    Config::new()
        .attribution("mode", "\"off\"")
        .liveness("profile", "\"bfd\"")
        .liveness("desired_tx", "\"100ms\"")
        .liveness("required_rx", "\"100ms\"")
        .liveness("detect_multiplier", "3")
        .route(route())
}

/// Guardian in G and BIRD in B, both Up at the fast rate. Fields drop in
/// order: guardian, BIRD, then the namespaces.
struct Interop {
    guardian: Daemon,
    bird: Bird,
    g: Netns,
    b: Netns,
}

impl Interop {
    fn start() -> Interop {
        let (g, b) = (Netns::new(), Netns::new());
        g.veth_to(DEV, &b, PEER);
        g.addr_add(DEV, &format!("{ADDR4}/24"));
        b.addr_add(PEER, &format!("{GW4}/24"));
        let bird = Bird::start(&b, &bird_config());
        let started = Instant::now();
        let guardian = Daemon::start(&g, &guardian_config());
        let up = sessions::wait_state(&guardian, GW4, "up", SHORT);
        eprintln!("guardian's session with BIRD Up {:?} after the daemon was started: {up}", started.elapsed());
        let it = Interop { guardian, bird, g, b };
        it.wait_both_up();
        it
    }

    /// Both sides Up at the negotiated 100 ms (the Poll sequences that
    /// leave the 1 s start-up rate are done), the route installed.
    fn wait_both_up(&self) {
        let s = sessions::wait(&self.guardian, GW4, "up, detection time 300 ms", SHORT, |s| {
            sessions::state(s) == "up" && (sessions::number(s, "detect_time_seconds") - 0.3).abs() < 1e-6
        });
        assert_eq!(s["profile"], "bfd", "{s}");
        assert_eq!(s["local"], ADDR4, "{s}");
        assert_eq!(s["interface"], DEV, "{s}");
        assert_eq!(s["remote_state"], "up", "{s}");
        assert_eq!(s["routes"], 1, "{s}");
        ip::wait_installed(&self.g, &route(), SHORT);
        let seen = wait_bird(&self.bird, "Up at 100 ms x 3", SHORT, |s| {
            s.state == "Up" && (s.interval - 0.1).abs() < 1e-6 && (s.timeout - 0.3).abs() < 1e-6
        });
        assert_eq!(seen.interface, PEER, "{seen:?}");
    }

    fn detect_time(&self) -> Duration {
        Duration::from_secs_f64(sessions::number(&sessions::get(&self.guardian, GW4), "detect_time_seconds"))
    }

    /// BIRD logs a packet it refuses as "Bad packet from ...".
    fn assert_bird_accepted_every_packet(&self) {
        let bad = self.bird.log_lines_with("Bad packet");
        assert!(bad.is_empty(), "BIRD refused packets of guardian's: {bad:?}");
    }
}

/// Polls BIRD's view of its session with guardian until `pred` holds.
fn wait_bird(bird: &Bird, what: &str, timeout: Duration, pred: impl Fn(&BfdSession) -> bool) -> BfdSession {
    wait::until(&format!("BIRD's session with {ADDR4}: {what}"), timeout, || {
        let all = bird.bfd_sessions();
        match all.iter().find(|s| s.address == ADDR4) {
            Some(s) if pred(s) => Ok(s.clone()),
            _ => Err(format!("{all:?}")),
        }
    })
}

#[test]
fn bird_and_guardian_come_up_and_both_go_down_when_the_path_is_cut() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    require_tool!("nft");
    let it = Interop::start();
    let table = it.guardian.cli(&["sessions"]);
    assert!(table.success(), "{table:?}");
    eprintln!("guardian sessions:\n{}", table.stdout);
    let row = table.stdout.lines().find(|l| l.starts_with(GW4)).unwrap_or_else(|| panic!("{table:?}"));
    assert!(row.split_whitespace().any(|w| w == "up"), "{row}");

    // Cut both directions: each side stops hearing the other.
    let detect = it.detect_time();
    let cut = Instant::now();
    let rule_g = Rule::drop_input(&it.g, "udp dport 3784");
    let rule_b = Rule::drop_input(&it.b, "udp dport 3784");
    let down = sessions::wait_state(&it.guardian, GW4, "down", detect + SLACK);
    let guardian_down = cut.elapsed();
    assert_eq!(down["last_down_reason"], "timeout", "{down}");
    ip::wait_absent(&it.g, &route().dst, "main", detect + SLACK);
    wait_bird(&it.bird, "Down", Duration::from_millis(300) + SLACK, |s| s.state == "Down");
    eprintln!("path cut: guardian Down after {guardian_down:?}, BIRD Down by {:?}", cut.elapsed());
    assert!(rule_g.dropped(&it.g) > 0 && rule_b.dropped(&it.b) > 0, "the rules dropped nothing");

    // Mend it: both come back Up and the route is reinstalled.
    rule_g.remove(&it.g);
    rule_b.remove(&it.b);
    it.wait_both_up();
    it.assert_bird_accepted_every_packet();
}

#[test]
fn admin_down_withdraws_the_route_and_takes_birds_session_down() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let it = Interop::start();
    let detect = it.detect_time();

    let out = it.guardian.cli(&["admin-down", GW4]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), format!("peer {GW4}: 1 session set admin down"), "{out:?}");
    let s = sessions::get(&it.guardian, GW4);
    assert_eq!(s["state"], "admin_down", "{s}");
    ip::wait_absent(&it.g, &route().dst, "main", SLACK);
    // BIRD hears AdminDown and goes Down (RFC 5880 6.8.6), and stays Down:
    // guardian keeps sending AdminDown at the slow rate.
    wait_bird(&it.bird, "Down", detect + SLACK, |s| s.state == "Down");
    let s = sessions::get(&it.guardian, GW4);
    assert_eq!(s["state"], "admin_down", "guardian's AdminDown must ignore BIRD: {s}");

    let unknown = it.guardian.cli(&["admin-down", "192.0.2.99"]);
    assert_eq!(unknown.code(), 1, "{unknown:?}");
    assert!(unknown.stdout.is_empty(), "{unknown:?}");
    assert_eq!(unknown.stderr.lines().count(), 1, "{unknown:?}");
    assert!(unknown.stderr.starts_with("error: ") && unknown.stderr.contains("192.0.2.99"), "{unknown:?}");

    let out = it.guardian.cli(&["admin-up", GW4]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), format!("peer {GW4}: 1 session set admin up"), "{out:?}");
    it.wait_both_up();
    it.assert_bird_accepted_every_packet();
}
