//! Damping in the core, fed the deleters the attribution task would tell:
//! fights are damped and named, bad luck and unknown deleters are not
//! fights, the rate net still bounds what attribution cannot see, and an
//! owner putting back its own route is no loss at all. Against a real
//! kernel: `tests/tests/fights.rs`.

use super::super::super::damping::BASE_BACKOFF;
use super::super::super::table::State;
use super::super::tests::{batch, core_with, deleted, install_ok, ours, state_of, MS, SEC};
use super::super::*;
use crate::messages::{Change, Deleted, DeleterId, DesiredRoute, DesiredRoutes, Event, GuardNotice, GuardTerms};
use crate::messages::{Repaired, Requester, Source};
use crate::metrics::FightLabels;
use crate::route::{DevNames, RouteSpec};

/// The defaults of the damping settings (a rate net of 30 in 60 s, fights
/// of 3 rounds within 1 s), with the rate net at 5 where a test needs it.
fn config(max_repairs: u32) -> String {
    format!(
        r#"
[reconcile]
interval = "30s"
max_repairs_per_route = {max_repairs}
damping_window = "60s"
damping_max_backoff = "5m"
fight_window = "1s"
fight_rounds = 3

[[route]]
dst = "10.9.1.0/24"
via = "192.0.2.2"
dev = "veth0"
table = 100
"#
    )
}

/// A core past its start-up scan, its one route in place.
fn started(max_repairs: u32, t0: Instant) -> Core {
    let mut core = core_with(&config(max_repairs), t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &ours("10.9.1.0"));
    let plan = core.finish_scan(scan);
    assert!(plan.install.is_empty());
    core.startup_done(MS, t0);
    core
}

fn ip(uid: u32) -> DeleterId {
    DeleterId { comm: "ip".into(), uid, cgroup: Some("/user.slice/user-0.slice/session-1.scope".into()) }
}

/// What the attribution task sends back for `repaired`.
fn answer(r: &Repaired, who: Option<DeleterId>) -> Deleted {
    let label = if who.is_some() { "ip" } else { "unknown" };
    Deleted { key: r.key, lost_at: r.lost_at, deleter: who, label: label.into() }
}

/// Puts back what `work` holds at `at` (the kernel confirms it at once),
/// and tells the core who took it; the repairs.
fn repair(core: &mut Core, work: Work, at: Instant, who: &Option<DeleterId>) -> Vec<Repaired> {
    let repairs = install_ok(core, work, at);
    let _ = core.on_events(batch(vec![Event::OwnEcho { seq: 1 }], at + MS), at + MS);
    for r in &repairs {
        core.attributed(answer(r, who.clone()));
    }
    repairs
}

/// One loss of 10.9.1.0/24 at `at` by `who`: repaired 1 ms later, unless
/// damped. Whether it was repaired at once.
fn round(core: &mut Core, at: Instant, who: Option<DeleterId>) -> bool {
    let work = core.on_events(batch(vec![deleted("10.9.1.0")], at), at);
    if work.is_empty() {
        return false;
    }
    assert_eq!(repair(core, work, at + MS, &who).len(), 1);
    true
}

/// A loop deleting 10.9.1.0/24 as soon as it is back, from `at`: the first
/// loss follows no repair, the next three within 1 s of one make the
/// rounds, all repaired at once. When the loop deletes next.
fn fight(core: &mut Core, mut at: Instant) -> Instant {
    for n in 0..4 {
        assert!(round(core, at, Some(ip(0))), "loss {n} is repaired at once");
        at += 10 * MS;
    }
    at
}

fn fights(core: &Core, label: &str) -> u64 {
    core.metrics.route_fights.get_or_create(&FightLabels { deleter: label.into() }).get()
}

fn fighter(core: &Core, dst: &str) -> Option<DeleterId> {
    core.damping.get(&ours(dst).key).and_then(|d| d.fighter(&core.cfg)).cloned()
}

#[test]
fn a_soak_deleting_the_route_at_random_a_few_times_a_minute_is_never_damped() {
    let t0 = Instant::now();
    let mut core = started(30, t0);
    // Ten minutes of `ip` deleting the route about three times a minute,
    // as a soak deleting 50 random routes of 1,000 every second does, with
    // now and then a deletion by bad luck soon after the repair.
    let mut at = t0;
    for n in 0..30u32 {
        at += if n % 7 == 3 { 300 * MS } else { 20 * SEC - (n % 5) * SEC };
        assert!(round(&mut core, at, Some(ip(0))), "loss {n} waited");
    }
    assert_eq!(fighter(&core, "10.9.1.0"), None);
    assert_eq!(fights(&core, "ip"), 0);
}

#[test]
fn a_fight_is_named_once_and_its_next_losses_back_off() {
    let t0 = Instant::now();
    let mut core = started(30, t0);
    let mut at = fight(&mut core, t0 + SEC);
    assert_eq!(fighter(&core, "10.9.1.0"), Some(ip(0)));
    assert_eq!(fights(&core, "ip"), 1);
    // The next loss waits, doubling.
    assert!(!round(&mut core, at, Some(ip(0))));
    assert_eq!(state_of(&core, "10.9.1.0"), State::Damped);
    assert_eq!(core.next_wakeup(), Some(at + BASE_BACKOFF));
    let due = core.due(at + BASE_BACKOFF, true);
    at += BASE_BACKOFF;
    let repairs = repair(&mut core, due.retries, at, &Some(ip(0)));
    assert_eq!(repairs.len(), 1, "put back after the back-off");
    at += 10 * MS;
    assert!(!round(&mut core, at, Some(ip(0))), "taken again at once: still a fight");
    assert_eq!(core.next_wakeup(), Some(at + 2 * BASE_BACKOFF));
    assert_eq!(fights(&core, "ip"), 1, "one fight, counted once");
}

#[test]
fn a_loss_after_a_calm_moment_ends_the_fight() {
    let t0 = Instant::now();
    let mut core = started(30, t0);
    let mut at = fight(&mut core, t0 + SEC);
    assert!(fighter(&core, "10.9.1.0").is_some());
    // Seconds after the repair: repaired at once, and the streak is over.
    at += 5 * SEC;
    assert!(round(&mut core, at, Some(ip(0))));
    assert_eq!(fighter(&core, "10.9.1.0"), None);
    at += 10 * MS;
    assert!(round(&mut core, at, Some(ip(0))), "a new streak starts from nothing");
}

#[test]
fn losses_by_unknown_deleters_never_make_a_fight_but_the_rate_net_bounds_them() {
    let t0 = Instant::now();
    let mut core = started(5, t0);
    // An unattributed loop (no eBPF, a deleter gone before it was named):
    // as fast as the fight above, but no round counts.
    let mut at = t0 + SEC;
    for n in 0..5 {
        assert!(round(&mut core, at, None), "loss {n} is repaired at once");
        at += 10 * MS;
    }
    assert_eq!(fighter(&core, "10.9.1.0"), None);
    assert_eq!(fights(&core, "ip") + fights(&core, "unknown"), 0);
    // The sixth in the window is past the rate net.
    assert!(!round(&mut core, at, None));
    assert_eq!(state_of(&core, "10.9.1.0"), State::Damped);
    assert_eq!(core.next_wakeup(), Some(at + BASE_BACKOFF));
}

#[test]
fn different_users_running_ip_are_different_deleters() {
    let t0 = Instant::now();
    let mut core = started(30, t0);
    let mut at = t0 + SEC;
    for n in 0..8u32 {
        assert!(round(&mut core, at, Some(ip(n % 2))), "loss {n}");
        at += 10 * MS;
    }
    assert_eq!(fights(&core, "ip"), 0);
}

// Guarded routes (another daemon's): the guard decides each loss; a
// stranger's fight is damped as for guardian's own routes.

const BIRD: u8 = 12;

fn bird_guard() -> Source {
    let terms = GuardTerms { protocol: BIRD, audit: false, kernel_cause_grace: 10 * SEC };
    Source::guard("bird", "bird".into(), terms)
}

fn birds(dst: &str) -> crate::messages::KernelRoute {
    crate::messages::KernelRoute { protocol: BIRD, ..ours(dst) }
}

/// The started core guarding BIRD's 10.7.1.0/24.
fn guarding(t0: Instant) -> Core {
    let mut core = started(30, t0);
    let mut routes = DesiredRoutes { devs: DevNames::default(), ..Default::default() };
    let route = birds("10.7.1.0");
    let dev = Some(routes.devs.intern("veth0"));
    let spec = RouteSpec { key: route.key, via: route.gateway, dev, src: None };
    routes.routes.push(DesiredRoute { spec, gated: false });
    let plan = core.apply_source(bird_guard(), Change::Replace(routes));
    assert!(plan.install.is_empty());
    core
}

/// A stranger deletes BIRD's route at `at`; the guard, having asked who,
/// has it put back. Whether it was put back at once.
fn stranger_round(core: &mut Core, at: Instant) -> bool {
    let del = Event::RouteDeleted { route: birds("10.7.1.0"), requester: Requester { port_id: 4242, seq: 1 } };
    assert!(core.on_events(batch(vec![del], at), at).is_empty(), "the guard decides");
    let notices = core.take_guard_notices();
    assert!(matches!(&notices[..], [GuardNotice::Lost(_)]), "{notices:?}");
    let plan = core.apply_source(bird_guard(), Change::Restore(vec![birds("10.7.1.0").key]));
    if plan.install.is_empty() {
        return false;
    }
    assert_eq!(repair(core, plan.install, at + 2 * MS, &Some(ip(0))).len(), 1);
    true
}

/// BIRD puts its own route back as it was.
fn owner_re_adds(core: &mut Core, at: Instant) -> Work {
    let add = Event::RouteAdded {
        route: birds("10.7.1.0"),
        replace: true,
        requester: Requester { port_id: 77, seq: 5 },
        raw: None,
    };
    core.on_events(batch(vec![add], at), at)
}

#[test]
fn a_stranger_fighting_over_a_guarded_route_is_damped_and_named() {
    let t0 = Instant::now();
    let mut core = guarding(t0);
    let mut at = t0 + SEC;
    for n in 0..4 {
        assert!(stranger_round(&mut core, at), "loss {n} is repaired at once");
        at += 10 * MS;
    }
    assert_eq!(fighter(&core, "10.7.1.0"), Some(ip(0)));
    assert_eq!(fights(&core, "ip"), 1);
    assert!(!stranger_round(&mut core, at), "the next waits");
    assert_eq!(state_of(&core, "10.7.1.0"), State::Damped);
}

#[test]
fn the_owner_re_adding_a_route_guardian_put_back_is_neither_a_loss_nor_a_round() {
    let t0 = Instant::now();
    let mut core = guarding(t0);
    // FRR-like: the owner re-adds too, right after guardian's repair, each
    // time a stranger deletes the route (seconds apart: no fight).
    let mut at = t0 + SEC;
    for n in 0..40 {
        assert!(stranger_round(&mut core, at), "loss {n} is repaired at once");
        assert!(owner_re_adds(&mut core, at + 5 * MS).is_empty(), "the owner's re-add is no loss");
        assert!(core.take_guard_notices().is_empty(), "nothing for the guard to judge");
        assert_eq!(state_of(&core, "10.7.1.0"), State::Installed);
        at += 3 * SEC;
    }
    // Forty stranger losses in two minutes, each followed by the owner's
    // re-add: had the re-adds counted, the rate net (30 a minute) would have
    // been passed.
    assert_eq!(fighter(&core, "10.7.1.0"), None);
    assert_eq!(fights(&core, "ip"), 0);
}

#[test]
fn the_owner_putting_its_route_back_before_guardian_leaves_no_repair_to_count() {
    let t0 = Instant::now();
    let mut core = guarding(t0);
    let mut at = t0 + SEC;
    for _ in 0..10 {
        let del = Event::RouteDeleted { route: birds("10.7.1.0"), requester: Requester { port_id: 4242, seq: 1 } };
        core.on_events(batch(vec![del], at), at);
        core.take_guard_notices();
        // The owner (zebra repairs at once) is faster than the guard's verdict.
        assert!(owner_re_adds(&mut core, at + MS).is_empty());
        let plan = core.apply_source(bird_guard(), Change::Restore(vec![birds("10.7.1.0").key]));
        assert!(plan.install.is_empty(), "nothing left to put back");
        at += 10 * MS;
    }
    assert_eq!(state_of(&core, "10.7.1.0"), State::Installed);
    assert_eq!(fighter(&core, "10.7.1.0"), None);
    let record = core.damping.get(&birds("10.7.1.0").key);
    assert!(record.is_none(), "no repair, no round: {record:?}");
}
