//! Deleter attribution: every reinstall names who removed the route.
//! The eBPF programs load for real (the netlink port-id fallback runs
//! without them); deleters are real processes.

use guardian_tests::logs::{field, field_u64, message, route_msg};
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{metrics, require_ebpf, require_netns, require_tool, Config, Daemon, RouteSpec};
use std::io::Write;
use std::process::{Command, Stdio};

const METRICS: &str = "127.0.0.1:9469";

fn config(mode: &str) -> Config {
    Config::new().daemon("metrics_listen", &format!("\"{METRICS}\"")).attribution("mode", &format!("\"{mode}\""))
}

fn v4(dst: &str) -> RouteSpec {
    RouteSpec::new(dst).via(GW4).dev(DEV)
}

/// Runs `cmd` to completion and returns its pid.
fn run(mut cmd: Command) -> u32 {
    let mut child = cmd.stdin(Stdio::null()).spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    let status = child.wait().unwrap();
    assert!(status.success(), "{cmd:?}: {status}");
    pid
}

/// Waits for the reinstall of `dst` logged after `mark`.
fn reinstall_after(d: &Daemon, mark: usize, dst: &str) -> serde_json::Value {
    d.wait_log_from(mark, &format!("route reinstalled {dst}"), route_msg("route reinstalled", dst), SHORT)
}

#[test]
fn ip_route_del_is_attributed_to_ip_with_its_pid_and_command_line() {
    require_ebpf!();
    let ns = Netns::with_link();
    let spec = v4("10.9.0.0/24").table(100);
    let d = Daemon::start(&ns, &config("ebpf").route(spec.clone()));
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    // One INFO line and the status name the variant the kernel got.
    let variant = d.wait_log(
        "the variant line",
        |v| message(v).is_some_and(|m| m.starts_with("deleter attribution: eBPF, variant hook=")),
        SHORT,
    );
    let status = d.cli_json(&["status", "--json"]);
    let running = status["attribution"].as_str().unwrap_or_default();
    assert!(running.starts_with("ebpf (hook="), "{status}");
    assert!(
        message(&variant).unwrap_or_default().ends_with(running.trim_start_matches("ebpf (").trim_end_matches(')')),
        "{variant} vs {status}"
    );
    let mark = d.log_mark();
    let mut del = ns.exec("ip");
    del.args(["route", "del", "10.9.0.0/24", "table", "100"]);
    let pid = run(del);
    let line = reinstall_after(&d, mark, "10.9.0.0/24");
    assert_eq!(field(&line, "attribution").as_deref(), Some("ebpf"), "{line}");
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ip"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.uid"), Some(0), "{line}");
    let cmdline = field(&line, "deleted_by.cmdline").unwrap_or_default();
    assert!(cmdline.starts_with("ip route del 10.9.0.0/24 table 100"), "{line}");
    // The same deletion, from the running daemon.
    let deletions = d.cli_json(&["deletions", "--json", "--limit", "5"]);
    let first = &deletions[0];
    assert_eq!(first["attribution"], "ebpf", "{deletions}");
    assert_eq!(first["cause"], "deleted", "{deletions}");
    assert_eq!(first["deleted_by"]["process"]["pid"], pid, "{deletions}");
    // And the counter's bounded label names it.
    let text = metrics::fetch(&ns, METRICS);
    let by_ip = metrics::parse(&text)
        .into_iter()
        .filter(|s| {
            s.name == "guardian_route_reinstalls_total" && s.labels.get("deleter").map(String::as_str) == Some("ip")
        })
        .map(|s| s.value)
        .sum::<f64>();
    assert_eq!(by_ip, 1.0, "{text}");
}

#[test]
fn a_renamed_copy_of_ip_and_a_short_lived_script_are_named() {
    require_ebpf!();
    let ns = Netns::with_link();
    let a = v4("10.9.1.0/24");
    let b = v4("10.9.2.0/24");
    let d = Daemon::start(&ns, &config("ebpf").route(a.clone()).route(b.clone()));
    guardian_tests::ip::wait_installed(&ns, &b, SHORT);
    let ip = which("ip").expect("ip is installed");
    // A link, not a copy: the kernel names the process after the path it
    // runs (comm), and no file of ours is open for writing while another
    // test thread forks, which made exec fail with ETXTBSY now and then.
    let copy = d.dir().path().join("route-cleaner");
    std::os::unix::fs::symlink(&ip, &copy).unwrap();

    let mark = d.log_mark();
    let mut del = ns.exec(&copy);
    del.args(["route", "del", &a.dst]);
    let pid = run(del);
    let line = reinstall_after(&d, mark, &a.dst);
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("route-cleaner"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
    // Any process may call itself anything: the metric label stays bounded.
    let text = metrics::fetch(&ns, METRICS);
    assert!(text.contains("deleter=\"other\""), "{text}");
    assert!(!text.contains("route-cleaner"), "{text}");

    let mark = d.log_mark();
    let mut script = ns.exec("sh");
    script.args(["-c", &format!("ip route del {}; true", b.dst)]);
    let sh = run(script);
    let line = reinstall_after(&d, mark, &b.dst);
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ip"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.ppid"), Some(sh as u64), "the script is the parent: {line}");
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(tool)).find(|p| p.exists())
}

#[test]
fn link_down_names_the_link_and_who_set_it_down() {
    require_ebpf!();
    let ns = Netns::with_link();
    let spec = v4("10.9.3.0/24").table(100);
    let d = Daemon::start(&ns, &config("ebpf").route(spec.clone()));
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    let mut down = ns.exec("ip");
    down.args(["link", "set", DEV, "down"]);
    let pid = run(down);
    guardian_tests::ip::wait_absent(&ns, "10.9.3.0/24", "100", SHORT);
    ns.link_set(DEV, "up");
    let line = reinstall_after(&d, mark, "10.9.3.0/24");
    assert_eq!(field(&line, "cause").as_deref(), Some("link_down"), "{line}");
    assert_eq!(field(&line, "dev").as_deref(), Some(DEV), "{line}");
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ip"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
    assert!(field(&line, "deleted_by.cmdline").unwrap_or_default().contains("link set"), "{line}");
}

#[test]
fn route_del_from_net_tools_is_attributed_through_its_ioctl() {
    require_ebpf!();
    require_tool!("route");
    if !guardian_tests::skip::tracefs_ready() {
        return;
    }
    let ns = Netns::with_link();
    let spec = v4("10.9.4.0/24");
    let d = Daemon::start(&ns, &config("ebpf").route(spec.clone()));
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    let mut del = ns.exec("route");
    del.args(["del", "-net", "10.9.4.0", "netmask", "255.255.255.0"]);
    let pid = run(del);
    let line = reinstall_after(&d, mark, "10.9.4.0/24");
    assert_eq!(field(&line, "attribution").as_deref(), Some("ebpf"), "{line}");
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("route"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
}

#[test]
fn ifconfig_down_names_the_link_and_who_set_it_down_through_its_ioctl() {
    require_ebpf!();
    require_tool!("ifconfig");
    if !guardian_tests::skip::tracefs_ready() {
        return;
    }
    let ns = Netns::with_link();
    let spec = v4("10.9.5.0/24").table(100);
    let d = Daemon::start(&ns, &config("ebpf").route(spec.clone()));
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    // net-tools sets the link down with SIOCSIFFLAGS, not with netlink.
    let mut down = ns.exec("ifconfig");
    down.args([DEV, "down"]);
    let pid = run(down);
    guardian_tests::ip::wait_absent(&ns, "10.9.5.0/24", "100", SHORT);
    ns.link_set(DEV, "up");
    let line = reinstall_after(&d, mark, "10.9.5.0/24");
    assert_eq!(field(&line, "cause").as_deref(), Some("link_down"), "{line}");
    assert_eq!(field(&line, "dev").as_deref(), Some(DEV), "{line}");
    assert_eq!(field(&line, "attribution").as_deref(), Some("ebpf"), "{line}");
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ifconfig"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
}

#[test]
fn deletions_elsewhere_and_failed_deletes_blame_nobody() {
    require_ebpf!();
    let ns = Netns::with_link();
    let other = Netns::with_link();
    let spec = v4("10.9.5.0/24");
    let d = Daemon::start(&ns, &config("ebpf").route(spec.clone()));
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    // The same prefix deleted in another namespace, and a delete here that fails.
    other.ip(&["route", "add", &spec.dst, "via", GW4, "dev", DEV]);
    other.ip(&["route", "del", &spec.dst]);
    let failed = ns.ip_try(&["route", "del", "10.99.0.0/24"]);
    assert!(!failed.success(), "deleting a route that is not there fails");
    // A marker deletion, read after both (the ring buffer keeps order).
    let mark = d.log_mark();
    let mut del = ns.exec("ip");
    del.args(["route", "del", &spec.dst]);
    let pid = run(del);
    let line = reinstall_after(&d, mark, &spec.dst);
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
    let deletions = d.cli_json(&["deletions", "--json"]);
    assert_eq!(deletions.as_array().map(Vec::len), Some(1), "only the marker: {deletions}");
    // Records: the failed delete (seen, never blamed) and the marker; none
    // from the other namespace.
    let text = metrics::fetch(&ns, METRICS);
    assert_eq!(metrics::sum(&text, "guardian_attribution_records_total"), Some(2.0), "{text}");
}

/// No eBPF here (`mode = "netlink"`): the port id of the deleting request,
/// resolved through /proc. It needs what the daemon needs, no more.
#[test]
fn netlink_fallback_names_a_live_deleter_and_says_exited_for_a_gone_one() {
    require_netns!();
    let ns = Netns::with_link();
    let spec = v4("10.9.6.0/24");
    // One repair at once per minute: the second deletion's repair waits a
    // second (damping), by which time its short-lived deleter has exited.
    let cfg = config("netlink").reconcile("max_repairs_per_route", "1").route(spec.clone());
    let d = Daemon::start(&ns, &cfg);
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let mode = metrics::fetch(&ns, METRICS);
    assert!(mode.contains("guardian_attribution_mode{mode=\"netlink-portid\"} 1"), "{mode}");

    // A long-lived deleter: `ip -batch -` keeps its netlink socket open.
    let mark = d.log_mark();
    let mut batch = ns.exec("ip");
    batch.args(["-batch", "-"]).stdin(Stdio::piped());
    let mut child = batch.spawn().unwrap();
    let pid = child.id();
    writeln!(child.stdin.as_mut().unwrap(), "route del {}", spec.dst).unwrap();
    child.stdin.as_mut().unwrap().flush().unwrap();
    let line = reinstall_after(&d, mark, &spec.dst);
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(field(&line, "attribution").as_deref(), Some("netlink-portid"), "{line}");
    assert_eq!(field(&line, "deleted_by.comm").as_deref(), Some("ip"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");

    // A short-lived one, gone by the time the damped repair runs.
    let mark = d.log_mark();
    let mut del = ns.exec("ip");
    del.args(["route", "del", &spec.dst]);
    run(del);
    let line = d.wait_log_from(mark, "damped reinstall", route_msg("route reinstalled", &spec.dst), LONG);
    assert_eq!(field(&line, "deleted_by").as_deref(), Some("exited"), "{line}");
}

/// As packaging/guardian.service runs it: not root, only CAP_NET_ADMIN,
/// CAP_BPF and CAP_PERFMON, RLIMIT_MEMLOCK unlimited (`LimitMEMLOCK=`:
/// kernels before 5.11 charge BPF maps to it), and still eBPF attribution.
#[test]
fn an_unprivileged_user_with_bpf_capabilities_attributes_with_ebpf() {
    use std::os::unix::fs::PermissionsExt;
    require_ebpf!();
    require_tool!("setpriv");
    let ns = Netns::with_link();
    let dir = std::sync::Arc::new(guardian_tests::tempdir::TempDir::new("bpfuser"));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let spec = v4("10.9.7.0/24");
    let caps = "-all,+net_admin,+bpf,+perfmon";
    let d = Daemon::builder(&ns)
        .dir(dir)
        .config(&config("ebpf").route(spec.clone()))
        .wrapper(&[
            // LimitMEMLOCK=infinity, where this machine lets root raise it
            // (a container without CAP_SYS_RESOURCE does not; its kernel
            // charges the memory cgroup anyway, or the test fails).
            "sh",
            "-c",
            "ulimit -l unlimited 2>/dev/null; exec \"$@\"",
            "sh",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &format!("--inh-caps={caps}"),
            &format!("--ambient-caps={caps}"),
        ])
        .spawn();
    d.wait_ready(LONG);
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    let mut del = ns.exec("ip");
    del.args(["route", "del", &spec.dst]);
    let pid = run(del);
    let line = reinstall_after(&d, mark, &spec.dst);
    assert_eq!(field(&line, "attribution").as_deref(), Some("ebpf"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
}

#[test]
fn a_replace_by_another_process_names_it_with_cause_replaced() {
    require_ebpf!();
    let ns = Netns::with_link();
    let spec = v4("10.9.8.0/24");
    let d = Daemon::start(&ns, &config("ebpf").route(spec.clone()));
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
    let mark = d.log_mark();
    let mut replace = ns.exec("ip");
    replace.args(["route", "replace", &spec.dst, "via", guardian_tests::netns::GW4_OTHER, "dev", DEV]);
    let pid = run(replace);
    let line = reinstall_after(&d, mark, &spec.dst);
    assert_eq!(field(&line, "cause").as_deref(), Some("replaced"), "{line}");
    assert_eq!(field(&line, "attribution").as_deref(), Some("ebpf"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(pid as u64), "{line}");
    guardian_tests::ip::wait_installed(&ns, &spec, SHORT);
}
