//! Every user error gives one clear `error: ` line and its exit code, through
//! `check-config` and through `run`; never a panic.

use std::net::TcpListener;
use std::time::Duration;

use guardian_tests::cmd::Output;
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::tempdir::TempDir;
use guardian_tests::wait::SHORT;
use guardian_tests::{guardian, require_netns, require_tool, Config, Daemon, RouteSpec};

/// How long a `run` that must fail at start-up may take.
const STARTUP_FAILURE: Duration = Duration::from_secs(30);

/// Asserts exit code `code`, no panic, and an `error: ` line on stderr that
/// contains every one of `needles`. With `single_line`, stderr is that one
/// line only.
fn assert_user_error(out: &Output, code: i32, needles: &[&str], single_line: bool) {
    out.assert_no_panic();
    assert_eq!(out.code(), code, "exit code: {out:?}");
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = lines
        .iter()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no line starting with `error: ` on stderr: {out:?}"));
    for n in needles {
        assert!(line.contains(n), "error line lacks {n:?}: {line:?}\n{out:?}");
    }
    if single_line {
        assert_eq!(lines.len(), 1, "stderr should be one line: {out:?}");
    }
}

/// Checks `config` through `check-config` (always) and `run` (inside a
/// fresh namespace, when the prerequisites are there).
fn assert_config_error(config: &str, needles: &[&str]) {
    let dir = TempDir::new("cfg");
    let path = dir.write("guardian.toml", config);
    let out = guardian(&["check-config", path.to_str().unwrap()]);
    assert_user_error(&out, 2, needles, true);

    if !guardian_tests::skip::netns_ready() {
        return;
    }
    let ns = Netns::with_link();
    let out = Daemon::builder(&ns).config_text(config).run_to_exit(STARTUP_FAILURE);
    assert_user_error(&out, 2, needles, false);
}

#[test]
fn valid_config_passes_check_config() {
    let dir = TempDir::new("cfg");
    let config = Config::new()
        .daemon("route_protocol", "201")
        .daemon("netlink_rcvbuf", "\"8MiB\"")
        .reconcile("interval", "\"30s\"")
        .route(RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV).table(100).metric(20))
        .route(RouteSpec::new("2001:db8:9::/64").via("2001:db8::2"));
    let path = dir.write("guardian.toml", &config.to_toml());
    let out = guardian(&["check-config", path.to_str().unwrap()]);
    out.assert_no_panic();
    assert_eq!(out.code(), 0, "{out:?}");
}

#[test]
fn unreadable_config_is_exit_2() {
    let dir = TempDir::new("cfg");
    let missing = dir.path().join("does-not-exist.toml");
    let out = guardian(&["check-config", missing.to_str().unwrap()]);
    assert_user_error(&out, 2, &["cannot read", "does-not-exist.toml"], true);
    // A folder is not readable as a file either.
    let out = guardian(&["check-config", dir.path().to_str().unwrap()]);
    assert_user_error(&out, 2, &["cannot read"], true);

    require_netns!();
    let ns = Netns::new();
    let out = Daemon::builder(&ns).config_path(&missing).run_to_exit(STARTUP_FAILURE);
    assert_user_error(&out, 2, &["cannot read", "does-not-exist.toml"], false);
}

#[test]
fn bad_bgp_sections_are_one_line_errors_with_key_and_line() {
    let neighbor = "\n[[bgp.neighbor]]\naddress = \"192.0.2.2\"\nremote_as = 65002\n";
    assert_config_error(
        &format!("[bgp]\nlocal_as = 0\nrouter_id = \"192.0.2.1\"\n{neighbor}"),
        &["bgp.local_as", "line 2"],
    );
    assert_config_error(&format!("[bgp]\nlocal_as = 65001\n{neighbor}"), &["router_id"]);
    assert_config_error(
        "[bgp]\nlocal_as = 65001\nrouter_id = \"192.0.2.1\"\n\n[[bgp.neighbor]]\naddress = \"192.0.2.2\"\n",
        &["remote_as", "line 6"],
    );
    assert_config_error(
        &format!("[bgp]\nlocal_as = 65001\nrouter_id = \"192.0.2.1\"\n{neighbor}{neighbor}"),
        &["192.0.2.2", "line 9", "first on line 5"],
    );
}

#[test]
fn a_route_protocol_other_routing_software_uses_is_refused() {
    // guardian withdraws stale routes of its own protocol: with bgp (186) it
    // would delete doublezerod's and FRR's routes.
    assert_config_error("[daemon]\nroute_protocol = \"bgp\"\n", &["route_protocol", "line 2", "would delete theirs"]);
    assert_config_error("[daemon]\nroute_protocol = 12\n", &["\"bird\"", "keep the default 201"]);
}

#[test]
fn invalid_toml_names_the_line() {
    assert_config_error("[[route]]\ndst = \"10.9.0.0/24\"\nvia = \n", &["line 3"]);
}

#[test]
fn unknown_key_is_named_with_its_line() {
    assert_config_error("[daemon]\nroute_protocol = 201\nbogus_key = true\n", &["bogus_key", "line 3"]);
    assert_config_error(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\ngatway = \"192.0.2.2\"\n",
        &["gatway", "line 4"],
    );
}

#[test]
fn bad_prefix_is_exit_2() {
    assert_config_error(
        "[[route]]\ndst = \"10.9.0.0/24\"\nvia = \"192.0.2.2\"\n\n[[route]]\ndst = \"10.9.1.0/33\"\nvia = \"192.0.2.2\"\n",
        &["invalid prefix", "dst", "line 6"],
    );
}

#[test]
fn duplicate_route_is_exit_2() {
    let r = RouteSpec::new("10.9.0.0/24").via(GW4).table(100);
    assert_config_error(&Config::new().route(r.clone()).route(r.clone()).to_toml(), &["duplicate route"]);
}

#[test]
fn same_identity_with_another_gateway_is_a_duplicate() {
    // Identity is (family, table, prefix, tos, metric): the gateway is not part of it.
    let a = RouteSpec::new("10.9.0.0/24").via(GW4).table(100);
    let b = RouteSpec::new("10.9.0.0/24").via("192.0.2.3").table(100);
    assert_config_error(&Config::new().route(a).route(b).to_toml(), &["duplicate route"]);
}

#[test]
fn ipv6_route_via_ipv4_gateway_is_exit_2() {
    assert_config_error("[[route]]\ndst = \"2001:db8:9::/64\"\nvia = \"192.0.2.2\"\n", &["IPv6 route", "IPv4 gateway"]);
}

#[test]
fn usage_error_is_exit_2() {
    let out = guardian(&["no-such-command"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.starts_with("error: "), "{out:?}");
}

#[test]
fn missing_cap_net_admin_is_exit_3() {
    require_netns!();
    require_tool!("setpriv");
    let ns = Netns::with_link();
    let config = Config::new().route(RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV));
    let out = Daemon::builder(&ns)
        .config(&config)
        .wrapper(&["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-net_admin"])
        .run_to_exit(STARTUP_FAILURE);
    assert_user_error(&out, 3, &["CAP_NET_ADMIN"], false);
    assert!(guardian_tests::ip::find(&ns, "10.9.0.0/24", "main").is_none());
}

#[test]
fn control_socket_of_a_live_daemon_is_exit_1_and_left_alone() {
    require_netns!();
    let ns = Netns::with_link();
    let first = Daemon::start(&ns, &Config::new().daemon("metrics_listen", "\"off\""));
    let other_ns = Netns::with_link();
    let out = Daemon::builder(&other_ns)
        .config(&Config::new().daemon("metrics_listen", "\"off\""))
        .socket(first.socket())
        .run_to_exit(STARTUP_FAILURE);
    assert_user_error(&out, 1, &["already"], false);
    // The live daemon still answers on its socket.
    let status = first.wait_ready(SHORT);
    assert_eq!(status["pid"], first.pid(), "{status}");
}

#[test]
fn metrics_port_in_use_is_exit_1() {
    require_netns!();
    let ns = Netns::with_link();
    let addr = "127.0.0.1:9469";
    let _listener = ns.run_in(move || TcpListener::bind(addr).expect("bind in netns"));
    let out = Daemon::builder(&ns)
        .config(&Config::new().daemon("metrics_listen", &format!("\"{addr}\"")))
        .run_to_exit(STARTUP_FAILURE);
    assert_user_error(&out, 1, &["metrics", addr], false);
}

#[test]
fn status_without_a_daemon_is_exit_1() {
    let dir = TempDir::new("nosock");
    let sock = dir.path().join("guardian.sock");
    let sock = sock.to_str().unwrap();
    for args in [&["status"][..], &["status", "--json"], &["routes", "--json"], &["reconcile"]] {
        let mut all = vec!["--control-socket", sock];
        all.extend_from_slice(args);
        let out = guardian(&all);
        assert_user_error(&out, 1, &[sock], true);
    }
    // GUARDIAN_SOCKET works like --control-socket.
    let mut c = guardian_tests::daemon::guardian_cmd(&["status"]);
    c.env("GUARDIAN_SOCKET", sock);
    let out = guardian_tests::cmd::run(&mut c, SHORT);
    assert_user_error(&out, 1, &[sock], true);
}

/// Until a `[bgp]` section is written, `guardian bgp` says so and succeeds;
/// `bgp reset` is a configuration error (2), as `reload` without a file.
#[test]
fn bgp_without_a_bgp_section_says_so_and_reset_is_exit_2() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::start(&ns, &Config::new().daemon("metrics_listen", "\"off\""));
    let out = d.cli(&["bgp"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "BGP is not configured (no [bgp] section)\n", "{out:?}");
    let view = d.cli_json(&["bgp", "--json"]);
    assert_eq!(view["enabled"], false, "{view}");
    assert_eq!(view["neighbors"], serde_json::json!([]), "{view}");
    for reset in [&["bgp", "reset"][..], &["bgp", "reset", "192.0.2.9"]] {
        let out = d.cli(reset);
        assert_user_error(&out, 2, &["BGP is not configured: add a [bgp] section"], true);
    }
    // Not an address: refused by the command line itself.
    assert_user_error(&d.cli(&["bgp", "reset", "peer-1"]), 2, &["peer-1"], false);
}

/// The other side of the capability check: not root, only CAP_NET_ADMIN (as
/// packaging/guardian.service runs it) is enough to keep routes.
#[test]
fn an_unprivileged_user_holding_only_cap_net_admin_keeps_routes() {
    use std::os::unix::fs::PermissionsExt;
    require_netns!();
    require_tool!("setpriv");
    let ns = Netns::with_link();
    let dir = std::sync::Arc::new(TempDir::new("capuser"));
    // The unprivileged daemon reads its config and creates its socket here.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let daemon = Daemon::builder(&ns)
        .dir(dir)
        .config(&Config::new().route(spec.clone()))
        .wrapper(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all,+net_admin",
            "--ambient-caps=-all,+net_admin",
        ])
        .spawn();
    daemon.wait_ready(guardian_tests::wait::LONG);
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.split_whitespace().nth(1) == Some("65534"), "the daemon runs as nobody: {uid_line}");
}

/// `[liveness.auth]` with a secret file of `mode`.
fn auth_config(dir: &TempDir, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let secret = dir.write("bfd.secret", "secret\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).unwrap();
    format!("[liveness.auth]\ntype = \"meticulous-keyed-sha1\"\nkey_id = 1\nsecret_file = \"{}\"\n", secret.display())
}

#[test]
fn check_config_names_the_authentication_key_but_never_the_secret() {
    let dir = TempDir::new("cfg");
    let path = dir.write("guardian.toml", &auth_config(&dir, 0o600));
    let out = guardian(&["check-config", path.to_str().unwrap()]);
    out.assert_no_panic();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("authentication meticulous-keyed-sha1 key id 1"), "{out:?}");
    assert!(!out.stdout.contains("secret\n") && !out.stdout.contains("\"secret\""), "{out:?}");
}

#[test]
fn a_bfd_secret_others_may_read_is_exit_2_naming_the_mode_to_set() {
    let dir = TempDir::new("cfg");
    assert_config_error(&auth_config(&dir, 0o644), &["liveness.auth.secret_file", "0644", "chmod 600"]);
}
