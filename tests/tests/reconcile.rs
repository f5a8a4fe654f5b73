//! `guardian reconcile` runs a full cycle on demand and reports it.

use guardian_tests::ip;
use guardian_tests::netns::{Netns, DEV, GW4, GW6};
use guardian_tests::wait::SHORT;
use guardian_tests::{require_netns, Config, Daemon, RouteSpec};
use serde_json::Value;

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} is not a count in {v}"))
}

#[test]
fn reconcile_reports_every_configured_route_as_checked() {
    require_netns!();
    let ns = Netns::with_link();
    let specs = [
        RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV),
        RouteSpec::new("10.9.1.0/24").via(GW4).dev(DEV).table(100),
        RouteSpec::new("10.9.2.0/24").dev(DEV).table(101),
        RouteSpec::new("2001:db8:9::/64").via(GW6).dev(DEV),
    ];
    let d = Daemon::start(&ns, &Config::new().routes(specs.iter().cloned()));
    for s in &specs {
        ip::wait_installed(&ns, s, SHORT);
    }
    let r = d.reconcile();
    assert_eq!(count(&r, "checked"), specs.len() as u64, "{r}");
    assert_eq!(count(&r, "missing"), 0, "{r}");
    assert_eq!(count(&r, "repaired"), 0, "{r}");
    assert_eq!(count(&r, "failed"), 0, "{r}");
    let dur = r["duration_seconds"].as_f64().unwrap_or_else(|| panic!("duration_seconds: {r}"));
    // A cycle dumps the kernel's table: it takes time, and says how much.
    assert!(dur > 0.0, "{r}");
    // status reports the last cycle.
    let status = d.status();
    assert_eq!(status["last_reconcile"]["checked"], specs.len() as u64, "{status}");
    // A route without a gateway is installed with scope link on its device.
    let direct = ip::find(&ns, "10.9.2.0/24", "101").expect("10.9.2.0/24");
    assert_eq!(direct.gateway, None);
    assert_eq!(direct.dev.as_deref(), Some(DEV));
}

#[test]
fn reconcile_without_json_prints_something_and_succeeds() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::start(&ns, &Config::new().route(RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV)));
    for args in [&["reconcile"][..], &["status"], &["routes"]] {
        let out = d.cli(args);
        out.assert_no_panic();
        assert!(out.success(), "guardian {args:?}: {out:?}");
        assert!(!out.stdout.trim().is_empty(), "guardian {args:?} printed nothing: {out:?}");
    }
    // The text listing names the route and its source.
    let listing = d.cli(&["routes"]).stdout;
    let row = listing.lines().find(|l| l.starts_with("10.9.0.0/24")).unwrap_or_else(|| panic!("{listing}"));
    assert!(listing.lines().next().is_some_and(|h| h.contains("SOURCE")), "{listing}");
    assert!(row.split_whitespace().any(|w| w == "config"), "{listing}");
}

#[test]
fn status_json_has_every_contract_field() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::start(&ns, &Config::new().route(RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV)));
    d.reconcile();
    let s = d.status();
    assert!(s["version"].is_string(), "{s}");
    assert_eq!(s["pid"], d.pid(), "{s}");
    // Ready after an initial sync and a cycle: some time has passed.
    assert!(s["uptime_seconds"].as_f64().is_some_and(|u| u > 0.0), "{s}");
    assert_eq!(s["ready"], true, "{s}");
    assert!(s["config"].as_str().is_some_and(|c| c.ends_with("guardian.toml")), "{s}");
    for k in ["desired", "installed", "pending", "failed", "damped", "withdrawn"] {
        assert!(s["routes"][k].is_u64(), "routes.{k}: {s}");
    }
    assert_eq!(s["routes"]["desired"], 1, "{s}");
    assert!(s["reinstalls"].is_u64(), "{s}");
    assert!(s["overruns"].is_u64(), "{s}");
    for k in ["checked", "missing", "repaired", "failed"] {
        assert!(s["last_reconcile"][k].is_u64(), "last_reconcile.{k}: {s}");
    }
    assert!(s["last_reconcile"]["duration_seconds"].is_number(), "{s}");
}

#[test]
fn status_uptime_keeps_counting_between_reconcile_cycles() {
    require_netns!();
    // No link and no periodic scan: no event wakes the reconciler, which
    // therefore publishes no new status of its own.
    let ns = Netns::new();
    let d = Daemon::start(&ns, &Config::new().reconcile("interval", "\"0s\""));
    let first = d.status()["uptime_seconds"].as_f64().expect("uptime_seconds");
    guardian_tests::wait::until("uptime to advance by a second", SHORT, || {
        let now = d.status()["uptime_seconds"].as_f64().unwrap_or(0.0);
        if now >= first + 1.0 {
            Ok(())
        } else {
            Err(format!("uptime {now} s, first read {first} s"))
        }
    });
}

#[test]
fn embedded_default_config_runs_with_no_routes() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::builder(&ns).spawn();
    let s = d.wait_ready(guardian_tests::wait::LONG);
    assert_eq!(s["config"], "embedded default", "{s}");
    assert_eq!(s["routes"]["desired"], 0, "{s}");
    let start = d.wait_log("guardian starting", guardian_tests::msg("guardian starting"), SHORT);
    assert_eq!(start["config"], "embedded default", "{start}");
    assert_eq!(d.routes(), serde_json::json!([]));
}
