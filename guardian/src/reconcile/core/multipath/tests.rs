//! guardian's own multipath routes in the core: compared with the kernel's
//! report by the fingerprint of the copy their legs make, installed by
//! replaying it, never purged as stale. Against a real kernel in
//! `tests/tests/multipath.rs`.

use super::super::super::table::State;
use super::super::tests::{batch, install_ok, MS, PROTO, SEC};
use super::super::*;
use crate::config::Config;
use crate::kernel::routes::Op;
use crate::kernel::wire::raw::{self, Leg};
use crate::messages::{Event, KernelRoute, Link, Requester};
use crate::route::{Addr, Gateway};

const A0: u32 = 7;
const B0: u32 = 8;

/// 10.9.0.0/24 over two legs (weights 1 and 3); 10.9.1.0/24 plain via a0.
const MULTIPATH: &str = r#"
[[route]]
dst = "10.9.0.0/24"
nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0", weight = 3 }]

[[route]]
dst = "10.9.1.0/24"
via = "192.0.2.2"
dev = "a0"
"#;

fn links() -> Vec<Link> {
    vec![Link { index: A0, name: "a0".into(), up: true }, Link { index: B0, name: "b0".into(), up: true }]
}

fn core_of(text: &str, t0: Instant) -> Core {
    let config = Config::from_toml(text, "test.toml").expect("valid");
    let mut core = Core::new(Settings::of(&config), Arc::new(crate::metrics::Metrics::new()), t0);
    core.set_links(links());
    core.apply_source(Source::config(), change_of(text));
    core
}

/// The file's routes as the configuration source sends them.
fn change_of(text: &str) -> crate::messages::Change {
    let config = Config::from_toml(text, "test.toml").expect("valid");
    crate::sources::config_file::update(config.routes, None).change
}

fn key(dst: &str) -> RouteKey {
    let ip: std::net::IpAddr = dst.parse().unwrap();
    RouteKey { family: Family::V4, table: 254, dst: Addr::from_ip(&ip), dst_len: 24, tos: 0, metric: 0 }
}

fn gw(ip: &str) -> Gateway {
    Gateway::from_ip(&ip.parse().unwrap())
}

/// The kernel's report of 10.9.0.0/24 over `legs` (gateway, ifindex,
/// weight), as the monitor and the scan's dump hand it in.
fn reported(legs: &[(&str, u32, u16)]) -> KernelRoute {
    let legs: Vec<Leg> = legs.iter().map(|&(via, ifindex, weight)| Leg { via: gw(via), ifindex, weight }).collect();
    let copy = raw::multipath(&key("10.9.0.0"), PROTO, None, &legs);
    let mut route = crate::kernel::wire::parse_route(copy.payload()).expect("a route");
    route.extra = raw::extra(copy.payload());
    route
}

fn both_legs() -> KernelRoute {
    reported(&[("192.0.2.2", A0, 1), ("198.51.100.2", B0, 3)])
}

/// A core past a start-up scan that found `present` in the kernel.
fn started_with(present: &[KernelRoute], t0: Instant) -> (Core, Vec<Op>) {
    let mut core = core_of(MULTIPATH, t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    for route in present {
        core.observe(&mut scan, route);
    }
    let plan = core.finish_scan(scan);
    assert!(plan.stale.is_empty(), "a multipath route of ours is never stale");
    let ops = core.prepare_install(plan.install.clone(), t0, 1).ops;
    install_ok(&mut core, plan.install, t0);
    core.startup_done(MS, t0);
    (core, ops)
}

fn state(core: &Core, dst: &str) -> State {
    core.table.slot(core.table.find(&key(dst)).unwrap()).state
}

#[test]
fn a_multipath_route_is_installed_by_replaying_the_copy_its_legs_make_with_the_current_devices() {
    let (core, ops) = started_with(&[], Instant::now());
    let replays: Vec<u64> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Replay(copy) => Some(copy.fingerprint()),
            _ => None,
        })
        .collect();
    assert_eq!(replays, [both_legs().extra], "one replay, of both legs with their weights and ifindexes");
    assert_eq!(ops.len(), 2, "and the plain route as usual");
    assert_eq!(state(&core, "10.9.0.0"), State::Installed);
    assert_eq!(
        core.display(core.table.find(&key("10.9.0.0")).unwrap()),
        "10.9.0.0/24 nexthop via 192.0.2.2 dev a0 weight 1 nexthop via 198.51.100.2 dev b0 weight 3"
    );
}

#[test]
fn the_kernels_report_of_the_same_legs_is_adopted_and_another_weight_or_device_is_not() {
    let t0 = Instant::now();
    let (_, ops) = started_with(&[both_legs()], t0);
    assert!(!ops.iter().any(|op| matches!(op, Op::Replay(_))), "adopted as it stands");
    for other in [
        reported(&[("192.0.2.2", A0, 1), ("198.51.100.2", B0, 2)]),
        reported(&[("192.0.2.2", B0, 1), ("198.51.100.2", A0, 3)]),
        reported(&[("192.0.2.2", A0, 1)]),
        KernelRoute { protocol: 186, ..both_legs() },
    ] {
        let (_, ops) = started_with(&[other], t0);
        assert!(ops.iter().any(|op| matches!(op, Op::Replay(_))), "{other:?} is not ours: replaced");
    }
}

#[test]
fn a_deleted_multipath_route_is_a_loss_put_back_by_its_copy() {
    let t0 = Instant::now();
    let (mut core, _) = started_with(&[both_legs()], t0);
    let t1 = t0 + SEC;
    let requester = Requester { port_id: 4242, seq: 1 };
    let work = core.on_events(batch(vec![Event::RouteDeleted { route: both_legs(), requester }], t1), t1);
    assert_eq!(work.len(), 1);
    let batch_ = core.prepare_install(work, t1, 10);
    assert!(matches!(&batch_.ops[..], [Op::Replay(copy)] if copy.fingerprint() == both_legs().extra));
    let (outcome, repairs) = core.installed(batch_, Ok(vec![Ok(())]), t1);
    assert_eq!(outcome.repaired, 1);
    assert!(repairs[0].route.starts_with("10.9.0.0/24 nexthop via 192.0.2.2 dev a0"), "{}", repairs[0].route);
    // Another process replacing it with one leg is a loss too.
    let one_leg = reported(&[("192.0.2.2", A0, 1)]);
    let added = Event::RouteAdded { route: one_leg, replace: true, requester, raw: None };
    let t2 = t1 + SEC;
    core.on_events(batch(vec![Event::OwnEcho { seq: 10 }], t2), t2);
    assert_eq!(core.on_events(batch(vec![added], t2), t2).len(), 1);
}

#[test]
fn a_leg_whose_device_is_gone_fails_the_install_without_reaching_the_kernel() {
    let t0 = Instant::now();
    let mut core = core_of(MULTIPATH, t0);
    core.on_events(batch(vec![Event::LinkRemoved(links().remove(1))], t0), t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    let plan = core.finish_scan(scan);
    let batch_ = core.prepare_install(plan.install, t0, 1);
    assert_eq!(batch_.ops.len(), 1, "only the plain route is sent");
    assert_eq!(state(&core, "10.9.0.0"), State::Failed);
    assert_eq!(core.errors.get(&key("10.9.0.0")).map(String::as_str), Some("device b0 does not exist"));
}

#[test]
fn a_reload_with_other_weights_reinstalls_and_the_same_legs_do_not() {
    let t0 = Instant::now();
    let (mut core, _) = started_with(&[both_legs()], t0);
    let reload = |core: &mut Core, text: &str| core.apply_source(Source::config(), change_of(text));
    let same = reload(&mut core, MULTIPATH);
    assert!(same.install.is_empty(), "{same:?}");
    let heavier = reload(&mut core, &MULTIPATH.replace("weight = 3", "weight = 5"));
    assert_eq!(heavier.install.len(), 1);
    assert_eq!(heavier.report.changed, 1);
}

// ---- legs gated one by one (`liveness = "nexthop"`) -------------------------

fn gated() -> String {
    MULTIPATH.replace("weight = 3 }]", "weight = 3 }]\nliveness = \"nexthop\"")
}

fn leg(n: u8, open: bool) -> crate::messages::Gate {
    crate::messages::Gate { keys: vec![crate::messages::GateKey { route: key("10.9.0.0"), leg: Some(n) }], open }
}

/// What the ops of `plan` do to 10.9.0.0/24, in order: "delete", "via <gw>"
/// (a plain route) or "legs <fingerprint>" (a replay).
fn ops(core: &mut Core, plan: GatePlan, now: Instant) -> Vec<String> {
    let mut done: Vec<String> = plan.withdraw.ops.iter().map(|_| "delete".to_owned()).collect();
    let batch_ = core.prepare_install(plan.install.clone(), now, 1);
    for op in &batch_.ops {
        done.push(match op {
            Op::Replace(r) => format!("via {}", r.via.unwrap().ip()),
            Op::Replay(copy) if copy.fingerprint() == both_legs().extra => "both legs".to_owned(),
            other => format!("{other:?}"),
        });
    }
    core.withdrawn(plan.withdraw, Ok(Vec::new()));
    let n = batch_.ops.len();
    core.installed(batch_, Ok(vec![Ok(()); n]), now);
    done
}

fn gated_core(present: &[KernelRoute], t0: Instant) -> Core {
    let mut core = core_of(&gated(), t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    for route in present {
        core.observe(&mut scan, route);
    }
    let plan = core.finish_scan(scan);
    install_ok(&mut core, plan.install, t0);
    core.startup_done(MS, t0);
    core
}

#[test]
fn each_leg_joins_and_leaves_the_route_with_its_own_session() {
    let t0 = Instant::now();
    let mut core = gated_core(&[], t0);
    assert_eq!(state(&core, "10.9.0.0"), State::Withdrawn, "no leg Up yet: not installed");
    let gate = |core: &mut Core, n: u8, open: bool| {
        let plan = core.on_gate(&leg(n, open));
        ops(core, plan, t0)
    };
    assert_eq!(gate(&mut core, 1, true), ["via 198.51.100.2"], "first leg Up: a plain route via it");
    assert_eq!(state(&core, "10.9.0.0"), State::Installed);
    assert_eq!(gate(&mut core, 0, true), ["both legs"], "second leg Up: both, with their weights");
    assert_eq!(gate(&mut core, 0, true), Vec::<String>::new(), "the same verdict again changes nothing");
    assert_eq!(gate(&mut core, 1, false), ["via 192.0.2.2"], "a leg Down leaves the route");
    assert_eq!(state(&core, "10.9.0.0"), State::Installed);
    assert_eq!(gate(&mut core, 0, false), ["delete"], "no leg Up: withdrawn");
    assert_eq!(state(&core, "10.9.0.0"), State::Withdrawn);
    assert_eq!(gate(&mut core, 0, true), ["via 192.0.2.2"], "a leg back: installed again");
    assert_eq!(gate(&mut core, 1, true), ["both legs"], "and the other rejoins");
}

#[test]
fn a_route_with_legs_down_compares_with_the_legs_up_only() {
    let t0 = Instant::now();
    let mut core = one_leg_down(t0);
    // Someone puts the Down leg back in: a loss, put back with one leg.
    let added = Event::RouteAdded {
        route: both_legs(),
        replace: true,
        requester: Requester { port_id: 4242, seq: 1 },
        raw: None,
    };
    let t1 = t0 + SEC;
    let work = core.on_events(batch(vec![added], t1), t1);
    let batch_ = core.prepare_install(work, t1, 10);
    assert!(matches!(&batch_.ops[..], [Op::Replace(r)] if r.via == Some(gw("192.0.2.2")) && r.oif == Some(A0)));
}

#[test]
fn a_route_adopted_at_start_up_keeps_every_leg_until_its_sessions_speak() {
    let t0 = Instant::now();
    let mut core = gated_core(&[both_legs()], t0);
    assert_eq!(state(&core, "10.9.0.0"), State::Installed, "adopted as it stands");
    let plan = core.on_gate(&leg(0, true));
    assert_eq!(ops(&mut core, plan, t0), ["via 192.0.2.2"], "narrowed to the legs Up");
    let plan = core.on_gate(&leg(1, true));
    assert_eq!(ops(&mut core, plan, t0), ["both legs"]);
}

#[test]
fn a_reload_keeps_each_legs_verdict() {
    let t0 = Instant::now();
    let mut core = one_leg_down(t0);
    let same = core.apply_source(Source::config(), change_of(&gated()));
    assert!(same.install.is_empty() && same.withdraw.is_empty(), "{same:?}");
    // Another weight for the Up leg: replaced, still without the Down leg.
    let plan = core.apply_source(Source::config(), change_of(&gated().replace("a0\" }", "a0\", weight = 2 }")));
    let batch_ = core.prepare_install(plan.install, t0, 1);
    assert!(matches!(&batch_.ops[..], [Op::Replace(r)] if r.via == Some(gw("192.0.2.2"))), "{:?}", batch_.ops);
}

/// Both legs' sessions came Up, then leg 1's went Down: the route has leg 0.
fn one_leg_down(t0: Instant) -> Core {
    let mut core = gated_core(&[], t0);
    for n in [0, 1] {
        let plan = core.on_gate(&leg(n, true));
        ops(&mut core, plan, t0);
    }
    let plan = core.on_gate(&leg(1, false));
    ops(&mut core, plan, t0);
    core
}
