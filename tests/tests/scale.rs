//! Thousands of routes: a flush of the whole table is repaired completely,
//! also when the event socket overruns.

use guardian_tests::config::many_routes;
use guardian_tests::ip::{self, Family};
use guardian_tests::logs::{self, field};
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{metrics, msg, require_netns, Config, Daemon};

const N: usize = 10_000;
const TABLE: u32 = 100;
const METRICS: &str = "127.0.0.1:9469";

fn start(ns: &Netns, config: Config) -> (Daemon, Vec<guardian_tests::RouteSpec>) {
    let specs = many_routes(N, GW4, DEV, TABLE);
    let d = Daemon::start(ns, &config.routes(specs.iter().cloned()));
    let sync = d.wait_log("initial sync complete", msg("initial sync complete"), LONG);
    assert_eq!(logs::field_u64(&sync, "installed"), Some(N as u64), "{sync}");
    ip::wait_exact_set(ns, Family::V4, &TABLE.to_string(), &specs, LONG);
    (d, specs)
}

#[test]
fn ten_thousand_flushed_routes_all_come_back() {
    require_netns!();
    let ns = Netns::with_link();
    let (d, specs) = start(&ns, Config::new());
    ns.ip(&["route", "flush", "table", &TABLE.to_string()]);
    ip::wait_exact_set(&ns, Family::V4, &TABLE.to_string(), &specs, LONG);
    let status = d.status();
    assert_eq!(status["routes"]["installed"], N as u64, "{status}");
    let r = d.reconcile();
    assert_eq!(r["checked"], N as u64, "{r}");
    assert_eq!(r["missing"], 0, "{r}");
}

#[test]
fn overrun_with_tiny_receive_buffer_resyncs_and_restores_everything() {
    require_netns!();
    let ns = Netns::with_link();
    let config = Config::new().daemon("netlink_rcvbuf", "\"4KiB\"").daemon("metrics_listen", &format!("\"{METRICS}\""));
    let (d, specs) = start(&ns, config);
    let mark = d.log_mark();
    ns.ip(&["route", "flush", "table", &TABLE.to_string()]);
    ip::wait_exact_set(&ns, Family::V4, &TABLE.to_string(), &specs, LONG);
    d.wait_log_from(mark, "netlink overrun, resyncing", msg("netlink overrun, resyncing"), SHORT);
    let text = metrics::fetch(&ns, METRICS);
    let overruns = metrics::sum(&text, "guardian_netlink_overruns_total")
        .unwrap_or_else(|| panic!("no guardian_netlink_overruns_total in\n{text}"));
    assert!(overruns > 0.0, "guardian_netlink_overruns_total = {overruns}");
    assert!(d.status()["overruns"].as_u64().unwrap_or(0) > 0, "{}", d.status());
    // Every reinstall says how it was noticed, with one of the two words.
    for line in d.logs().all_from(mark, &msg("route reinstalled")) {
        let noticed = field(&line, "noticed");
        assert!(matches!(noticed.as_deref(), Some("event" | "scan")), "{line}");
    }
}

#[test]
fn thousand_flushed_ipv6_routes_all_come_back() {
    require_netns!();
    let ns = Netns::with_link();
    let specs = guardian_tests::config::many_routes6(1000, guardian_tests::netns::GW6, DEV, TABLE);
    let _d = Daemon::start(&ns, &Config::new().routes(specs.iter().cloned()));
    ip::wait_exact_set(&ns, Family::V6, &TABLE.to_string(), &specs, LONG);
    ns.ip(&["-6", "route", "flush", "table", &TABLE.to_string()]);
    ip::wait_exact_set(&ns, Family::V6, &TABLE.to_string(), &specs, LONG);
}

/// After an overrun the resync can put a route back before its delete
/// notification, still queued, is read; that late delete is not a new loss.
#[test]
fn overrun_reports_each_deleted_route_once() {
    require_netns!();
    let ns = Netns::with_link();
    let (d, specs) = start(&ns, Config::new().daemon("netlink_rcvbuf", "\"4KiB\""));
    let mark = d.log_mark();
    // One delete per route (a flush may delete a route again after guardian
    // put it back, which would be a real second loss).
    let batch: String = specs.iter().map(|s| format!("route del {} table {TABLE}\n", s.dst)).collect();
    let path = d.dir().write("del.batch", &batch);
    ns.ip(&["-batch", path.to_str().unwrap()]);
    ip::wait_exact_set(&ns, Family::V4, &TABLE.to_string(), &specs, LONG);
    d.wait_log_from(mark, "netlink overrun, resyncing", msg("netlink overrun, resyncing"), SHORT);
    guardian_tests::wait::until("a reinstall line for every route", LONG, || {
        let n = d.logs().all_from(mark, &msg("route reinstalled")).len();
        if n >= N {
            Ok(())
        } else {
            Err(format!("{n} of {N}"))
        }
    });
    // A manual cycle runs after the events already handed to the reconciler.
    d.reconcile();
    let mut seen = std::collections::HashMap::new();
    for line in d.logs().all_from(mark, &msg("route reinstalled")) {
        *seen.entry(field(&line, "route").unwrap_or_default()).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).take(5).collect();
    assert!(
        twice.is_empty(),
        "{} routes reported more than once, e.g. {twice:?}",
        seen.values().filter(|&&n| n > 1).count()
    );
    assert_eq!(seen.len(), N, "routes reported");
    assert_eq!(d.status()["reinstalls"].as_u64(), Some(N as u64), "{}", d.status());
}
