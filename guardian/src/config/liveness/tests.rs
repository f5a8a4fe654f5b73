//! `[liveness]` and the per-route liveness keys, parsed from TOML strings.

use super::*;
use crate::config::Config;
use crate::route::MAIN_TABLE;

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml(text, "test.toml").map_err(|e| e.to_string())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Asserts `text` fails with a message holding every needle.
#[track_caller]
fn fails(text: &str, needles: &[&str]) -> String {
    let e = parse(text).expect_err(text);
    for n in needles {
        assert!(e.contains(n), "{n:?} not in {e:?}");
    }
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn a_file_without_liveness_gets_the_documented_defaults() {
    let c = parse("").unwrap();
    let l = &c.liveness;
    assert_eq!(l.profile, Profile::Bfd);
    assert_eq!(l.port, 3784);
    assert_eq!(l.desired_tx, Duration::from_secs(1));
    assert_eq!(l.required_rx, Duration::from_secs(1));
    assert_eq!(l.detect_multiplier, 3);
    assert_eq!(l.min_tx_floor, ms(50));
    assert_eq!(l.max_tx_ceil, Duration::from_secs(3));
    assert_eq!(l.backoff_max, Duration::from_secs(60));
    assert_eq!(l.queue_bound, None);
    assert_eq!(l.mode, LivenessMode::Active);
    assert!(l.honour_peer_passive);
    assert!(!l.per_peer_metrics);
    assert!(l.exclude.is_empty());
    assert_eq!(*l, LivenessConfig::default());
    assert!(c.routes.liveness.is_empty());
    assert_eq!(c.routes.excluded, 0);
}

#[test]
fn default_queue_bound_is_four_per_session_and_at_least_10240() {
    let l = LivenessConfig::default();
    assert_eq!(l.queue_bound(0), 10_240);
    assert_eq!(l.queue_bound(2_560), 10_240);
    assert_eq!(l.queue_bound(10_000), 40_000);
    assert_eq!(l.queue_bound(usize::MAX), usize::MAX, "saturates");
    let c = parse("[liveness]\nqueue_bound = 500\n").unwrap();
    assert_eq!(c.liveness.queue_bound, Some(500));
    assert_eq!(c.liveness.queue_bound(10_000), 500, "a configured bound is used as is");
}

#[test]
fn every_key_is_read() {
    let c = parse(
        r#"
[liveness]
profile = "doublezero"
port = 4000
desired_tx = "100ms"
required_rx = "200ms"
detect_multiplier = 5
min_tx_floor = "10ms"
max_tx_ceil = "1s"
backoff_max = "30s"
queue_bound = 100000
mode = "passive"
honour_peer_passive = false
per_peer_metrics = true
exclude = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
"#,
    )
    .unwrap();
    let l = &c.liveness;
    assert_eq!(l.profile, Profile::DoubleZero);
    assert_eq!(l.port, 4000);
    assert_eq!(l.desired_tx, ms(100));
    assert_eq!(l.required_rx, ms(200));
    assert_eq!(l.detect_multiplier, 5);
    assert_eq!(l.min_tx_floor, ms(10));
    assert_eq!(l.max_tx_ceil, ms(1000));
    assert_eq!(l.backoff_max, Duration::from_secs(30));
    assert_eq!(l.queue_bound, Some(100_000));
    assert_eq!(l.mode, LivenessMode::Passive);
    assert!(!l.honour_peer_passive);
    assert!(l.per_peer_metrics);
    let shown: Vec<String> = l.exclude.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"]);
}

#[test]
fn port_defaults_to_the_profiles_own() {
    assert_eq!(parse("[liveness]\nprofile = \"bfd\"\n").unwrap().liveness.port, 3784);
    assert_eq!(parse("[liveness]\nprofile = \"doublezero\"\n").unwrap().liveness.port, 44880);
    assert_eq!(parse("[liveness]\nprofile = \"doublezero\"\nport = 3784\n").unwrap().liveness.port, 3784);
}

#[test]
fn unknown_keys_and_values_are_named_with_their_line() {
    // The TTL is 255 by RFC 5881 (GTSM): not configurable.
    fails("[liveness]\nmode = \"active\"\nttl = 64\n", &["line 3", "ttl"]);
    fails("\n[liveness]\nprofile = \"bgp\"\n", &["line 3", "unknown liveness profile \"bgp\"", "doublezero"]);
    fails("[liveness]\nmode = \"lazy\"\n", &["line 2", "lazy"]);
    fails("[liveness]\ndesired_tx = \"fast\"\n", &["line 2", "invalid duration", "desired_tx = \"fast\""]);
    fails("[liveness]\nhonour_peer_passive = \"yes\"\n", &["line 2", "honour_peer_passive"]);
}

#[test]
fn port_must_be_1_to_65535() {
    fails("[liveness]\nport = 0\n", &["line 2", "`liveness.port`", "1-65535", "got 0"]);
    fails("[liveness]\n\nport = 70000\n", &["line 3", "`liveness.port`", "got 70000"]);
}

#[test]
fn detect_multiplier_must_be_1_to_255() {
    fails("[liveness]\ndetect_multiplier = 0\n", &["line 2", "`liveness.detect_multiplier`", "1-255", "got 0"]);
    fails("[liveness]\ndetect_multiplier = 256\n", &["line 2", "`liveness.detect_multiplier`", "got 256"]);
    fails("[liveness]\ndetect_multiplier = -1\n", &["line 2", "`liveness.detect_multiplier`"]);
    assert_eq!(parse("[liveness]\ndetect_multiplier = 1\n").unwrap().liveness.detect_multiplier, 1);
    assert_eq!(parse("[liveness]\ndetect_multiplier = 255\n").unwrap().liveness.detect_multiplier, 255);
}

#[test]
fn floor_below_one_millisecond_is_refused_saying_why() {
    let e = fails(
        "[liveness]\nmin_tx_floor = \"500us\"\ndesired_tx = \"1s\"\n",
        &["line 2", "`liveness.min_tx_floor`", "at least 1ms", "got 500us"],
    );
    assert!(e.contains("flap"), "the reason is given: {e}");
    fails("[liveness]\nmin_tx_floor = \"0s\"\n", &["line 2", "`liveness.min_tx_floor`", "at least 1ms"]);
    assert_eq!(parse("[liveness]\nmin_tx_floor = \"1ms\"\n").unwrap().liveness.min_tx_floor, ms(1));
}

#[test]
fn ceiling_above_an_hour_is_refused() {
    fails("[liveness]\nmax_tx_ceil = \"2h\"\n", &["line 2", "`liveness.max_tx_ceil`", "at most 1h", "32-bit"]);
}

#[test]
fn floor_above_ceiling_is_refused() {
    fails(
        "[liveness]\nmin_tx_floor = \"2s\"\nmax_tx_ceil = \"1s\"\n",
        &["line 3", "`liveness.max_tx_ceil`", "min_tx_floor (2s) is above max_tx_ceil (1s)"],
    );
    // With the ceiling at its default, the line that is in the file is named.
    fails(
        "[liveness]\ndesired_tx = \"5s\"\nrequired_rx = \"5s\"\nmin_tx_floor = \"4s\"\n",
        &["line 4", "`liveness.min_tx_floor`", "max_tx_ceil (3s, the default)"],
    );
}

#[test]
fn desired_tx_must_lie_within_floor_and_ceiling() {
    fails(
        "[liveness]\ndesired_tx = \"10ms\"\n",
        &["line 2", "`liveness.desired_tx`", "desired_tx (10ms) must lie within", "[50ms, 3s]"],
    );
    fails("[liveness]\n\ndesired_tx = \"4s\"\n", &["line 3", "`liveness.desired_tx`", "[50ms, 3s]"]);
    // desired_tx left at 1s, the ceiling lowered below it: the ceiling's line.
    fails(
        "[liveness]\nmax_tx_ceil = \"500ms\"\n",
        &["line 2", "`liveness.max_tx_ceil`", "desired_tx (1s, the default) must lie within", "[50ms, 500ms]"],
    );
    fails(
        "[liveness]\nmin_tx_floor = \"2s\"\n",
        &["line 2", "`liveness.min_tx_floor`", "desired_tx (1s, the default)", "[2s, 3s]"],
    );
    // The bounds are inclusive.
    let c = parse("[liveness]\ndesired_tx = \"50ms\"\nrequired_rx = \"3s\"\nbackoff_max = \"50ms\"\n").unwrap();
    assert_eq!(c.liveness.desired_tx, ms(50));
    assert_eq!(c.liveness.required_rx, ms(3000));
}

#[test]
fn required_rx_must_lie_within_floor_and_ceiling() {
    fails(
        "[liveness]\nrequired_rx = \"20ms\"\n",
        &["line 2", "`liveness.required_rx`", "required_rx (20ms) must lie within", "[50ms, 3s]"],
    );
    fails(
        "[liveness]\ndesired_tx = \"100ms\"\nrequired_rx = \"10s\"\nmax_tx_ceil = \"5s\"\n",
        &["line 3", "`liveness.required_rx`", "[50ms, 5s]"],
    );
    fails(
        "[liveness]\ndesired_tx = \"100ms\"\nmax_tx_ceil = \"200ms\"\n",
        &["line 3", "`liveness.max_tx_ceil`", "required_rx (1s, the default)"],
    );
}

#[test]
fn backoff_max_must_be_at_least_desired_tx() {
    fails(
        "[liveness]\nbackoff_max = \"500ms\"\n",
        &["line 2", "`liveness.backoff_max`", "backoff_max (500ms) must be at least desired_tx (1s, the default)"],
    );
    fails(
        "[liveness]\nmax_tx_ceil = \"10m\"\ndesired_tx = \"2m\"\n",
        &["line 3", "`liveness.desired_tx`", "backoff_max (1m, the default) must be at least desired_tx (2m)"],
    );
    assert_eq!(parse("[liveness]\nbackoff_max = \"1s\"\n").unwrap().liveness.backoff_max, ms(1000));
}

#[test]
fn queue_bound_must_be_positive() {
    fails("[liveness]\nqueue_bound = 0\n", &["line 2", "`liveness.queue_bound`", "at least 1", "10240"]);
    fails("[liveness]\nqueue_bound = -5\n", &["line 2", "`liveness.queue_bound`"]);
}

#[test]
fn bad_exclude_prefix_names_its_own_line() {
    fails(
        "[liveness]\nexclude = [\n  \"10.0.0.0/8\",\n  \"10.1.2.3/16\",\n]\n",
        &["line 4", "`liveness.exclude`", "host bits"],
    );
    fails("[liveness]\nexclude = [\"nowhere\"]\n", &["line 2", "`liveness.exclude`", "invalid prefix"]);
}

// ---- per route -------------------------------------------------------------

#[test]
fn nexthop_liveness_probes_the_gateway_through_the_routes_device_and_source() {
    let c = parse(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\nsrc = \"192.0.2.1\"\ntable = 100\n\
         liveness = \"nexthop\"\n",
    )
    .unwrap();
    assert_eq!(c.routes.specs.len(), 1);
    assert_eq!(c.routes.liveness.len(), 1);
    let l = &c.routes.liveness[0];
    assert_eq!(l.key, c.routes.specs[0].key.into());
    assert_eq!(l.key.route.table, 100);
    assert_eq!(l.target, LivenessTarget::Nexthop);
    assert_eq!(l.peer, "192.0.2.2".parse::<IpAddr>().unwrap());
    assert_eq!(l.dev.as_deref(), Some("veth0"));
    assert_eq!(l.src, Some("192.0.2.1".parse().unwrap()));
    assert!(!l.no_uninstall);
}

#[test]
fn nexthop_liveness_on_a_multipath_route_gives_each_leg_its_own_session() {
    let c = parse(
        r#"[[route]]
dst = "10.9.0.0/24"
src = "192.0.2.1"
nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0", weight = 2 }]
liveness = "nexthop"
no_uninstall = true
"#,
    )
    .unwrap();
    let key = c.routes.specs[0].key;
    let legs: Vec<(Option<u8>, String, Option<&str>)> =
        c.routes.liveness.iter().map(|l| (l.key.leg, l.peer.to_string(), l.dev.as_deref())).collect();
    assert_eq!(legs, [(Some(0), "192.0.2.2".into(), Some("a0")), (Some(1), "198.51.100.2".into(), Some("b0"))]);
    assert!(c.routes.liveness.iter().all(|l| l.key.route == key && l.no_uninstall && l.src.is_some()));
    // At its destination, a multipath host route is one session, gated whole.
    let c = parse(
        r#"[[route]]
dst = "10.9.0.9/32"
nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0" }]
liveness = "destination"
"#,
    )
    .unwrap();
    assert_eq!(c.routes.liveness.len(), 1);
    assert_eq!((c.routes.liveness[0].key.leg, c.routes.liveness[0].dev.as_deref()), (None, None));
}

#[test]
fn nexthop_without_via_is_refused_naming_the_line() {
    fails(
        "[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"veth0\"\nliveness = \"nexthop\"\n",
        &["line 4", "`route.liveness`", "no `via`"],
    );
}

#[test]
fn destination_liveness_needs_a_host_route() {
    fails(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\n\nliveness = \"destination\"\n",
        &["line 5", "`route.liveness`", "/32 or /128", "10.9.0.0/24 is a /24"],
    );
    fails(
        "[[route]]\ndst = \"2001:db8::/64\"\ndev = \"veth0\"\nliveness = \"destination\"\n",
        &["line 4", "`route.liveness`", "is a /64"],
    );
}

#[test]
fn ipv6_host_route_with_destination_liveness_is_accepted() {
    let c = parse(
        "[[route]]\ndst = \"2001:db8::7/128\"\nvia = \"fe80::1\"\ndev = \"veth0\"\nliveness = \"destination\"\n\
         no_uninstall = true\n",
    )
    .unwrap();
    let l = &c.routes.liveness[0];
    assert_eq!(l.target, LivenessTarget::Destination);
    assert_eq!(l.peer, "2001:db8::7".parse::<IpAddr>().unwrap());
    assert_eq!(l.key.route.family, Family::V6);
    assert_eq!(l.key.route.table, MAIN_TABLE);
    assert!(l.no_uninstall);
    let v4 = parse("[[route]]\ndst = \"198.51.100.7\"\ndev = \"veth0\"\nliveness = \"destination\"\n").unwrap();
    assert_eq!(v4.routes.liveness[0].peer, "198.51.100.7".parse::<IpAddr>().unwrap());
    assert_eq!(v4.routes.liveness[0].dev.as_deref(), Some("veth0"));
}

#[test]
fn ipv4_route_via_ipv6_next_hop_probes_over_ipv6_without_the_ipv4_source() {
    let c = parse(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"fe80::1\"\ndev = \"veth0\"\nsrc = \"192.0.2.1\"\n\
         liveness = \"nexthop\"\n",
    )
    .unwrap();
    let l = &c.routes.liveness[0];
    assert_eq!(l.peer, "fe80::1".parse::<IpAddr>().unwrap());
    assert_eq!(l.src, None);
}

#[test]
fn link_local_next_hop_without_dev_is_refused() {
    fails(
        "[[route]]\ndst = \"2001:db8::/64\"\nvia = \"fe80::1\"\nliveness = \"nexthop\"\n",
        &["line 4", "`route.liveness`", "link-local", "`dev`"],
    );
}

#[test]
fn liveness_off_is_the_default_and_can_be_written() {
    let c = parse(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\nliveness = \"off\"\nno_uninstall = false\n\
         [[route]]\ndst = \"10.9.1.0/24\"\nvia = \"192.0.2.2\"\n",
    )
    .unwrap();
    assert_eq!(c.routes.specs.len(), 2);
    assert!(c.routes.liveness.is_empty());
}

#[test]
fn unknown_liveness_target_is_named_with_its_line() {
    fails("[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\nliveness = \"gateway\"\n", &["line 4", "gateway"]);
}

#[test]
fn no_uninstall_without_liveness_is_refused() {
    fails(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\nno_uninstall = true\n",
        &["line 4", "`route.no_uninstall`", "only applies to a route with `liveness"],
    );
}

#[test]
fn routes_share_one_device_name_and_compare_across_files_by_name() {
    let a = parse(
        "[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"eth1\"\n\
         [[route]]\ndst = \"10.9.1.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\nliveness = \"nexthop\"\n\
         [[route]]\ndst = \"10.9.2.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\nliveness = \"nexthop\"\n",
    )
    .unwrap();
    let l = &a.routes.liveness;
    assert!(Arc::ptr_eq(l[0].dev.as_ref().unwrap(), l[1].dev.as_ref().unwrap()), "one allocation per name");
    // The same route in a file that interns its devices in another order.
    let b = parse("[[route]]\ndst = \"10.9.1.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\nliveness = \"nexthop\"\n")
        .unwrap();
    assert_ne!(a.routes.specs[1].dev, b.routes.specs[0].dev, "device ids differ between the files");
    assert_eq!(a.routes.liveness[0], b.routes.liveness[0], "liveness routes still compare equal");
    let c = parse("[[route]]\ndst = \"10.9.1.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\nliveness = \"nexthop\"\nno_uninstall = true\n")
        .unwrap();
    assert_ne!(b.routes.liveness[0], c.routes.liveness[0]);
}

// ---- exclude ----------------------------------------------------------------

#[test]
fn excluded_routes_are_dropped_and_counted() {
    let c = parse(
        r#"
[liveness]
exclude = ["10.0.0.0/8", "2001:db8:ff::/48"]

[[route]]
dst = "10.9.0.0/24"
via = "192.0.2.2"
liveness = "nexthop"

[[route]]
dst = "10.0.0.0/8"
dev = "veth0"

[[route]]
dst = "10.0.0.0/7"
dev = "veth0"

[[route]]
dst = "198.51.100.7/32"
via = "192.0.2.2"
liveness = "destination"

[[route]]
dst = "2001:db8:ff:1::/64"
dev = "veth0"

[[route]]
dst = "2001:db8:fe::/48"
dev = "veth0"
"#,
    )
    .unwrap();
    assert_eq!(c.routes.excluded, 3);
    let kept: Vec<String> = c.routes.specs.iter().map(|s| format!("{}/{}", s.key.dst_ip(), s.key.dst_len)).collect();
    assert_eq!(kept, ["10.0.0.0/7", "198.51.100.7/32", "2001:db8:fe::/48"], "a shorter prefix is not inside");
    assert_eq!(c.routes.liveness.len(), 1, "an excluded route is never tracked");
    assert_eq!(c.routes.liveness[0].peer, "198.51.100.7".parse::<IpAddr>().unwrap());
}

#[test]
fn excluded_routes_are_still_validated() {
    let exclude = "[liveness]\nexclude = [\"10.0.0.0/8\"]\n";
    fails(&format!("{exclude}[[route]]\ndst = \"10.9.0.0/24\"\n"), &["line 4", "needs `via`, `dev`"]);
    fails(
        &format!("{exclude}[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"veth0\"\nliveness = \"nexthop\"\n"),
        &["line 6", "`route.liveness`"],
    );
    fails(
        &format!(
            "{exclude}[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"a\"\n[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"b\"\n"
        ),
        &["duplicate route", "line 7", "line 4"],
    );
}

#[test]
fn a_zero_length_exclude_covers_its_whole_family() {
    let c = parse(
        "[liveness]\nexclude = [\"::/0\"]\n\
         [[route]]\ndst = \"2001:db8::/32\"\ndev = \"veth0\"\n[[route]]\ndst = \"::/0\"\ndev = \"veth0\"\n\
         [[route]]\ndst = \"0.0.0.0/0\"\ndev = \"veth0\"\n",
    )
    .unwrap();
    assert_eq!(c.routes.excluded, 2);
    assert_eq!(c.routes.specs.len(), 1);
    assert_eq!(c.routes.specs[0].key.family, Family::V4);
}

// ---- compatibility and the chunked path -------------------------------------

#[test]
fn a_config_without_liveness_keys_parses_as_before() {
    let text = r#"
[daemon]
route_protocol = 201

[[route]]
dst = "10.9.0.0/24"
via = "192.0.2.2"
dev = "veth0"
table = 100
src = "192.0.2.1"
metric = 20

[[route]]
dst = "2001:db8:1::/48"
via = "fe80::1"
dev = "veth0"
"#;
    let c = parse(text).unwrap();
    assert_eq!(c.routes.specs.len(), 2);
    assert!(c.routes.liveness.is_empty());
    assert_eq!(c.routes.excluded, 0);
    assert_eq!(c.liveness, LivenessConfig::default());
    assert_eq!(c.routes.specs[0].key.metric, 20);
}

fn many_routes(n: usize, header: &str) -> String {
    let mut text = format!("[daemon]\nroute_protocol = 201\n{header}");
    for i in 0..n {
        let (a, b) = (i / 256, i % 256);
        let liveness = match i % 3 {
            0 => "liveness = \"nexthop\"\n",
            1 => "liveness = \"destination\"\nno_uninstall = true\n",
            _ => "",
        };
        text.push_str(&format!(
            "[[route]]\ndst = \"10.{a}.{b}.1/32\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\n{liveness}"
        ));
    }
    text
}

#[test]
fn large_files_with_liveness_parse_in_chunks_like_whole_ones() {
    let n = super::super::ROUTES_PER_CHUNK * 2 + 7;
    let text = many_routes(n, "[liveness]\nexclude = [\"10.1.0.0/16\"]\n");
    assert!(super::super::split_routes(&text).is_some(), "this layout takes the chunked path");
    let chunked = parse(&text).unwrap();
    let whole = parse(&text.replacen("[[route]]", "[[route]] # first", 1)).unwrap();
    assert_eq!(chunked.routes.excluded, 256);
    assert_eq!(chunked.routes.specs.len(), n - 256);
    assert_eq!(chunked.routes.specs, whole.routes.specs);
    assert_eq!(chunked.routes.liveness, whole.routes.liveness);
    assert_eq!(chunked.routes.excluded, whole.routes.excluded);
    assert_eq!(chunked.liveness, whole.liveness);
    let with_liveness = (0..n).filter(|i| i % 3 != 2 && i / 256 != 1).count();
    assert_eq!(chunked.routes.liveness.len(), with_liveness);
    assert!(chunked.routes.liveness.iter().all(|l| l.dev.as_deref() == Some("veth0")));
}

#[test]
fn liveness_errors_in_a_later_chunk_name_the_line_in_the_whole_file() {
    let mut text = many_routes(super::super::ROUTES_PER_CHUNK + 10, "");
    text.push_str("[[route]]\ndst = \"10.200.0.0/24\"\nvia = \"192.0.2.2\"\nliveness = \"destination\"\n");
    let line = text.lines().count();
    fails(&text, &[&format!("line {line}:"), "`route.liveness`", "/32 or /128"]);
}

#[test]
fn prefix_covers_routes_inside_it_only() {
    let key = |dst: &str, len: u8| {
        let ip: IpAddr = dst.parse().unwrap();
        RouteKey {
            family: Family::of(&ip),
            table: MAIN_TABLE,
            dst: Addr::from_ip(&ip),
            dst_len: len,
            tos: 0,
            metric: 0,
        }
    };
    let p = Prefix { addr: "10.0.0.0".parse().unwrap(), len: 8 };
    assert!(p.covers(&key("10.0.0.0", 8)));
    assert!(p.covers(&key("10.255.1.1", 32)));
    assert!(!p.covers(&key("11.0.0.1", 32)));
    assert!(!p.covers(&key("10.0.0.0", 7)));
    assert!(!p.covers(&key("a00::", 128)), "another family never matches");
    let v6 = Prefix { addr: "2001:db8::".parse().unwrap(), len: 127 };
    assert!(v6.covers(&key("2001:db8::1", 128)));
    assert!(!v6.covers(&key("2001:db8::2", 128)));
}

#[test]
fn liveness_route_stays_compact() {
    // One per route with liveness, on top of its RouteSpec: up to 1M of them.
    // 88 since the key names a multipath route's leg (GateKey): 8 MB more
    // at a million gated routes, the price of one type for both kinds.
    assert!(std::mem::size_of::<LivenessRoute>() <= 88, "{}", std::mem::size_of::<LivenessRoute>());
}
