//! Guarded routes in the core: taken as they are, never installed or
//! withdrawn on the core's own, each loss handed to the guard, put back only
//! when the guard says so. The guard's side (who deleted it, the verdict)
//! is tested in `sources/guard`; against a real kernel and real owners in
//! `tests/tests/guard.rs`.

use super::super::super::table;
use super::super::tests::{batch, started, state_of, MS, SEC, VETH};
use super::super::*;
use crate::kernel::routes::Op;
use crate::messages::{Cause, Change, DesiredRoute, DesiredRoutes, Event, GuardNotice, GuardTerms, KernelRoute};
use crate::messages::{Link, Noticed, Requester, Source};
use crate::route::raw::RawRoute;
use crate::route::{DevNames, Gateway, RouteSpec};

/// BIRD's protocol number.
const BIRD: u8 = 12;
const GRACE: Duration = Duration::from_secs(10);

fn guard(audit: bool) -> Source {
    Source::guard("bird", "bird".into(), GuardTerms { protocol: BIRD, audit, kernel_cause_grace: GRACE })
}

/// BIRD's route to `dst` (a /24 in table 100 via 192.0.2.2 dev veth0).
fn birds(dst: &str) -> KernelRoute {
    KernelRoute { protocol: BIRD, ..super::super::tests::ours(dst) }
}

fn spec_of(route: &KernelRoute, devs: &mut DevNames) -> RouteSpec {
    RouteSpec { key: route.key, via: route.gateway, dev: Some(devs.intern("veth0")), src: route.prefsrc }
}

/// The guard's set: `plain` as the route model has them, `copied` as
/// exact copies (a multipath route, say), with the copies' bytes.
fn guarded(plain: &[&str], copied: &[(&str, &[u8])]) -> Change {
    let mut routes = DesiredRoutes::default();
    for dst in plain {
        let spec = spec_of(&birds(dst), &mut routes.devs);
        routes.routes.push(DesiredRoute { spec, gated: false });
    }
    for (dst, bytes) in copied {
        let route = birds(dst);
        routes
            .routes
            .push(DesiredRoute { spec: RouteSpec { key: route.key, via: None, dev: None, src: None }, gated: false });
        routes.raw.insert(route.key, Arc::new(RawRoute::from_normalized(bytes.to_vec())));
    }
    Change::Replace(routes)
}

/// A started core (guardian's own routes in place) guarding BIRD's
/// 10.7.1.0/24 as modelled and 10.7.2.0/24 as a copy.
fn guarding(audit: bool, t0: Instant) -> Core {
    let mut core = started(&["10.9.1.0"], t0);
    let plan = core.apply_source(guard(audit), guarded(&["10.7.1.0"], &[("10.7.2.0", b"multipath")]));
    assert!(plan.install.is_empty() && plan.withdraw.is_empty(), "a guard's routes are taken as they are");
    assert_eq!(plan.report.added, 2);
    core
}

fn deleted_by(route: KernelRoute, port_id: u32) -> Event {
    Event::RouteDeleted { route, requester: Requester { port_id, seq: 9 } }
}

fn copy_of(bytes: &[u8]) -> Arc<RawRoute> {
    Arc::new(RawRoute::from_normalized(bytes.to_vec()))
}

/// BIRD's copied route as a notification shows it.
fn birds_copied(dst: &str, bytes: &[u8]) -> KernelRoute {
    KernelRoute { gateway: None, oif: 0, unusual: true, extra: copy_of(bytes).fingerprint(), ..birds(dst) }
}

fn lost(notices: &[GuardNotice]) -> Vec<(String, Cause, Noticed)> {
    notices
        .iter()
        .filter_map(|n| match n {
            GuardNotice::Lost(l) => Some((l.key.dst_ip().to_string(), l.cause.clone(), l.noticed)),
            GuardNotice::Appeared { .. } => None,
        })
        .collect()
}

#[test]
fn a_guarded_route_is_taken_as_it_stands_and_its_protocol_is_watched() {
    let t0 = Instant::now();
    let core = guarding(false, t0);
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Installed);
    assert_eq!(core.guarded_protocols(), [BIRD]);
    let mut scan_core = core;
    let scan = scan_core.begin_scan(Trigger::Periodic, t0);
    assert!(scan.targets().iter().any(|&(_, table, protocol)| table == 0 && protocol == BIRD));
}

#[test]
fn a_stranger_s_delete_is_handed_to_the_guard_and_repaired_only_on_its_word() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    let work = core.on_events(batch(vec![deleted_by(birds("10.7.1.0"), 4242)], t0 + MS), t0 + MS);
    assert!(work.is_empty(), "the core does not repair a guarded route on its own");
    let notices = core.take_guard_notices();
    assert_eq!(lost(&notices), [("10.7.1.0".to_string(), Cause::Deleted, Noticed::Event)]);
    let GuardNotice::Lost(loss) = &notices[0] else { unreachable!() };
    assert_eq!(loss.guard, "bird");
    assert_eq!(loss.requester.map(|r| r.port_id), Some(4242));
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Missing);

    let plan = core.apply_source(guard(false), Change::Restore(vec![birds("10.7.1.0").key]));
    let batch = core.prepare_install(plan.install, t0 + 2 * MS, 1);
    match &batch.ops[..] {
        [Op::Replace(request)] => {
            assert_eq!(request.protocol, BIRD, "put back as the owner's route");
            assert_eq!(request.oif, Some(VETH));
            assert_eq!(request.via, Some(Gateway::from_ip(&"192.0.2.2".parse().unwrap())));
        }
        ops => panic!("expected one replace, got {ops:?}"),
    }
    let n = batch.ops.len();
    let repaired = core.installed(batch, Ok(vec![Ok(()); n]), t0 + 3 * MS).1;
    assert_eq!(repaired.len(), 1);
    let tag = repaired[0].guard.as_ref().expect("a guarded repair names its guard");
    assert_eq!((tag.guard.as_str(), tag.owner.as_str()), ("bird", "bird"));
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Installed);
}

#[test]
fn a_copied_route_is_compared_by_its_copy_and_put_back_as_copied() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    // The same route again (the owner re-announcing it): no loss.
    let same = Event::RouteAdded {
        route: birds_copied("10.7.2.0", b"multipath"),
        replace: true,
        requester: Requester { port_id: 77, seq: 1 },
        raw: Some(copy_of(b"multipath")),
    };
    assert!(core.on_events(batch(vec![same], t0 + MS), t0 + MS).is_empty());
    assert!(core.take_guard_notices().is_empty());
    // Replaced with other attributes: a loss that carries the replacement.
    let other = Event::RouteAdded {
        route: birds_copied("10.7.2.0", b"one leg"),
        replace: true,
        requester: Requester { port_id: 4242, seq: 2 },
        raw: Some(copy_of(b"one leg")),
    };
    core.on_events(batch(vec![other], t0 + 2 * MS), t0 + 2 * MS);
    let notices = core.take_guard_notices();
    let [GuardNotice::Lost(loss)] = &notices[..] else { panic!("one loss expected: {notices:?}") };
    assert_eq!(loss.cause, Cause::Replaced);
    let (_, raw) = loss.replacement.as_ref().expect("the replacement travels with the loss");
    assert_eq!(raw.payload(), b"one leg");

    let plan = core.apply_source(guard(false), Change::Restore(vec![loss.key]));
    let batch = core.prepare_install(plan.install, t0 + 3 * MS, 1);
    match &batch.ops[..] {
        [Op::Replay(copy)] => assert_eq!(copy.payload(), b"multipath"),
        ops => panic!("expected the copy replayed, got {ops:?}"),
    }
}

#[test]
fn the_owner_s_removal_leaves_the_route_in_the_kernel_and_its_update_is_taken() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    let mut update = DesiredRoutes::default();
    let mut moved = birds("10.7.1.0");
    moved.gateway = Some(Gateway::from_ip(&"192.0.2.3".parse().unwrap()));
    update.routes.push(DesiredRoute { spec: spec_of(&moved, &mut update.devs), gated: false });
    let plan = core.apply_source(guard(false), Change::Update { add: update, remove: vec![birds("10.7.2.0").key] });
    assert!(plan.withdraw.is_empty(), "guardian never deletes a route it did not install");
    assert!(plan.install.is_empty(), "the owner's update is already in the kernel");
    assert_eq!((plan.report.removed, plan.report.changed), (1, 1));
    // The updated route is now the one compared.
    assert!(core
        .on_events(
            batch(
                vec![Event::RouteAdded {
                    route: moved,
                    replace: true,
                    requester: Requester { port_id: 77, seq: 3 },
                    raw: None,
                }],
                t0 + MS
            ),
            t0 + MS
        )
        .is_empty());
    assert!(core.take_guard_notices().is_empty());
    // Removing the guard leaves its routes too.
    let plan = core.apply_source(guard(false), Change::Replace(DesiredRoutes::default()));
    assert!(plan.withdraw.is_empty());
}

#[test]
fn a_route_the_kernel_removed_waits_for_its_link_then_the_grace() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    // Port 0: the kernel's own doing (an address removed, a link flushed).
    core.on_events(batch(vec![deleted_by(birds("10.7.1.0"), 0)], t0 + MS), t0 + MS);
    assert_eq!(lost(&core.take_guard_notices()).len(), 1, "the guard hears of it, to log it");
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Failed);
    let link_up = Event::LinkChanged(Link { index: VETH, name: "veth0".into(), up: true });
    let t1 = t0 + SEC;
    let work = core.on_events(batch(vec![Event::LinkChanged(Link { up: false, ..link(VETH) })], t1), t1);
    assert!(work.is_empty());
    let work = core.on_events(batch(vec![link_up], t1 + MS), t1 + MS);
    assert!(work.is_empty(), "the owner gets the grace to put it back first");
    assert!(core.due(t1 + GRACE - MS, true).retries.is_empty());
    let due = core.due(t1 + GRACE + 2 * MS, true);
    assert_eq!(due.retries.len(), 1, "after the grace, guardian puts it back");
}

#[test]
fn the_owner_putting_back_what_the_kernel_removed_ends_the_wait() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    core.on_events(batch(vec![deleted_by(birds("10.7.1.0"), 0)], t0 + MS), t0 + MS);
    core.take_guard_notices();
    let back = Event::RouteAdded {
        route: birds("10.7.1.0"),
        replace: false,
        requester: Requester { port_id: 77, seq: 4 },
        raw: None,
    };
    core.on_events(batch(vec![back], t0 + 2 * MS), t0 + 2 * MS);
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Installed);
}

#[test]
fn in_audit_mode_nothing_is_put_back_even_after_the_kernel_s_doing() {
    let t0 = Instant::now();
    let mut core = guarding(true, t0);
    core.on_events(batch(vec![deleted_by(birds("10.7.1.0"), 0)], t0 + MS), t0 + MS);
    assert_eq!(lost(&core.take_guard_notices()).len(), 1);
    let up = Event::LinkChanged(link(VETH));
    assert!(core.on_events(batch(vec![up], t0 + SEC), t0 + SEC).is_empty());
    assert!(core.due(t0 + SEC + 2 * GRACE, true).retries.is_empty());
}

#[test]
fn a_scan_that_finds_a_guarded_route_missing_tells_the_guard() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    let mut scan = core.begin_scan(Trigger::Periodic, t0 + SEC);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &super::super::tests::ours("10.9.1.0"));
    core.observe(&mut scan, &birds_copied("10.7.2.0", b"multipath"));
    let plan = core.finish_scan(scan);
    assert!(plan.install.iter().all(|(i, _)| core.table.slot(*i).spec.key != birds("10.7.1.0").key));
    assert!(plan.stale.is_empty(), "another daemon's routes are never stale");
    assert_eq!(lost(&core.take_guard_notices()), [("10.7.1.0".to_string(), Cause::Deleted, Noticed::Scan)]);
    // The next scan does not tell again: the guard has it.
    let mut scan = core.begin_scan(Trigger::Periodic, t0 + 2 * SEC);
    core.begin_dump(&mut scan);
    let plan = core.finish_scan(scan);
    assert!(plan.install.iter().all(|(i, _)| core.table.slot(*i).spec.key != birds("10.7.1.0").key));
    assert!(lost(&core.take_guard_notices()).iter().all(|(dst, ..)| dst != "10.7.1.0"));
}

#[test]
fn a_new_route_of_a_watched_protocol_is_shown_to_the_guards() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    let new = Event::RouteAdded {
        route: birds("10.7.9.0"),
        replace: false,
        requester: Requester { port_id: 77, seq: 5 },
        raw: Some(copy_of(b"new")),
    };
    core.on_events(batch(vec![new], t0 + MS), t0 + MS);
    match &core.take_guard_notices()[..] {
        [GuardNotice::Appeared { route, .. }] => assert_eq!(route.key, birds("10.7.9.0").key),
        other => panic!("expected the new route shown: {other:?}"),
    }
}

#[test]
fn shutdown_never_withdraws_a_guarded_route() {
    let t0 = Instant::now();
    let config = "[daemon]\nwithdraw_on_exit = true\n\n[[route]]\ndst = \"10.9.1.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\ntable = 100\n";
    let mut core = super::super::tests::core_with(config, t0);
    core.apply_source(guard(false), guarded(&["10.7.1.0"], &[]));
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &super::super::tests::ours("10.9.1.0"));
    core.observe(&mut scan, &birds("10.7.1.0"));
    let _ = core.finish_scan(scan);
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Installed);
    let batch = core.shutdown();
    assert_eq!(batch.ops.len(), 1, "only guardian's own route: {:?}", batch.ops);
}

fn link(index: u32) -> Link {
    Link { index, name: "veth0".into(), up: true }
}

#[test]
fn a_route_deleted_as_its_link_goes_down_is_the_link_s_doing() {
    let t0 = Instant::now();
    let mut core = guarding(false, t0);
    // `ip link set veth0 down`: the kernel deletes the route in the
    // request's name, and says the link is down in the same burst.
    let events = vec![deleted_by(birds("10.7.1.0"), 4242), Event::LinkChanged(Link { up: false, ..link(VETH) })];
    core.on_events(batch(events, t0 + MS), t0 + MS);
    let notices = core.take_guard_notices();
    assert_eq!(lost(&notices), [("10.7.1.0".to_string(), Cause::LinkDown { dev: "veth0".into() }, Noticed::Event)]);
    let GuardNotice::Lost(loss) = &notices[0] else { unreachable!() };
    assert_eq!(loss.link_index, Some(VETH), "attribution finds the link's record by it");
    assert_eq!(state_of(&core, "10.7.1.0"), table::State::Failed, "waits for the link");
}
