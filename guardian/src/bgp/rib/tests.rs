use super::*;
use crate::messages::Change;
use std::net::Ipv4Addr;
use std::time::Instant;

const TABLE: u32 = 100;
const METRIC: u32 = 20;

fn pfx(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap();
    Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

fn neighbor(address: &str) -> NeighborConfig {
    NeighborConfig {
        address: address.parse().unwrap(),
        install: true,
        liveness_nexthop: false,
        import: PrefixFilter::accept_all(),
        max_prefixes: None,
    }
}

/// A RIB with veth0 on 192.0.2.0/24 and 2001:db8::/64, veth1 on 198.51.100.0/24.
fn rib(multipath: bool) -> Rib {
    let mut rib = Rib::new(RibConfig { table: TABLE, metric: METRIC, multipath });
    rib.set_connected("veth0", vec![("192.0.2.1".parse().unwrap(), 24), ("2001:db8::1".parse().unwrap(), 64)]);
    rib.set_connected("veth1", vec![("198.51.100.1".parse().unwrap(), 24)]);
    rib
}

/// An eBGP path from `id` whose neighbor's address, router id and next hop is `addr`.
fn path(id: NeighborId, addr: &str) -> Path {
    let ip: IpAddr = addr.parse().unwrap();
    let last = match ip {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(v6) => v6.octets()[15],
    };
    Path {
        neighbor: id,
        peer_addr: ip,
        peer_router_id: Ipv4Addr::new(10, 0, 0, last),
        peer_as: 65000 + last as u32,
        ebgp: true,
        next_hop: ip,
        link_local: None,
        local_pref: None,
        as_path_len: 1,
        neighbor_as: 65000 + last as u32,
        origin: Origin::Igp,
        med: None,
    }
}

/// The changes as `source +prefix via gateway dev | source -prefix` lines,
/// sorted, for asserts.
fn lines(c: Changes) -> Vec<String> {
    let devs = c.devs.clone();
    let mut out = Vec::new();
    for (_, (source, SourceChanges { add, remove })) in c.sources {
        for r in add {
            let legs = match r.legs {
                Legs::One(h) => vec![h],
                Legs::Many(hs) => hs.to_vec(),
            };
            let legs: Vec<String> = legs.iter().map(|h| format!("{} {}", h.via.ip(), devs.name(h.dev))).collect();
            let gated = if r.gated { " gated" } else { "" };
            out.push(format!("{} +{}/{} via {}{gated}", source.name, r.key.dst_ip(), r.key.dst_len, legs.join(", ")));
        }
        for k in remove {
            out.push(format!("{} -{}/{}", source.name, k.dst_ip(), k.dst_len));
        }
    }
    out.sort();
    out
}

#[test]
fn an_announced_prefix_becomes_a_route_of_its_neighbors_source_in_the_configured_table() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    let changes = rib.take_changes();
    let (_, (source, part)) = changes.sources.iter().next().unwrap();
    assert_eq!(source.name, "bgp:192.0.2.2");
    assert_eq!(source.kind, crate::messages::SourceKind::Bgp);
    let key = part.add[0].key;
    assert_eq!((key.table, key.metric, key.family), (TABLE, METRIC, Family::V4));
    assert_eq!(lines(changes), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0"]);
    assert!(rib.take_changes().is_empty(), "reported once");
}

#[test]
fn a_withdrawn_prefix_leaves_the_desired_set_and_one_gone_within_a_batch_is_never_reported() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16"), pfx("10.2.0.0/16")]);
    rib.take_changes();
    rib.withdraw(a, &[pfx("10.1.0.0/16"), pfx("10.9.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 -10.1.0.0/16"]);
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.3.0.0/16")]);
    rib.withdraw(a, &[pfx("10.3.0.0/16")]);
    assert!(rib.take_changes().is_empty());
    assert_eq!(rib.counters(a).accepted, 1);
    assert_eq!(rib.memory().prefixes, 1, "a prefix without paths is forgotten");
}

#[test]
fn an_announcement_with_new_attributes_changes_the_route_in_place() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    let mut moved = path(a, "192.0.2.2");
    moved.next_hop = "192.0.2.3".parse().unwrap();
    rib.announce(&moved, &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.3 veth0"]);
    // The same attributes again (a route refresh) change nothing.
    rib.announce(&moved, &[pfx("10.1.0.0/16")]);
    assert!(rib.take_changes().is_empty());
    assert_eq!(rib.counters(a).accepted, 1);
}

#[test]
fn the_import_filter_runs_first_and_a_narrower_filter_withdraws_what_it_now_rejects() {
    let mut rib = rib(false);
    let mut config = neighbor("192.0.2.2");
    config.import = PrefixFilter::parse(&["10.0.0.0/8 le 24"]).unwrap();
    let a = rib.add_neighbor(config.clone());
    let report = rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16"), pfx("10.1.1.128/25"), pfx("11.0.0.0/8")]);
    assert_eq!((report.accepted, report.filtered), (1, 2));
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0"]);
    config.import = PrefixFilter::parse(&["10.0.0.0/8 ge 24 le 24"]).unwrap();
    assert!(rib.reconfigure_neighbor(a, config.clone()), "the caller asks for a route refresh");
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 -10.1.0.0/16"]);
    // Announced again, it is still rejected: never resurrected.
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    assert!(rib.take_changes().is_empty());
    let c = rib.counters(a);
    assert_eq!((c.received, c.filtered, c.accepted, c.installed), (4, 3, 0, 0));
}

#[test]
fn a_rejected_announcement_withdraws_what_the_neighbor_had_for_the_prefix() {
    // The filter changed without a reconfigure walk (say, a prefix first
    // accepted, then announced again after the neighbor's filter grew
    // stricter): the new announcement replaces the old one, rejected or not.
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    rib.state.neighbor(a).config.import = PrefixFilter::parse(&["192.168.0.0/16"]).unwrap();
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 -10.1.0.0/16"]);
    assert_eq!(rib.counters(a).accepted, 0);
}

#[test]
fn the_best_path_across_neighbors_holds_the_route_and_a_new_best_is_added_before_the_old_is_removed() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let b = rib.add_neighbor(neighbor("198.51.100.2"));
    let mut longer = path(a, "192.0.2.2");
    longer.as_path_len = 3;
    rib.announce(&longer, &[pfx("10.1.0.0/16")]);
    rib.announce(&path(b, "198.51.100.2"), &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:198.51.100.2 +10.1.0.0/16 via 198.51.100.2 veth1"]);
    assert_eq!((rib.counters(a).installed, rib.counters(b).installed), (0, 1));
    // b goes: a's path takes over.
    rib.neighbor_down(b);
    let changes = rib.take_changes();
    let updates = changes.clone().into_updates();
    assert_eq!(lines(changes), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0", "bgp:198.51.100.2 -10.1.0.0/16"]);
    let order: Vec<(&str, bool)> = updates
        .iter()
        .map(|(s, c)| match c {
            Change::Update { add, remove } => (s.name.as_str(), !add.routes.is_empty() && remove.is_empty()),
            _ => panic!("only updates"),
        })
        .collect();
    assert_eq!(order, [("bgp:192.0.2.2", true), ("bgp:198.51.100.2", false)], "additions go first");
    assert_eq!((rib.counters(a).installed, rib.counters(b).installed), (1, 0));
    assert_eq!(rib.counters(b).accepted, 0);
}

#[test]
fn local_pref_med_and_ebgp_decide_across_neighbors() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let b = rib.add_neighbor(neighbor("192.0.2.3"));
    // Same neighbor AS: b's lower MED wins although a's router id is lower.
    let mut pa = path(a, "192.0.2.2");
    let mut pb = path(b, "192.0.2.3");
    pb.neighbor_as = pa.neighbor_as;
    pa.med = Some(20);
    pb.med = Some(10);
    rib.announce(&pa, &[pfx("10.1.0.0/16")]);
    rib.announce(&pb, &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.3 +10.1.0.0/16 via 192.0.2.3 veth0"]);
    // A higher local preference on a beats everything after it.
    pa.local_pref = Some(200);
    rib.announce(&pa, &[pfx("10.1.0.0/16")]);
    assert_eq!(
        lines(rib.take_changes()),
        ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0", "bgp:192.0.2.3 -10.1.0.0/16"]
    );
}

#[test]
fn an_unresolvable_next_hop_is_no_candidate_counted_and_decided_again_when_networks_change() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("203.0.113.2"));
    rib.announce(&path(a, "203.0.113.2"), &[pfx("10.1.0.0/16"), pfx("10.2.0.0/16")]);
    assert!(rib.take_changes().is_empty());
    assert_eq!(rib.counters(a).unresolvable, 2);
    rib.set_connected("veth2", vec![("203.0.113.1".parse().unwrap(), 24)]);
    assert_eq!(
        lines(rib.take_changes()),
        ["bgp:203.0.113.2 +10.1.0.0/16 via 203.0.113.2 veth2", "bgp:203.0.113.2 +10.2.0.0/16 via 203.0.113.2 veth2"]
    );
    assert_eq!(rib.counters(a).unresolvable, 0);
    // A change elsewhere leaves the routes alone.
    rib.set_connected("veth9", vec![("100.64.0.1".parse().unwrap(), 24)]);
    assert!(rib.take_changes().is_empty());
    rib.set_connected("veth2", vec![]);
    assert_eq!(rib.take_changes().sources.values().next().unwrap().1.remove.len(), 2);
    assert_eq!(rib.counters(a).unresolvable, 2);
    assert_eq!(rib.counters(a).installed, 0);
}

#[test]
fn an_unresolvable_best_path_gives_way_to_a_resolvable_one() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let b = rib.add_neighbor(neighbor("192.0.2.3"));
    let mut far = path(a, "192.0.2.2");
    far.next_hop = "203.0.113.9".parse().unwrap();
    far.local_pref = Some(500);
    rib.announce(&far, &[pfx("10.1.0.0/16")]);
    rib.announce(&path(b, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.3 +10.1.0.0/16 via 192.0.2.3 veth0"]);
}

#[test]
fn graceful_restart_keeps_stale_paths_installed_and_sweeps_only_those_not_announced_again() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let all = [pfx("10.1.0.0/16"), pfx("10.2.0.0/16"), pfx("10.3.0.0/16")];
    rib.announce(&path(a, "192.0.2.2"), &all);
    rib.announce(&path(a, "2001:db8::2"), &[pfx("2001:db8:1::/48")]);
    rib.take_changes();
    rib.mark_stale(a, Family::V4);
    assert_eq!(rib.counters(a).stale, 3);
    assert!(rib.take_changes().is_empty(), "stale paths stay installed");
    // The peer is back and announces two of three again, unchanged.
    rib.announce(&path(a, "192.0.2.2"), &all[..2]);
    assert!(rib.take_changes().is_empty(), "no delete and add for a route announced again");
    assert_eq!(rib.counters(a).stale, 1);
    assert_eq!(rib.sweep_stale(a, Family::V6), 0, "the other family was not stale");
    assert_eq!(rib.sweep_stale(a, Family::V4), 1);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 -10.3.0.0/16"]);
    let c = rib.counters(a);
    assert_eq!((c.stale, c.accepted, c.installed), (0, 3, 3));
}

#[test]
fn a_path_announced_again_with_other_attributes_after_a_restart_replaces_the_stale_one() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    rib.mark_stale(a, Family::V4);
    let mut moved = path(a, "192.0.2.2");
    moved.next_hop = "192.0.2.9".parse().unwrap();
    rib.announce(&moved, &[pfx("10.1.0.0/16")]);
    assert_eq!(rib.sweep_stale(a, Family::V4), 0);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.9 veth0"]);
}

#[test]
fn multipath_makes_one_route_of_the_equal_cost_paths_held_by_the_best_ones_neighbor() {
    let mut rib = rib(true);
    let a = rib.add_neighbor(neighbor("192.0.2.3"));
    let b = rib.add_neighbor(neighbor("198.51.100.2"));
    let c = rib.add_neighbor(neighbor("192.0.2.4"));
    let mut worse = path(c, "192.0.2.4");
    worse.origin = Origin::Incomplete;
    rib.announce(&path(a, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    rib.announce(&path(b, "198.51.100.2"), &[pfx("10.1.0.0/16")]);
    rib.announce(&worse, &[pfx("10.1.0.0/16")]);
    // Router ids 10.0.0.2 (b) < 10.0.0.3 (a): b leads.
    assert_eq!(lines(rib.take_changes()), ["bgp:198.51.100.2 +10.1.0.0/16 via 198.51.100.2 veth1, 192.0.2.3 veth0"]);
    let installed: Vec<u32> = [a, b, c].iter().map(|&n| rib.counters(n).installed).collect();
    assert_eq!(installed, [1, 1, 0]);
    // a leaves: one leg left, a plain route.
    rib.withdraw(a, &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:198.51.100.2 +10.1.0.0/16 via 198.51.100.2 veth1"]);
    // Multipath off: a's path back, the best alone.
    rib.announce(&path(a, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    rib.set_multipath(false);
    assert!(rib.take_changes().is_empty());
}

#[test]
fn a_multipath_route_becomes_a_spec_without_gateway_with_its_legs_beside_it() {
    let mut rib = rib(true);
    let mut gated = neighbor("192.0.2.3");
    gated.liveness_nexthop = true;
    let a = rib.add_neighbor(gated.clone());
    gated.address = "198.51.100.2".parse().unwrap();
    let b = rib.add_neighbor(gated);
    rib.announce(&path(a, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    rib.announce(&path(b, "198.51.100.2"), &[pfx("10.1.0.0/16")]);
    let updates = rib.take_changes().into_updates();
    let Change::Update { add, .. } = &updates[0].1 else { panic!("an update") };
    let route = add.routes[0];
    assert!(route.gated && route.spec.via.is_none() && route.spec.dev.is_none());
    assert_eq!(add.multipath[&route.spec.key].len(), 2);
    assert!(add.legs_gated.contains(&route.spec.key));
    assert_eq!(add.devs.name(add.multipath[&route.spec.key][0].dev), "veth1");
}

#[test]
fn a_multipath_route_takes_only_legs_gated_like_its_best_path() {
    let mut rib = rib(true);
    let a = rib.add_neighbor(neighbor("192.0.2.3"));
    let mut gated = neighbor("198.51.100.2");
    gated.liveness_nexthop = true;
    let b = rib.add_neighbor(gated);
    rib.announce(&path(a, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    rib.announce(&path(b, "198.51.100.2"), &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:198.51.100.2 +10.1.0.0/16 via 198.51.100.2 veth1 gated"]);
}

#[test]
fn a_neighbor_that_does_not_install_counts_its_prefixes_and_hides_no_other_path() {
    let mut rib = rib(false);
    let mut quiet = neighbor("192.0.2.2");
    quiet.install = false;
    let a = rib.add_neighbor(quiet.clone());
    let b = rib.add_neighbor(neighbor("198.51.100.2"));
    let mut best = path(a, "192.0.2.2");
    best.local_pref = Some(1000);
    rib.announce(&best, &[pfx("10.1.0.0/16")]);
    assert!(rib.take_changes().is_empty());
    rib.announce(&path(b, "198.51.100.2"), &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:198.51.100.2 +10.1.0.0/16 via 198.51.100.2 veth1"]);
    assert_eq!(rib.counters(a).accepted, 1);
    // Installing after all: it takes over.
    quiet.install = true;
    assert!(!rib.reconfigure_neighbor(a, quiet));
    assert_eq!(
        lines(rib.take_changes()),
        ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0", "bgp:198.51.100.2 -10.1.0.0/16"]
    );
}

#[test]
fn liveness_nexthop_gates_the_neighbors_routes() {
    let mut rib = rib(false);
    let mut config = neighbor("192.0.2.2");
    config.liveness_nexthop = true;
    let a = rib.add_neighbor(config);
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0 gated"]);
}

#[test]
fn max_prefixes_is_reported_once_exceeded() {
    let mut rib = rib(false);
    let mut config = neighbor("192.0.2.2");
    config.max_prefixes = Some(2);
    let a = rib.add_neighbor(config);
    assert!(!rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16"), pfx("10.2.0.0/16")]).max_exceeded);
    assert!(rib.announce(&path(a, "192.0.2.2"), &[pfx("10.3.0.0/16")]).max_exceeded);
    rib.neighbor_down(a);
    assert!(!rib.announce(&path(a, "192.0.2.2"), &[pfx("10.3.0.0/16")]).max_exceeded);
}

#[test]
fn a_removed_neighbor_withdraws_its_routes_under_its_own_source() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    rib.remove_neighbor(a);
    let b = rib.add_neighbor(neighbor("192.0.2.3"));
    assert_ne!(a, b, "ids are not reused");
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 -10.1.0.0/16"]);
}

#[test]
fn ipv6_routes_use_the_kernels_metric_for_zero_and_a_link_local_next_hop_on_its_interface() {
    let mut rib = Rib::new(RibConfig { table: TABLE, metric: 0, multipath: false });
    rib.set_connected("veth0", vec![("fe80::1".parse().unwrap(), 64)]);
    let a = rib.add_neighbor(neighbor("fe80::2"));
    let mut p = path(a, "2001:db8:ffff::2");
    p.link_local = Some(LinkLocal { addr: "fe80::2".parse().unwrap(), interface: "veth0".into() });
    rib.announce(&p, &[pfx("2001:db8:1::/48")]);
    let changes = rib.take_changes();
    assert_eq!(changes.sources.values().next().unwrap().1.add[0].key.metric, IPV6_DEFAULT_METRIC);
    assert_eq!(lines(changes), ["bgp:fe80::2 +2001:db8:1::/48 via fe80::2 veth0"]);
}

#[test]
fn per_prefix_memory_stays_small() {
    // The daemon's budget is 150 bytes a route, the reconciler's share
    // included; the RIB's part for one neighbor's prefixes is its hash
    // slot (16 bytes, see table/tests.rs) at the table's load.
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let prefixes: Vec<Prefix> =
        (0..100_000u32).map(|i| Prefix::new(IpAddr::V4((i << 8).into()), 24).unwrap()).collect();
    rib.announce(&path(a, "192.0.2.2"), &prefixes);
    rib.take_changes();
    let m = rib.memory();
    assert_eq!(m.prefixes, 100_000);
    assert!(m.bytes / m.prefixes <= 40, "{} bytes a prefix", m.bytes / m.prefixes);
}

#[test]
fn a_hundred_thousand_prefixes_from_one_neighbor_go_through_in_one_batch() {
    // Not a timing assertion: the time is printed (`--nocapture`) to read
    // in a release build.
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let n: u32 = std::env::var("GUARDIAN_RIB_PREFIXES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let prefixes: Vec<Prefix> =
        (0..n).map(|i| Prefix::new(IpAddr::V4((0x0a00_0000 + (i << 4)).into()), 28).unwrap()).collect();
    let start = Instant::now();
    // As UPDATEs carry them: a few hundred prefixes each.
    for chunk in prefixes.chunks(500) {
        rib.announce(&path(a, "192.0.2.2"), chunk);
    }
    let announced = start.elapsed();
    let changes = rib.take_changes();
    let taken = start.elapsed();
    let updates = changes.into_updates();
    let done = start.elapsed();
    let Change::Update { add, .. } = &updates[0].1 else { panic!("an update") };
    assert_eq!(add.routes.len(), n as usize);
    let m = rib.memory();
    println!(
        "{n} prefixes: announce {announced:?}, take_changes {:?}, into_updates {:?}, total {done:?}; {} bytes/prefix",
        taken - announced,
        done - taken,
        m.bytes / m.prefixes
    );
    let start = Instant::now();
    rib.neighbor_down(a);
    let down = rib.take_changes();
    println!("neighbor down: {:?}", start.elapsed());
    assert_eq!(down.sources.values().next().unwrap().1.remove.len(), n as usize);
    assert_eq!(rib.counters(a).accepted, 0);
}

#[test]
fn a_next_hop_whose_network_moves_to_another_interface_moves_its_routes_with_it() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    rib.set_connected("veth0", vec![]);
    rib.set_connected("veth3", vec![("192.0.2.1".parse().unwrap(), 24)]);
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth3"]);
}

#[test]
fn a_neighbor_down_takes_its_leg_out_of_a_multipath_route_it_does_not_lead() {
    let mut rib = rib(true);
    let a = rib.add_neighbor(neighbor("192.0.2.3"));
    let b = rib.add_neighbor(neighbor("198.51.100.2"));
    rib.announce(&path(a, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    rib.announce(&path(b, "198.51.100.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    rib.neighbor_down(a);
    assert_eq!(lines(rib.take_changes()), ["bgp:198.51.100.2 +10.1.0.0/16 via 198.51.100.2 veth1"]);
    assert_eq!((rib.counters(a).installed, rib.counters(b).installed), (0, 1));
}

#[test]
fn turning_liveness_on_for_a_neighbor_gates_the_routes_it_already_has() {
    let mut rib = rib(false);
    let mut config = neighbor("192.0.2.2");
    let a = rib.add_neighbor(config.clone());
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.1.0.0/16")]);
    rib.take_changes();
    config.liveness_nexthop = true;
    assert!(!rib.reconfigure_neighbor(a, config));
    assert_eq!(lines(rib.take_changes()), ["bgp:192.0.2.2 +10.1.0.0/16 via 192.0.2.2 veth0 gated"]);
}

#[test]
fn stale_and_unresolvable_paths_are_counted_per_neighbor() {
    let mut rib = rib(false);
    let a = rib.add_neighbor(neighbor("192.0.2.2"));
    let b = rib.add_neighbor(neighbor("192.0.2.3"));
    let mut far = path(a, "192.0.2.2");
    far.next_hop = "203.0.113.9".parse().unwrap();
    rib.announce(&far, &[pfx("10.1.0.0/16"), pfx("10.2.0.0/16")]);
    rib.announce(&path(a, "192.0.2.2"), &[pfx("10.3.0.0/16")]);
    rib.announce(&path(b, "192.0.2.3"), &[pfx("10.1.0.0/16")]);
    rib.mark_stale(a, Family::V4);
    assert_eq!(rib.counters(a).installed, 0, "installed counts what was handed over");
    rib.take_changes();
    let c = rib.counters(a);
    assert_eq!((c.accepted, c.stale, c.unresolvable, c.installed), (3, 3, 2, 1));
    let c = rib.counters(b);
    assert_eq!((c.accepted, c.stale, c.unresolvable, c.installed), (1, 0, 0, 1));
}
