//! Guard mode with a real owner: BIRD 2 installs routes (`protocol
//! kernel`), guardian guards them. A stranger's deletion or replacement is
//! put back exactly and named; BIRD's own withdrawals and restarts are
//! followed, never fought; audit mode changes nothing.

use guardian_tests::bird::Bird;
use guardian_tests::frr::Frr;
use guardian_tests::logs::{field, is};
use guardian_tests::metrics;
use guardian_tests::netns::{Netns, GW4, GW4_OTHER};
use guardian_tests::wait::{self, SHORT};
use guardian_tests::{require_ebpf, require_netns, require_tool, Config, Daemon};
use serde_json::Value;

const SINGLE: &str = "10.7.1.0/24";
const MULTI: &str = "10.7.2.0/24";

/// BIRD exporting two static routes to the main table, one with two
/// weighted next hops; its own kernel scan slowed down so that what puts
/// routes back in these tests is guardian, not BIRD.
fn bird_config(with_single: bool) -> String {
    let single = if with_single { format!("  route {SINGLE} via {GW4};\n") } else { String::new() };
    format!(
        "router id 192.0.2.1;\nlog stderr all;\nprotocol device {{ scan time 600; }}\n\
         protocol kernel {{ ipv4 {{ export all; }}; scan time 600; }}\n\
         protocol static {{\n  ipv4;\n{single}  route {MULTI} via {GW4} weight 1 via {GW4_OTHER} weight 2;\n}}\n"
    )
}

fn guard_config(mode: &str, attribution: &str) -> Config {
    Config::new().attribution("mode", &format!("\"{attribution}\"")).guard(&[
        ("protocol", "\"bird\""),
        ("tables", "[254]"),
        ("prefixes", "[\"10.7.0.0/16\"]"),
        ("owner", "[\"bird\"]"),
        ("mode", &format!("\"{mode}\"")),
    ])
}

/// `ip -d route show <dst>`: every attribute the kernel reports.
fn detailed(ns: &Netns, dst: &str) -> String {
    let out = ns.ip(&["-d", "route", "show", dst]);
    out.stdout.trim().to_owned()
}

fn wait_route(ns: &Netns, dst: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    wait::until(&format!("{dst} {what}"), SHORT, || {
        let now = detailed(ns, dst);
        if pred(&now) {
            Ok(now)
        } else {
            Err(format!("now: {now:?}"))
        }
    })
}

fn line_about<'a>(message: &'a str, dst: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| is(v, message) && field(v, "route").is_some_and(|r| r.starts_with(dst))
}

struct Setup {
    ns: Netns,
    bird: Bird,
    guardian: Daemon,
    multi_before: String,
}

fn start(mode: &str, attribution: &str) -> Setup {
    let ns = Netns::with_link();
    let bird = Bird::builder(&ns, &bird_config(true)).quiet().start();
    wait_route(&ns, SINGLE, "installed by BIRD", |r| r.contains("proto bird"));
    let multi_before =
        wait_route(&ns, MULTI, "installed by BIRD with two next hops", |r| r.matches("nexthop").count() == 2);
    let guardian = Daemon::start(&ns, &guard_config(mode, attribution));
    let line = guardian.wait_log("routes under guard", |v| is(v, "routes under guard"), SHORT);
    assert_eq!(field(&line, "routes").as_deref(), Some("2"), "{line}");
    Setup { ns, bird, guardian, multi_before }
}

fn stranger_changes_are_reverted_and_birds_own_are_followed(attribution: &str) {
    let s = start("repair", attribution);
    let (ns, d) = (&s.ns, &s.guardian);

    // A stray delete of the multipath route: back exactly as it was.
    let mark = d.log_mark();
    ns.ip(&["route", "del", MULTI]);
    let line =
        d.wait_log_from(mark, "the multipath route reinstalled", line_about("route reinstalled", "10.7.2.0"), SHORT);
    assert_eq!(field(&line, "guard").as_deref(), Some("bird"), "{line}");
    assert_eq!(field(&line, "owner").as_deref(), Some("bird"), "{line}");
    if attribution == "ebpf" {
        assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ip"), "{line}");
    }
    let after = wait_route(ns, MULTI, "back", |r| !r.is_empty());
    assert_eq!(after, s.multi_before, "ip -d route show before and after the repair");

    // A stray replace (same identity: BIRD's metric 32) with another gateway
    // and protocol: put back as BIRD's.
    let mark = d.log_mark();
    ns.ip(&["route", "replace", SINGLE, "via", GW4_OTHER, "metric", "32"]);
    d.wait_log_from(mark, "the replaced route reinstalled", line_about("route reinstalled", "10.7.1.0"), SHORT);
    wait_route(ns, SINGLE, "BIRD's again", |r| r.contains("proto bird") && r.contains(GW4));

    // BIRD withdraws a route (taken out of its configuration): respected.
    let mark = d.log_mark();
    let conf = s.bird.socket().with_file_name("bird.conf");
    std::fs::write(&conf, bird_config(false)).expect("rewriting bird.conf");
    let out = s.bird.birdc(&["configure"]);
    assert!(out.stdout.contains("Reconfigured"), "birdc configure: {out:?}");
    let line =
        d.wait_log_from(mark, "BIRD's withdrawal respected", line_about("route withdrawn by owner", "10.7.1.0"), SHORT);
    assert_eq!(field(&line, "verdict").as_deref(), Some("owner"), "{line}");
    assert!(detailed(ns, SINGLE).is_empty(), "the withdrawn route stays withdrawn");
    let routes = d.routes();
    let listed = routes.as_array().expect("an array");
    assert!(!listed.iter().any(|r| r["dst"] == SINGLE), "no longer guarded: {routes}");
    assert!(d.logs().find_from(mark, &line_about("route reinstalled", "10.7.1.0")).is_none());

    if attribution != "ebpf" {
        // Without eBPF a deletion is named by its socket, looked up after the
        // fact: BIRD's deletions on its way out are an exited process's,
        // which `unknown_deleter` decides (docs/guard.md).
        return;
    }
    // BIRD restarts: it removes its routes and adds them back; no fight.
    let mark = d.log_mark();
    drop(s.bird);
    wait_route(ns, MULTI, "removed by BIRD on shutdown", |r| r.is_empty());
    d.wait_log_from(mark, "BIRD's shutdown respected", line_about("route withdrawn by owner", "10.7.2.0"), SHORT);
    let bird = Bird::builder(ns, &bird_config(false)).quiet().start();
    let back = wait_route(ns, MULTI, "added back by BIRD", |r| r.matches("nexthop").count() == 2);
    assert_eq!(back, s.multi_before);
    wait::until("the new route guarded again", SHORT, || {
        let routes = d.routes();
        match routes.as_array().is_some_and(|a| a.iter().any(|r| r["dst"] == MULTI)) {
            true => Ok(()),
            false => Err(routes.to_string()),
        }
    });
    let fights: Vec<Value> = d.logs().all_from(mark, &|v| is(v, "route reinstalled"));
    assert!(fights.is_empty(), "BIRD's restart was fought: {fights:?}");
    // And the re-added route is guarded: a stray delete is repaired again.
    let mark = d.log_mark();
    ns.ip(&["route", "del", MULTI]);
    d.wait_log_from(mark, "guarded after BIRD's restart", line_about("route reinstalled", "10.7.2.0"), SHORT);
    drop(bird);
}

#[test]
fn bird_routes_stranger_changes_are_reverted_and_bird_s_own_followed() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    require_ebpf!();
    stranger_changes_are_reverted_and_birds_own_are_followed("ebpf");
}

#[test]
fn without_ebpf_bird_s_own_changes_are_still_told_apart() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    stranger_changes_are_reverted_and_birds_own_are_followed("netlink");
}

#[test]
fn audit_mode_changes_nothing_and_reports_what_it_would_have_done() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = start("audit", "netlink");
    let (ns, d) = (&s.ns, &s.guardian);
    let mark = d.log_mark();
    ns.ip(&["route", "del", MULTI]);
    let line = d.wait_log_from(
        mark,
        "the audit verdict",
        line_about("guarded route deleted (audit: not repaired)", "10.7.2.0"),
        SHORT,
    );
    assert_eq!(field(&line, "verdict").as_deref(), Some("would_repair"), "{line}");
    assert_eq!(field(&line, "level").as_deref(), Some("WARN"), "{line}");
    let deletions = d.cli_json(&["deletions", "--json"]);
    let entry = deletions.as_array().and_then(|a| a.iter().find(|e| e["verdict"] == "would_repair"));
    let entry = entry.unwrap_or_else(|| panic!("no audit verdict in guardian deletions: {deletions}"));
    assert_eq!((&entry["guard"], &entry["owner"]), (&Value::from("bird"), &Value::from("bird")), "{entry}");
    // The kernel is untouched: the route stays deleted (BIRD's scan is 600 s).
    assert!(detailed(ns, MULTI).is_empty(), "audit mode put the route back");
    assert!(d.logs().find_from(mark, &|v| is(v, "route reinstalled")).is_none());
}

// ---- FRR -------------------------------------------------------------------

const FRR_A: &str = "10.8.1.0/24";
const FRR_B: &str = "10.8.2.0/24";

/// FRR as a second owner: zebra installs staticd's routes (protocol 196,
/// through nexthop objects) and repairs its own at once; guardian guarding
/// them too must not fight it, and must follow its withdrawals and restart.
#[test]
fn frr_routes_stranger_changes_are_reverted_and_zebra_s_own_followed() {
    require_netns!();
    require_ebpf!();
    require_tool!("vtysh");
    require_tool!("/usr/lib/frr/zebra");
    let ns = Netns::with_link();
    let routes = [format!("ip route {FRR_A} {GW4}"), format!("ip route {FRR_B} {GW4}")];
    let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
    let frr = Frr::start(&ns, &routes);
    let before = wait_route(&ns, FRR_A, "installed by zebra", |r| r.contains("metric 20"));
    let config = Config::new().daemon("metrics_listen", &format!("\"{FRR_METRICS}\"")).guard(&[
        ("name", "\"frr\""),
        ("protocol", "196"),
        ("owner", "[\"zebra\"]"),
    ]);
    let d = Daemon::start(&ns, &config);
    let line = d.wait_log("routes under guard", |v| is(v, "routes under guard"), SHORT);
    assert_eq!(field(&line, "routes").as_deref(), Some("2"), "{line}");

    // A stray delete: zebra and guardian may both put it back; either way
    // it is back exactly, and guardian's verdict names the stranger.
    ns.ip(&["route", "del", FRR_A]);
    let after = wait_route(&ns, FRR_A, "back", |r| !r.is_empty());
    assert_eq!(after, before, "ip -d route show before and after");
    wait::until("the stranger counted", SHORT, || {
        let text = metrics::fetch(&ns, FRR_METRICS);
        match metrics::value(&text, "guardian_guard_verdicts_total", &[("guard", "frr"), ("verdict", "repaired")]) {
            Some(n) if n >= 1.0 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // zebra withdraws B (staticd told to): respected, never put back.
    let mark = d.log_mark();
    frr.configure(&ns, &format!("no ip route {FRR_B} {GW4}"));
    let line = d.wait_log_from(
        mark,
        "zebra's withdrawal respected",
        line_about("route withdrawn by owner", "10.8.2.0"),
        SHORT,
    );
    assert_eq!(field(&line, "deleted_by.comm").as_deref().map(|c| c.starts_with("zebra")), Some(true), "{line}");
    assert!(detailed(&ns, FRR_B).is_empty(), "the withdrawn route stays withdrawn");

    // zebra stops (it takes its routes out from its dataplane thread, on its
    // way out): respected too; nothing fought.
    let mark = d.log_mark();
    drop(frr);
    wait_route(&ns, FRR_A, "removed by zebra on exit", |r| r.is_empty());
    d.wait_log_from(mark, "zebra's exit respected", line_about("route withdrawn by owner", "10.8.1.0"), SHORT);
    assert!(d.logs().find_from(mark, &|v| is(v, "route reinstalled")).is_none(), "zebra's exit was fought");
    assert!(detailed(&ns, FRR_A).is_empty());
}

const FRR_METRICS: &str = "127.0.0.1:9471";

// ---- an owner known by its unit; the kernel's doing -----------------------

const UNIT: &str = "guardian-test-owner.service";

/// A cgroup named like a systemd unit, made for the test in the cgroup v2
/// hierarchy, and removed afterwards.
struct UnitCgroup {
    path: std::path::PathBuf,
}

impl UnitCgroup {
    fn new() -> UnitCgroup {
        let mounts = std::fs::read_to_string("/proc/self/mounts").expect("reading mounts");
        let root = mounts
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(2) == Some(&"cgroup2")).then(|| f[1].to_owned())
            })
            .expect("a cgroup2 hierarchy");
        let path = std::path::Path::new(&root).join(format!("gt-{}.slice", std::process::id())).join(UNIT);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        UnitCgroup { path }
    }

    /// `ip args...` in `ns`, run inside the cgroup.
    fn ip(&self, ns: &Netns, args: &str) {
        let procs = self.path.join("cgroup.procs");
        let script = format!("echo $$ > {} && exec ip {args}", procs.display());
        let out = guardian_tests::cmd::run(ns.exec("sh").arg("-c").arg(&script), SHORT);
        assert!(out.success(), "{script}: {out:?}");
    }
}

impl Drop for UnitCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
        if let Some(slice) = self.path.parent() {
            let _ = std::fs::remove_dir(slice);
        }
    }
}

#[test]
fn an_owner_known_by_its_unit_is_followed_and_the_kernel_s_doing_is_not_fought() {
    require_netns!();
    require_ebpf!();
    let ns = Netns::with_link();
    for dst in ["10.6.1.0/24", "10.6.2.0/24"] {
        ns.ip(&["route", "add", dst, "via", GW4, "proto", "99"]);
    }
    let config = Config::new().guard(&[
        ("name", "\"unit\""),
        ("protocol", "99"),
        ("owner_unit", &format!("\"{UNIT}\"")),
        ("kernel_cause_grace", "\"1s\""),
    ]);
    let before = detailed(&ns, "10.6.2.0/24");
    let d = Daemon::start(&ns, &config);
    d.wait_log(
        "routes under guard",
        |v| is(v, "routes under guard") && field(v, "routes").as_deref() == Some("2"),
        SHORT,
    );

    // The owner's unit deletes one: respected.
    let unit = UnitCgroup::new();
    let mark = d.log_mark();
    unit.ip(&ns, "route del 10.6.1.0/24");
    let line =
        d.wait_log_from(mark, "the unit's withdrawal", line_about("route withdrawn by owner", "10.6.1.0"), SHORT);
    assert!(field(&line, "deleted_by.cgroup").is_some_and(|c| c.ends_with(UNIT)), "{line}");
    // Anyone else: put back.
    let mark = d.log_mark();
    ns.ip(&["route", "del", "10.6.2.0/24"]);
    d.wait_log_from(mark, "the stranger's delete repaired", line_about("route reinstalled", "10.6.2.0"), SHORT);
    assert!(detailed(&ns, "10.6.1.0/24").is_empty(), "the owner's withdrawal stands");

    // The link goes down: the kernel flushes the route; not fought while
    // the link is down, put back after the grace once it is up (this owner
    // never re-adds).
    let mark = d.log_mark();
    ns.link_set(guardian_tests::netns::DEV, "down");
    let line = d.wait_log_from(
        mark,
        "the kernel's doing",
        line_about("guarded route removed by the kernel", "10.6.2.0"),
        SHORT,
    );
    assert_eq!(field(&line, "verdict").as_deref(), Some("kernel"), "{line}");
    assert!(d.logs().find_from(mark, &line_about("route reinstalled", "10.6.2.0")).is_none(), "fought the kernel");
    ns.link_set(guardian_tests::netns::DEV, "up");
    let line = d.wait_log_from(mark, "put back after the grace", line_about("route reinstalled", "10.6.2.0"), SHORT);
    assert_eq!(field(&line, "cause").as_deref(), Some("link_down"), "{line}");
    // 99 is `openr` in rt_protos: compare with the route as it was instead.
    wait_route(&ns, "10.6.2.0/24", "back as it was", |r| r == before);
}

const RELOAD_METRICS: &str = "127.0.0.1:9472";

/// Guards come and go with the file: added on reload, they take the routes
/// as they are; removed, they leave them in the kernel, unguarded.
#[test]
fn a_reload_adds_and_removes_guards_and_a_removed_guard_leaves_its_routes() {
    require_netns!();
    let ns = Netns::with_link();
    for dst in ["10.6.1.0/24", "10.6.2.0/24"] {
        ns.ip(&["route", "add", dst, "via", GW4, "proto", "99"]);
    }
    let base =
        Config::new().attribution("mode", "\"netlink\"").daemon("metrics_listen", &format!("\"{RELOAD_METRICS}\""));
    let d = Daemon::start(&ns, &base);
    assert!(d.routes().as_array().is_some_and(|a| a.is_empty()), "nothing guarded yet");

    let guarded = base.clone().guard(&[("name", "\"p99\""), ("protocol", "99"), ("owner", "[\"nobody\"]")]);
    d.write_config(&guarded);
    let mark = d.log_mark();
    d.sighup();
    d.wait_log_from(mark, "the new guard takes its routes", |v| is(v, "routes under guard"), SHORT);
    let routes = d.routes();
    let listed: Vec<&Value> = routes.as_array().expect("an array").iter().collect();
    assert_eq!(listed.len(), 2, "{routes}");
    for r in &listed {
        assert_eq!(
            (&r["kind"], &r["guard"], &r["owner"]),
            (&Value::from("guarded"), &Value::from("p99"), &Value::from("nobody")),
            "{r}"
        );
    }
    let text = metrics::fetch(&ns, RELOAD_METRICS);
    assert_eq!(metrics::value(&text, "guardian_guarded_routes", &[("guard", "p99")]), Some(2.0), "{text}");
    let mark = d.log_mark();
    ns.ip(&["route", "del", "10.6.1.0/24"]);
    d.wait_log_from(mark, "a stranger's delete repaired", line_about("route reinstalled", "10.6.1.0"), SHORT);

    d.write_config(&base);
    let mark = d.log_mark();
    d.sighup();
    d.wait_log_from(
        mark,
        "the guard removed",
        |v| is(v, "guard removed; its routes stay in the kernel, unguarded"),
        SHORT,
    );
    assert!(
        !detailed(&ns, "10.6.1.0/24").is_empty() && !detailed(&ns, "10.6.2.0/24").is_empty(),
        "removing a guard deleted its routes"
    );
    assert!(d.routes().as_array().is_some_and(|a| a.is_empty()), "still listed after the guard left");
    ns.ip(&["route", "del", "10.6.2.0/24"]);
    // A scan now, and the route is still gone: nobody guards it.
    d.reconcile();
    assert!(detailed(&ns, "10.6.2.0/24").is_empty(), "an unguarded route was put back");
    assert!(d.logs().find_from(mark, &line_about("route reinstalled", "10.6.2.0")).is_none());
}

/// guardian as the packaged unit runs it (a dynamic user, only the unit's
/// capabilities) and BIRD as its own user: the owner is still told apart.
fn owner_decisions_under_the_unit(attribution: &str, extra_caps: &[&str]) {
    use guardian_tests::tempdir::TempDir;
    use guardian_tests::unit::{Unit, DYNAMIC_ID};
    use guardian_tests::users::TempGroup;
    let unit = Unit::load();
    let group = TempGroup::new("g");
    let dir = std::sync::Arc::new(TempDir::new("unit"));
    std::os::unix::fs::chown(dir.path(), Some(DYNAMIC_ID), Some(DYNAMIC_ID)).unwrap();
    let (wrapper, seccomp) = unit.wrapper(dir.path(), group.gid, None, env!("CARGO_BIN_EXE_seccomp-exec"));
    // Capabilities the docs tell operators to add, in each of setpriv's sets.
    let wrapper: Vec<String> = wrapper
        .into_iter()
        .map(|arg| match ["--inh-caps=", "--ambient-caps=", "--bounding-set="].iter().any(|p| arg.starts_with(p)) {
            true => extra_caps.iter().fold(arg, |arg, cap| format!("{arg},+{cap}")),
            false => arg,
        })
        .collect();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();

    let ns = Netns::with_link();
    let bird = Bird::builder(&ns, &bird_config(true)).args(&["-u", "bird", "-g", "bird"]).quiet().start();
    wait_route(&ns, MULTI, "installed by BIRD", |r| r.matches("nexthop").count() == 2);
    let mut builder = Daemon::builder(&ns).dir(dir).config(&guard_config("repair", attribution)).wrapper(&wrapper);
    for (k, v) in &seccomp {
        builder = builder.env(k, v);
    }
    let d = builder.spawn();
    d.wait_log(
        "routes under guard",
        |v| is(v, "routes under guard") && field(v, "routes").as_deref() == Some("2"),
        SHORT,
    );

    let mark = d.log_mark();
    ns.ip(&["route", "del", MULTI]);
    d.wait_log_from(mark, "a stranger's delete repaired", line_about("route reinstalled", "10.7.2.0"), SHORT);

    let mark = d.log_mark();
    std::fs::write(bird.socket().with_file_name("bird.conf"), bird_config(false)).expect("rewriting bird.conf");
    let out = bird.birdc(&["configure"]);
    assert!(out.stdout.contains("Reconfigured"), "birdc configure: {out:?}");
    let line =
        d.wait_log_from(mark, "BIRD's withdrawal respected", line_about("route withdrawn by owner", "10.7.1.0"), SHORT);
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("bird"), "{line}");
    assert!(detailed(&ns, SINGLE).is_empty(), "the withdrawn route stays withdrawn");
}

#[test]
fn under_the_unit_with_ebpf_bird_s_withdrawal_is_told_from_a_stranger_s_delete() {
    require_ebpf!();
    require_tool!("bird");
    require_tool!("birdc");
    require_tool!("setpriv");
    require_tool!("unshare");
    require_tool!("systemd-analyze");
    owner_decisions_under_the_unit("ebpf", &[]);
}

/// Without eBPF, BIRD (user `bird`) is known by its socket, which a
/// dynamic user finds only with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE
/// (BIRD dropped privileges, so its /proc/PID/fd is root's): what
/// docs/guard.md and the unit's comment tell operators to add for guard
/// mode without eBPF.
/// (Without it BIRD's withdrawal cannot be attributed and is repaired.)
#[test]
fn under_the_unit_without_ebpf_and_with_proc_read_caps_bird_s_withdrawal_is_told_apart() {
    require_netns!();
    require_tool!("bird");
    require_tool!("birdc");
    require_tool!("setpriv");
    require_tool!("unshare");
    require_tool!("systemd-analyze");
    owner_decisions_under_the_unit("netlink", &["dac_read_search", "sys_ptrace"]);
}

/// The owner's replacement is its new version of the route: kept, and what
/// a later repair puts back.
#[test]
fn bird_s_replacement_of_a_route_becomes_the_guarded_copy() {
    require_netns!();
    require_ebpf!();
    require_tool!("bird");
    require_tool!("birdc");
    let s = start("repair", "ebpf");
    let (ns, d) = (&s.ns, &s.guardian);
    let mark = d.log_mark();
    let moved =
        bird_config(true).replace(&format!("route {SINGLE} via {GW4};"), &format!("route {SINGLE} via {GW4_OTHER};"));
    std::fs::write(s.bird.socket().with_file_name("bird.conf"), moved).expect("rewriting bird.conf");
    let out = s.bird.birdc(&["configure"]);
    assert!(out.stdout.contains("Reconfigured"), "birdc configure: {out:?}");
    let line =
        d.wait_log_from(mark, "BIRD's new version followed", line_about("route replaced by owner", "10.7.1.0"), SHORT);
    assert_eq!(field(&line, "verdict").as_deref(), Some("owner"), "{line}");
    let new = wait_route(ns, SINGLE, "via the new gateway", |r| r.contains(GW4_OTHER));
    // A stray delete now brings back BIRD's new version, not the old one.
    let mark = d.log_mark();
    ns.ip(&["route", "del", SINGLE]);
    d.wait_log_from(mark, "repaired", line_about("route reinstalled", "10.7.1.0"), SHORT);
    wait_route(ns, SINGLE, "back as BIRD has it now", |r| r == new);
}
