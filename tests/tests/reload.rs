//! SIGHUP and `guardian reload` reload the configuration: withdrawn routes
//! go (and stay gone), new ones are installed, unchanged ones are not
//! touched; a bad file keeps the old configuration. `guardian reload`
//! answers once the file is applied, or exits 2 with its error.

use guardian_tests::ip::{self, Family};
use guardian_tests::logs::{self, field, route_msg};
use guardian_tests::monitor::Monitor;
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::wait::SHORT;
use guardian_tests::{msg, require_netns, Config, Daemon, RouteSpec};

const RELOAD_FAILED: &str = "configuration reload failed, keeping the old configuration";

fn r(dst: &str) -> RouteSpec {
    RouteSpec::new(dst).via(GW4).dev(DEV).table(100)
}

#[test]
fn reload_withdraws_removed_routes_adds_new_ones_and_leaves_the_rest_untouched() {
    require_netns!();
    let ns = Netns::with_link();
    let (keep1, gone, keep2, new) = (r("10.9.1.0/24"), r("10.9.2.0/24"), r("10.9.3.0/24"), r("10.9.4.0/24"));
    let d = Daemon::start(&ns, &Config::new().routes([keep1.clone(), gone.clone(), keep2.clone()]));
    for s in [&keep1, &gone, &keep2] {
        ip::wait_installed(&ns, s, SHORT);
    }
    let mon = Monitor::start(&ns);
    let mon_mark = mon.sync(&ns);
    let mark = d.log_mark();
    d.write_config(&Config::new().routes([keep1.clone(), keep2.clone(), new.clone()]));
    d.sighup();
    let line = d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    assert_eq!(logs::field_u64(&line, "added"), Some(1), "{line}");
    assert_eq!(logs::field_u64(&line, "removed"), Some(1), "{line}");
    assert_eq!(logs::field_u64(&line, "unchanged"), Some(2), "{line}");
    ip::wait_installed(&ns, &new, SHORT);
    ip::wait_absent(&ns, &gone.dst, "100", SHORT);
    // Not resurrected by a full cycle either.
    let rec = d.reconcile();
    assert_eq!(rec["checked"], 3, "{rec}");
    assert!(ip::find(&ns, &gone.dst, "100").is_none(), "withdrawn route came back after reconcile");
    assert!(
        d.logs().find_from(mark, &route_msg("route reinstalled", &gone.dst)).is_none(),
        "withdrawn route was reinstalled"
    );
    // The unchanged routes saw no delete/add at all.
    mon.sync(&ns);
    for s in [&keep1, &keep2] {
        let touched = mon.mentioning(mon_mark, &s.dst);
        assert!(touched.is_empty(), "unchanged route {} was touched: {touched:?}", s.dst);
        ip::wait_installed(&ns, s, SHORT);
    }
    assert_eq!(
        ip::dsts_with_protocol(&ns, Family::V4, "100", ip::PROTO_GUARDIAN).len(),
        3,
        "{:?}",
        ip::routes(&ns, Family::V4, "100")
    );
    let status = d.status();
    assert_eq!(status["routes"]["desired"], 3, "{status}");
}

#[test]
fn bad_file_on_reload_keeps_the_old_configuration() {
    require_netns!();
    let ns = Netns::with_link();
    let (a, b) = (r("10.9.1.0/24"), r("10.9.2.0/24"));
    let d = Daemon::start(&ns, &Config::new().routes([a.clone(), b.clone()]));
    ip::wait_installed(&ns, &a, SHORT);
    ip::wait_installed(&ns, &b, SHORT);

    let bad_files = [
        // Not TOML at all.
        "this is [[[ not toml\n".to_owned(),
        // Valid TOML, invalid configuration: only route `a`, via the wrong family.
        format!("[[route]]\ndst = \"10.9.1.0/24\"\nvia = \"{GW4}\"\ntable = 100\n\n[[route]]\ndst = \"2001:db8:9::/64\"\nvia = \"{GW4}\"\n"),
    ];
    for bad in &bad_files {
        let mark = d.log_mark();
        d.write_config_text(bad);
        d.sighup();
        let line = d.wait_log_from(mark, RELOAD_FAILED, msg(RELOAD_FAILED), SHORT);
        assert_eq!(line["level"], "ERROR", "{line}");
        assert!(field(&line, "error").is_some_and(|e| !e.is_empty()), "no error field: {line}");
        // Still guarding both old routes.
        ip::wait_installed(&ns, &a, SHORT);
        ip::wait_installed(&ns, &b, SHORT);
        assert!(ip::find(&ns, "2001:db8:9::/64", "main").is_none());
        ns.ip(&["route", "del", &b.dst, "table", "100"]);
        d.wait_log_from(mark, "route reinstalled (old config)", route_msg("route reinstalled", &b.dst), SHORT);
        ip::wait_installed(&ns, &b, SHORT);
        assert_eq!(d.status()["routes"]["desired"], 2);
    }

    // A good file after the bad ones is applied.
    let mark = d.log_mark();
    d.write_config(&Config::new().route(a.clone()));
    d.sighup();
    let line = d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    assert_eq!(logs::field_u64(&line, "removed"), Some(1), "{line}");
    ip::wait_absent(&ns, &b.dst, "100", SHORT);
    ip::wait_installed(&ns, &a, SHORT);
}

#[test]
fn reload_that_changes_a_gateway_moves_the_route() {
    require_netns!();
    let ns = Netns::with_link();
    let before = r("10.9.1.0/24");
    let after = RouteSpec::new("10.9.1.0/24").via(guardian_tests::netns::GW4_OTHER).dev(DEV).table(100);
    let d = Daemon::start(&ns, &Config::new().route(before.clone()));
    ip::wait_installed(&ns, &before, SHORT);
    let mark = d.log_mark();
    d.write_config(&Config::new().route(after.clone()));
    d.sighup();
    d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    ip::wait_installed(&ns, &after, SHORT);
    // And the new one is what is guarded now.
    let rec = d.reconcile();
    assert_eq!(rec["missing"], 0, "{rec}");
    let r = ip::find(&ns, "10.9.1.0/24", "100").expect("route");
    assert!(r.is_installed(&after), "{r:?}");
    let mark = d.log_mark();
    ns.ip(&["route", "del", "10.9.1.0/24", "table", "100"]);
    d.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", "10.9.1.0/24"), SHORT);
    ip::wait_installed(&ns, &after, SHORT);
}

#[test]
fn route_added_by_reload_in_a_new_table_is_guarded() {
    require_netns!();
    let ns = Netns::with_link();
    let old = r("10.9.1.0/24");
    let new = RouteSpec::new("10.9.2.0/24").via(GW4).dev(DEV).table(200);
    let new6 = RouteSpec::new("2001:db8:9::/64").via("2001:db8::2").dev(DEV).table(201);
    let d = Daemon::start(&ns, &Config::new().route(old.clone()));
    ip::wait_installed(&ns, &old, SHORT);
    let mark = d.log_mark();
    d.write_config(&Config::new().routes([old.clone(), new.clone(), new6.clone()]));
    d.sighup();
    let line = d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    assert_eq!(logs::field_u64(&line, "added"), Some(2), "{line}");
    for spec in [&new, &new6] {
        ip::wait_installed(&ns, spec, SHORT);
        let mark = d.log_mark();
        let fam = if spec.dst.contains(':') { "-6" } else { "-4" };
        ns.ip(&[fam, "route", "del", &spec.dst, "table", &spec.table_arg()]);
        let line = d.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", &spec.dst), SHORT);
        assert_eq!(field(&line, "noticed").as_deref(), Some("event"), "{line}");
        ip::wait_installed(&ns, spec, SHORT);
    }
}

#[test]
fn many_reloads_in_a_row_leave_a_consistent_state() {
    require_netns!();
    let ns = Netns::with_link();
    let (a, b) = (r("10.9.1.0/24"), r("10.9.2.0/24"));
    let d = Daemon::start(&ns, &Config::new().routes([a.clone(), b.clone()]));
    ip::wait_installed(&ns, &a, SHORT);
    // Alternate between {a, b} and {a}, ending on {a}.
    for i in 0..20 {
        let config =
            if i % 2 == 0 { Config::new().route(a.clone()) } else { Config::new().routes([a.clone(), b.clone()]) };
        d.write_config(&config);
        d.sighup();
    }
    d.write_config(&Config::new().route(a.clone()));
    let mark = d.log_mark();
    d.sighup();
    d.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    guardian_tests::wait::until("status to show one desired route", SHORT, || {
        let s = d.status();
        if s["routes"]["desired"] == 1 && s["routes"]["installed"] == 1 {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });
    ip::wait_absent(&ns, &b.dst, "100", SHORT);
    ip::wait_installed(&ns, &a, SHORT);
    let rec = d.reconcile();
    assert_eq!(rec["checked"], 1, "{rec}");
    assert!(ip::find(&ns, &b.dst, "100").is_none(), "withdrawn route came back");
}

#[test]
fn reload_command_answers_once_the_new_file_is_applied() {
    require_netns!();
    let ns = Netns::with_link();
    let (keep, gone, new) = (r("10.9.1.0/24"), r("10.9.2.0/24"), r("10.9.3.0/24"));
    let d = Daemon::start(&ns, &Config::new().routes([keep.clone(), gone.clone()]));
    ip::wait_installed(&ns, &gone, SHORT);
    d.write_config(&Config::new().routes([keep.clone(), new.clone()]));
    let out = d.cli(&["reload"]);
    assert!(out.success(), "{out:?}");
    assert!(out.stdout.contains("1 route added, 1 removed, 0 changed, 1 unchanged"), "{out:?}");
    // Already done when the command returns: no waiting.
    assert!(ip::find(&ns, &new.dst, "100").is_some_and(|k| k.is_installed(&new)), "new route not installed yet");
    assert!(ip::find(&ns, &gone.dst, "100").is_none(), "removed route still there");
    // --json: the same counts.
    d.write_config(&Config::new().route(keep.clone()));
    let json = d.cli_json(&["reload", "--json"]);
    assert_eq!((json["removed"].as_u64(), json["unchanged"].as_u64()), (Some(1), Some(1)), "{json}");
    assert!(ip::find(&ns, &new.dst, "100").is_none(), "removed route still there");
}

#[test]
fn reload_command_with_a_bad_file_exits_2_naming_the_line_and_keeps_the_old_routes() {
    require_netns!();
    let ns = Netns::with_link();
    let (a, b) = (r("10.9.1.0/24"), r("10.9.2.0/24"));
    let d = Daemon::start(&ns, &Config::new().routes([a.clone(), b.clone()]));
    ip::wait_installed(&ns, &b, SHORT);
    // Line 8: an IPv6 route via an IPv4 gateway.
    d.write_config_text(&format!(
        "[[route]]\ndst = \"10.9.1.0/24\"\nvia = \"{GW4}\"\ntable = 100\n\n[[route]]\ndst = \"2001:db8:9::/64\"\nvia = \"{GW4}\"\n"
    ));
    let mark = d.log_mark();
    let out = d.cli(&["reload"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.starts_with("error: "), "{out:?}");
    assert!(out.stderr.contains("line 8"), "the error names the line: {out:?}");
    assert!(out.stderr.contains("the old configuration keeps running"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "one line: {out:?}");
    d.wait_log_from(mark, RELOAD_FAILED, msg(RELOAD_FAILED), SHORT);
    // Both old routes are still guarded.
    ns.ip(&["route", "del", &b.dst, "table", "100"]);
    d.wait_log_from(mark, "route reinstalled (old config)", route_msg("route reinstalled", &b.dst), SHORT);
    ip::wait_installed(&ns, &b, SHORT);
    ip::wait_installed(&ns, &a, SHORT);
    assert_eq!(d.status()["routes"]["desired"], 2);
    // A file that is gone is a configuration error too.
    std::fs::remove_file(d.dir().path().join("guardian.toml")).unwrap();
    let out = d.cli(&["reload"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("cannot read configuration"), "{out:?}");
}

#[test]
fn reload_command_on_the_embedded_default_says_there_is_no_file() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::builder(&ns).spawn();
    d.wait_ready(guardian_tests::wait::LONG);
    let out = d.cli(&["reload"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("embedded default configuration") && out.stderr.contains("--config"), "{out:?}");
    // SIGHUP is refused the same way, and the daemon runs on.
    let mark = d.log_mark();
    d.sighup();
    d.wait_log_from(
        mark,
        "reload refused",
        |v| logs::message(v).is_some_and(|m| m.contains("embedded default")),
        SHORT,
    );
    assert_eq!(d.status()["ready"], true);
}
