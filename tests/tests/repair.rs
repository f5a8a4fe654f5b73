//! Routes guardian installs come back when something else deletes or
//! changes them.

use guardian_tests::ip::{self, Family};
use guardian_tests::logs::{self, field, route_msg};
use guardian_tests::netns::{Netns, DEV, GW4, GW4_OTHER, GW6};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{metrics, msg, require_netns, Config, Daemon, RouteSpec};

const METRICS: &str = "127.0.0.1:9469";

fn v4(dst: &str) -> RouteSpec {
    RouteSpec::new(dst).via(GW4).dev(DEV)
}

/// Deletes `spec` with `ip route del` and waits for guardian to log its
/// reinstall; returns that log line.
fn delete_and_wait_reinstall(ns: &Netns, d: &Daemon, spec: &RouteSpec) -> serde_json::Value {
    let mark = d.log_mark();
    let table = spec.table_arg();
    let family = if spec.dst.contains(':') { "-6" } else { "-4" };
    ns.ip(&[family, "route", "del", &spec.dst, "table", &table]);
    let line = d.wait_log_from(
        mark,
        &format!("route reinstalled {}", spec.dst),
        route_msg("route reinstalled", &spec.dst),
        SHORT,
    );
    ip::wait_installed(ns, spec, SHORT);
    line
}

#[test]
fn configured_routes_are_installed_with_guardian_protocol() {
    require_netns!();
    let ns = Netns::with_link();
    let main = v4("10.9.0.0/24");
    let t100 = v4("10.9.1.0/24").table(100).metric(20);
    let v6 = RouteSpec::new("2001:db8:9::/64").via(GW6).dev(DEV);
    let d = Daemon::start(&ns, &Config::new().route(main.clone()).route(t100.clone()).route(v6.clone()));
    for spec in [&main, &t100, &v6] {
        ip::wait_installed(&ns, spec, SHORT);
    }
    let sync = d.wait_log("initial sync complete", msg("initial sync complete"), SHORT);
    assert_eq!(logs::field_u64(&sync, "installed"), Some(3), "{sync}");
    assert_eq!(logs::field_u64(&sync, "failed"), Some(0), "{sync}");
    let status = d.status();
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["routes"]["desired"], 3, "{status}");
    assert_eq!(status["routes"]["installed"], 3, "{status}");
    let routes = d.routes();
    let routes = routes.as_array().expect("routes --json is an array");
    assert_eq!(routes.len(), 3, "{routes:?}");
    let r = routes
        .iter()
        .find(|r| r["dst"] == "10.9.1.0/24")
        .unwrap_or_else(|| panic!("10.9.1.0/24 missing from {routes:?}"));
    assert_eq!(r["via"], GW4);
    assert_eq!(r["dev"], DEV);
    assert_eq!(r["table"], 100);
    assert_eq!(r["source"], "config", "routes of the file say so: {r}");
    assert_eq!(r["owner"], serde_json::Value::Null, "guardian's own routes have no owner: {r}");
    assert_eq!(r["metric"], 20);
    assert_eq!(r["family"], "ipv4");
    assert_eq!(r["state"], "installed");
    let r6 = routes.iter().find(|r| r["dst"] == "2001:db8:9::/64").expect("v6 route listed");
    assert_eq!(r6["family"], "ipv6");
    // Nothing installed that was not asked for.
    assert_eq!(ip::dsts_with_protocol(&ns, Family::V4, "main", ip::PROTO_GUARDIAN).len(), 1);
}

#[test]
fn deleted_route_is_reinstalled_and_noticed_by_event() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24");
    let d = Daemon::start(&ns, &Config::new().daemon("metrics_listen", &format!("\"{METRICS}\"")).route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let line = delete_and_wait_reinstall(&ns, &d, &spec);
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(field(&line, "noticed").as_deref(), Some("event"), "{line}");
    assert_eq!(field(&line, "family").as_deref(), Some("ipv4"), "{line}");
    assert!(field(&line, "missing_for").is_some(), "no missing_for: {line}");
    // The counter says the same.
    let text = metrics::fetch(&ns, METRICS);
    let event_v4: f64 = metrics::parse(&text)
        .iter()
        .filter(|s| {
            s.name == "guardian_route_reinstalls_total"
                && s.labels.get("family").map(String::as_str) == Some("ipv4")
                && s.labels.get("noticed").map(String::as_str) == Some("event")
        })
        .map(|s| s.value)
        .sum();
    assert!(event_v4 >= 1.0, "guardian_route_reinstalls_total{{family=ipv4,noticed=event}} = {event_v4}\n{text}");
    assert!(d.status()["reinstalls"].as_u64().unwrap_or(0) >= 1, "{}", d.status());
    // A second deletion is repaired too.
    delete_and_wait_reinstall(&ns, &d, &spec);
}

#[test]
fn route_in_another_table_is_repaired() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24").table(100);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    assert!(ip::find(&ns, "10.9.0.0/24", "main").is_none(), "installed in main instead of table 100");
    delete_and_wait_reinstall(&ns, &d, &spec);
    assert!(ip::find(&ns, "10.9.0.0/24", "main").is_none(), "reinstalled into main");
}

#[test]
fn ipv6_route_is_repaired() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = RouteSpec::new("2001:db8:9::/64").via(GW6).dev(DEV).table(100);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let line = delete_and_wait_reinstall(&ns, &d, &spec);
    assert_eq!(field(&line, "family").as_deref(), Some("ipv6"), "{line}");
}

#[test]
fn replaced_route_gets_its_gateway_back() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24");
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    ns.ip(&["route", "replace", "10.9.0.0/24", "via", GW4_OTHER, "dev", DEV]);
    let r = ip::wait_installed(&ns, &spec, SHORT);
    assert_eq!(r.gateway.as_deref(), Some(GW4));
    d.wait_log_from(mark, "route reinstalled after replace", route_msg("route reinstalled", "10.9.0.0/24"), SHORT);
    // Exactly one route for that prefix: the original.
    let same: Vec<_> = ip::routes(&ns, Family::V4, "main").into_iter().filter(|r| r.dst == "10.9.0.0/24").collect();
    assert_eq!(same.len(), 1, "{same:?}");
}

#[test]
fn route_comes_back_after_its_link_goes_down_and_up() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24").table(100);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    // Link down flushes IPv4 routes through it without a per-route message.
    ns.link_set(DEV, "down");
    ip::wait_absent(&ns, "10.9.0.0/24", "100", SHORT);
    ns.link_set(DEV, "up");
    // Periodic scan default is 30 s: allow more than that.
    ip::wait_installed(&ns, &spec, LONG);
    // The repair says why the route went: its link.
    let line = d.wait_log("route reinstalled", route_msg("route reinstalled", "10.9.0.0/24"), SHORT);
    assert_eq!(field(&line, "cause").as_deref(), Some("link_down"), "{line}");
    assert_eq!(field(&line, "noticed").as_deref(), Some("scan"), "{line}");
}

#[test]
fn stale_route_is_withdrawn_at_start_and_foreign_routes_are_left_alone() {
    require_netns!();
    let ns = Netns::with_link();
    ns.ip(&["route", "add", "10.77.0.0/24", "via", GW4, "dev", DEV, "proto", "201"]);
    ns.ip(&["route", "add", "10.78.0.0/24", "via", GW4, "dev", DEV, "proto", "static"]);
    // Stale ones in a table guardian has no configured route in, and IPv6.
    ns.ip(&["route", "add", "10.79.0.0/24", "via", GW4, "dev", DEV, "table", "300", "proto", "201"]);
    ns.ip(&["-6", "route", "add", "2001:db8:77::/64", "via", GW6, "dev", DEV, "proto", "201"]);
    let spec = v4("10.9.0.0/24");
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    let stale =
        d.wait_log("stale route withdrawn 10.77.0.0/24", route_msg("stale route withdrawn", "10.77.0.0/24"), SHORT);
    assert_eq!(stale["level"], "WARN", "{stale}");
    let sync = d.wait_log("initial sync complete", msg("initial sync complete"), SHORT);
    assert_eq!(logs::field_u64(&sync, "stale_withdrawn"), Some(3), "{sync}");
    d.wait_log("stale route withdrawn 10.79.0.0/24", route_msg("stale route withdrawn", "10.79.0.0/24"), SHORT);
    d.wait_log("stale route withdrawn 2001:db8:77::/64", route_msg("stale route withdrawn", "2001:db8:77::/64"), SHORT);
    ip::wait_absent(&ns, "10.79.0.0/24", "300", SHORT);
    ip::wait_absent(&ns, "2001:db8:77::/64", "main", SHORT);
    assert_eq!(logs::field_u64(&sync, "installed"), Some(1), "{sync}");
    assert_eq!(logs::field_u64(&sync, "adopted"), Some(0), "{sync}");
    ip::wait_absent(&ns, "10.77.0.0/24", "main", SHORT);
    ip::wait_installed(&ns, &spec, SHORT);
    let foreign = ip::find(&ns, "10.78.0.0/24", "main").expect("a route of another protocol must be left alone");
    assert_eq!(foreign.protocol, "4");
    // And it stays withdrawn after a full cycle.
    d.reconcile();
    assert!(ip::find(&ns, "10.77.0.0/24", "main").is_none(), "stale route came back");
}

#[test]
fn route_that_cannot_be_installed_is_reported_and_installed_once_possible() {
    require_netns!();
    let ns = Netns::with_link();
    // 198.18.0.2 is not on any link yet: the kernel refuses the route.
    let spec = RouteSpec::new("10.9.5.0/24").via("198.18.0.2").dev(DEV);
    let ok = v4("10.9.0.0/24");
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()).route(ok.clone()));
    let failed = d.wait_log("route install failed", route_msg("route install failed", "10.9.5.0/24"), SHORT);
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert!(field(&failed, "error").is_some_and(|e| !e.is_empty()), "{failed}");
    let sync = d.wait_log("initial sync complete", msg("initial sync complete"), SHORT);
    assert_eq!(logs::field_u64(&sync, "failed"), Some(1), "{sync}");
    assert_eq!(logs::field_u64(&sync, "installed"), Some(1), "{sync}");
    // The other route is guarded all the same.
    ip::wait_installed(&ns, &ok, SHORT);
    let routes = d.routes();
    let r = routes
        .as_array()
        .and_then(|a| a.iter().find(|r| r["dst"] == "10.9.5.0/24"))
        .unwrap_or_else(|| panic!("10.9.5.0/24 not listed: {routes}"));
    assert_ne!(r["state"], "installed", "{r}");
    assert!(r["last_error"].is_string(), "{r}");
    assert!(
        d.status()["routes"]["failed"].as_u64().unwrap_or(0) + d.status()["routes"]["pending"].as_u64().unwrap_or(0)
            >= 1
    );
    // Make the gateway reachable: the route is installed (retry, address
    // event or periodic scan; the default scan is 30 s).
    ns.addr_add(DEV, "198.18.0.1/24");
    ip::wait_installed(&ns, &spec, LONG);
    guardian_tests::wait::until("routes --json to say installed", SHORT, || {
        let routes = d.routes();
        let r = routes.as_array().and_then(|a| a.iter().find(|r| r["dst"] == "10.9.5.0/24")).cloned();
        match r {
            Some(r) if r["state"] == "installed" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

#[test]
fn repeated_deletions_are_damped_then_repaired() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24");
    let config = Config::new()
        .reconcile("max_repairs_per_route", "2")
        .reconcile("damping_window", "\"60s\"")
        .reconcile("damping_max_backoff", "\"3s\"")
        .route(spec.clone());
    let d = Daemon::start(&ns, &config);
    ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    // Two repairs are allowed within the window...
    for _ in 0..2 {
        delete_and_wait_reinstall(&ns, &d, &spec);
    }
    // ...further deletions are damped, and the route still comes back.
    let mut damped = None;
    for _ in 0..4 {
        ns.ip(&["route", "del", &spec.dst]);
        ip::wait_installed(&ns, &spec, LONG);
        damped = d.logs().find_from(mark, &route_msg("route repairs damped", &spec.dst));
        if damped.is_some() {
            break;
        }
    }
    let damped = damped.expect("no `route repairs damped` line after 6 deletions within the window");
    assert_eq!(damped["level"], "WARN", "{damped}");
    assert!(field(&damped, "backoff").is_some(), "{damped}");
}

#[test]
fn route_with_source_and_metric_is_installed_and_repaired_as_configured() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24").src(guardian_tests::netns::ADDR4).metric(30).table(100);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    let r = ip::wait_installed(&ns, &spec, SHORT);
    assert_eq!(r.prefsrc.as_deref(), Some(guardian_tests::netns::ADDR4));
    assert_eq!(r.metric, 30);
    // Another route for the same prefix with another metric is another
    // identity: guardian leaves it alone and keeps its own.
    ns.ip(&["route", "add", "10.9.0.0/24", "via", GW4_OTHER, "dev", DEV, "metric", "50", "table", "100"]);
    delete_and_wait_reinstall(&ns, &d, &spec);
    let all: Vec<_> = ip::routes(&ns, Family::V4, "100").into_iter().filter(|r| r.dst == "10.9.0.0/24").collect();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().any(|r| r.metric == 50 && r.gateway.as_deref() == Some(GW4_OTHER)), "{all:?}");
}

#[test]
fn route_of_another_prefix_length_does_not_satisfy_a_tracked_route() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24");
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    ns.ip(&["route", "add", "10.9.0.0/25", "via", GW4, "dev", DEV, "proto", "201"]);
    ns.ip(&["route", "add", "10.9.0.0/16", "via", GW4, "dev", DEV]);
    delete_and_wait_reinstall(&ns, &d, &spec);
    // The /16 of another protocol is not guardian's business.
    assert!(ip::find(&ns, "10.9.0.0/16", "main").is_some());
}

#[test]
fn route_replaced_with_another_protocol_only_is_put_back() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24").table(100);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    ns.ip(&["route", "replace", "10.9.0.0/24", "via", GW4, "dev", DEV, "table", "100", "proto", "static"]);
    d.wait_log_from(mark, "route reinstalled after replace", route_msg("route reinstalled", "10.9.0.0/24"), SHORT);
    let r = ip::wait_installed(&ns, &spec, SHORT);
    assert_eq!(r.protocol, ip::PROTO_GUARDIAN);
}

#[test]
fn routes_carry_the_configured_route_protocol_also_when_reinstalled() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24");
    let d = Daemon::start(&ns, &Config::new().daemon("route_protocol", "202").route(spec.clone()));
    let found =
        guardian_tests::wait::until("route with protocol 202", SHORT, || match ip::find(&ns, &spec.dst, "main") {
            Some(r) if r.protocol == "202" && r.gateway.as_deref() == Some(GW4) => Ok(r),
            other => Err(format!("{other:?}")),
        });
    assert_eq!(found.protocol, "202");
    assert!(ip::dsts_with_protocol(&ns, Family::V4, "main", ip::PROTO_GUARDIAN).is_empty());
    ns.ip(&["route", "del", &spec.dst]);
    d.wait_log("route reinstalled", route_msg("route reinstalled", &spec.dst), SHORT);
    guardian_tests::wait::until("reinstalled with protocol 202", SHORT, || match ip::find(&ns, &spec.dst, "main") {
        Some(r) if r.protocol == "202" => Ok(()),
        other => Err(format!("{other:?}")),
    });
}

#[test]
fn text_log_format_says_how_the_loss_was_noticed() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24");
    let d = Daemon::builder(&ns).config(&Config::new().route(spec.clone())).log_format("text").spawn();
    d.wait_ready(LONG);
    ip::wait_installed(&ns, &spec, SHORT);
    ns.ip(&["route", "del", &spec.dst]);
    let line = d.wait_log(
        "text line `route reinstalled`",
        |v| v.as_str().is_some_and(|l| l.contains("route reinstalled") && l.contains("10.9.0.0/24")),
        SHORT,
    );
    let line = line.as_str().unwrap();
    // stderr is a pipe here, not a terminal: no colour escapes.
    assert!(!line.contains('\x1b'), "ANSI escape codes in a log written to a pipe: {line:?}");
    assert!(line.contains(" WARN "), "{line}");
    assert!(line.contains("noticed=event"), "{line}");
    assert!(line.contains("missing_for="), "{line}");
    assert!(serde_json::from_str::<serde_json::Value>(line).is_err(), "text format printed JSON: {line}");
}

#[test]
fn periodic_scan_runs_at_the_configured_interval() {
    require_netns!();
    let ns = Netns::with_link();
    let addr = "127.0.0.1:9469";
    let d = Daemon::start(
        &ns,
        &Config::new()
            .daemon("metrics_listen", &format!("\"{addr}\""))
            .reconcile("interval", "\"1s\"")
            .route(v4("10.9.0.0/24")),
    );
    // Without any `guardian reconcile`, cycles keep being counted.
    let cycles = |text: &str| metrics::sum(text, "guardian_reconcile_duration_seconds_count").unwrap_or(0.0);
    let first = cycles(&metrics::fetch(&ns, addr));
    guardian_tests::wait::until("three more periodic cycles", LONG, || {
        let now = cycles(&metrics::fetch(&ns, addr));
        if now >= first + 3.0 {
            Ok(())
        } else {
            Err(format!("{now} cycles (started at {first})"))
        }
    });
    assert_eq!(d.status()["last_reconcile"]["checked"], 1);
}

/// A loss the event path cannot see: IPv4 routes flushed by a link going
/// down produce no per-route netlink message. The link goes down and up
/// while the daemon is stopped (SIGSTOP), so when it runs again the route is
/// simply missing; its repair is reported as `noticed=scan` (the contract's
/// `event` means "a route event reported this route's loss").
#[test]
fn loss_without_a_route_event_is_repaired_and_reported_as_noticed_by_scan() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24").table(100);
    let d = Daemon::start(&ns, &Config::new().route(spec.clone()));
    ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    d.signal(libc::SIGSTOP);
    ns.link_set(DEV, "down");
    ip::wait_absent(&ns, "10.9.0.0/24", "100", SHORT);
    ns.link_set(DEV, "up");
    d.signal(libc::SIGCONT);
    // Periodic scan default is 30 s: allow more than that.
    ip::wait_installed(&ns, &spec, LONG);
    let line = d.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", "10.9.0.0/24"), SHORT);
    assert_eq!(field(&line, "noticed").as_deref(), Some("scan"), "{line}");
}
