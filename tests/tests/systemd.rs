//! guardian under a service manager (`Type=notify`), without one: the test
//! binds the datagram socket systemd would (`NOTIFY_SOCKET`), sets
//! `WATCHDOG_USEC`, and reads what the daemon sends.

use guardian_tests::config::many_routes;
use guardian_tests::ip::{self, Family};
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::notify::{field, NotifySocket};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{require_netns, Config, Daemon, RouteSpec};

/// WATCHDOG_USEC the tests set: guardian pets every half of it (0.5 s).
const WATCHDOG_USEC: &str = "1000000";

#[test]
fn ready_comes_once_the_routes_are_installed_then_status_and_watchdog_follow() {
    require_netns!();
    let ns = Netns::with_link();
    let notify = NotifySocket::path();
    // Enough routes that installing them takes a while.
    let routes = many_routes(2000, GW4, DEV, 100);
    // No periodic scan: no timer of the reconciler's own wakes it up, only
    // the watchdog's.
    let config = Config::new().reconcile("interval", "\"0s\"");
    let d = Daemon::builder(&ns)
        .config(&config.clone().routes(routes.clone()))
        .env("NOTIFY_SOCKET", notify.name())
        .env("WATCHDOG_USEC", WATCHDOG_USEC)
        .spawn();
    let (ready_at, ready) = notify.wait_from(0, "READY=1", LONG);
    // Read right after READY=1 arrived, without waiting: every route is
    // already in the kernel.
    let installed = ip::dsts_with_protocol(&ns, Family::V4, "100", ip::PROTO_GUARDIAN);
    assert_eq!(installed.len(), routes.len(), "READY=1 before every route was installed");
    assert_eq!(d.status()["ready"], true);
    // The STATUS= line rides with READY=1: routes, attribution.
    let status = field(&ready, "STATUS").unwrap_or_else(|| panic!("no STATUS= with READY=1: {ready:?}"));
    assert!(status.starts_with("2000/2000 routes installed"), "{status}");
    assert!(status.contains("; attribution "), "{status}");
    // Nothing claimed readiness before.
    let before = &notify.received()[..ready_at];
    assert!(before.iter().all(|n| !n.iter().any(|l| l == "READY=1")), "{before:?}");

    // The watchdog keeps being petted (at half of WATCHDOG_USEC) while idle.
    let mark = notify.mark();
    guardian_tests::wait::until("three more WATCHDOG=1", SHORT, || {
        let n = notify.count_from(mark, "WATCHDOG=1");
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} so far"))
        }
    });

    // A change shows in STATUS=: a route withdrawn by a reload.
    d.write_config(&config.routes(routes[..1999].to_vec()));
    let mark = notify.mark();
    let out = d.cli(&["reload"]);
    assert!(out.success(), "{out:?}");
    // RELOADING=1 (with the time), then READY=1 again.
    let (reloading_at, reloading) = notify.wait_from(mark, "RELOADING=1", SHORT);
    assert!(field(&reloading, "MONOTONIC_USEC").is_some_and(|t| t.parse::<u64>().is_ok()), "{reloading:?}");
    notify.wait_from(reloading_at + 1, "READY=1", SHORT);
    let (_, changed) = notify.wait_from(mark, "STATUS=1999/1999 routes installed*", SHORT);
    assert!(field(&changed, "STATUS").is_some(), "{changed:?}");

    // SIGTERM: STOPPING=1, and a clean exit.
    let mark = notify.mark();
    d.sigterm();
    notify.wait_from(mark, "STOPPING=1", SHORT);
    let status = d.wait_exit(SHORT);
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_abstract_notify_socket_gets_ready_and_stopping() {
    require_netns!();
    let ns = Netns::with_link();
    let notify = NotifySocket::abstract_name(&ns);
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let d = Daemon::builder(&ns).config(&Config::new().route(spec.clone())).env("NOTIFY_SOCKET", notify.name()).spawn();
    notify.wait_from(0, "READY=1", LONG);
    assert!(ip::find(&ns, &spec.dst, "main").is_some_and(|r| r.is_installed(&spec)), "READY=1 before the route");
    d.sigterm();
    notify.wait_from(0, "STOPPING=1", SHORT);
    assert!(d.wait_exit(SHORT).success());
}

#[test]
fn no_watchdog_without_watchdog_usec_nor_for_another_pid() {
    require_netns!();
    let ns = Netns::with_link();
    for watchdog_pid in [None, Some("1")] {
        let notify = NotifySocket::path();
        let mut b = Daemon::builder(&ns).config(&Config::new()).env("NOTIFY_SOCKET", notify.name());
        if let Some(pid) = watchdog_pid {
            // WATCHDOG_PID names the process the watchdog is meant for.
            b = b.env("WATCHDOG_USEC", WATCHDOG_USEC).env("WATCHDOG_PID", pid);
        }
        let d = b.spawn();
        notify.wait_from(0, "READY=1", LONG);
        // A reconcile round-trip later (and longer than a pet interval)
        // there is still no WATCHDOG=1.
        std::thread::sleep(std::time::Duration::from_millis(1200));
        d.reconcile();
        assert_eq!(notify.count_from(0, "WATCHDOG=1"), 0, "{:?}", notify.received());
        drop(d);
    }
}
