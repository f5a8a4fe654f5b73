//! The Prometheus endpoint exposes the contract's metrics with values that
//! match what happened.

use guardian_tests::ip;
use guardian_tests::logs::route_msg;
use guardian_tests::metrics::{self, Sample};
use guardian_tests::netns::{Netns, DEV, GW4, GW6};
use guardian_tests::wait::SHORT;
use guardian_tests::{require_netns, Config, Daemon, RouteSpec};

const ADDR: &str = "127.0.0.1:9470";

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .collect();
    (!found.is_empty()).then(|| found.iter().sum())
}

#[test]
fn metrics_report_routes_reinstalls_and_cycles() {
    require_netns!();
    let ns = Netns::with_link();
    let specs = [
        RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV),
        RouteSpec::new("10.9.1.0/24").via(GW4).dev(DEV).table(100),
        RouteSpec::new("2001:db8:9::/64").via(GW6).dev(DEV),
    ];
    let d = Daemon::start(
        &ns,
        &Config::new().daemon("metrics_listen", &format!("\"{ADDR}\"")).routes(specs.iter().cloned()),
    );
    for s in &specs {
        ip::wait_installed(&ns, s, SHORT);
    }
    let mark = d.log_mark();
    ns.ip(&["-6", "route", "del", "2001:db8:9::/64"]);
    d.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", "2001:db8:9::/64"), SHORT);
    d.reconcile();

    let text = metrics::fetch(&ns, ADDR);
    let s = metrics::parse(&text);
    let get = |name: &str, labels: &[(&str, &str)]| {
        value(&s, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in\n{text}"))
    };
    assert_eq!(get("guardian_routes_desired", &[("family", "ipv4")]), 2.0);
    assert_eq!(get("guardian_routes_desired", &[("family", "ipv6")]), 1.0);
    assert_eq!(get("guardian_routes_tracked", &[("family", "ipv4")]), 2.0);
    assert_eq!(get("guardian_routes_tracked", &[("family", "ipv6")]), 1.0);
    assert!(get("guardian_route_reinstalls_total", &[("family", "ipv6")]) >= 1.0);
    assert_eq!(get("guardian_reconcile_routes_checked", &[]), 3.0);
    assert!(get("guardian_reconcile_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(get("guardian_netlink_overruns_total", &[]), 0.0);
    assert_eq!(get("guardian_routes_damped", &[]), 0.0);
    let version = d.status()["version"].as_str().expect("version").to_owned();
    assert_eq!(get("guardian_build_info", &[("version", &version)]), 1.0);
    let info = s.iter().find(|s| s.name == "guardian_build_info").expect("build info");
    assert!(info.labels.get("revision").is_some_and(|r| !r.is_empty()), "no revision label: {info:?}");
    // A counter since the eBPF drop figure only grows (0 here: no flush).
    assert_eq!(get("guardian_attribution_drops_total", &[]), 0.0);
    // The process metrics every exporter has, about the daemon itself.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let started = get("process_start_time_seconds", &[]);
    assert!(started <= now + 1.0 && started > now - 600.0, "started at {started}, now {now}");
    assert!(get("process_open_fds", &[]) >= 3.0);
    assert!(get("process_max_fds", &[]) >= get("process_open_fds", &[]));
    assert!(get("process_resident_memory_bytes", &[]) > 1e6);
    assert!(get("process_virtual_memory_bytes", &[]) >= get("process_resident_memory_bytes", &[]));
    assert!(get("process_cpu_seconds_total", &[]) >= 0.0);
}

#[test]
fn metrics_can_be_turned_off() {
    require_netns!();
    let ns = Netns::with_link();
    let _d = Daemon::start(&ns, &Config::new().daemon("metrics_listen", "\"off\""));
    let r = metrics::http_get(&ns, "127.0.0.1:9469", "/metrics");
    assert!(r.is_err(), "metrics answered although off: {r:?}");
}
