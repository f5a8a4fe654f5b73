//! guardian as a BGP speaker with BIRD 2 as its peer, in namespaces:
//! guardian in `a`, BIRD in `b`, one veth pair between them. BIRD announces
//! static routes over `protocol bgp`; guardian installs the best paths into
//! table 100 with its own protocol.

use guardian_tests::bgp::{guardian_bgp, v4_prefix, v6_prefix, Announce, TABLE};
use guardian_tests::bird::Bird;
use guardian_tests::ip::{dsts_with_protocol, Family, PROTO_GUARDIAN};
use guardian_tests::logs::{field, is};
use guardian_tests::monitor::Monitor;
use guardian_tests::netns::{VethPair, DEV, GW4, GW6, PEER};
use guardian_tests::wait::{self, SHORT};
use guardian_tests::{require_netns, require_tool, Config, Daemon, Netns};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// Long enough for 10,000 routes on a loaded machine.
const LONG: Duration = Duration::from_secs(60);

fn table() -> String {
    TABLE.to_string()
}

/// guardian's routes in the BGP table.
fn installed(ns: &Netns, family: Family) -> BTreeSet<String> {
    dsts_with_protocol(ns, family, &table(), PROTO_GUARDIAN)
}

fn wait_installed(ns: &Netns, family: Family, want: &BTreeSet<String>, what: &str) {
    wait::until(what, LONG, || {
        let now = installed(ns, family);
        if &now == want {
            Ok(())
        } else {
            let missing = want.difference(&now).next();
            let extra = now.difference(want).next();
            Err(format!(
                "{} installed, {} wanted; missing e.g. {missing:?}, extra e.g. {extra:?}",
                now.len(),
                want.len()
            ))
        }
    });
}

fn v4_set(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(v4_prefix).collect()
}

fn v6_set(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(v6_prefix).collect()
}

/// `guardian bgp --json`'s only neighbor.
fn neighbor(guardian: &Daemon) -> Value {
    let view = guardian.cli_json(&["bgp", "--json"]);
    view["neighbors"][0].clone()
}

fn wait_state(guardian: &Daemon, state: &str) -> Value {
    wait::until(&format!("the BGP session {state}"), LONG, || {
        let n = neighbor(guardian);
        if n["state"] == state {
            Ok(n)
        } else {
            Err(format!("now: {n}"))
        }
    })
}

struct Setup {
    pair: VethPair,
    bird: Bird,
    guardian: Daemon,
}

fn start(announce: &Announce, neighbor_keys: &str) -> Setup {
    let pair = VethPair::new(DEV, PEER);
    let bird = Bird::builder(&pair.b, &announce.bird_config()).quiet().start();
    let guardian = Daemon::start(&pair.a, &Config::new().text(&guardian_bgp(neighbor_keys)));
    Setup { pair, bird, guardian }
}

#[test]
fn bird_s_prefixes_are_installed_and_its_withdrawals_followed() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let mut announce = Announce { v4: 10_000, v6: 100, ..Default::default() };
    let s = start(&announce, "");
    let up = s.guardian.wait_log("session up", |v| is(v, "BGP session up"), LONG);
    assert_eq!(field(&up, "neighbor").as_deref(), Some(GW4), "{up}");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..10_000), "BIRD's 10,000 IPv4 prefixes installed in table 100");
    wait_installed(&s.pair.a, Family::V6, &v6_set(0..100), "BIRD's 100 IPv6 prefixes (MP-BGP) installed");
    let route = s.pair.a.ip(&["route", "show", &v4_prefix(7), "table", &table()]).stdout;
    assert!(route.contains(&format!("via {GW4} dev {DEV}")), "{route}");
    let route6 = s.pair.a.ip(&["-6", "route", "show", &v6_prefix(7), "table", &table()]).stdout;
    assert!(route6.contains(&format!("via {GW6} dev {DEV}")), "{route6}");
    let n = wait_state(&s.guardian, "established");
    assert_eq!(n["prefixes_received"], 10_100, "{n}");
    assert_eq!(n["prefixes_installed"], 10_100, "{n}");

    // BIRD withdraws the last 2,500 IPv4 and 50 IPv6 prefixes: exactly
    // those leave the kernel.
    announce.v4 = 7_500;
    announce.v6 = 50;
    s.bird.configure(&announce.bird_config());
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..7_500), "the withdrawn IPv4 prefixes gone, the rest kept");
    wait_installed(&s.pair.a, Family::V6, &v6_set(0..50), "the withdrawn IPv6 prefixes gone, the rest kept");
    let n = neighbor(&s.guardian);
    assert_eq!(n["prefixes_installed"], 7_550, "{n}");
}

#[test]
fn a_stray_delete_of_a_learned_route_is_repaired_and_attributed() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = start(&Announce { v4: 10, ..Default::default() }, "");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..10), "BIRD's prefixes installed");
    let mark = s.guardian.log_mark();
    let dst = v4_prefix(3);
    s.pair.a.ip(&["route", "del", &dst, "table", &table()]);
    let line = s.guardian.wait_log_from(
        mark,
        "the deleted BGP route reinstalled",
        |v| is(v, "route reinstalled") && field(v, "route").is_some_and(|r| r.starts_with(&dst)),
        SHORT,
    );
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ip"), "{line}");
    let routes = s.guardian.routes();
    let route = routes
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["dst"] == dst.as_str()))
        .unwrap_or_else(|| panic!("{dst} not in guardian routes: {routes}"));
    assert_eq!(route["source"], format!("bgp:{GW4}"), "{route}");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..10), "the route back");
}

#[test]
fn without_graceful_restart_a_peer_s_restart_withdraws_its_routes() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let announce = Announce { v4: 20, ..Default::default() };
    let s = start(&announce, "");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..20), "BIRD's prefixes installed");
    drop(s.bird); // SIGTERM: BIRD closes its sessions
    let down = s.guardian.wait_log("session down", |v| is(v, "BGP session down; its routes are withdrawn"), LONG);
    assert_eq!(field(&down, "neighbor").as_deref(), Some(GW4), "{down}");
    wait_installed(&s.pair.a, Family::V4, &BTreeSet::new(), "the peer's routes withdrawn");
    let _bird = Bird::builder(&s.pair.b, &announce.bird_config()).quiet().start();
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..20), "the routes back with the peer");
}

#[test]
fn max_prefixes_closes_the_session_and_it_stays_idle() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = start(&Announce { v4: 200, ..Default::default() }, "max_prefixes = 100\nmax_prefixes_idle = \"10m\"");
    let line = s.guardian.wait_log("max_prefixes", |v| is(v, "BGP neighbor sent more prefixes than max_prefixes: session closed (Cease), idle until the time is up or `guardian bgp reset`"), LONG);
    assert_eq!(field(&line, "max_prefixes").as_deref(), Some("100"), "{line}");
    wait_installed(&s.pair.a, Family::V4, &BTreeSet::new(), "the neighbor's routes withdrawn");
    let n = wait_state(&s.guardian, "idle");
    assert!(n["last_error"].as_str().is_some_and(|e| e.contains("maximum number of prefixes")), "{n}");
    assert!(n["idle_for_seconds"].as_u64().is_some_and(|s| s > 60), "{n}");
    // BIRD heard the Cease with subcode 1.
    wait::until("BIRD logging the Cease", SHORT, || {
        eprintln!("BIRD: {:?}", s.bird.log_lines_with("guardian"));
        let lines = s.bird.log_lines_with("Maximum number of prefixes reached");
        if lines.is_empty() {
            Err("not yet".into())
        } else {
            Ok(())
        }
    });
    // Still idle a while later: BIRD keeps connecting (connect retry 1 s),
    // guardian does not listen and does not connect.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(neighbor(&s.guardian)["state"], "idle");
    assert!(installed(&s.pair.a, Family::V4).is_empty());

    // `guardian bgp reset` ends the wait: the session comes up again (and
    // the limit closes it again).
    let mark = s.guardian.log_mark();
    let out = s.guardian.cli(&["bgp", "reset", GW4]);
    assert!(out.success(), "{out:?}");
    s.guardian.wait_log_from(mark, "session up after the reset", |v| is(v, "BGP session up"), LONG);
}

#[test]
fn graceful_restart_of_the_peer_keeps_its_routes_untouched() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let announce = Announce { v4: 50, v6: 5, bgp: "  graceful restart on;".into(), ..Default::default() };
    let s = start(&announce, "graceful_restart = true");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..50), "BIRD's prefixes installed");
    wait_installed(&s.pair.a, Family::V6, &v6_set(0..5), "BIRD's IPv6 prefixes installed");
    let monitor = Monitor::start(&s.pair.a);
    let mark = monitor.sync(&s.pair.a);
    let log_mark = s.guardian.log_mark();
    // BIRD leaves as a graceful restart would (its sessions closed without
    // a NOTIFICATION), and comes back in recovery mode.
    let out = s.bird.birdc(&["graceful", "restart"]);
    assert!(out.success(), "birdc graceful restart: {out:?}");
    let down = s.guardian.wait_log_from(
        log_mark,
        "session down, gracefully",
        |v| is(v, "BGP session down; the peer does graceful restart: its routes stay, as stale, until it is back"),
        LONG,
    );
    assert_eq!(field(&down, "neighbor").as_deref(), Some(GW4), "{down}");
    wait::until("the old BIRD gone", SHORT, || {
        s.bird.check_alive().map_err(|e| e.to_string()).err().map(|_| ()).ok_or_else(|| "alive".to_owned())
    });
    let n = neighbor(&s.guardian);
    assert_eq!(n["prefixes_stale"], 55, "{n}");
    assert_eq!(installed(&s.pair.a, Family::V4), v4_set(0..50), "stale routes stay installed");
    let _bird = Bird::builder(&s.pair.b, &announce.bird_config()).args(&["-R"]).quiet().start();
    s.guardian.wait_log_from(
        log_mark,
        "End-of-RIB ending the restart",
        |v| is(v, "BGP End-of-RIB: graceful restart over") && field(v, "family").as_deref() == Some("ipv4"),
        LONG,
    );
    wait_state(&s.guardian, "established");
    monitor.sync(&s.pair.a);
    for dst in v4_set(0..50).iter().chain(v6_set(0..5).iter()) {
        let touched = monitor.mentioning(mark, dst);
        assert!(touched.is_empty(), "the peer's graceful restart touched {dst}: {touched:?}");
    }
    let n = neighbor(&s.guardian);
    assert_eq!(n["prefixes_stale"], 0, "{n}");
    assert_eq!(n["prefixes_installed"], 55, "{n}");
}

#[test]
fn a_restarting_guardian_adopts_the_routes_its_neighbor_announces_again() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let mut announce = Announce { v4: 30, ..Default::default() };
    let s = start(&announce, "");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..30), "BIRD's prefixes installed");
    s.guardian.sigterm();
    s.guardian.wait_exit(SHORT);
    assert_eq!(installed(&s.pair.a, Family::V4), v4_set(0..30), "guardian leaves its routes when it stops");
    // While guardian is away, BIRD stops announcing ten of them.
    announce.v4 = 20;
    s.bird.configure(&announce.bird_config());
    let monitor = Monitor::start(&s.pair.a);
    let mark = monitor.sync(&s.pair.a);
    let config = Config::new().text(&guardian_bgp(""));
    let second = Daemon::builder(&s.pair.a).dir(s.guardian.dir()).config(&config).spawn();
    second.wait_log(
        "every neighbor's End-of-RIB",
        |v| is(v, "BGP start-up: every neighbor sent End-of-RIB; routes none announced again are withdrawn"),
        LONG,
    );
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..20), "what BIRD no longer announces withdrawn");
    monitor.sync(&s.pair.a);
    for dst in v4_set(0..20) {
        let touched = monitor.mentioning(mark, &dst);
        assert!(touched.is_empty(), "the restart touched {dst}: {touched:?}");
    }
    for dst in v4_set(20..30) {
        assert!(!monitor.mentioning(mark, &dst).is_empty(), "{dst} withdrawn without a trace on the monitor?");
    }
}

#[test]
fn malformed_updates_get_treat_as_withdraw_or_the_right_notification() {
    use guardian_tests::bgp_peer::{attrs, update, CraftedPeer};
    require_netns!();
    let pair = VethPair::new(DEV, PEER);
    let guardian = Daemon::start(&pair.a, &Config::new().text(&guardian_bgp("")));
    let mut peer = CraftedPeer::accept(&pair.b, LONG);
    peer.establish(guardian_tests::bgp::PEER_AS, SHORT);
    let hop = GW4.parse().unwrap();
    let path = [guardian_tests::bgp::PEER_AS];
    let dst = "10.200.0.0/24";
    peer.send(&update(&[], &attrs(0, &path, hop), &[24, 10, 200, 0]));
    wait_installed(&pair.a, Family::V4, &BTreeSet::from([dst.to_owned()]), "the crafted peer's route installed");

    // ORIGIN 7 does not exist: RFC 7606 7.1 says treat-as-withdraw; the
    // session stays up.
    let mark = guardian.log_mark();
    peer.send(&update(&[], &attrs(7, &path, hop), &[24, 10, 200, 0]));
    let line = guardian.wait_log_from(
        mark,
        "treat-as-withdraw",
        |v| is(v, "BGP UPDATE treated as withdraw (RFC 7606)"),
        SHORT,
    );
    assert!(field(&line, "reason").is_some_and(|r| r.to_lowercase().contains("origin")), "{line}");
    wait_installed(&pair.a, Family::V4, &BTreeSet::new(), "the route withdrawn by the malformed UPDATE");
    assert!(peer.recv_kind(3, Duration::from_millis(500)).is_none(), "no NOTIFICATION for a treat-as-withdraw");
    assert_eq!(neighbor(&guardian)["state"], "established");

    // A prefix length of 33: the NLRI cannot be trusted, the session is
    // reset with UPDATE Message Error / Invalid Network Field (3/10).
    peer.send(&update(&[], &attrs(0, &path, hop), &[33, 10, 200, 0, 0, 0]));
    let n = peer.recv_kind(3, SHORT).expect("a NOTIFICATION");
    assert_eq!((n[0], n[1]), (3, 10), "NOTIFICATION code/subcode: {n:?}");
    let down =
        guardian.wait_log_from(mark, "session down", |v| is(v, "BGP session down; its routes are withdrawn"), SHORT);
    assert!(field(&down, "reason").is_some_and(|r| r.contains("invalid network field")), "{down}");
}

struct Md5Setup {
    pair: VethPair,
    _bird: Bird,
    guardian: Daemon,
    _dir: guardian_tests::tempdir::TempDir,
}

/// BIRD with `password "<bird>"`, guardian with `<guardian>` in its
/// secret_file (mode 0600).
fn md5_setup(bird: &str, guardian: &str) -> Md5Setup {
    use std::os::unix::fs::PermissionsExt;
    let announce = Announce { v4: 10, bgp: format!("  password \"{bird}\";"), ..Default::default() };
    let pair = VethPair::new(DEV, PEER);
    let bird = Bird::builder(&pair.b, &announce.bird_config()).quiet().start();
    let dir = guardian_tests::tempdir::TempDir::new("bgp-md5");
    let path = dir.write("bgp.secret", &format!("{guardian}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let keys = format!("secret_file = {:?}", path.display().to_string());
    let guardian = Daemon::start(&pair.a, &Config::new().text(&guardian_bgp(&keys)));
    Md5Setup { pair, _bird: bird, guardian, _dir: dir }
}

/// BIRD's kernel's count of TCP MD5 segments of `kind` (`TcpExtTCPMD5Failure`...).
fn md5_counter(ns: &Netns, kind: &str) -> u64 {
    let out = ns.exec("nstat").args(["-az", kind]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find(|l| l.starts_with(kind)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

#[test]
fn tcp_md5_against_bird_s_password() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = md5_setup("s3cret-md5", "s3cret-md5");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..10), "routes learned over the signed session");
    wait_state(&s.guardian, "established");
    // The kernel counted no segment whose signature failed or was missing.
    assert_eq!(md5_counter(&s.pair.b, "TcpExtTCPMD5Failure"), 0);
    assert_eq!(md5_counter(&s.pair.b, "TcpExtTCPMD5NotFound"), 0);
}

#[test]
fn a_wrong_md5_key_never_establishes() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = md5_setup("right", "wrong");
    // Segments signed with another key are dropped by BIRD's kernel: wait
    // until it counted some, then the session is still not up.
    wait::until("BIRD's kernel dropping guardian's signed SYNs", LONG, || {
        match md5_counter(&s.pair.b, "TcpExtTCPMD5Failure") {
            0 => Err("none dropped yet".into()),
            _ => Ok(()),
        }
    });
    assert_ne!(neighbor(&s.guardian)["state"], "established");
    assert!(installed(&s.pair.a, Family::V4).is_empty());
}

#[test]
fn a_passive_neighbor_connects_to_guardian_and_strangers_are_turned_away() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = start(&Announce { v4: 10, ..Default::default() }, "passive = true");
    wait_installed(&s.pair.a, Family::V4, &v4_set(0..10), "routes from BIRD's connection to guardian");
    let listening = s.pair.a.exec("ss").args(["-Hltn", "sport = :179"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&listening.stdout).trim().is_empty(), "guardian listens on 179");
    // Another address on BIRD's side connects: closed at once.
    s.pair.b.addr_add(PEER, "192.0.2.77/24");
    let mark = s.guardian.log_mark();
    let mut stranger = s.pair.b.run_in(|| {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&"192.0.2.77:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        socket.connect(&"192.0.2.1:179".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        std::net::TcpStream::from(socket)
    });
    let line = s.guardian.wait_log_from(
        mark,
        "the stranger turned away",
        |v| is(v, "BGP connection from an address that is not a neighbor: closed"),
        SHORT,
    );
    assert_eq!(field(&line, "from").as_deref(), Some("192.0.2.77"), "{line}");
    stranger.set_read_timeout(Some(SHORT)).unwrap();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut stranger, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the stranger's connection is closed without a word");
    assert_eq!(neighbor(&s.guardian)["state"], "established", "the neighbor's session is not disturbed");
}

#[test]
fn an_ipv6_link_local_neighbor_and_next_hop_use_the_interface() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let pair = VethPair::new(DEV, PEER);
    // Link-local addresses only on BIRD's side, so its next hop is link-local.
    pair.b.ip(&["-6", "addr", "flush", "dev", PEER, "scope", "global"]);
    pair.a.ip(&["addr", "add", "fe80::1/64", "dev", DEV, "nodad"]);
    pair.b.ip(&["addr", "add", "fe80::2/64", "dev", PEER, "nodad"]);
    let mut bird =
        String::from("router id 192.0.2.2;\nlog stderr all;\nprotocol device { }\nprotocol static s6 {\n  ipv6;\n");
    for i in 0..5 {
        bird.push_str(&format!("  route {} blackhole;\n", v6_prefix(i)));
    }
    bird.push_str(&format!(
        "}}\nprotocol bgp guardian {{\n  local fe80::2 as {peer_as};\n  neighbor fe80::1 as {local_as};\n  interface \"{PEER}\";\n  \
         connect retry time 1;\n  ipv6 {{ import none; export all; }};\n}}\n",
        peer_as = guardian_tests::bgp::PEER_AS,
        local_as = guardian_tests::bgp::LOCAL_AS,
    ));
    let _bird = Bird::builder(&pair.b, &bird).quiet().start();
    let config = format!(
        "[bgp]\nlocal_as = {}\nrouter_id = \"192.0.2.1\"\ntable = {TABLE}\n\n[[bgp.neighbor]]\naddress = \"fe80::2\"\ninterface = \"{DEV}\"\nremote_as = {}\n",
        guardian_tests::bgp::LOCAL_AS,
        guardian_tests::bgp::PEER_AS
    );
    let guardian = Daemon::start(&pair.a, &Config::new().text(&config));
    wait_installed(&pair.a, Family::V6, &v6_set(0..5), "IPv6 routes via a link-local next hop");
    let route = pair.a.ip(&["-6", "route", "show", &v6_prefix(2), "table", &table()]).stdout;
    assert!(route.contains(&format!("via fe80::2 dev {DEV}")), "{route}");
    let n = neighbor(&guardian);
    assert_eq!(n["interface"], DEV, "{n}");
}

#[test]
fn a_liveness_gated_neighbor_s_routes_are_installed_only_while_its_next_hop_answers_bfd() {
    use guardian_tests::nft::Rule;
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    require_tool!("nft");
    // BIRD announces over BGP and, apart from it, answers BFD for guardian
    // (`protocol bfd` with guardian as a neighbor): a BFD failure leaves the
    // BGP session up, so only liveness can take the routes out.
    let top = format!(
        "protocol bfd {{\n  interface \"{PEER}\" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};\n  neighbor {};\n}}\n",
        guardian_tests::netns::ADDR4
    );
    let announce = Announce { v4: 20, top, ..Default::default() };
    let pair = VethPair::new(DEV, PEER);
    let _bird = Bird::builder(&pair.b, &announce.bird_config()).quiet().start();
    let config = Config::new()
        .liveness("profile", "\"bfd\"")
        .liveness("desired_tx", "\"100ms\"")
        .liveness("required_rx", "\"100ms\"")
        .liveness("detect_multiplier", "3")
        .text(&guardian_bgp("liveness = \"nexthop\""));
    let guardian = Daemon::start(&pair.a, &config);
    wait_installed(&pair.a, Family::V4, &v4_set(0..20), "routes installed once the next hop's BFD session is Up");
    let sessions = guardian.cli_json(&["sessions", "--json"]);
    let session = sessions.as_array().and_then(|s| s.first()).cloned().unwrap_or_default();
    assert_eq!(session["peer"], GW4, "{sessions}");
    assert_eq!(session["state"], "up", "{sessions}");
    assert!(session["routes"].as_u64().is_some_and(|n| n >= 20) || session["routes"].is_array(), "{session}");

    // The next hop stops answering BFD: the routes leave the kernel while
    // the BGP session stays up with them.
    let cut = Rule::drop_input(&pair.a, "udp dport 3784");
    wait_installed(&pair.a, Family::V4, &BTreeSet::new(), "routes withdrawn with their BFD session down");
    let n = neighbor(&guardian);
    assert_eq!(n["state"], "established", "{n}");
    assert_eq!(n["prefixes_accepted"], 20, "{n}");
    cut.remove(&pair.a);
    wait_installed(&pair.a, Family::V4, &v4_set(0..20), "routes back with BFD");
}

const METRICS: &str = "127.0.0.1:9481";

#[test]
fn a_reload_narrows_and_widens_the_import_filter_and_removing_bgp_withdraws_everything() {
    use guardian_tests::metrics;
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let pair = VethPair::new(DEV, PEER);
    let _bird = Bird::builder(&pair.b, &Announce { v4: 300, ..Default::default() }.bird_config()).quiet().start();
    let with = |keys: &str| Config::new().daemon("metrics_listen", &format!("\"{METRICS}\"")).text(&guardian_bgp(keys));
    let guardian = Daemon::start(&pair.a, &with(""));
    wait_installed(&pair.a, Family::V4, &v4_set(0..300), "every prefix with no filter");
    let text = metrics::fetch(&pair.a, METRICS);
    let labels = [("neighbor", GW4), ("state", "established")];
    assert_eq!(metrics::value(&text, "guardian_bgp_session_state", &labels), Some(1.0), "{text}");
    let installed_labels = [("neighbor", GW4), ("stage", "installed")];
    assert_eq!(metrics::value(&text, "guardian_bgp_prefixes", &installed_labels), Some(300.0), "{text}");
    assert!(
        metrics::value(&text, "guardian_bgp_updates_received_total", &[("neighbor", GW4)]).is_some_and(|n| n >= 1.0)
    );

    // Narrower: only 10.100.0.0/24 .. 10.100.255.0/24 (the first 256).
    guardian.write_config(&with("import = [\"10.100.0.0/16 le 24\"]"));
    guardian.sighup();
    wait_installed(&pair.a, Family::V4, &v4_set(0..256), "the filtered-out prefixes withdrawn");
    // Wider again: what the old filter refused was not kept, so guardian
    // asks BIRD for a route refresh and gets them back.
    let mark = guardian.log_mark();
    guardian.write_config(&with(""));
    guardian.sighup();
    guardian.wait_log_from(
        mark,
        "route refresh asked",
        |v| is(v, "BGP import filter changed: asked for a route refresh"),
        SHORT,
    );
    wait_installed(&pair.a, Family::V4, &v4_set(0..300), "the prefixes back after the route refresh");
    assert_eq!(neighbor(&guardian)["state"], "established", "no session reset for a filter change");

    // No [bgp] any more: its routes are withdrawn, the session closed.
    guardian.write_config(&Config::new().daemon("metrics_listen", &format!("\"{METRICS}\"")));
    guardian.sighup();
    wait_installed(&pair.a, Family::V4, &BTreeSet::new(), "every BGP route withdrawn");
    let view = guardian.cli_json(&["bgp", "--json"]);
    assert_eq!(view["enabled"], false, "{view}");
}

#[test]
fn best_path_across_two_neighbors_and_multipath_makes_one_route_of_both() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    // a (guardian) ── va/vb ── b (BIRD, AS 65002, 192.0.2.2)
    //              └─ vc/vd ── c (BIRD, AS 65003, 198.51.100.2)
    let (a, b, c) = (Netns::new(), Netns::new(), Netns::new());
    a.veth_to(DEV, &b, PEER);
    a.veth_to("vc", &c, "vd");
    a.addr_add(DEV, "192.0.2.1/24");
    b.addr_add(PEER, "192.0.2.2/24");
    a.addr_add("vc", "198.51.100.1/24");
    c.addr_add("vd", "198.51.100.2/24");
    let announce = Announce { v4: 5, ..Default::default() };
    let from_b = announce.bird_config();
    let from_c = from_b
        .replace("192.0.2.2", "198.51.100.2")
        .replace("192.0.2.1", "198.51.100.1")
        .replace("as 65002", "as 65003");
    let _bird_b = Bird::builder(&b, &from_b).quiet().start();
    let bird_c = Bird::builder(&c, &from_c).quiet().start();
    let bgp = |multipath: bool| {
        format!(
            "{}\n[[bgp.neighbor]]\naddress = \"198.51.100.2\"\nremote_as = 65003\n",
            guardian_bgp("").replace("table = 100", &format!("table = 100\nmultipath = {multipath}"))
        )
    };
    let guardian = Daemon::start(&a, &Config::new().text(&bgp(false)));
    wait_installed(&a, Family::V4, &v4_set(0..5), "the best paths installed");
    let dst = v4_prefix(1);
    let show = || a.ip(&["route", "show", &dst, "table", &table()]).stdout;
    // Equal but for the tie-breaks: the lower BGP identifier (192.0.2.2) wins.
    wait::until("both neighbors established", LONG, || {
        let view = guardian.cli_json(&["bgp", "--json"]);
        let up = view["neighbors"].as_array().map_or(0, |n| n.iter().filter(|n| n["state"] == "established").count());
        if up == 2 {
            Ok(())
        } else {
            Err(view.to_string())
        }
    });
    wait::until("the route via b", SHORT, || {
        let r = show();
        if r.contains(&format!("via {GW4} dev {DEV}")) {
            Ok(())
        } else {
            Err(r)
        }
    });
    let routes = guardian.routes();
    let entry =
        routes.as_array().and_then(|rs| rs.iter().find(|r| r["dst"] == dst.as_str())).cloned().unwrap_or_default();
    assert_eq!(entry["source"], format!("bgp:{GW4}"), "{entry}");

    // multipath: one route with both next hops.
    guardian.write_config(&Config::new().text(&bgp(true)));
    guardian.sighup();
    wait::until("one route over both neighbors", SHORT, || {
        let r = show();
        if r.contains("nexthop via 192.0.2.2") && r.contains("nexthop via 198.51.100.2") {
            Ok(())
        } else {
            Err(r)
        }
    });
    // One neighbor leaves: the route stays, over the other alone.
    drop(bird_c);
    wait::until("the route over b alone", LONG, || {
        let r = show();
        if r.contains(&format!("via {GW4} dev {DEV}")) && !r.contains("nexthop") {
            Ok(())
        } else {
            Err(r)
        }
    });
}

#[test]
fn an_open_from_the_wrong_as_gets_bad_peer_as_and_a_log_line() {
    use guardian_tests::bgp_peer::{open, CraftedPeer};
    require_netns!();
    let pair = VethPair::new(DEV, PEER);
    let guardian = Daemon::start(&pair.a, &Config::new().text(&guardian_bgp("")));
    let mut peer = CraftedPeer::accept(&pair.b, LONG);
    peer.recv_kind(1, SHORT).expect("guardian's OPEN");
    peer.send(&open(64999, GW4.parse().unwrap()));
    let n = peer.recv_kind(3, SHORT).expect("a NOTIFICATION");
    assert_eq!((n[0], n[1]), (2, 2), "OPEN Message Error / Bad Peer AS: {n:?}");
    let line = guardian.wait_log("the NOTIFICATION logged", |v| is(v, "BGP NOTIFICATION sent"), SHORT);
    assert!(field(&line, "notification").is_some_and(|w| w.contains("bad peer AS (2/2)")), "{line}");
    let n = neighbor(&guardian);
    assert_ne!(n["state"], "established");
    assert!(n["last_error"].as_str().is_some_and(|e| e.contains("bad peer AS")), "{n}");
}

#[test]
fn a_next_hop_on_no_connected_network_is_unresolvable_until_an_address_makes_it_so() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    // BIRD sets the next hop to 203.0.113.9, which nothing on guardian's
    // side reaches directly.
    let announce = Announce { v4: 10, ..Default::default() };
    let text = announce.bird_config().replace(
        "ipv4 { import none; export all; }",
        "ipv4 { import none; export all; next hop address 203.0.113.9; }",
    );
    let pair = VethPair::new(DEV, PEER);
    let _bird = Bird::builder(&pair.b, &text).quiet().start();
    let guardian = Daemon::start(&pair.a, &Config::new().text(&guardian_bgp("")));
    let n = wait::until("the prefixes received and counted unresolvable", LONG, || {
        let n = neighbor(&guardian);
        if n["prefixes_unresolvable"] == 10 {
            Ok(n)
        } else {
            Err(n.to_string())
        }
    });
    assert_eq!(n["prefixes_installed"], 0, "{n}");
    let table_text = guardian.cli(&["bgp"]).stdout;
    assert!(table_text.contains("UNRESOLVED"), "{table_text}");
    assert!(installed(&pair.a, Family::V4).is_empty());
    // The host gets an address on 203.0.113.0/24: the next hop is on a
    // connected network now, and the routes go in through it.
    pair.a.addr_add(DEV, "203.0.113.1/24");
    wait_installed(&pair.a, Family::V4, &v4_set(0..10), "the routes installed once their next hop is connected");
    let route = pair.a.ip(&["route", "show", &v4_prefix(4), "table", &table()]).stdout;
    assert!(route.contains(&format!("via 203.0.113.9 dev {DEV}")), "{route}");
    assert_eq!(neighbor(&guardian)["prefixes_unresolvable"], 0);
}
