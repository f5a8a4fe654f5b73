//! Cases where the kernel's notifications are not what a naive reading
//! expects: an identical IPv4 replace is silent, a foreign route can sit
//! beside ours with the same identity, a delete with metric 0 matches any
//! metric. Each once left a route unguarded. The periodic scan is off in
//! all of them, so only the event path can repair.

use guardian_tests::logs::route_msg;
use guardian_tests::netns::{Netns, DEV, GW4, GW4_OTHER};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{ip, msg, require_netns, Config, Daemon, RouteSpec};

fn no_scan() -> Config {
    Config::new().reconcile("interval", "\"0s\"").daemon("metrics_listen", "\"off\"")
}

/// Deletes the route and waits for guardian to put it back by event.
fn assert_repaired_by_event(ns: &Netns, d: &Daemon, spec: &RouteSpec) {
    let mark = d.log_mark();
    ns.ip(&["route", "del", &spec.dst, "table", &spec.table_arg()]);
    let line = d.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", &spec.dst), SHORT);
    assert_eq!(guardian_tests::logs::field(&line, "noticed").as_deref(), Some("event"), "{line}");
    ip::wait_installed(ns, spec, SHORT);
}

#[test]
fn a_reload_that_reinstalls_an_identical_route_keeps_it_guarded() {
    require_netns!();
    let ns = Netns::with_link();
    // Without `dev` the kernel picks veth0 anyway; adding `dev` on reload
    // makes guardian replace the route with an identical one, which IPv4
    // acknowledges without any notification.
    let before = RouteSpec::new("10.9.0.0/24").via(GW4).table(100);
    let after = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV).table(100);
    let d = Daemon::start(&ns, &no_scan().route(before.clone()));
    ip::wait_installed(&ns, &before, SHORT);
    let mark = d.log_mark();
    d.write_config(&no_scan().route(after.clone()));
    d.sighup();
    d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    assert_repaired_by_event(&ns, &d, &after);
    assert_repaired_by_event(&ns, &d, &after);
}

#[test]
fn a_route_deleted_and_added_back_by_someone_else_stays_guarded() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let d = Daemon::start(&ns, &no_scan().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let batch = format!("route del {dst}\nroute replace {dst} via {GW4} dev {DEV} proto 201\n", dst = spec.dst);
    let path = d.dir().write("burst.batch", &batch);
    ns.ip(&["-batch", path.to_str().unwrap()]);
    ip::wait_installed(&ns, &spec, SHORT);
    // (replace, not add: guardian may have put it back between the two.)
    // Whatever guardian made of the burst, the route is still guarded after it.
    assert_repaired_by_event(&ns, &d, &spec);
}

#[test]
fn a_foreign_route_appended_beside_ours_does_not_stop_repairs() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = RouteSpec::new("10.5.0.0/24").via(GW4).dev(DEV).table(100);
    let d = Daemon::start(&ns, &no_scan().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    ns.ip(&["route", "append", "10.5.0.0/24", "via", GW4_OTHER, "dev", DEV, "table", "100", "proto", "static"]);
    // Ours is still first and untouched: appending beside it is no loss.
    let rec = d.reconcile();
    assert_eq!(rec["missing"], 0, "{rec}");
    let reinstalls = d.logs().all_from(mark, &|l| guardian_tests::logs::is(l, "route reinstalled"));
    assert!(reinstalls.is_empty(), "an append beside our route is not a loss: {reinstalls:?}");
    // Deleting ours (protocol 201) is a loss, repaired by event.
    let mark = d.log_mark();
    ns.ip(&["route", "del", "10.5.0.0/24", "via", GW4, "table", "100", "proto", "201"]);
    d.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", &spec.dst), SHORT);
    ip::wait_installed(&ns, &spec, SHORT);
}

#[test]
fn withdrawing_a_metric_0_route_leaves_ours_with_another_metric() {
    require_netns!();
    let ns = Netns::with_link();
    let kept = RouteSpec::new("10.7.0.0/24").via(GW4).dev(DEV).metric(100);
    // Same prefix and next hop, metric 0, and a source address the host does
    // not have: the kernel refuses it, so it is never installed.
    let removed = RouteSpec::new("10.7.0.0/24").via(GW4).dev(DEV).src("192.0.2.99");
    let d = Daemon::start(&ns, &no_scan().route(kept.clone()).route(removed.clone()));
    ip::wait_installed(&ns, &kept, SHORT);
    d.wait_log("route install failed", route_msg("route install failed", "10.7.0.0/24"), SHORT);
    let mark = d.log_mark();
    d.write_config(&no_scan().route(kept.clone()));
    d.sighup();
    d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    // Withdrawing the refused route must not delete the installed one.
    guardian_tests::wait::until("only the metric-100 route", LONG, || {
        let left: Vec<_> = ip::routes(&ns, ip::Family::V4, "main")
            .into_iter()
            .filter(|r| r.dst == "10.7.0.0/24")
            .map(|r| r.metric)
            .collect();
        if left == vec![100] {
            Ok(())
        } else {
            Err(format!("routes to 10.7.0.0/24 by metric: {left:?}"))
        }
    });
    let reinstalls = d.logs().all_from(mark, &|l| guardian_tests::logs::is(l, "route reinstalled"));
    assert!(reinstalls.is_empty(), "the kept route was never deleted: {reinstalls:?}");
    assert_repaired_by_event(&ns, &d, &kept);
}
