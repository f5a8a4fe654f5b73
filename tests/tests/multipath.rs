//! guardian's own multipath routes (`nexthops`) against a real kernel: in
//! place with every leg and weight and guardian's protocol, put back
//! identical when deleted or replaced, and (with `liveness = "nexthop"`)
//! each leg in the route only while its own next hop's session is Up.

use guardian_tests::logs::route_msg;
use guardian_tests::netns::Netns;
use guardian_tests::nft::Rule;
use guardian_tests::sessions;
use guardian_tests::wait::{self, SHORT};
use guardian_tests::{require_netns, require_tool, Config, Daemon, RouteSpec};

const DST4: &str = "10.9.0.0/24";
const DST6: &str = "2001:db8:9::/48";

/// One namespace with two links, a0 and b0, each with a next hop on it
/// (192.0.2.2 and 2001:db8:a::2 on a0, 198.51.100.2 and 2001:db8:b::2 on
/// b0: neighbours never resolved, which routes do not need).
fn two_links() -> Netns {
    let ns = Netns::new();
    ns.veth("a0", "a1");
    ns.veth("b0", "b1");
    for (dev, v4, v6) in [("a0", "192.0.2.1/24", "2001:db8:a::1/64"), ("b0", "198.51.100.1/24", "2001:db8:b::1/64")] {
        ns.addr_add(dev, v4);
        ns.ip(&["-6", "addr", "add", v6, "dev", dev, "nodad"]);
    }
    ns
}

/// `ip -d route show <dst> table <table>`: every attribute, weights included.
fn show(ns: &Netns, dst: &str, table: &str) -> String {
    let family = if dst.contains(':') { "-6" } else { "-4" };
    ns.ip(&[family, "-d", "route", "show", dst, "table", table]).stdout
}

/// Waits until `ip -d route show` of `dst` satisfies `pred`; returns it.
fn wait_show(ns: &Netns, dst: &str, table: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    wait::until(what, SHORT, || {
        let text = show(ns, dst, table);
        if pred(&text) {
            Ok(text)
        } else {
            Err(text)
        }
    })
}

/// guardian's protocol as `ip` prints it: its name once rt_protos.d names it.
fn is_guardians(text: &str) -> bool {
    text.contains("proto guardian") || text.contains("proto 201")
}

fn routes() -> (RouteSpec, RouteSpec) {
    let v4 = RouteSpec::new(DST4).table(100).metric(10).nexthop("192.0.2.2", "a0", Some(1)).nexthop(
        "198.51.100.2",
        "b0",
        Some(3),
    );
    let v6 = RouteSpec::new(DST6).nexthop("2001:db8:a::2", "a0", None).nexthop("2001:db8:b::2", "b0", Some(5));
    (v4, v6)
}

/// Deletes (or replaces with `ip route replace <args>`) `dst` and waits
/// for guardian to put it back.
fn break_and_wait_reinstall(ns: &Netns, d: &Daemon, dst: &str, args: &[&str]) {
    let mark = d.log_mark();
    ns.ip(args);
    d.wait_log_from(mark, &format!("route reinstalled {dst}"), route_msg("route reinstalled", dst), SHORT);
}

#[test]
fn a_multipath_route_is_installed_with_every_leg_and_put_back_identical() {
    require_netns!();
    let ns = two_links();
    let (v4, v6) = routes();
    let d = Daemon::start(&ns, &Config::new().attribution("mode", "\"off\"").route(v4).route(v6));
    let before4 = wait_show(&ns, DST4, "100", "both IPv4 legs", |t| {
        t.contains("nexthop via 192.0.2.2 dev a0 weight 1") && t.contains("nexthop via 198.51.100.2 dev b0 weight 3")
    });
    assert!(is_guardians(&before4) && before4.contains("metric 10"), "{before4}");
    let before6 = wait_show(&ns, DST6, "main", "both IPv6 legs", |t| {
        t.contains("nexthop via 2001:db8:a::2 dev a0 weight 1")
            && t.contains("nexthop via 2001:db8:b::2 dev b0 weight 5")
    });
    assert!(is_guardians(&before6), "{before6}");

    break_and_wait_reinstall(&ns, &d, DST4, &["route", "del", DST4, "table", "100"]);
    assert_eq!(wait_show(&ns, DST4, "100", "back", |t| !t.is_empty()), before4, "deleted, put back identical");
    break_and_wait_reinstall(&ns, &d, DST6, &["-6", "route", "del", DST6]);
    assert_eq!(wait_show(&ns, DST6, "main", "back", |t| !t.is_empty()), before6, "deleted, put back identical");

    // Another process narrowing it to one leg, or to other weights.
    let one_leg =
        ["route", "replace", DST4, "table", "100", "metric", "10", "via", "192.0.2.2", "dev", "a0", "proto", "201"];
    break_and_wait_reinstall(&ns, &d, DST4, &one_leg);
    assert_eq!(wait_show(&ns, DST4, "100", "both legs again", |t| t == before4), before4);
    #[rustfmt::skip]
    let reweighted = ["-6", "route", "replace", DST6, "proto", "201",
        "nexthop", "via", "2001:db8:a::2", "dev", "a0", "weight", "1",
        "nexthop", "via", "2001:db8:b::2", "dev", "b0", "weight", "1"];
    break_and_wait_reinstall(&ns, &d, DST6, &reweighted);
    assert_eq!(wait_show(&ns, DST6, "main", "weights again", |t| t == before6), before6);

    // A scan finds it in place: no stale purge, no repair.
    let cycle = d.reconcile();
    assert_eq!(cycle["missing"], 0, "{cycle}");
    assert_eq!(show(&ns, DST4, "100"), before4);
    assert_eq!(show(&ns, DST6, "main"), before6);
}

/// Two hosts joined by two links: `a` (guardian under test) reaches `b` over
/// a0 (192.0.2.1 -> 192.0.2.2) and b0 (198.51.100.1 -> 198.51.100.2).
/// `b` runs a guardian of its own with a route back over each link, so each
/// link has a `bfd` session of its own, as two routers' would.
fn two_hosts() -> (Netns, Netns) {
    let a = Netns::new();
    let b = Netns::new();
    a.veth_to("a0", &b, "a1");
    a.veth_to("b0", &b, "b1");
    for (ns, dev, addr) in [
        (&a, "a0", "192.0.2.1/24"),
        (&a, "b0", "198.51.100.1/24"),
        (&b, "a1", "192.0.2.2/24"),
        (&b, "b1", "198.51.100.2/24"),
    ] {
        ns.addr_add(dev, addr);
    }
    (a, b)
}

/// What both guardians share: no attribution (nothing to load), 100 ms
/// intervals with multiplier 3.
fn live_config() -> Config {
    Config::new()
        .attribution("mode", "\"off\"")
        .liveness("desired_tx", "\"100ms\"")
        .liveness("required_rx", "\"100ms\"")
        .liveness("detect_multiplier", "3")
}

#[test]
fn with_nexthop_liveness_each_leg_is_in_the_route_only_while_its_session_is_up() {
    require_netns!();
    require_tool!("nft");
    let (a, b) = two_hosts();
    let _db = Daemon::start(
        &b,
        &live_config()
            .route(RouteSpec::new("10.30.0.0/24").via("192.0.2.1").dev("a1").liveness("nexthop"))
            .route(RouteSpec::new("10.30.1.0/24").via("198.51.100.1").dev("b1").liveness("nexthop")),
    );
    let route = RouteSpec::new(DST4)
        .nexthop("192.0.2.2", "a0", Some(1))
        .nexthop("198.51.100.2", "b0", Some(2))
        .liveness("nexthop");
    let da = Daemon::start(&a, &live_config().route(route));
    let both = |t: &str| {
        t.contains("nexthop via 192.0.2.2 dev a0 weight 1") && t.contains("nexthop via 198.51.100.2 dev b0 weight 2")
    };
    let before = wait_show(&a, DST4, "main", "both legs once both sessions are Up", both);
    sessions::wait_state(&da, "192.0.2.2", "up", SHORT);
    sessions::wait_state(&da, "198.51.100.2", "up", SHORT);

    // b0's peer stops answering: that leg leaves, the other carries the route.
    let cut = Rule::drop_input(&a, "iifname \"b0\" udp dport 3784");
    sessions::wait_state(&da, "198.51.100.2", "down", SHORT);
    let one = wait_show(&a, DST4, "main", "only the leg over a0", |t| {
        t.starts_with("unicast 10.9.0.0/24 via 192.0.2.2 dev a0")
    });
    assert!(!one.contains("198.51.100.2") && is_guardians(&one), "{one}");
    sessions::wait_state(&da, "192.0.2.2", "up", SHORT);
    // `guardian routes` lists both legs and which one is in.
    let routes = da.routes();
    let route = routes.as_array().and_then(|a| a.iter().find(|r| r["dst"] == DST4)).expect("listed").clone();
    let legs: Vec<(String, bool)> = route["nexthops"]
        .as_array()
        .unwrap_or_else(|| panic!("no nexthops: {route}"))
        .iter()
        .map(|h| (h["via"].as_str().unwrap_or_default().to_owned(), h["up"] == true))
        .collect();
    assert_eq!(legs, [("192.0.2.2".to_owned(), true), ("198.51.100.2".to_owned(), false)], "{route}");

    // It answers again: the leg rejoins, weights as configured.
    cut.remove(&a);
    assert_eq!(wait_show(&a, DST4, "main", "both legs again", both), before);

    // Neither answers: no leg is Up, the route is withdrawn.
    let all = Rule::drop_input(&a, "udp dport 3784");
    wait_show(&a, DST4, "main", "the route withdrawn", str::is_empty);
    sessions::wait_state(&da, "192.0.2.2", "down", SHORT);
    // And back.
    all.remove(&a);
    assert_eq!(wait_show(&a, DST4, "main", "both legs once more", both), before);
}
