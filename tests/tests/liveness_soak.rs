//! Liveness under light random loss, for two minutes: a binary of its own
//! so that it runs alone (no other test competes for the CPU while 300 ms
//! worth of silence would flap a session). Keep it to this one test.

use std::time::{Duration, Instant};

use guardian_tests::ip;
use guardian_tests::metrics;
use guardian_tests::monitor::Monitor;
use guardian_tests::nft::Rule;
use guardian_tests::pair::{base_config, Pair, Side};
use guardian_tests::sessions::{self, state};
use guardian_tests::wait::SHORT;
use guardian_tests::{require_netns, require_tool, Daemon};
use serde_json::Value;

const SOAK: Duration = Duration::from_secs(120);

/// Drops 1 % of the `bfd` control packets arriving in a namespace.
const LOSE_ONE_PERCENT: &str = "udp dport 3784 numgen random mod 100 < 1";

fn metric(side: &Side, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics::value(&side.metrics(), name, labels).unwrap_or(0.0)
}

#[test]
fn one_percent_loss_with_multiplier_5_causes_no_flap_in_two_minutes() {
    require_netns!();
    require_tool!("nft");
    let pair = Pair::new();
    // Five lost packets in a row (10^-10 at 1 %) before a session goes Down.
    let config = |side: &Side| base_config().liveness("detect_multiplier", "5").route(side.route(0));
    let rules = [Rule::drop_input(&pair.a.ns, LOSE_ONE_PERCENT), Rule::drop_input(&pair.b.ns, LOSE_ONE_PERCENT)];
    let da = pair.a.start(&config(&pair.a));
    let db = pair.b.start(&config(&pair.b));
    let sides: [(&Side, &Daemon); 2] = [(&pair.a, &da), (&pair.b, &db)];
    for (side, d) in sides {
        sessions::wait(d, side.peer, "up at 100 ms (500 ms detection)", SHORT, |s| {
            state(s) == "up" && (sessions::number(s, "detect_time_seconds") - 0.5).abs() < 1e-6
        });
        ip::wait_installed(&side.ns, &side.route(0), SHORT);
    }
    let monitors = [Monitor::start(&pair.a.ns), Monitor::start(&pair.b.ns)];
    let marks = [monitors[0].sync(&pair.a.ns), monitors[1].sync(&pair.b.ns)];
    // Watch both sides for the whole soak; stop at the first sign of a flap.
    let start = Instant::now();
    let mut last: Vec<Value> = Vec::new();
    // When the last poll began: a session Up since before the soak has an
    // uptime at least this long at that poll (both clocks are this host's).
    let mut last_poll = Duration::ZERO;
    while start.elapsed() < SOAK {
        last.clear();
        last_poll = start.elapsed();
        for (side, d) in sides {
            let s = sessions::get(d, side.peer);
            assert_eq!(state(&s), "up", "after {:?} of the soak: {s}", start.elapsed());
            assert_eq!(s["last_down_reason"], Value::Null, "after {:?}: {s}", start.elapsed());
            let route = side.route(0);
            let k = ip::find(&side.ns, &route.dst, "main");
            assert!(k.as_ref().is_some_and(|k| k.is_installed(&route)), "after {:?}: {k:?}", start.elapsed());
            last.push(s);
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    for (i, (side, _)) in sides.iter().enumerate() {
        let s = &last[i];
        let watched = last_poll.as_secs_f64();
        assert!(sessions::number(s, "uptime_seconds") >= watched, "up for less than the {watched} s watched: {s}");
        // Never left Up since it first came Up, never withdrew.
        let downs = metric(side, "guardian_liveness_transitions_total", &[("from", "up")]);
        let withdraws = metric(side, "guardian_liveness_route_withdraws_total", &[]);
        assert_eq!((downs, withdraws), (0.0, 0.0), "{}: transitions from up, withdraws", side.ns.name());
        monitors[i].sync(&side.ns);
        let route = side.route(0);
        let touched = monitors[i].mentioning(marks[i], &route.dst);
        assert!(touched.is_empty(), "{} touched during the soak: {touched:?}", route.dst);
        // The loss was real: the rule dropped some of the ~1,200 packets.
        let dropped = rules[i].packets(&side.ns);
        assert!(dropped > 0, "no packet lost in {}: the soak proved nothing", side.ns.name());
        eprintln!("{}: {dropped} control packets dropped, session {s}", side.ns.name());
    }
}
