//! Route liveness end to end: two guardians in two namespaces joined by a
//! veth pair speak real UDP to each other, and their sessions decide which
//! routes are in the kernel (docs/liveness.md).
//!
//! Every wait polls a condition (a session's state, a kernel route, a log
//! line) with a generous deadline: nothing here measures how fast a
//! session converges (that is `cargo xtask bench`). The two-minute loss
//! soak is in `liveness_soak.rs`, a binary of its own.

use std::time::Duration;

use guardian_tests::ip;
use guardian_tests::logs;
use guardian_tests::metrics;
use guardian_tests::monitor::Monitor;
use guardian_tests::nft::Rule;
use guardian_tests::pair::{base_config, Pair, Side};
use guardian_tests::sessions::{self, state};
use guardian_tests::wait::{self, LONG, SHORT};
use guardian_tests::{msg, require_netns, require_tool, Config, Daemon, RouteSpec};

/// Deadline for a session to reach a state: the `bfd` handshake runs at 1 s
/// until Up, detection is 300 ms once Up; the machines are noisy.
const CONVERGE: Duration = SHORT;

/// Drops every `bfd` control packet arriving in a namespace.
const DROP_BFD: &str = "udp dport 3784";

/// The value of a metric (summed over the samples matching `labels`), 0
/// when no sample matches: a labelled counter appears on its first use.
fn metric(side: &Side, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics::value(&side.metrics(), name, labels).unwrap_or(0.0)
}

/// Starts `a` and `b`, waits until their sessions with each other are Up
/// and the routes of both configurations are installed.
fn start_up(pair: &Pair, a: &Config, b: &Config) -> (Daemon, Daemon) {
    let da = pair.a.start(a);
    let db = pair.b.start(b);
    sessions::wait_state(&da, pair.a.peer, "up", CONVERGE);
    sessions::wait_state(&db, pair.b.peer, "up", CONVERGE);
    for (side, config) in [(&pair.a, a), (&pair.b, b)] {
        for r in &config.routes {
            ip::wait_installed(&side.ns, r, CONVERGE);
        }
    }
    (da, db)
}

/// [`Side::config`] at the default 1 s intervals (3 s detection) instead of
/// 100 ms, for tests that assert why the *peer* went down or that a route
/// never left: at 100 ms a daemon starved of CPU for a few hundred
/// milliseconds (a loaded 2-core machine) times out before the packet that
/// should have told it, and the test would fail for the wrong reason.
fn one_second(side: &Side) -> Config {
    side.config().liveness("desired_tx", "\"1s\"").liveness("required_rx", "\"1s\"")
}

fn installed(side: &Side, route: &RouteSpec) -> bool {
    ip::find(&side.ns, &route.dst, &route.table_arg()).is_some_and(|r| r.is_installed(route))
}

/// Lines of `mon` from `mark` on that delete `dst`.
fn deletions(mon: &Monitor, mark: usize, dst: &str) -> Vec<String> {
    mon.mentioning(mark, dst).into_iter().filter(|l| l.starts_with("Deleted")).collect()
}

#[test]
fn two_guardians_bring_their_sessions_up_and_install_the_routes() {
    require_netns!();
    let pair = Pair::new();
    // Two IPv4 routes via the same next hop share one session; the IPv6
    // route has a session of its own.
    let a_routes = [pair.a.route(0), pair.a.route(1), pair.a.route6()];
    let a_config = base_config().routes(a_routes.iter().cloned());
    let b_config = base_config().route(pair.b.route(0)).route(pair.b.route6());

    let da = pair.a.start(&a_config);
    // Alone, A hears nobody: its sessions stay down and, in active mode,
    // routes never installed are not installed.
    for peer in [pair.a.peer, pair.a.peer6] {
        let s = sessions::get(&da, peer);
        assert_eq!(state(&s), "down", "{s}");
        assert_eq!(s["remote_discriminator"], 0, "{s}");
    }
    for r in &a_routes {
        assert!(ip::find(&pair.a.ns, &r.dst, "main").is_none(), "{} installed without a session Up", r.dst);
    }

    let db = pair.b.start(&b_config);
    for (d, side) in [(&da, &pair.a), (&db, &pair.b)] {
        for peer in [side.peer, side.peer6] {
            sessions::wait_state(d, peer, "up", CONVERGE);
        }
    }
    for r in &a_routes {
        ip::wait_installed(&pair.a.ns, r, CONVERGE);
    }
    for r in &b_config.routes {
        ip::wait_installed(&pair.b.ns, r, CONVERGE);
    }

    // What `guardian sessions --json` says about them.
    assert_eq!(sessions::list(&da).len(), 2, "{:?}", sessions::list(&da));
    for (peer, local, routes) in [(pair.a.peer, pair.a.addr, 2), (pair.a.peer6, pair.a.addr6, 1)] {
        let s = sessions::get(&da, peer);
        assert_eq!(s["profile"], "bfd", "{s}");
        assert_eq!(s["local"], local, "{s}");
        assert_eq!(s["interface"], pair.a.dev, "{s}");
        assert_eq!(s["routes"], routes, "{s}");
        assert_eq!(s["in_grace"], false, "{s}");
        // Each knows the other by the discriminator the other chose (polled:
        // a flap on a loaded machine resets the remote discriminator).
        wait::until(&format!("A and B know each other's discriminator ({peer})"), CONVERGE, || {
            let (s, theirs) = (sessions::get(&da, peer), sessions::get(&db, local));
            let known = s["remote_discriminator"] == theirs["local_discriminator"]
                && theirs["remote_discriminator"] == s["local_discriminator"];
            if known && state(&s) == "up" {
                Ok(())
            } else {
                Err(format!("A: {s}\nB: {theirs}"))
            }
        });
    }
    // Once Up, a Poll sequence moves both to the configured 100 ms: 300 ms
    // detection (the peer's multiplier 3 x 100 ms).
    sessions::wait(&da, pair.a.peer, "detection time 300ms", CONVERGE, |s| {
        (sessions::number(s, "detect_time_seconds") - 0.3).abs() < 1e-6
    });

    wait::until("the sessions gauge of A: 2 up", CONVERGE, || {
        match metric(&pair.a, "guardian_liveness_sessions", &[("state", "up")]) {
            2.0 => Ok(()),
            n => Err(format!("{n} up")),
        }
    });
    assert!(metric(&pair.a, "guardian_liveness_route_installs_total", &[]) >= 3.0);
}

#[test]
fn dropping_control_packets_one_way_withdraws_on_both_sides_until_they_flow_again() {
    require_netns!();
    require_tool!("nft");
    let pair = Pair::new();
    let (ra, rb) = (pair.a.route(0), pair.b.route(0));
    let (da, db) = start_up(&pair, &one_second(&pair.a), &one_second(&pair.b));
    assert!(installed(&pair.a, &ra) && installed(&pair.b, &rb), "routes not installed before the cut");

    // A hears nothing from B any more; B still hears A.
    let rule = Rule::drop_input(&pair.a.ns, DROP_BFD);
    let sa = sessions::wait(&da, pair.a.peer, "down after a timeout", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "timeout"
    });
    // B learns it from A's Down (then sits in Init: it hears A's Down packets).
    let sb = sessions::wait(&db, pair.b.peer, "not up, told by the peer", CONVERGE, |s| {
        state(s) != "up" && s["last_down_reason"] == "remote_down"
    });
    ip::wait_absent(&pair.a.ns, &ra.dst, "main", CONVERGE);
    ip::wait_absent(&pair.b.ns, &rb.dst, "main", CONVERGE);
    assert!(rule.packets(&pair.a.ns) > 0, "the rule dropped nothing: A {sa}\nB {sb}");
    let down = |side: &Side, reason: &str| {
        metric(side, "guardian_liveness_transitions_total", &[("from", "up"), ("to", "down"), ("reason", reason)])
    };
    assert!(down(&pair.a, "timeout") >= 1.0);
    assert!(down(&pair.b, "remote_down") >= 1.0);
    assert!(metric(&pair.a, "guardian_liveness_route_withdraws_total", &[]) >= 1.0);
    assert!(metric(&pair.b, "guardian_liveness_route_withdraws_total", &[]) >= 1.0);

    rule.remove(&pair.a.ns);
    sessions::wait_state(&da, pair.a.peer, "up", CONVERGE);
    sessions::wait_state(&db, pair.b.peer, "up", CONVERGE);
    ip::wait_installed(&pair.a.ns, &ra, CONVERGE);
    ip::wait_installed(&pair.b.ns, &rb, CONVERGE);
}

#[test]
fn passive_mode_installs_at_registration_and_never_withdraws() {
    require_netns!();
    let pair = Pair::new();
    let route = pair.a.route(0);
    let mon = Monitor::start(&pair.a.ns);
    let mark = mon.sync(&pair.a.ns);
    let da = pair.a.start(&pair.a.config().liveness("mode", "\"passive\""));

    // Installed with no peer at all (B runs no guardian yet), at once: not
    // at the end of the start-up grace (6 s here), as an active session's
    // adopted route would be kept and then withdrawn.
    ip::wait_installed(&pair.a.ns, &route, CONVERGE);
    let installed_mark = da.log_mark();
    let s = sessions::get(&da, pair.a.peer);
    assert_eq!(state(&s), "down", "{s}");
    assert_eq!(s["remote_discriminator"], 0, "a peer answered? {s}");
    // Still there once the start-up grace is over; and the grace ended
    // after the route was seen installed (in the daemon's own log order,
    // not by the clock): it did not wait for the grace.
    da.wait_log_from(
        installed_mark,
        "start-up grace over, after the route was installed",
        msg("liveness session not up after its start-up grace; routes follow its state"),
        CONVERGE,
    );
    assert!(installed(&pair.a, &route), "passive route gone after the start-up grace");

    // The peer comes, and goes for good.
    let db = pair.b.start(&pair.b.config());
    sessions::wait_state(&da, pair.a.peer, "up", CONVERGE);
    sessions::wait_state(&db, pair.b.peer, "up", CONVERGE);
    db.sigkill();
    db.wait_exit(SHORT);
    sessions::wait(&da, pair.a.peer, "down after a timeout for a second", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "timeout" && sessions::number(s, "state_seconds") >= 1.0
    });
    assert!(installed(&pair.a, &route), "passive route withdrawn when the peer went away");
    mon.sync(&pair.a.ns);
    let deleted = deletions(&mon, mark, &route.dst);
    assert!(deleted.is_empty(), "passive route deleted at some point: {deleted:?}");
    assert_eq!(metric(&pair.a, "guardian_liveness_route_withdraws_total", &[]), 0.0);
}

#[test]
fn a_restarted_guardian_keeps_healthy_routes_installed() {
    require_netns!();
    let pair = Pair::new();
    let route = pair.a.route(0);
    // The start-up grace at 1 s intervals: 3 x 1 s + 3 x 1 s.
    let grace = 6.0;
    let a_config = one_second(&pair.a);
    let (first, db) = start_up(&pair, &a_config, &one_second(&pair.b));
    let old = sessions::get(&first, pair.a.peer);

    let mon = Monitor::start(&pair.a.ns);
    let mark = mon.sync(&pair.a.ns);
    first.sigterm();
    let status = first.wait_exit(SHORT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    let second = Daemon::builder(&pair.a.ns).dir(first.dir()).config(&a_config).spawn();
    let sync = second.wait_log("initial sync complete", msg("initial sync complete"), LONG);
    assert_eq!(logs::field_u64(&sync, "adopted"), Some(1), "{sync}");
    assert_eq!(logs::field_u64(&sync, "installed"), Some(0), "{sync}");
    second.wait_ready(SHORT);

    let new = sessions::wait_state(&second, pair.a.peer, "up", CONVERGE);
    assert_ne!(new["local_discriminator"], old["local_discriminator"], "old {old}\nnew {new}");
    sessions::wait(&db, pair.b.peer, "up with A's new discriminator", CONVERGE, |s| {
        state(s) == "up" && s["remote_discriminator"] == new["local_discriminator"]
    });
    // Past the start-up grace, when an adopted route whose session had not
    // come Up would be withdrawn: the new session has been Up longer than
    // that. (Not `status`'s uptime_seconds: it is as of the last status
    // change, not of the request.)
    sessions::wait(&second, pair.a.peer, &format!("up for more than the {grace} s grace"), CONVERGE, |s| {
        state(s) == "up" && sessions::number(s, "uptime_seconds") > grace
    });
    mon.sync(&pair.a.ns);
    let deleted = deletions(&mon, mark, &route.dst);
    assert!(deleted.is_empty(), "the restart deleted {}: {deleted:?}", route.dst);
    assert!(installed(&pair.a, &route), "{} not installed after the restart", route.dst);
}

/// Kill -9 B, start it again (a new discriminator): A goes Down (B is
/// silent for longer than the detection time) and comes back Up with B's
/// new discriminator. In `doublezero` A keeps the old peer discriminator
/// after the timeout, so it must adopt the new one from B's packets.
fn a_restarted_peer_is_re_established(profile: &str) {
    let pair = Pair::new();
    let (ra, rb) = (pair.a.route(0), pair.b.route(0));
    let config = |side: &Side| {
        base_config()
            .liveness("profile", &format!("\"{profile}\""))
            .liveness("backoff_max", "\"1s\"")
            .route(side.route(0))
    };
    let b_config = config(&pair.b);
    let (da, first_b) = start_up(&pair, &config(&pair.a), &b_config);
    let old_b = sessions::get(&first_b, pair.b.peer);

    first_b.sigkill();
    first_b.wait_exit(SHORT);
    // Silence: A times out and withdraws (kill -9 sent no AdminDown).
    sessions::wait(&da, pair.a.peer, "down after a timeout", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "timeout"
    });
    ip::wait_absent(&pair.a.ns, &ra.dst, "main", CONVERGE);

    let second_b = Daemon::builder(&pair.b.ns).dir(first_b.dir()).config(&b_config).spawn();
    second_b.wait_ready(LONG);
    let new_b = sessions::wait_state(&second_b, pair.b.peer, "up", CONVERGE);
    assert_ne!(new_b["local_discriminator"], old_b["local_discriminator"], "old {old_b}\nnew {new_b}");
    sessions::wait(&da, pair.a.peer, "up with B's new discriminator", CONVERGE, |s| {
        state(s) == "up" && s["remote_discriminator"] == new_b["local_discriminator"]
    });
    ip::wait_installed(&pair.a.ns, &ra, CONVERGE);
    ip::wait_installed(&pair.b.ns, &rb, CONVERGE);
}

#[test]
fn a_restarted_bfd_peer_with_a_new_discriminator_is_re_established() {
    require_netns!();
    a_restarted_peer_is_re_established("bfd");
}

#[test]
fn a_restarted_doublezero_peer_with_a_new_discriminator_is_re_established() {
    require_netns!();
    a_restarted_peer_is_re_established("doublezero");
}

#[test]
fn admin_down_withdraws_and_the_peer_sees_admin_down() {
    require_netns!();
    let pair = Pair::new();
    let (ra, rb) = (pair.a.route(0), pair.b.route(0));
    let a_config = one_second(&pair.a).liveness("per_peer_metrics", "true");
    let (da, db) = start_up(&pair, &a_config, &one_second(&pair.b));
    assert!(installed(&pair.a, &ra) && installed(&pair.b, &rb), "routes not installed before admin-down");
    wait_peer_state(&pair.a, "up");

    // A peer without a session is an error, not a silent no-op.
    let out = da.cli(&["admin-down", "192.0.2.99"]);
    out.assert_no_panic();
    assert!(!out.success(), "admin-down of an unknown peer succeeded: {out:?}");

    let out = da.cli(&["admin-down", pair.a.peer]);
    out.assert_no_panic();
    assert!(out.success(), "{out:?}");
    let sa = sessions::wait_state(&da, pair.a.peer, "admin_down", CONVERGE);
    assert_eq!(sa["last_down_reason"], "admin_down", "{sa}");
    wait_peer_state(&pair.a, "admin_down");
    ip::wait_absent(&pair.a.ns, &ra.dst, "main", CONVERGE);
    sessions::wait(&db, pair.b.peer, "down, told by the peer's AdminDown", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "remote_admin"
    });
    ip::wait_absent(&pair.b.ns, &rb.dst, "main", CONVERGE);
    let remote_admin = [("from", "up"), ("to", "down"), ("reason", "remote_admin")];
    assert_eq!(metric(&pair.b, "guardian_liveness_transitions_total", &remote_admin), 1.0);

    let out = da.cli(&["admin-up", pair.a.peer]);
    out.assert_no_panic();
    assert!(out.success(), "{out:?}");
    sessions::wait_state(&da, pair.a.peer, "up", CONVERGE);
    sessions::wait_state(&db, pair.b.peer, "up", CONVERGE);
    ip::wait_installed(&pair.a.ns, &ra, CONVERGE);
    ip::wait_installed(&pair.b.ns, &rb, CONVERGE);
    wait_peer_state(&pair.a, "up");
}

/// Waits until `guardian_liveness_peer_state` of the session with the
/// side's peer is 1 for `state` and 0 for each other state (per-peer
/// metrics on).
fn wait_peer_state(side: &Side, state: &str) {
    wait::until(&format!("guardian_liveness_peer_state of {} says {state}", side.peer), CONVERGE, || {
        let text = side.metrics();
        let mut seen = Vec::new();
        for s in ["admin_down", "down", "init", "up"] {
            let labels = [("peer", side.peer), ("interface", side.dev), ("state", s)];
            let value = metrics::value(&text, "guardian_liveness_peer_state", &labels);
            seen.push(format!("{s}={value:?}"));
            if value != Some(if s == state { 1.0 } else { 0.0 }) {
                return Err(seen.join(" "));
            }
        }
        Ok(())
    });
}

#[test]
fn doublezero_profile_with_destination_liveness_keeps_a_host_route_to_the_peer() {
    require_netns!();
    require_tool!("nft");
    let pair = Pair::new();
    // Down, the doublezero profile backs off up to backoff_max: keep it short
    // so the session comes back soon after the cut.
    let config = |side: &Side| {
        base_config().liveness("profile", "\"doublezero\"").liveness("backoff_max", "\"1s\"").route(side.host_route())
    };
    let (ha, hb) = (pair.a.host_route(), pair.b.host_route());
    let (da, db) = start_up(&pair, &config(&pair.a), &config(&pair.b));
    assert!(installed(&pair.a, &ha) && installed(&pair.b, &hb), "host routes not installed");

    let version = da.status()["version"].as_str().expect("status has a version").to_owned();
    let s = sessions::get(&da, pair.a.peer);
    assert_eq!(s["profile"], "doublezero", "{s}");
    assert_eq!(s["routes"], 1, "{s}");
    // Only the doublezero packet carries the sender's mode and version.
    assert_eq!(s["peer_mode"], "active", "{s}");
    assert_eq!(s["peer_version"], format!("{version} other").as_str(), "{s}");

    // The sessions run on 44880: cutting that port takes them down.
    let rule = Rule::drop_input(&pair.a.ns, "udp dport 44880");
    sessions::wait(&da, pair.a.peer, "down after a timeout", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "timeout"
    });
    sessions::wait(&db, pair.b.peer, "not up", CONVERGE, |s| state(s) != "up");
    ip::wait_absent(&pair.a.ns, &ha.dst, "main", CONVERGE);
    ip::wait_absent(&pair.b.ns, &hb.dst, "main", CONVERGE);
    assert!(rule.packets(&pair.a.ns) > 0, "nothing arrived on 44880");

    rule.remove(&pair.a.ns);
    sessions::wait_state(&da, pair.a.peer, "up", CONVERGE);
    sessions::wait_state(&db, pair.b.peer, "up", CONVERGE);
    ip::wait_installed(&pair.a.ns, &ha, CONVERGE);
    ip::wait_installed(&pair.b.ns, &hb, CONVERGE);
}

#[test]
fn a_route_whose_session_is_down_is_not_repaired() {
    require_netns!();
    require_tool!("nft");
    let pair = Pair::new();
    let route = pair.a.route(0);
    let (da, _db) = start_up(&pair, &pair.a.config(), &pair.b.config());
    assert!(installed(&pair.a, &route), "route not installed before the cut");

    let _rule = Rule::drop_input(&pair.a.ns, DROP_BFD);
    sessions::wait(&da, pair.a.peer, "down after a timeout", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "timeout"
    });
    ip::wait_absent(&pair.a.ns, &route.dst, "main", CONVERGE);

    // A full cycle leaves it out: it is withdrawn, not lost.
    let r = da.reconcile();
    assert_eq!(r["checked"], 1, "{r}");
    assert_eq!(r["repaired"], 0, "{r}");
    assert!(ip::find(&pair.a.ns, &route.dst, "main").is_none(), "a reconcile put back a withdrawn route: {r}");
    let listed = da.routes();
    let entry = listed
        .as_array()
        .and_then(|all| all.iter().find(|e| e["dst"] == route.dst.as_str()))
        .unwrap_or_else(|| panic!("{} not in routes --json: {listed}", route.dst));
    assert_eq!(entry["state"], "withdrawn", "{entry}");
    assert_eq!(da.status()["routes"]["withdrawn"], 1);

    // Someone puts it back as guardian would (its protocol, its attributes):
    // the next scan takes it out again.
    let via = route.via.as_deref().expect("route has a gateway");
    pair.a.ns.ip(&["route", "add", &route.dst, "via", via, "dev", pair.a.dev, "proto", ip::PROTO_GUARDIAN]);
    assert!(installed(&pair.a, &route), "the test's add did not look like guardian's route");
    let mark = da.log_mark();
    da.reconcile();
    assert!(ip::find(&pair.a.ns, &route.dst, "main").is_none(), "a scan left a route whose session is down");
    let line = da.wait_log_from(
        mark,
        "gated route withdrawn again",
        msg("routes whose liveness session is down were back in the kernel; withdrawn again"),
        SHORT,
    );
    assert_eq!(logs::field_u64(&line, "routes"), Some(1), "{line}");
    assert_eq!(sessions::get(&da, pair.a.peer)["state"], "down");
}

/// Whether a process could bind UDP `port` on the IPv4 wildcard in `side`'s
/// namespace now (guardian binds it without reuse: exclusive while held).
fn port_free(side: &Side, port: u16) -> bool {
    side.ns.run_in(move || std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok())
}

#[test]
fn a_reload_opens_the_port_for_the_first_liveness_route_and_frees_it_after_the_last() {
    require_netns!();
    let pair = Pair::new();
    let plain = RouteSpec::new("10.20.9.0/24").via(pair.a.peer).dev(pair.a.dev);
    let without = base_config().route(plain.clone());
    let da = pair.a.start(&without);
    let db = pair.b.start(&one_second(&pair.b));
    assert!(port_free(&pair.a, 3784), "guardian holds 3784 without a liveness route");

    // The first liveness route: the port opens, the session comes Up.
    let mark = da.log_mark();
    da.write_config(&one_second(&pair.a).route(plain.clone()));
    da.sighup();
    da.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    sessions::wait_state(&da, pair.a.peer, "up", CONVERGE);
    ip::wait_installed(&pair.a.ns, &pair.a.route(0), CONVERGE);
    assert!(!port_free(&pair.a, 3784), "3784 not held while a route needs it");

    // The last one goes: the session ends with an AdminDown to the peer,
    // then the port is free again.
    let mark = da.log_mark();
    da.write_config(&without);
    da.sighup();
    da.wait_log_from(mark, "configuration reloaded", msg("configuration reloaded"), SHORT);
    sessions::wait(&db, pair.b.peer, "down, told by A's farewell", CONVERGE, |s| {
        state(s) == "down" && s["last_down_reason"] == "remote_admin"
    });
    wait::until("3784 free again in A", SHORT, || if port_free(&pair.a, 3784) { Ok(()) } else { Err("held".into()) });
    ip::wait_installed(&pair.a.ns, &plain, SHORT);
}
