//! A guarded route's copy, replayed against the real kernel: `ip -d route
//! show` must print the same before the route was deleted and after it was
//! put back, multipath weights, metrics and flags included. Root, in a
//! network namespace of the test's own.

use crate::kernel::routes::{Op, RouteWriter};
use crate::route::Family;
use guardian_test_support::netns::Netns;
use guardian_test_support::require_netns;
use std::sync::Arc;

fn show(ns: &Netns, family: &str) -> String {
    let out = ns.ip(&[family, "-d", "route", "show", "proto", "12", "table", "all"]);
    out.stdout
}

/// Dumps protocol 12's routes of `family`, deletes them all, replays the copies.
fn delete_and_replay(ns: &Netns, family: Family, flag: &str) {
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut writer = RouteWriter::new(12).unwrap();
            let mut copies = Vec::new();
            writer.dump_protocol(family, 0, 12, |payload, _| copies.push(super::copy(payload).unwrap())).await.unwrap();
            assert!(!copies.is_empty(), "the dump found the routes");
            ns.ip(&[flag, "route", "flush", "proto", "12", "table", "all"]);
            assert_eq!(show(ns, flag), "", "the routes are gone before the replay");
            let ops: Vec<Op> = copies.into_iter().map(|c| Op::Replay(Arc::new(c))).collect();
            let results = writer.apply(&ops).await.unwrap();
            assert!(results.iter().all(|r| r.is_ok()), "every replay accepted: {results:?}");
        })
    });
}

#[test]
fn multipath_and_metrics_come_back_identical() {
    require_netns!();
    let ns = Netns::new();
    ns.ip(&["link", "add", "a0", "type", "veth", "peer", "name", "a1"]);
    ns.ip(&["link", "add", "b0", "type", "veth", "peer", "name", "b1"]);
    for (dev, v4, v6) in [("a0", "192.0.2.1/24", "2001:db8:a::1/64"), ("b0", "198.51.100.1/24", "2001:db8:b::1/64")] {
        ns.ip(&["addr", "add", v4, "dev", dev]);
        ns.ip(&["-6", "addr", "add", v6, "dev", dev, "nodad"]);
    }
    for dev in ["a0", "a1", "b0", "b1"] {
        ns.link_set(dev, "up");
    }
    let v4: &[&[&str]] = &[
        &[
            "route",
            "add",
            "10.9.0.0/24",
            "proto",
            "12",
            "nexthop",
            "via",
            "192.0.2.2",
            "dev",
            "a0",
            "weight",
            "1",
            "nexthop",
            "via",
            "198.51.100.2",
            "dev",
            "b0",
            "weight",
            "3",
        ],
        &[
            "route",
            "add",
            "10.9.1.0/24",
            "via",
            "192.0.2.2",
            "dev",
            "a0",
            "proto",
            "12",
            "mtu",
            "1400",
            "realm",
            "7",
            "table",
            "100",
        ],
        &["route", "add", "blackhole", "10.9.2.0/24", "proto", "12", "metric", "30"],
        &["route", "add", "10.9.3.0/24", "via", "203.0.113.9", "dev", "a0", "onlink", "proto", "12"],
    ];
    let v6: &[&[&str]] = &[
        &[
            "-6",
            "route",
            "add",
            "2001:db8:9::/48",
            "proto",
            "12",
            "nexthop",
            "via",
            "2001:db8:a::2",
            "dev",
            "a0",
            "weight",
            "2",
            "nexthop",
            "via",
            "2001:db8:b::2",
            "dev",
            "b0",
            "weight",
            "5",
        ],
        &[
            "-6",
            "route",
            "add",
            "2001:db8:8::/48",
            "via",
            "2001:db8:a::2",
            "dev",
            "a0",
            "proto",
            "12",
            "pref",
            "high",
            "advmss",
            "1300",
        ],
    ];
    for args in v4.iter().chain(v6) {
        ns.ip(args);
    }
    for (family, flag) in [(Family::V4, "-4"), (Family::V6, "-6")] {
        let before = show(&ns, flag);
        assert!(before.lines().count() >= 2, "routes to copy:\n{before}");
        delete_and_replay(&ns, family, flag);
        assert_eq!(show(&ns, flag), before, "{flag}: ip -d route show before the delete and after the replay");
    }
}
