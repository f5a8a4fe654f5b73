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

/// A namespace with two veth links up: a0 (192.0.2.1/24, 2001:db8:a::1/64)
/// and b0 (198.51.100.1/24, 2001:db8:b::1/64), next hops .2 / ::2 on each.
fn two_links() -> Netns {
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
    ns
}

#[test]
fn multipath_and_metrics_come_back_identical() {
    require_netns!();
    let ns = two_links();
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

/// guardian's own multipath route, built from its legs: the kernel's dump of
/// the installed route must fingerprint equal to what was built, or every
/// scan would take the route for a loss.
#[test]
fn a_built_multipath_route_fingerprints_equal_to_the_kernels_report_of_it() {
    use super::{multipath, Leg};
    use crate::route::{Addr, Gateway, RouteKey};
    require_netns!();
    let ns = two_links();
    let key = |dst: &str, len: u8, table: u32, metric: u32| {
        let ip: std::net::IpAddr = dst.parse().unwrap();
        RouteKey { family: Family::of(&ip), table, dst: Addr::from_ip(&ip), dst_len: len, tos: 0, metric }
    };
    let gw = |ip: &str| Gateway::from_ip(&ip.parse().unwrap());
    ns.run_in(|| {
        let index = |dev: &str| nix::net::if_::if_nametoindex(dev).unwrap();
        let (a, b) = (index("a0"), index("b0"));
        let routes = [
            (key("10.9.0.0", 24, 254, 0), Family::V4, [gw("192.0.2.2"), gw("198.51.100.2")], None),
            (key("10.9.1.0", 24, 100, 20), Family::V4, [gw("192.0.2.2"), gw("198.51.100.2")], Some("192.0.2.1")),
            (key("0.0.0.0", 0, 300, 5), Family::V4, [gw("192.0.2.2"), gw("198.51.100.2")], None),
            (key("2001:db8:9::", 48, 254, 1024), Family::V6, [gw("2001:db8:a::2"), gw("2001:db8:b::2")], None),
            (key("2001:db8:8::", 48, 100, 7), Family::V6, [gw("2001:db8:a::2"), gw("2001:db8:b::2")], None),
        ];
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut writer = RouteWriter::new(201).unwrap();
            for (key, family, [ga, gb], src) in routes {
                let src = src.map(|s: &str| Addr::from_ip(&s.parse().unwrap()));
                let legs = [Leg { via: ga, ifindex: a, weight: 1 }, Leg { via: gb, ifindex: b, weight: 256 }];
                let built = multipath(&key, 201, src, &legs);
                let results = writer.apply(&[Op::Replay(Arc::new(built.clone()))]).await.unwrap();
                assert!(results.iter().all(|r| r.is_ok()), "{key:?} installed: {results:?}");
                let mut seen = Vec::new();
                let table = key.table;
                writer
                    .dump_protocol(family, table, 201, |payload, route| {
                        if route.key == key {
                            seen.push(super::fingerprint(payload));
                        }
                    })
                    .await
                    .unwrap();
                assert_eq!(seen, [built.fingerprint()], "{key:?}: the dump fingerprints as built");
            }
        })
    });
    let v4 = ns.ip(&["-d", "route", "show", "table", "all", "proto", "201"]).stdout;
    assert!(v4.contains("nexthop via 198.51.100.2 dev b0 weight 256"), "{v4}");
    let v6 = ns.ip(&["-6", "-d", "route", "show", "table", "all", "proto", "201"]).stdout;
    assert!(v6.contains("nexthop via 2001:db8:b::2 dev b0 weight 256"), "{v6}");
}
