//! Stopping and restarting the daemon: SIGKILL + start adopts the routes
//! without a delete/add; SIGTERM leaves them (or withdraws them with
//! withdraw_on_exit).

use guardian_tests::config::many_routes;
use guardian_tests::ip::{self, Family};
use guardian_tests::logs;
use guardian_tests::monitor::Monitor;
use guardian_tests::netns::{Netns, DEV, GW4, GW6};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{msg, require_netns, Config, Daemon, RouteSpec};

#[test]
fn restart_after_sigkill_adopts_routes_without_touching_them() {
    require_netns!();
    let ns = Netns::with_link();
    let v4 = many_routes(50, GW4, DEV, 100);
    let v6 = RouteSpec::new("2001:db8:9::/64").via(GW6).dev(DEV);
    let config = Config::new().routes(v4.iter().cloned()).route(v6.clone());
    let n = config.routes.len() as u64;
    let first = Daemon::start(&ns, &config);
    ip::wait_exact_set(&ns, Family::V4, "100", &v4, SHORT);
    ip::wait_installed(&ns, &v6, SHORT);

    let mon = Monitor::start(&ns);
    let mark = mon.sync(&ns);
    first.sigkill();
    first.wait_exit(SHORT);
    // Same folder: same config file and control socket path (the old socket
    // file is left behind by SIGKILL).
    let second = Daemon::builder(&ns).dir(first.dir()).config(&config).spawn();
    let sync = second.wait_log("initial sync complete", msg("initial sync complete"), LONG);
    assert_eq!(logs::field_u64(&sync, "adopted"), Some(n), "{sync}");
    assert_eq!(logs::field_u64(&sync, "installed"), Some(0), "{sync}");
    assert_eq!(logs::field_u64(&sync, "stale_withdrawn"), Some(0), "{sync}");
    second.wait_ready(SHORT);
    assert_ne!(second.status()["pid"], first.pid(), "status answered by the old daemon?");
    mon.sync(&ns);
    for spec in config.routes.iter() {
        let touched = mon.mentioning(mark, &spec.dst);
        assert!(touched.is_empty(), "restart touched {}: {touched:?}", spec.dst);
    }
    ip::wait_exact_set(&ns, Family::V4, "100", &v4, SHORT);
    ip::wait_installed(&ns, &v6, SHORT);
    // And the new daemon guards them.
    let mark = second.log_mark();
    ns.ip(&["route", "del", &v4[7].dst, "table", "100"]);
    second.wait_log_from(mark, "route reinstalled", logs::route_msg("route reinstalled", &v4[7].dst), SHORT);
    ip::wait_installed(&ns, &v4[7], SHORT);
}

#[test]
fn sigterm_stops_the_daemon_and_leaves_its_routes() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    d.sigterm();
    let status = d.wait_exit(SHORT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(d.logs().find_from(0, &msg("guardian stopped")).is_some(), "no `guardian stopped` line");
    ip::wait_installed(&ns, &spec, SHORT);
    // Control socket gone or dead: status now fails with exit 1.
    let out = d.cli(&["status"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 1, "{out:?}");
}

#[test]
fn sigterm_with_withdraw_on_exit_removes_the_routes() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let d = Daemon::start(&ns, &Config::new().daemon("withdraw_on_exit", "true").route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    d.sigterm();
    let status = d.wait_exit(SHORT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(ip::find(&ns, &spec.dst, "main").is_none(), "route left after withdraw_on_exit");
}

#[test]
fn first_log_line_is_guardian_starting() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::start(&ns, &Config::new());
    let lines = d.logs().snapshot();
    let first = lines.first().expect("no log line");
    assert!(logs::is(first, "guardian starting"), "first line: {first}");
    assert_eq!(first["level"], "INFO");
    let config = logs::field(first, "config").expect("config field");
    assert!(config.ends_with("guardian.toml"), "{first}");
    assert!(logs::field(first, "version").is_some(), "{first}");
    let status = d.status();
    assert_eq!(status["config"], config.as_str(), "{status}");
    assert_eq!(status["pid"], d.pid(), "{status}");
}

#[test]
fn sigint_stops_the_daemon_like_sigterm() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    d.signal(libc::SIGINT);
    let status = d.wait_exit(SHORT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(d.logs().find_from(0, &msg("guardian stopped")).is_some(), "no `guardian stopped` line");
    ip::wait_installed(&ns, &spec, SHORT);
}

#[test]
fn control_socket_flag_overrides_the_config_file() {
    require_netns!();
    let ns = Netns::with_link();
    let dir = std::sync::Arc::new(guardian_tests::tempdir::TempDir::new("sock"));
    let from_config = dir.path().join("from-config.sock");
    let config = Config::new().daemon("control_socket", &format!("\"{}\"", from_config.display()));
    let d = Daemon::builder(&ns).dir(dir.clone()).config(&config).spawn();
    d.wait_ready(LONG);
    assert!(d.socket().exists());
    assert!(!from_config.exists(), "daemon listened on the config's socket despite --control-socket");
}
