//! The `doublezero` profile against a peer that behaves like doublezerod
//! (`guardian_tests::doublezerod`, written from doublezerod's public source):
//! both come Up, and after guardian restarts with a new discriminator, while
//! the peer keeps naming the old one, they meet again without the route
//! guardian adopted ever leaving the kernel.
//!
//! ```text
//!   namespace G (guardian)                    namespace P (doublezerod-like peer)
//!   va  192.0.2.1/24  <------- veth ------->  vb  192.0.2.2/24
//!   10.9.0.0/24 via 192.0.2.2, liveness = "nexthop", UDP 44880 both ways
//! ```
//!
//! At the default 1 s intervals: the start-up grace (3 s detection + 3 TX)
//! leaves seconds of room for the handshake on a loaded machine.

use std::net::Ipv4Addr;

use guardian_tests::doublezerod::{self, Doublezerod};
use guardian_tests::monitor::Monitor;
use guardian_tests::netns::{Netns, ADDR4, DEV, GW4, PEER};
use guardian_tests::sessions::{self, state};
use guardian_tests::wait::{self, LONG, SHORT};
use guardian_tests::{ip, logs, metrics, msg, require_netns, Config, Daemon, RouteSpec};

fn route() -> RouteSpec {
    RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV).liveness("nexthop")
}

fn config() -> Config {
    Config::new()
        .attribution("mode", "\"off\"")
        .daemon("metrics_listen", "\"127.0.0.1:9469\"")
        .liveness("profile", "\"doublezero\"")
        .route(route())
}

fn addr(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Waits until the peer is Up and names `discriminator`.
fn wait_peer_up(peer: &Doublezerod, discriminator: u64) -> doublezerod::View {
    wait::until(&format!("the doublezerod peer Up, naming {discriminator}"), SHORT, || {
        let v = peer.view();
        if v.state == doublezerod::State::Up && u64::from(v.peer) == discriminator {
            Ok(v)
        } else {
            Err(format!("{v:?}"))
        }
    })
}

#[test]
fn a_restarted_guardian_meets_a_doublezerod_peer_that_keeps_its_old_discriminator() {
    require_netns!();
    let (g, p) = (Netns::new(), Netns::new());
    g.veth_to(DEV, &p, PEER);
    g.addr_add(DEV, &format!("{ADDR4}/24"));
    p.addr_add(PEER, &format!("{GW4}/24"));
    let peer = Doublezerod::start(&p, addr(GW4), addr(ADDR4), std::time::Duration::from_secs(1));

    let first = Daemon::start(&g, &config());
    let old = sessions::wait_state(&first, GW4, "up", SHORT);
    assert_eq!(old["remote_discriminator"], u64::from(peer.view().local), "{old}");
    let ours = old["local_discriminator"].as_u64().expect("a discriminator");
    wait_peer_up(&peer, ours);
    ip::wait_installed(&g, &route(), SHORT);

    // Up for longer than a detection time, so that the peer takes the new
    // guardian's first Down for real rather than as a stale one.
    sessions::wait(&first, GW4, "up for longer than a detection time", SHORT, |s| {
        state(s) == "up" && sessions::number(s, "uptime_seconds") > 4.0
    });
    // Restart guardian (systemctl restart): the route stays in the kernel
    // and the new daemon adopts it, with a new discriminator.
    let before_restart = peer.history().len();
    let mon = Monitor::start(&g);
    let mark = mon.sync(&g);
    first.sigterm();
    assert_eq!(first.wait_exit(SHORT).code(), Some(0));
    let second = Daemon::builder(&g).dir(first.dir()).config(&config()).spawn();
    let sync = second.wait_log("initial sync complete", msg("initial sync complete"), LONG);
    assert_eq!(logs::field_u64(&sync, "adopted"), Some(1), "{sync}");

    // And yet both come Up, each naming the other's current discriminator.
    let new = sessions::wait(&second, GW4, "up with the peer", SHORT, |s| {
        state(s) == "up" && s["remote_discriminator"] == u64::from(peer.view().local)
    });
    let new_ours = new["local_discriminator"].as_u64().expect("a discriminator");
    assert_ne!(new_ours, ours, "a restarted guardian picks a new discriminator");
    wait_peer_up(&peer, new_ours);
    // On the way, the peer was Down or Init naming guardian's previous life
    // (what a strict RFC 5880 receiver discards for good).
    let history = peer.history();
    let stale_seen =
        history[before_restart..].iter().any(|&(s, named)| s != doublezerod::State::Up && u64::from(named) == ours);
    assert!(stale_seen, "the peer never named guardian's old discriminator while not Up: {history:?}");
    let stale = metrics::value(
        &metrics::fetch(&g, "127.0.0.1:9469"),
        "guardian_liveness_stale_discriminator_packets_total",
        &[],
    );
    assert!(stale.unwrap_or(0.0) > 0.0, "the peer's stale discriminator was never seen: {stale:?}");

    // Past the start-up grace (3 s + 3 x 1.1 s), the adopted route never left.
    sessions::wait(&second, GW4, "up for longer than the start-up grace", SHORT, |s| {
        state(s) == "up" && sessions::number(s, "uptime_seconds") > 6.5
    });
    mon.sync(&g);
    let deleted: Vec<String> =
        mon.mentioning(mark, &route().dst).into_iter().filter(|l| l.starts_with("Deleted")).collect();
    assert!(deleted.is_empty(), "the restart took {} out of the kernel: {deleted:?}", route().dst);
    ip::wait_installed(&g, &route(), SHORT);
}
