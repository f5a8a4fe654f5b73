use super::*;

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml(text, "test.toml").map_err(|e| e.to_string())
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.daemon.control_socket, PathBuf::from("/run/guardian/guardian.sock"));
    assert_eq!(c.daemon.metrics_listen, Some("127.0.0.1:9469".parse().unwrap()));
    assert_eq!(c.daemon.route_protocol, 201);
    assert_eq!(c.daemon.netlink_rcvbuf, 8 << 20);
    assert!(!c.daemon.withdraw_on_exit);
    assert_eq!(c.reconcile.interval, Duration::from_secs(30));
    assert_eq!(c.reconcile.max_repairs_per_route, 30);
    assert_eq!(c.reconcile.damping_window, Duration::from_secs(60));
    assert_eq!(c.reconcile.damping_max_backoff, Duration::from_secs(300));
    assert_eq!(c.reconcile.fight_window, Duration::from_secs(1));
    assert_eq!(c.reconcile.fight_rounds, 3);
    assert!(c.routes.specs.is_empty());
}

#[test]
fn full_example_parses() {
    let c = parse(
        r#"
[daemon]
control_socket = "/tmp/g.sock"
metrics_listen = "off"
route_protocol = 202
netlink_rcvbuf = "1MiB"
withdraw_on_exit = true

[reconcile]
interval = "0s"
max_repairs_per_route = 3
damping_window = "10s"
damping_max_backoff = "1m"
fight_window = "250ms"
fight_rounds = 5

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
"#,
    )
    .unwrap();
    assert_eq!(c.daemon.metrics_listen, None);
    assert_eq!(c.daemon.route_protocol, 202);
    assert_eq!(c.daemon.netlink_rcvbuf, 1 << 20);
    assert_eq!(c.reconcile.interval, Duration::ZERO);
    assert_eq!(c.reconcile.fight_window, Duration::from_millis(250));
    assert_eq!(c.reconcile.fight_rounds, 5);
    assert_eq!(c.routes.specs.len(), 2);
    let r = &c.routes.specs[0];
    assert_eq!(r.key.table, 100);
    assert_eq!(r.key.metric, 20);
    assert_eq!(r.key.dst_len, 24);
    assert_eq!(c.routes.devs.name(r.dev.unwrap()), "veth0");
    assert_eq!(r.dev, c.routes.specs[1].dev, "one device name is interned once");
    let v6 = &c.routes.specs[1];
    assert_eq!(v6.key.family, Family::V6);
    assert_eq!(v6.key.table, MAIN_TABLE);
    assert_eq!(v6.key.metric, 1024, "IPv6 routes get the kernel's default metric");
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let e = parse("[daemon]\nroute_protocol = 201\nbogus = 1\n").unwrap_err();
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn unknown_route_key_is_named_with_its_line() {
    let e = parse("[[route]]\ndst = \"10.0.0.0/8\"\nvia = \"192.0.2.1\"\ngatway = \"x\"\n").unwrap_err();
    assert!(e.contains("line 4") && e.contains("gatway"), "{e}");
}

#[test]
fn bad_prefix_names_key_and_line() {
    let e = parse("\n[[route]]\ndst = \"10.9.0.300/24\"\nvia = \"192.0.2.2\"\n").unwrap_err();
    assert!(e.contains("line 3") && e.contains("route.dst") && e.contains("invalid prefix"), "{e}");
    let e = parse("[[route]]\ndst = \"10.9.0.1/24\"\nvia = \"192.0.2.2\"\n").unwrap_err();
    assert!(e.contains("host bits"), "{e}");
    let e = parse("[[route]]\ndst = \"10.9.0.0/33\"\nvia = \"192.0.2.2\"\n").unwrap_err();
    assert!(e.contains("invalid prefix"), "{e}");
}

#[test]
fn bare_address_is_a_host_route() {
    let c = parse("[[route]]\ndst = \"10.9.0.1\"\nvia = \"192.0.2.2\"\n").unwrap();
    assert_eq!(c.routes.specs[0].key.dst_len, 32);
}

#[test]
fn duplicate_identity_is_rejected_naming_both_lines() {
    let text = "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\n\n[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.3\"\n";
    let e = parse(text).unwrap_err();
    assert!(e.contains("duplicate route") && e.contains("line 6") && e.contains("line 2"), "{e}");
}

#[test]
fn same_prefix_in_another_table_or_metric_is_not_a_duplicate() {
    let text = "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\n\
                [[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\ntable = 100\n\
                [[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\nmetric = 5\n";
    assert_eq!(parse(text).unwrap().routes.specs.len(), 3);
}

#[test]
fn ipv6_default_metric_and_explicit_1024_are_the_same_identity() {
    let text = "[[route]]\ndst = \"2001:db8::/64\"\ndev = \"veth0\"\n[[route]]\ndst = \"2001:db8::/64\"\ndev = \"veth0\"\nmetric = 1024\n";
    assert!(parse(text).unwrap_err().contains("duplicate route"));
}

#[test]
fn ipv6_route_via_ipv4_gateway_is_an_error() {
    let e = parse("[[route]]\ndst = \"2001:db8::/64\"\nvia = \"192.0.2.2\"\n").unwrap_err();
    assert!(e.contains("IPv6 route") && e.contains("IPv4 gateway") && e.contains("line 3"), "{e}");
}

#[test]
fn ipv4_route_via_ipv6_gateway_is_allowed() {
    let c = parse("[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"fe80::1\"\ndev = \"veth0\"\n").unwrap();
    assert_eq!(c.routes.specs[0].via.unwrap().family, Family::V6);
}

#[test]
fn route_without_via_or_dev_is_an_error() {
    let e = parse("[[route]]\ndst = \"10.9.0.0/24\"\n").unwrap_err();
    assert!(e.contains("needs `via`, `dev`"), "{e}");
}

#[test]
fn bad_values_are_named() {
    assert!(parse("[reconcile]\ninterval = \"soon\"\n").unwrap_err().contains("invalid duration"));
    assert!(parse("[daemon]\nnetlink_rcvbuf = \"lots\"\n").unwrap_err().contains("invalid size"));
    let e = parse("[daemon]\nmetrics_listen = \"localhost\"\n").unwrap_err();
    assert!(e.contains("daemon.metrics_listen") && e.contains("line 2"), "{e}");
    assert!(parse("[daemon]\nroute_protocol = \"boot\"\n").unwrap_err().contains("manually added"));
    assert!(parse("[daemon]\nroute_protocol = \"nosuch\"\n").unwrap_err().contains("unknown route protocol"));
    assert!(parse("[[route]]\ndst = \"10.0.0.0/8\"\ndev = \"a/b\"\n").unwrap_err().contains("interface name"));
    assert!(parse("[[route]]\ndst = \"10.0.0.0/8\"\ndev = \"x\"\ntable = 0\n").unwrap_err().contains("table 0"));
    assert!(parse("[[route]]\ndst = \"10.0.0.0/8\"\ndev = \"x\"\nsrc = \"::1\"\n").unwrap_err().contains("family"));
}

#[test]
fn invalid_toml_is_one_line() {
    let e = parse("[daemon\n").unwrap_err();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn missing_file_says_cannot_read() {
    let e = Config::load(Path::new("/nonexistent/guardian.toml")).unwrap_err().to_string();
    assert!(e.contains("cannot read"), "{e}");
}

#[test]
fn value_errors_show_the_line_with_its_key() {
    let e = parse("[reconcile]\ninterval = \"soon\"\n").unwrap_err();
    assert!(e.contains("line 2") && e.contains("interval = \"soon\""), "{e}");
    let e = parse("[reconcile]\nmax_repairs_per_route = 0\n").unwrap_err();
    assert!(e.contains("line 2") && e.contains("reconcile.max_repairs_per_route"), "{e}");
}

#[test]
fn fight_settings_out_of_range_are_refused_by_name() {
    for bad in [0, 101] {
        let e = parse(&format!("[reconcile]\nfight_rounds = {bad}\n")).unwrap_err();
        assert!(e.contains("line 2") && e.contains("reconcile.fight_rounds"), "{e}");
    }
    for bad in ["0s", "2m"] {
        let e = parse(&format!("[reconcile]\ninterval = \"30s\"\nfight_window = \"{bad}\"\n")).unwrap_err();
        assert!(e.contains("line 3") && e.contains("reconcile.fight_window"), "{e}");
    }
}

#[test]
fn empty_control_socket_and_local_table_are_rejected() {
    assert!(parse("[daemon]\ncontrol_socket = \"\"\n").unwrap_err().contains("daemon.control_socket"));
    let e = parse("[[route]]\ndst = \"10.0.0.0/8\"\ndev = \"x\"\ntable = 255\n").unwrap_err();
    assert!(e.contains("local table") && e.contains("line 4"), "{e}");
}

fn many_routes(n: usize) -> String {
    let mut text = String::from("[daemon]\nroute_protocol = 201\n");
    for i in 0..n {
        text.push_str(&format!("[[route]]\ndst = \"10.{}.{}.0/24\"\nvia = \"192.0.2.2\"\n", i / 256, i % 256));
    }
    text
}

#[test]
fn large_files_parse_in_chunks_like_whole_ones() {
    let n = ROUTES_PER_CHUNK * 2 + 7;
    let text = many_routes(n);
    assert!(split_routes(&text).is_some(), "this layout takes the chunked path");
    let chunked = parse(&text).unwrap();
    // A comment on a header forces the whole-document path; the result must not differ.
    let whole = parse(&text.replacen("[[route]]", "[[route]] # first", 1)).unwrap();
    assert_eq!(chunked.routes.specs.len(), n);
    assert_eq!(chunked.routes.specs, whole.routes.specs);
    assert_eq!(chunked.daemon, whole.daemon);
}

#[test]
fn errors_in_a_later_chunk_name_the_line_in_the_whole_file() {
    let n = ROUTES_PER_CHUNK + 10;
    let mut text = many_routes(n);
    // The last route is in the second chunk: break it.
    text.push_str("[[route]]\ndst = \"10.999.0.0/24\"\nvia = \"192.0.2.2\"\n");
    let line = text.lines().count() - 1;
    let e = parse(&text).unwrap_err();
    assert!(e.contains(&format!("line {line}:")) && e.contains("invalid prefix"), "{e}");
    let mut text = many_routes(n);
    text.push_str("[[route]]\ndst = \"10.0.0.0/24\"\nvia = \"192.0.2.2\"\ncolour = \"red\"\n");
    let e = parse(&text).unwrap_err();
    assert!(e.contains(&format!("line {}", text.lines().count())) && e.contains("colour"), "{e}");
    let mut text = many_routes(n);
    text.push_str("[[route]]\ndst = \"10.0.1.0/24\"\nvia = \"192.0.2.9\"\n");
    let e = parse(&text).unwrap_err();
    assert!(e.contains("duplicate route") && e.contains("line 7"), "{e}");
}

#[test]
fn a_table_after_the_routes_is_parsed_whole() {
    let text = "[[route]]\ndst = \"10.0.0.0/8\"\nvia = \"192.0.2.2\"\n[reconcile]\ninterval = \"5s\"\n";
    assert!(split_routes(text).is_none());
    assert_eq!(parse(text).unwrap().reconcile.interval, Duration::from_secs(5));
}

#[test]
fn attribution_section_has_defaults_and_is_checked() {
    let c = parse("").unwrap();
    assert_eq!(c.attribution.mode, AttributionMode::Auto);
    assert_eq!(c.attribution.ring_buffer_size, 16 << 20);
    assert!(!c.attribution.all_netns);
    assert!(c.attribution.deleter_labels.iter().any(|l| l == "NetworkManager"));
    let c = parse(
        "[attribution]\nmode = \"netlink\"\nring_buffer_size = \"1MiB\"\nall_netns = true\ndeleter_labels = [\"ip\"]\n",
    )
    .unwrap();
    assert_eq!(c.attribution.mode, AttributionMode::Netlink);
    assert_eq!(c.attribution.ring_buffer_size, 1 << 20);
    assert_eq!(c.attribution.deleter_labels, vec!["ip".to_owned()]);
    let e = parse("[attribution]\nmode = \"bpf\"\n").unwrap_err();
    assert!(e.contains("line 2") && e.contains("bpf"), "{e}");
    assert!(parse("[attribution]\nring_buffer_size = \"3000\"\n").unwrap_err().contains("power of two"));
}

#[test]
fn route_protocol_must_be_guardians_own_never_one_other_software_claims() {
    let mut protocols = Protocols::built_in();
    protocols.add("196 static\n201 guardian\n");
    let parse = |text: &str| Config::from_toml_with(text, "t.toml", &protocols).map_err(|e| e.to_string());
    for taken in ["\"bgp\"", "186", "\"bird\"", "12", "196", "\"zebra\""] {
        let e = parse(&format!("[daemon]\nroute_protocol = {taken}\n")).unwrap_err();
        assert!(e.contains("would delete theirs") && e.contains("line 2"), "{taken}: {e}");
    }
    let e = parse("[daemon]\nroute_protocol = 186\n").unwrap_err();
    assert!(e.contains("\"bgp\"") && e.contains("keep the default 201"), "{e}");
    assert_eq!(parse("[daemon]\nroute_protocol = \"guardian\"\n").unwrap().daemon.route_protocol, 201);
    assert_eq!(parse("[daemon]\nroute_protocol = 250\n").unwrap().daemon.route_protocol, 250);
    assert_eq!(parse("").unwrap().daemon.route_protocol, 201, "the default is guardian's own");
    let e = Config::from_toml_with("[daemon]\nroute_protocol = \"guardian\"\n", "t", &Protocols::built_in())
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown route protocol \"guardian\""), "without rt_protos.d/guardian.conf: {e}");
}

/// The sample the Debian package installs as /etc/guardian/guardian.toml:
/// valid, and with nothing to keep (safe on any host); its one setting
/// gives the control socket to the group the package creates.
#[test]
fn the_packaged_sample_is_valid_and_keeps_nothing() {
    let text = include_str!("../../../packaging/guardian.toml");
    let sample = Config::from_toml(text, "sample").expect("the packaged sample parses");
    let default = Config::embedded_default();
    assert!(sample.routes.specs.is_empty() && sample.routes.liveness.is_empty());
    assert!(sample.guards.is_empty() && sample.warnings.is_empty());
    assert_eq!(sample.daemon.control_socket_group.as_deref(), Some("guardian-ctl"));
    assert_eq!(DaemonConfig { control_socket_group: None, ..sample.daemon.clone() }, default.daemon);
    assert_eq!(sample.daemon.route_protocol, 201);
    assert_eq!(sample.reconcile, default.reconcile);
    assert_eq!(sample.attribution, default.attribution);
}

/// The name the package gives iproute2 (rt_protos.d/guardian.conf) is one
/// the file accepts, for the default number.
#[test]
fn the_packaged_rt_protos_file_names_the_default_protocol_guardian() {
    let mut protocols = Protocols::built_in();
    protocols.add(include_str!("../../../packaging/rt_protos.d/guardian.conf"));
    assert_eq!(protocols.name(DEFAULT_ROUTE_PROTOCOL), Some("guardian"));
    let c = Config::from_toml_with("[daemon]\nroute_protocol = \"guardian\"\n", "t", &protocols).unwrap();
    assert_eq!(c.daemon.route_protocol, DEFAULT_ROUTE_PROTOCOL);
}

#[test]
fn control_socket_group_is_a_group_name() {
    let c = parse("[daemon]\ncontrol_socket_group = \"guardian-ctl\"\n").unwrap();
    assert_eq!(c.daemon.control_socket_group.as_deref(), Some("guardian-ctl"));
    assert_eq!(parse("").unwrap().daemon.control_socket_group, None);
    let e = parse("[daemon]\n\ncontrol_socket_group = \"a:b\"\n").unwrap_err();
    assert!(e.contains("line 3") && e.contains("daemon.control_socket_group"), "{e}");
}

// ---- multipath routes (`nexthops`) -----------------------------------------

fn multipath(route: &str) -> Result<Config, String> {
    parse(&format!("[[route]]\ndst = \"10.9.0.0/24\"\n{route}\n"))
}

#[test]
fn nexthops_give_a_route_without_gateway_or_device_and_its_legs_in_order() {
    let c = multipath(
        r#"nexthops = [{ via = "192.0.2.2", dev = "a0", weight = 3 }, { via = "198.51.100.2", dev = "b0" }]
metric = 5"#,
    )
    .unwrap();
    let spec = c.routes.specs[0];
    assert_eq!((spec.via, spec.dev, spec.key.metric), (None, None, 5));
    let legs = &c.routes.multipath[&spec.key];
    let shown: Vec<(String, &str, u16)> =
        legs.iter().map(|l| (l.via.ip().to_string(), c.routes.devs.name(l.dev), l.weight)).collect();
    assert_eq!(shown, [("192.0.2.2".into(), "a0", 3), ("198.51.100.2".into(), "b0", 1)], "weight defaults to 1");
}

#[test]
fn ipv6_nexthops_are_accepted_and_must_match_the_routes_family() {
    let c = parse(
        r#"[[route]]
dst = "2001:db8:9::/48"
nexthops = [{ via = "2001:db8:a::2", dev = "a0" }, { via = "fe80::2", dev = "b0", weight = 256 }]"#,
    )
    .unwrap();
    assert_eq!(c.routes.multipath.values().next().unwrap().len(), 2);
    let e = multipath(r#"nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "2001:db8::2", dev = "b0" }]"#)
        .unwrap_err();
    assert!(
        e.contains("line 3: `route.nexthops.via`: gateway 2001:db8::2 is not of the route's address family"),
        "{e}"
    );
}

#[test]
fn nexthops_exclude_via_and_dev_naming_both() {
    let e = multipath(
        r#"via = "192.0.2.2"
nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0" }]"#,
    )
    .unwrap_err();
    assert!(e.contains("line 3: `route.via`: `via` and `nexthops` exclude each other"), "{e}");
    let e = multipath(
        r#"dev = "a0"
nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0" }]"#,
    )
    .unwrap_err();
    assert!(e.contains("`route.dev`: `dev` and `nexthops` exclude each other"), "{e}");
}

#[test]
fn a_multipath_route_needs_two_distinct_next_hops_each_with_gateway_and_device() {
    let e = multipath(r#"nexthops = [{ via = "192.0.2.2", dev = "a0" }]"#).unwrap_err();
    assert!(e.contains("`route.nexthops`: a multipath route needs at least two next hops (got 1)"), "{e}");
    let e =
        multipath(r#"nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "192.0.2.2", dev = "a0" }]"#).unwrap_err();
    assert!(e.contains("`route.nexthops`: next hop 192.0.2.2 dev a0 is listed twice"), "{e}");
    let same_gateway_other_device =
        multipath(r#"nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "192.0.2.2", dev = "b0" }]"#);
    assert!(same_gateway_other_device.is_ok());
    let e = multipath(r#"nexthops = [{ via = "192.0.2.2" }, { via = "198.51.100.2", dev = "b0" }]"#).unwrap_err();
    assert!(e.contains("`route.nexthops.dev`: next hop 192.0.2.2 has no `dev`"), "{e}");
    let e = multipath(r#"nexthops = [{ dev = "a0" }, { via = "198.51.100.2", dev = "b0" }]"#).unwrap_err();
    assert!(e.contains("`route.nexthops.via`: next hop 1 has no `via`"), "{e}");
    let e =
        multipath(r#"nexthops = [{ via = "192.0.2.2", dev = "a0", mtu = 1 }, { via = "198.51.100.2", dev = "b0" }]"#)
            .unwrap_err();
    assert!(e.contains("line 3") && e.contains("unknown field `mtu`"), "{e}");
}

#[test]
fn a_weight_is_1_to_256() {
    for bad in [0, 257, -1] {
        let e = multipath(&format!(
            r#"nexthops = [{{ via = "192.0.2.2", dev = "a0", weight = {bad} }}, {{ via = "198.51.100.2", dev = "b0" }}]"#
        ))
        .unwrap_err();
        assert!(e.contains(&format!("`route.nexthops.weight`: must be 1-256 (got {bad})")), "{e}");
    }
}
