//! The reconciler's decisions without a kernel: inputs built by hand, the
//! time passed in, the kernel's answers made up. Each test is named after
//! the rule it pins; the integration tests (`tests/tests/reconcile.rs`,
//! `repair.rs`, ...) check the same rules against a real kernel.

use super::super::table;
use super::*;
use crate::config::Config;
use crate::kernel::routes::{Op, OpError};
use crate::kernel::wire::RTN_UNICAST;
use crate::messages::{Cause, Noticed};
use crate::messages::{Event, EventBatch, Gate, KernelRoute, Link, Requester};
use crate::route::Gateway;

pub(super) const PROTO: u8 = 201;
pub(super) const VETH: u32 = 7;
pub(super) const MS: Duration = Duration::from_millis(1);
pub(super) const SEC: Duration = Duration::from_secs(1);

/// Two routes via 192.0.2.2 dev veth0 (table 100); the second with liveness.
pub(super) const CONFIG: &str = r#"
[reconcile]
interval = "30s"
max_repairs_per_route = 2
damping_window = "60s"

[[route]]
dst = "10.9.1.0/24"
via = "192.0.2.2"
dev = "veth0"
table = 100

[[route]]
dst = "10.9.2.0/24"
via = "192.0.2.2"
dev = "veth0"
table = 100
liveness = "nexthop"
"#;

pub(super) fn core_with(config: &str, t0: Instant) -> Core {
    let config = Config::from_toml(config, "test.toml").expect("valid");
    let mut core = Core::new(Settings::of(&config), Arc::new(Metrics::new()), t0);
    core.set_links(vec![Link { index: VETH, name: "veth0".into(), up: true }]);
    let plan = core.apply_source(Source::config(), config_routes(config));
    assert!(plan.install.is_empty() && plan.withdraw.is_empty(), "the start-up scan installs");
    core
}

/// The file's routes as the configuration source sends them (gated when
/// they have liveness).
fn config_routes(config: Config) -> crate::messages::Change {
    let routes = config.routes;
    let gated = |key: &RouteKey| routes.liveness.iter().any(|l| l.key.route == *key);
    let desired = routes.specs.iter().map(|&spec| crate::messages::DesiredRoute { spec, gated: gated(&spec.key) });
    crate::messages::Change::Replace(crate::messages::DesiredRoutes {
        routes: desired.collect(),
        devs: routes.devs,
        raw: Default::default(),
        multipath: routes.multipath,
        legs_gated: Default::default(),
    })
}

/// A core past its start-up scan, which found `present` of the tracked
/// routes in place (by destination), and installed the others it asked for.
pub(super) fn started(present: &[&str], t0: Instant) -> Core {
    let mut core = core_with(CONFIG, t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    for dst in present {
        core.observe(&mut scan, &ours(dst));
    }
    let plan = core.finish_scan(scan);
    let work = plan.install.clone();
    install_ok(&mut core, work, t0);
    core.startup_done(MS, t0);
    core
}

/// The kernel route guardian would have for `dst` (a /24 in table 100).
pub(super) fn ours(dst: &str) -> KernelRoute {
    let ip: std::net::IpAddr = dst.parse().unwrap();
    KernelRoute {
        key: RouteKey {
            family: Family::V4,
            table: 100,
            dst: crate::route::Addr::from_ip(&ip),
            dst_len: 24,
            tos: 0,
            metric: 0,
        },
        gateway: Some(Gateway::from_ip(&"192.0.2.2".parse().unwrap())),
        oif: VETH,
        prefsrc: None,
        protocol: PROTO,
        kind: RTN_UNICAST,
        unusual: false,
        extra: 0,
    }
}

pub(super) fn batch(events: Vec<Event>, at: Instant) -> EventBatch {
    EventBatch { received: at, read_done: at, events }
}

pub(super) fn deleted(dst: &str) -> Event {
    Event::RouteDeleted { route: ours(dst), requester: Requester { port_id: 4242, seq: 1 } }
}

pub(super) fn state_of(core: &Core, dst: &str) -> table::State {
    let key = ours(dst).key;
    core.table.slot(core.table.find(&key).expect("tracked")).state
}

/// Prepares `work`, answers every op with success, returns the repairs.
pub(super) fn install_ok(core: &mut Core, work: Work, now: Instant) -> Vec<crate::messages::Repaired> {
    let batch = core.prepare_install(work, now, 1);
    let n = batch.ops.len();
    core.installed(batch, Ok(vec![Ok(()); n]), now).1
}

pub(super) fn destinations(work: &Work, core: &Core) -> Vec<String> {
    work.iter().map(|(i, _)| core.table.slot(*i).spec.key.dst_ip().to_string()).collect()
}

#[test]
fn start_up_adopts_routes_in_place_and_installs_the_others_but_not_gated_ones() {
    let t0 = Instant::now();
    let mut core = core_with(CONFIG, t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    let plan = core.finish_scan(scan);
    // The gated route waits for its session; the other is installed.
    assert_eq!(destinations(&plan.install, &core), ["10.9.1.0"]);
    assert_eq!(state_of(&core, "10.9.2.0"), table::State::Withdrawn);

    let mut core = core_with(CONFIG, t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &ours("10.9.1.0"));
    core.observe(&mut scan, &ours("10.9.2.0"));
    let plan = core.finish_scan(scan);
    assert!(plan.install.is_empty(), "both adopted as they stand");
    assert_eq!(state_of(&core, "10.9.1.0"), table::State::Installed);
    assert_eq!(state_of(&core, "10.9.2.0"), table::State::Installed, "a restart keeps the gated route");
}

#[test]
fn a_delete_of_our_route_is_a_loss_repaired_at_once_and_reported() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let lost_at = t0 + SEC;
    let work = core.on_events(batch(vec![deleted("10.9.1.0")], lost_at), lost_at);
    assert_eq!(destinations(&work, &core), ["10.9.1.0"]);
    let repairs = install_ok(&mut core, work, lost_at + MS);
    assert_eq!(repairs.len(), 1);
    let r = &repairs[0];
    assert_eq!((r.cause.clone(), r.noticed), (Cause::Deleted, Noticed::Event));
    assert_eq!(r.requester, Some(Requester { port_id: 4242, seq: 1 }));
    assert_eq!(r.missing_for, MS);
    assert_eq!(state_of(&core, "10.9.1.0"), table::State::Installed);
}

#[test]
fn a_route_added_beside_ours_is_no_loss_but_a_replace_with_other_attributes_is() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let other =
        KernelRoute { gateway: Some(Gateway::from_ip(&"192.0.2.3".parse().unwrap())), protocol: 3, ..ours("10.9.1.0") };
    let append = Event::RouteAdded { route: other, replace: false, requester: Requester::default(), raw: None };
    assert!(core.on_events(batch(vec![append], t0 + SEC), t0 + SEC).is_empty(), "an append leaves ours in place");
    let replace = Event::RouteAdded { route: other, replace: true, requester: Requester::default(), raw: None };
    let work = core.on_events(batch(vec![replace], t0 + 2 * SEC), t0 + 2 * SEC);
    assert_eq!(destinations(&work, &core), ["10.9.1.0"]);
    let repairs = install_ok(&mut core, work, t0 + 2 * SEC);
    assert_eq!(repairs[0].cause, Cause::Replaced);
}

#[test]
fn a_delete_then_our_route_back_in_one_batch_is_no_loss() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let back =
        Event::RouteAdded { route: ours("10.9.1.0"), replace: false, requester: Requester::default(), raw: None };
    let work = core.on_events(batch(vec![deleted("10.9.1.0"), back], t0 + SEC), t0 + SEC);
    assert!(work.is_empty());
}

#[test]
fn repairs_beyond_the_limit_in_the_window_are_damped_and_retried_after_the_back_off() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    // max_repairs_per_route = 2: the third loss within the window waits.
    for n in 1..=2u32 {
        let at = t0 + n * SEC;
        let work = core.on_events(batch(vec![deleted("10.9.1.0")], at), at);
        assert_eq!(work.len(), 1, "loss {n} is repaired at once");
        install_ok(&mut core, work, at + MS);
        // The kernel's notification of the repair (op 1) is read.
        let _ = core.on_events(batch(vec![Event::OwnEcho { seq: 1 }], at + 2 * MS), at + 2 * MS);
    }
    let at = t0 + 3 * SEC;
    assert!(core.on_events(batch(vec![deleted("10.9.1.0")], at), at).is_empty(), "the third waits");
    assert_eq!(state_of(&core, "10.9.1.0"), table::State::Damped);
    assert_eq!(core.next_wakeup(), Some(at + damping::BASE_BACKOFF));
    let due = core.due(at + damping::BASE_BACKOFF, true);
    assert_eq!(destinations(&due.retries, &core), ["10.9.1.0"]);
}

#[test]
fn a_gated_route_is_never_repaired_and_a_scan_takes_it_out_again() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0", "10.9.2.0"], t0);
    // Its session goes down: withdrawn before the delete is sent.
    let gate = Gate { keys: vec![ours("10.9.2.0").key.into()], open: false };
    let GatePlan { withdraw, install } = core.on_gate(&gate);
    assert!(install.is_empty());
    assert_eq!(withdraw.ops.len(), 1);
    assert!(matches!(withdraw.ops[0], Op::Delete(_)));
    assert_eq!(state_of(&core, "10.9.2.0"), table::State::Withdrawn);
    // The delete's own notification is not a loss.
    assert!(core.on_events(batch(vec![deleted("10.9.2.0")], t0 + SEC), t0 + SEC).is_empty());
    // Someone puts it back: the next scan withdraws it again.
    let mut scan = core.begin_scan(Trigger::Periodic, t0 + 2 * SEC);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &ours("10.9.1.0"));
    core.observe(&mut scan, &ours("10.9.2.0"));
    let plan = core.finish_scan(scan);
    assert_eq!(plan.unwanted.ops.len(), 1);
    assert!(plan.install.is_empty());
    // The session comes back: installed again, as an ungated route.
    let GatePlan { withdraw, install: work } = core.on_gate(&Gate { open: true, ..gate });
    assert!(withdraw.is_empty());
    assert_eq!(work, vec![(core.table.find(&ours("10.9.2.0").key).unwrap(), Purpose::Ungated)]);
}

#[test]
fn a_route_that_is_not_gated_ignores_liveness_verdicts() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let GatePlan { withdraw, .. } = core.on_gate(&Gate { keys: vec![ours("10.9.1.0").key.into()], open: false });
    assert!(withdraw.ops.is_empty());
    assert_eq!(state_of(&core, "10.9.1.0"), table::State::Installed);
}

#[test]
fn routes_of_our_protocol_in_no_configuration_are_purged_as_stale() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let mut scan = core.begin_scan(Trigger::Periodic, t0 + SEC);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &ours("10.9.1.0"));
    core.observe(&mut scan, &ours("10.9.7.0"));
    core.observe(&mut scan, &KernelRoute { protocol: 186, ..ours("10.9.8.0") });
    let plan = core.finish_scan(scan);
    assert_eq!(plan.stale.ops.len(), 1, "only guardian's protocol is purged");
    let Op::Delete(request) = plan.stale.ops[0] else { panic!("a delete") };
    assert_eq!(request.key, ours("10.9.7.0").key);
}

#[test]
fn an_interrupted_dump_forgets_its_stale_routes_but_not_what_it_saw() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let mut scan = core.begin_scan(Trigger::Periodic, t0 + SEC);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &ours("10.9.1.0"));
    core.observe(&mut scan, &ours("10.9.7.0"));
    core.dump_interrupted(&mut scan);
    core.begin_dump(&mut scan);
    let plan = core.finish_scan(scan);
    assert!(plan.stale.ops.is_empty());
    assert!(plan.install.is_empty(), "the route seen in the interrupted dump is in place");
}

#[test]
fn a_route_a_scan_finds_missing_soon_after_its_link_went_down_blames_the_link() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let down = Link { index: VETH, name: "veth0".into(), up: false };
    let _ = core.on_events(batch(vec![Event::LinkChanged(down)], t0 + SEC), t0 + SEC);
    let due = core.due(t0 + SEC, true);
    assert_eq!(due.scan, Some(Trigger::LinkOrAddress), "IPv4 flushes without a notification per route");
    let mut scan = core.begin_scan(Trigger::LinkOrAddress, t0 + SEC);
    core.begin_dump(&mut scan);
    let plan = core.finish_scan(scan);
    assert_eq!(destinations(&plan.install, &core), ["10.9.1.0"]);
    let repairs = install_ok(&mut core, plan.install.clone(), t0 + 2 * SEC);
    assert_eq!(repairs[0].cause, Cause::LinkDown { dev: "veth0".into() });
    assert_eq!(repairs[0].noticed, Noticed::Scan);
}

#[test]
fn an_overrun_asks_for_one_resync_when_the_events_are_drained() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let _ = core.on_events(batch(vec![Event::Overrun, Event::Overrun], t0 + SEC), t0 + SEC);
    assert_eq!(core.due(t0 + SEC, false).scan, None, "more events are coming");
    assert_eq!(core.due(t0 + SEC, true).scan, Some(Trigger::Overrun));
    assert_eq!(core.due(t0 + SEC, true).scan, None, "one resync for both");
    let _ = core.on_events(batch(vec![Event::Overrun], t0 + 2 * SEC), t0 + 2 * SEC);
    assert_eq!(core.due(t0 + 2 * SEC + RESYNC_MAX_DELAY, false).scan, Some(Trigger::Overrun), "not starved");
}

#[test]
fn a_delete_read_before_the_echo_of_our_own_repair_is_not_a_new_loss() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let at = t0 + SEC;
    let work = core.on_events(batch(vec![deleted("10.9.1.0")], at), at);
    // The repair is sent as op 50; its notification is not read yet.
    let sent = core.prepare_install(work, at, 50);
    let (outcome, _) = core.installed(sent, Ok(vec![Ok(())]), at);
    assert_eq!(outcome.repaired, 1);
    // A delete read now (an overrun's resync repaired before it was read)
    // happened before the repair: set aside, not a second loss.
    let later = at + MS;
    assert!(core.on_events(batch(vec![deleted("10.9.1.0")], later), later).is_empty());
    // The echo confirms the repair; nothing is left to check.
    let _ = core.on_events(batch(vec![Event::OwnEcho { seq: 50 }], later), later);
    assert_eq!(core.due(later + ECHO_WINDOW, true).scan, None);
}

#[test]
fn a_repair_whose_echo_never_comes_is_checked_by_a_scan() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let at = t0 + SEC;
    let work = core.on_events(batch(vec![deleted("10.9.1.0")], at), at);
    let sent = core.prepare_install(work, at, 50);
    core.installed(sent, Ok(vec![Ok(())]), at);
    assert!(core.on_events(batch(vec![deleted("10.9.1.0")], at + MS), at + MS).is_empty());
    // An identical IPv4 replace is silent: after the window a scan decides.
    let check = at + MS + ECHO_WINDOW;
    assert_eq!(core.due(check, true).scan, Some(Trigger::Unconfirmed));
}

#[test]
fn a_refused_install_is_retried_later_and_at_once_when_a_link_comes_up() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let at = t0 + SEC;
    let work = core.on_events(batch(vec![deleted("10.9.1.0")], at), at);
    let sent = core.prepare_install(work, at, 1);
    let refused = OpError { errno: libc::ENETUNREACH, message: "Network is unreachable".into() };
    let (outcome, repairs) = core.installed(sent, Ok(vec![Err(refused)]), at);
    assert_eq!((outcome.failed, repairs.len()), (1, 0));
    assert_eq!(state_of(&core, "10.9.1.0"), table::State::Failed);
    assert_eq!(core.next_wakeup(), Some(at + RETRY_DELAY));
    let up = Link { index: 9, name: "other".into(), up: true };
    let work = core.on_events(batch(vec![Event::LinkChanged(up)], at + SEC), at + SEC);
    assert_eq!(destinations(&work, &core), ["10.9.1.0"], "a link coming up retries at once");
}

#[test]
fn an_unknown_batch_outcome_leaves_the_routes_missing_and_asks_for_a_scan() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let at = t0 + SEC;
    let work = core.on_events(batch(vec![deleted("10.9.1.0")], at), at);
    let sent = core.prepare_install(work, at, 1);
    let (outcome, repairs) = core.installed(sent, Err(crate::kernel::KernelError::RepliesLost), at);
    assert_eq!((outcome, repairs.len()), (InstallOutcome::default(), 0));
    assert_eq!(state_of(&core, "10.9.1.0"), table::State::Missing);
    assert_eq!(core.due(at, true).scan, Some(Trigger::Overrun));
}

#[test]
fn a_route_whose_device_is_gone_fails_without_reaching_the_kernel() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let gone = Link { index: VETH, name: "veth0".into(), up: false };
    let _ = core.on_events(batch(vec![Event::LinkRemoved(gone), deleted("10.9.1.0")], t0 + SEC), t0 + SEC);
    let work = vec![(core.table.find(&ours("10.9.1.0").key).unwrap(), Purpose::Repair)];
    let sent = core.prepare_install(work, t0 + SEC, 1);
    assert!(sent.ops.is_empty());
    let (outcome, _) = core.installed(sent, Ok(vec![]), t0 + SEC);
    assert_eq!(outcome.failed, 1);
    assert_eq!(core.route_infos()[0].last_error.as_deref(), Some("device veth0 does not exist"));
}

#[test]
fn a_reload_untracks_removed_routes_before_withdrawing_them_and_installs_added_ones() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let text = CONFIG.replace("10.9.1.0/24", "10.9.3.0/24");
    let plan = core.apply_source(Source::config(), config_routes(Config::from_toml(&text, "test.toml").unwrap()));
    assert_eq!((plan.report.added, plan.report.removed, plan.report.unchanged), (1, 1, 1));
    assert_eq!(plan.withdraw.ops.len(), 1, "the removed route was installed: deleted");
    assert_eq!(destinations(&plan.install, &core), ["10.9.3.0"]);
    // Its delete notification is no loss: it is not tracked any more.
    assert!(core.on_events(batch(vec![deleted("10.9.1.0")], t0 + 2 * SEC), t0 + 2 * SEC).is_empty());
    assert_eq!(state_of(&core, "10.9.2.0"), table::State::Withdrawn, "the gated route still waits");
}

#[test]
fn shutdown_withdraws_only_with_withdraw_on_exit() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    assert!(core.shutdown().is_empty());
    let text = format!("[daemon]\nwithdraw_on_exit = true\n{CONFIG}");
    let mut core = core_with(&text, t0);
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    core.observe(&mut scan, &ours("10.9.1.0"));
    let _ = core.finish_scan(scan);
    assert_eq!(core.shutdown().ops.len(), 1, "only the installed route");
}

// ---- sources ------------------------------------------------------------

fn bgp(neighbor: &str) -> Source {
    Source { kind: crate::messages::SourceKind::Bgp, name: format!("bgp:{neighbor}"), owner: None, guard: None }
}

/// `dst`/24 in table 100 via `via` dev veth0, as a source sends it.
fn wanted(routes: &[(&str, &str)]) -> crate::messages::DesiredRoutes {
    let mut devs = DevNames::default();
    let dev = devs.intern("veth0");
    let routes = routes
        .iter()
        .map(|(dst, via)| {
            let spec = RouteSpec {
                key: ours(dst).key,
                via: Some(Gateway::from_ip(&via.parse().unwrap())),
                dev: Some(dev),
                src: None,
            };
            crate::messages::DesiredRoute { spec, gated: false }
        })
        .collect();
    crate::messages::DesiredRoutes { routes, devs, ..Default::default() }
}

fn add(routes: &[(&str, &str)]) -> crate::messages::Change {
    crate::messages::Change::Update { add: wanted(routes), remove: Vec::new() }
}

fn remove(dst: &str) -> crate::messages::Change {
    crate::messages::Change::Update { add: wanted(&[]), remove: vec![ours(dst).key] }
}

fn via_of(core: &Core, dst: &str) -> String {
    let slot = core.table.slot(core.table.find(&ours(dst).key).expect("tracked"));
    slot.spec.via.unwrap().ip().to_string()
}

#[test]
fn a_source_added_after_start_up_has_its_routes_installed_at_once_and_shown_with_its_name() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    let plan = core.apply_source(bgp("192.0.2.9"), add(&[("10.9.7.0", "192.0.2.9")]));
    assert_eq!(plan.report.added, 1);
    assert_eq!(destinations(&plan.install, &core), ["10.9.7.0"]);
    let sources: Vec<(String, String)> = core.route_infos().into_iter().map(|r| (r.dst, r.source)).collect();
    assert!(sources.contains(&("10.9.7.0/24".into(), "bgp:192.0.2.9".into())), "{sources:?}");
    assert!(sources.contains(&("10.9.1.0/24".into(), "config".into())), "{sources:?}");
}

#[test]
fn an_update_touches_only_the_routes_it_names_and_a_replace_only_its_own_source() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    core.apply_source(bgp("192.0.2.9"), add(&[("10.9.7.0", "192.0.2.9"), ("10.9.8.0", "192.0.2.9")]));
    let plan = core.apply_source(bgp("192.0.2.9"), remove("10.9.7.0"));
    assert_eq!((plan.report.removed, plan.withdraw.ops.len()), (1, 0), "never installed: nothing to delete");
    assert!(core.table.find(&ours("10.9.8.0").key).is_some(), "not named: kept");
    // The file re-read with the same routes leaves BGP's alone.
    let plan = core.apply_source(Source::config(), config_routes(Config::from_toml(CONFIG, "t").unwrap()));
    assert_eq!((plan.report.removed, plan.report.unchanged), (0, 2));
    assert!(core.table.find(&ours("10.9.8.0").key).is_some());
}

#[test]
fn a_route_two_sources_want_is_held_by_the_one_of_higher_precedence() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    // BGP wants the file's route with another gateway: it waits.
    let plan = core.apply_source(bgp("192.0.2.9"), add(&[("10.9.1.0", "192.0.2.9")]));
    assert_eq!((plan.report.shadowed, plan.install.len()), (1, 0));
    assert_eq!(via_of(&core, "10.9.1.0"), "192.0.2.2");

    // The other way round: the file takes a route BGP holds, and installs its own.
    let mut core = started(&["10.9.1.0"], t0);
    core.apply_source(bgp("192.0.2.9"), add(&[("10.9.7.0", "192.0.2.9")]));
    let text =
        format!("{CONFIG}\n[[route]]\ndst = \"10.9.7.0/24\"\nvia = \"192.0.2.2\"\ndev = \"veth0\"\ntable = 100\n");
    let plan = core.apply_source(Source::config(), config_routes(Config::from_toml(&text, "t").unwrap()));
    assert_eq!(destinations(&plan.install, &core), ["10.9.7.0"]);
    assert_eq!(via_of(&core, "10.9.7.0"), "192.0.2.2");
    let info = core.route_infos().into_iter().find(|r| r.dst == "10.9.7.0/24").unwrap();
    assert_eq!(info.source, "config");
}

#[test]
fn a_route_its_holder_lets_go_of_passes_to_the_waiting_source_and_is_not_withdrawn() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    core.apply_source(bgp("192.0.2.9"), add(&[("10.9.1.0", "192.0.2.9")]));
    // The file drops 10.9.1.0: BGP's claim takes it, with BGP's gateway.
    let text = CONFIG.replace("10.9.1.0/24", "10.9.3.0/24");
    let plan = core.apply_source(Source::config(), config_routes(Config::from_toml(&text, "t").unwrap()));
    assert!(plan.withdraw.is_empty(), "still wanted: not deleted");
    assert!(destinations(&plan.install, &core).contains(&"10.9.1.0".to_owned()), "replaced with BGP's gateway");
    assert_eq!(via_of(&core, "10.9.1.0"), "192.0.2.9");
    let info = core.route_infos().into_iter().find(|r| r.dst == "10.9.1.0/24").unwrap();
    assert_eq!(info.source, "bgp:192.0.2.9");
    // And when BGP lets go too, it leaves the set and the kernel.
    install_ok(&mut core, plan.install, t0 + SEC);
    let plan = core.apply_source(bgp("192.0.2.9"), remove("10.9.1.0"));
    assert_eq!(plan.withdraw.ops.len(), 1);
    assert!(core.table.find(&ours("10.9.1.0").key).is_none());
}

#[test]
fn a_waiting_claim_withdrawn_by_its_source_is_forgotten() {
    let t0 = Instant::now();
    let mut core = started(&["10.9.1.0"], t0);
    core.apply_source(bgp("192.0.2.9"), add(&[("10.9.1.0", "192.0.2.9")]));
    let plan = core.apply_source(bgp("192.0.2.9"), remove("10.9.1.0"));
    assert_eq!((plan.report.removed, plan.withdraw.ops.len()), (1, 0), "the file's route stays");
    let text = CONFIG.replace("10.9.1.0/24", "10.9.3.0/24");
    let plan = core.apply_source(Source::config(), config_routes(Config::from_toml(&text, "t").unwrap()));
    assert_eq!(plan.withdraw.ops.len(), 1, "no claim left: the route is withdrawn");
}

#[test]
fn a_restart_with_bgp_adopts_what_neighbors_announce_again_and_purges_the_rest_once_settled() {
    let t0 = Instant::now();
    let mut core = core_with(CONFIG, t0);
    core.hold_for_bgp();
    // The start-up scan finds two BGP routes of the last run: not purged yet.
    let mut scan = core.begin_scan(Trigger::Startup, t0);
    core.begin_dump(&mut scan);
    for dst in ["10.9.1.0", "10.9.2.0", "10.9.7.0", "10.9.8.0"] {
        core.observe(&mut scan, &ours(dst));
    }
    let plan = core.finish_scan(scan);
    assert!(plan.stale.ops.is_empty(), "nothing purged while BGP's neighbors come back");
    core.startup_done(MS, t0);

    // The neighbor announces one of them again (in place: adopted, no
    // install) and a new one (installed at once).
    let plan = core.apply_source(bgp("192.0.2.2"), add(&[("10.9.7.0", "192.0.2.2"), ("10.9.9.0", "192.0.2.2")]));
    assert_eq!(destinations(&plan.install, &core), ["10.9.9.0"], "the route in place is adopted untouched");
    assert_eq!(state_of(&core, "10.9.7.0"), table::State::Installed);

    // A periodic scan before End-of-RIB still purges nothing.
    let mut scan = core.begin_scan(Trigger::Periodic, t0 + SEC);
    core.begin_dump(&mut scan);
    for dst in ["10.9.1.0", "10.9.2.0", "10.9.7.0", "10.9.8.0"] {
        core.observe(&mut scan, &ours(dst));
    }
    assert!(core.finish_scan(scan).stale.ops.is_empty());

    // Settled: the scan that follows covers every table and withdraws the
    // route no neighbor announced again.
    core.settle(t0 + 2 * SEC);
    let due = core.due(t0 + 2 * SEC, true);
    assert_eq!(due.scan, Some(Trigger::BgpSettled));
    let mut scan = core.begin_scan(Trigger::BgpSettled, t0 + 2 * SEC);
    core.begin_dump(&mut scan);
    for dst in ["10.9.1.0", "10.9.2.0", "10.9.7.0", "10.9.8.0", "10.9.9.0"] {
        core.observe(&mut scan, &ours(dst));
    }
    let plan = core.finish_scan(scan);
    let purged: Vec<RouteKey> = plan
        .stale
        .ops
        .iter()
        .map(|op| match op {
            Op::Delete(r) => r.key,
            other => panic!("a delete, not {other:?}"),
        })
        .collect();
    assert_eq!(purged, vec![ours("10.9.8.0").key]);
}
