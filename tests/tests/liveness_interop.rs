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
//! session of its own, without BGP. Each wait is a poll with the suite's
//! generous deadline, never a sleep; only a negative (something must not
//! happen) is watched for a fixed while.

use std::time::{Duration, Instant};

use guardian_tests::bird::{BfdSession, Bird};
use guardian_tests::netns::{Netns, ADDR4, DEV, GW4, PEER};
use guardian_tests::nft::Rule;
use guardian_tests::wait::{self, SHORT};
use std::os::unix::fs::PermissionsExt;

use guardian_tests::sessions::state;
use guardian_tests::tempdir::TempDir;
use guardian_tests::{ip, logs, metrics, msg, require_netns, require_tool, sessions, Config, Daemon, RouteSpec};

/// BIRD's BFD on `iface` with one neighbor, at 100 ms x 3; `debug` is
/// what it logs (`packets` adds a line per control packet).
fn bird_bfd_config(router_id: &str, iface: &str, neighbor: &str, debug: &str) -> String {
    bird_bfd_config_with(router_id, iface, neighbor, debug, "")
}

/// The same, with `options` added to the interface block (BIRD 2 takes
/// authentication only there).
fn bird_bfd_config_with(router_id: &str, iface: &str, neighbor: &str, debug: &str, options: &str) -> String {
    format!(
        r#"log stderr all;
router id {router_id};
debug protocols {{ {debug} }};
protocol device {{}}
protocol bfd {{
    interface "{iface}" {{
        min rx interval 100 ms;
        min tx interval 100 ms;
        multiplier 3;
        {options}
    }};
    neighbor {neighbor};
}}
"#
    )
}

fn bird_config() -> String {
    bird_bfd_config(GW4, PEER, ADDR4, "states, events, packets")
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
        Interop::start_with(&bird_config(), &guardian_config(), &[])
    }

    /// BIRD with `bird_config` in B, guardian in G with `config` (run
    /// through `wrapper`, see [`DaemonBuilder::wrapper`]), both Up.
    fn start_with(bird_config: &str, config: &Config, wrapper: &[&str]) -> Interop {
        let (g, b) = Interop::namespaces();
        let bird = Bird::start(&b, bird_config);
        let started = Instant::now();
        let guardian = Daemon::builder(&g).config(config).wrapper(wrapper).spawn();
        guardian.wait_ready(SHORT);
        let up = sessions::wait_state(&guardian, GW4, "up", SHORT);
        eprintln!("guardian's session with BIRD Up {:?} after the daemon was started: {up}", started.elapsed());
        let it = Interop { guardian, bird, g, b };
        it.wait_both_up();
        it
    }

    /// G and B joined by a veth pair, addressed.
    fn namespaces() -> (Netns, Netns) {
        let (g, b) = (Netns::new(), Netns::new());
        g.veth_to(DEV, &b, PEER);
        g.addr_add(DEV, &format!("{ADDR4}/24"));
        b.addr_add(PEER, &format!("{GW4}/24"));
        (g, b)
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

    /// BIRD logs a packet it refuses as "Bad packet from ...", and one whose
    /// authentication fails as "Authentication failed for ...".
    fn assert_bird_accepted_every_packet(&self) {
        for refused in ["Bad packet", "Authentication failed"] {
            let bad = self.bird.log_lines_with(refused);
            assert!(bad.is_empty(), "BIRD refused packets of guardian's: {bad:?}");
        }
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

    // Cut both directions: each side stops hearing the other. Each wait has
    // the suite's generous deadline; how fast they notice is the bench's.
    let cut = Instant::now();
    let rule_g = Rule::drop_input(&it.g, "udp dport 3784");
    let rule_b = Rule::drop_input(&it.b, "udp dport 3784");
    let down = sessions::wait_state(&it.guardian, GW4, "down", SHORT);
    let guardian_down = cut.elapsed();
    assert_eq!(down["last_down_reason"], "timeout", "{down}");
    ip::wait_absent(&it.g, &route().dst, "main", SHORT);
    wait_bird(&it.bird, "Down", SHORT, |s| s.state == "Down");
    eprintln!("path cut: guardian Down after {guardian_down:?}, BIRD Down by {:?}", cut.elapsed());
    assert!(rule_g.packets(&it.g) > 0 && rule_b.packets(&it.b) > 0, "the rules dropped nothing");

    // Mend it: both come back Up and the route is reinstalled.
    rule_g.remove(&it.g);
    rule_b.remove(&it.b);
    it.wait_both_up();
    it.assert_bird_accepted_every_packet();
}

#[test]
fn admin_down_withdraws_the_route_and_bird_sees_admin_down_and_stays_down() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    require_tool!("nft");
    let it = Interop::start();
    // BIRD's packets to guardian that say Down with diagnostic 3 (Neighbor
    // Signaled Session Down), and with diagnostic 1 (Control Detection Time
    // Expired): byte 0 is version 1 | diag, the top two bits of byte 1 the
    // state (1 = Down). RFC 5880 6.8.6: a peer that hears AdminDown goes
    // Down with diag 3; one that merely stops hearing us, with diag 1.
    let signalled = Rule::count_input(&it.g, "udp dport 3784 @th,64,8 0x23 @th,72,2 0x1");
    let timed_out = Rule::count_input(&it.g, "udp dport 3784 @th,64,8 0x21");
    let mark = it.bird.logs().len();

    let out = it.guardian.cli(&["admin-down", GW4]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), format!("peer {GW4}: 1 session set admin down"), "{out:?}");
    let s = sessions::get(&it.guardian, GW4);
    assert_eq!(s["state"], "admin_down", "{s}");
    ip::wait_absent(&it.g, &route().dst, "main", SHORT);
    // BIRD received AdminDown ("CTL received from ... [AdminDown", its
    // packet trace) and answered Down with diagnostic 3.
    wait_bird(&it.bird, "Down", SHORT, |s| s.state == "Down");
    wait::until("BIRD's log of an AdminDown packet from guardian", SHORT, || {
        let seen = it.bird.log_lines_with(&format!("CTL received from {ADDR4} [AdminDown"));
        if seen.is_empty() {
            Err("none yet".into())
        } else {
            Ok(())
        }
    });
    wait::until("a Down packet with diagnostic 3 from BIRD", SHORT, || match signalled.packets(&it.g) {
        0 => Err("none yet".into()),
        n => Ok(n),
    });
    // And it stays Down while guardian is AdminDown: guardian keeps sending
    // AdminDown at the slow rate, BIRD never moves on to Init or times out.
    // A negative can only be watched for a while: 3 s is ten of BIRD's
    // detection times at 100 ms, and three at the 1 s it falls back to.
    std::thread::sleep(Duration::from_secs(3));
    let s = it.bird.bfd_sessions();
    assert!(s.iter().any(|s| s.address == ADDR4 && s.state == "Down"), "{s:?}");
    let moved = it.bird.log_lines_from(mark, "changed state from Down");
    assert!(moved.is_empty(), "BIRD left Down while guardian was AdminDown: {moved:?}");
    assert_eq!(timed_out.packets(&it.g), 0, "BIRD timed the session out rather than hearing AdminDown");
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
    // admin-up is no way down: the last reason a session went down stays.
    let s = sessions::get(&it.guardian, GW4);
    assert_eq!(s["last_down_reason"], "admin_down", "{s}");
    it.assert_bird_accepted_every_packet();
}

// ---- one BFD receiver per host and port -------------------------------------

/// BIRD in `a` and `b`, their BFD sessions with each other Up.
fn two_birds(a: &Netns, b: &Netns) -> (Bird, Bird) {
    a.veth_to(DEV, b, PEER);
    a.addr_add(DEV, &format!("{ADDR4}/24"));
    b.addr_add(PEER, &format!("{GW4}/24"));
    let bird_a = Bird::start(a, &bird_bfd_config(ADDR4, DEV, GW4, "states, events"));
    let bird_b = Bird::start(b, &bird_bfd_config(GW4, PEER, ADDR4, "states, events"));
    bird_a.wait_bfd_state(GW4, "Up", SHORT);
    bird_b.wait_bfd_state(ADDR4, "Up", SHORT);
    (bird_a, bird_b)
}

/// BIRD's session with `peer` is Up and BIRD logged no change of it from
/// `mark` on, after watching it for a while (the length of a negative).
fn assert_bird_stayed_up(bird: &Bird, peer: &str, mark: usize) {
    std::thread::sleep(Duration::from_secs(2));
    let changes = bird.log_lines_from(mark, "changed state");
    assert!(changes.is_empty(), "BIRD's session changed state: {changes:?}");
    let s = bird.bfd_sessions();
    assert!(s.iter().any(|s| s.address == peer && s.state == "Up"), "{s:?}");
}

#[test]
fn guardian_refuses_the_port_birds_bfd_holds_and_birds_session_stays_up() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let (a, b) = (Netns::new(), Netns::new());
    let (bird_a, _bird_b) = two_birds(&a, &b);
    let mark = bird_a.logs().len();

    // guardian beside BIRD, with a route that asks for liveness towards
    // another peer: it must not start, and say who holds the port.
    let config = guardian_config().route(RouteSpec::new("10.9.1.0/24").via("192.0.2.3").dev(DEV).liveness("nexthop"));
    let out = Daemon::builder(&a).config(&config).run_to_exit(SHORT);
    out.assert_no_panic();
    assert_eq!(out.code(), 1, "{out:?}");
    let line = out.stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{out:?}"));
    for needle in ["liveness", "3784", "bird", &format!("pid {}", bird_a.pid()), "liveness.port"] {
        assert!(line.contains(needle), "the error lacks {needle:?}: {line}");
    }
    assert_bird_stayed_up(&bird_a, GW4, mark);
}

#[test]
fn a_reload_that_needs_the_port_bird_holds_is_refused_and_the_old_configuration_stays() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let (a, b) = (Netns::new(), Netns::new());
    let (bird_a, _bird_b) = two_birds(&a, &b);
    let mark = bird_a.logs().len();
    // Without liveness routes guardian never touches the port.
    let plain = RouteSpec::new("10.9.2.0/24").via(GW4).dev(DEV);
    let guardian = Daemon::start(&a, &Config::new().attribution("mode", "\"off\"").route(plain.clone()));
    ip::wait_installed(&a, &plain, SHORT);

    let log_mark = guardian.log_mark();
    guardian.write_config(&guardian_config());
    guardian.sighup();
    let refused = "configuration reload refused: its liveness port cannot be opened; keeping the old configuration";
    let line = guardian.wait_log_from(log_mark, "the reload refused", msg(refused), SHORT);
    assert_eq!(line["level"], "ERROR", "{line}");
    let error = logs::field(&line, "error").unwrap_or_default();
    assert!(error.contains("3784") && error.contains("bird"), "{line}");
    // The old configuration runs on: its route guarded, the new one absent.
    assert_eq!(guardian.status()["routes"]["desired"], 1);
    a.ip(&["route", "del", &plain.dst]);
    ip::wait_installed(&a, &plain, SHORT);
    assert!(ip::find(&a, &route().dst, "main").is_none(), "the refused configuration's route was installed");
    assert_bird_stayed_up(&bird_a, GW4, mark);
}

#[test]
fn bird_started_beside_guardian_cannot_take_its_port_and_guardians_session_stays_up() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let it = Interop::start();
    let mark = it.guardian.log_mark();
    // A second BIRD with BFD, in guardian's namespace.
    let second = Bird::start(&it.g, &bird_bfd_config(ADDR4, DEV, GW4, "states, events"));
    wait::until("the second BIRD's bind failure", SHORT, || {
        let lines = second.log_lines_with("Address already in use");
        if lines.is_empty() {
            Err(format!("{:?}", second.logs().snapshot()))
        } else {
            Ok(())
        }
    });
    // guardian's session with the first BIRD keeps running.
    std::thread::sleep(Duration::from_secs(2));
    let down = it.guardian.logs().find_from(mark, &|l| logs::is(l, "liveness session down"));
    assert!(down.is_none(), "guardian's session went down: {down:?}");
    let s = sessions::get(&it.guardian, GW4);
    assert_eq!(s["state"], "up", "{s}");
}

// ---- BFD authentication (RFC 5880 6.7) against BIRD ------------------------

/// guardian's `[liveness.auth] type` and BIRD's `authentication` for it.
const AUTH_TYPES: [(&str, &str); 4] = [
    ("meticulous-keyed-sha1", "meticulous keyed sha1"),
    ("keyed-sha1", "keyed sha1"),
    ("keyed-md5", "keyed md5"),
    ("meticulous-keyed-md5", "meticulous keyed md5"),
];

/// BIRD's side: `authentication <kind>; password "<password>" { id 1; };`.
fn bird_auth_config(kind: &str, password: &str) -> String {
    let auth = format!(r#"authentication {kind}; password "{password}" {{ id 1; }};"#);
    bird_bfd_config_with(GW4, PEER, ADDR4, "states, events", &auth)
}

/// guardian's side, its secret in a file only its owner may read.
fn guardian_auth_config(kind: &str, secret: &str, dir: &TempDir) -> Config {
    let path = dir.write("bfd.secret", &format!("{secret}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    guardian_config()
        .liveness_auth("type", &format!("\"{kind}\""))
        .liveness_auth("key_id", "1")
        .liveness_auth("secret_file", &format!("{:?}", path.display().to_string()))
}

/// Sum of guardian's dropped packets whose reason starts with `auth_`.
fn auth_drops(ns: &Netns) -> f64 {
    metrics::parse(&metrics::fetch(ns, "127.0.0.1:9469"))
        .iter()
        .filter(|s| s.name == "guardian_liveness_packets_invalid_total")
        .filter(|s| s.labels.iter().any(|(k, v)| k == "reason" && v.starts_with("auth_")))
        .map(|s| s.value)
        .sum()
}

#[test]
fn bird_and_guardian_come_up_with_every_keyed_authentication_type() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    for (ours, birds) in AUTH_TYPES {
        eprintln!("--- {ours}");
        let dir = TempDir::new("auth");
        let it =
            Interop::start_with(&bird_auth_config(birds, "secret"), &guardian_auth_config(ours, "secret", &dir), &[]);
        it.assert_bird_accepted_every_packet();
        assert_eq!(auth_drops(&it.g), 0.0, "{ours}: guardian refused some of BIRD's packets");
    }
}

#[test]
fn a_wrong_key_on_either_side_keeps_the_session_down() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    // The key guardian holds, then the password BIRD holds.
    for (guardian_secret, bird_password) in [("wrong", "secret"), ("secret", "wrong")] {
        let dir = TempDir::new("auth");
        let (g, b) = Interop::namespaces();
        let bird = Bird::start(&b, &bird_auth_config("meticulous keyed sha1", bird_password));
        let config = guardian_auth_config("meticulous-keyed-sha1", guardian_secret, &dir);
        let guardian = Daemon::builder(&g).config(&config).spawn();
        guardian.wait_ready(SHORT);
        // Each refuses the other's packets...
        wait::until("guardian refusing BIRD's digests", SHORT, || match auth_drops(&g) {
            n if n > 0.0 => Ok(()),
            n => Err(format!("{n} refused")),
        });
        wait::until("BIRD refusing guardian's digests", SHORT, || {
            let bad = bird.log_lines_with(&format!("Authentication failed for {ADDR4}"));
            if bad.is_empty() {
                Err("none yet".into())
            } else {
                Ok(())
            }
        });
        // ...and so neither comes Up, watched for ten detection times.
        std::thread::sleep(Duration::from_secs(3));
        let s = sessions::get(&guardian, GW4);
        assert_eq!(state(&s), "down", "guardian {guardian_secret} / BIRD {bird_password}: {s}");
        let seen = bird.bfd_sessions();
        assert!(seen.iter().all(|s| s.state != "Up"), "{seen:?}");
        assert!(bird.log_lines_with("changed state from Init to Up").is_empty(), "BIRD came Up");
        assert!(ip::find(&g, &route().dst, "main").is_none(), "installed without a session Up");
    }
}

#[test]
fn the_secret_can_come_from_a_systemd_credential() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    // As systemd lays it out: $CREDENTIALS_DIRECTORY/<name>, private to the unit.
    let credentials = TempDir::new("cred");
    credentials.write("bfd.secret", "secret\n");
    let config = guardian_config()
        .liveness_auth("type", "\"meticulous-keyed-sha1\"")
        .liveness_auth("key_id", "1")
        .liveness_auth("secret_credential", "\"bfd.secret\"");
    let env = format!("CREDENTIALS_DIRECTORY={}", credentials.path().display());
    let it = Interop::start_with(&bird_auth_config("meticulous keyed sha1", "secret"), &config, &["env", &env]);
    it.assert_bird_accepted_every_packet();
}
