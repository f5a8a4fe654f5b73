//! guardian under `packaging/guardian.service`'s settings, carried out by
//! hand (`guardian_tests::unit`: no systemd here): its user, groups,
//! capabilities, limits, read-only file system and system call filter.
//! Every setting of the unit is kept only if guardian still does its whole
//! job under it, which this test checks: routes, repairs attributed with
//! eBPF, a liveness session, metrics, the control socket's group, READY=1
//! and the watchdog, a reload as `ExecReload=` runs it, and a clean stop.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use guardian_tests::daemon::guardian_bin;
use guardian_tests::daemon::CLI_TIMEOUT;
use guardian_tests::logs::{field, field_u64, route_msg};
use guardian_tests::notify::NotifySocket;
use guardian_tests::pair::{self, Pair};
use guardian_tests::tempdir::TempDir;
use guardian_tests::unit::{Unit, DYNAMIC_ID};
use guardian_tests::users::TempGroup;
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{cmd, ip, metrics, require_ebpf, require_tool, sessions, Config, Daemon, RouteSpec};

/// `/proc/PID/status` field `key`.
fn proc_status(pid: i32, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon's /proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

#[test]
fn guardian_does_its_whole_job_under_the_units_sandbox() {
    require_ebpf!();
    require_tool!("setpriv");
    require_tool!("unshare");
    require_tool!("systemd-analyze");
    let unit = Unit::load();
    let group = TempGroup::new("u");
    let pair = Pair::new();
    // RuntimeDirectory=: the folder of the socket belongs to the service's user.
    let dir = Arc::new(TempDir::new("unit"));
    std::os::unix::fs::chown(dir.path(), Some(DYNAMIC_ID), Some(DYNAMIC_ID)).unwrap();
    let notify = NotifySocket::path();
    // Stricter than the unit: a call outside the filter kills the daemon
    // instead of failing with EPERM, so none can hide behind a fallback.
    let (wrapper, seccomp) = unit.wrapper(dir.path(), group.gid, Some("kill"), env!("CARGO_BIN_EXE_seccomp-exec"));
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();

    let b = pair.b.start(&pair::base_config().route(pair.b.route(0)));
    let plain = RouteSpec::new("10.9.0.0/24").via(pair.a.peer).dev(pair.a.dev);
    let config = Config::new()
        .daemon("metrics_listen", &format!("\"{}\"", pair::METRICS))
        .daemon("control_socket_group", &format!("\"{}\"", group.name))
        .attribution("mode", "\"ebpf\"")
        .liveness("desired_tx", "\"100ms\"")
        .liveness("required_rx", "\"100ms\"")
        .route(pair.a.route(0))
        .route(plain.clone());
    let mut builder = Daemon::builder(&pair.a.ns)
        .dir(dir)
        .config(&config)
        .wrapper(&wrapper)
        .env("NOTIFY_SOCKET", notify.name())
        .env("WATCHDOG_USEC", "1000000");
    for (k, v) in &seccomp {
        builder = builder.env(k, v);
    }
    let a = builder.spawn();
    guardian_tests::wait::until("READY=1 from the daemon under the unit", LONG, || {
        if let Some(status) = a.try_status() {
            panic!("the daemon under the unit exited ({status:?}) before READY=1");
        }
        match notify.count_from(0, "READY=1") {
            0 => Err("not yet".into()),
            _ => Ok(()),
        }
    });

    // Who it runs as: the unit's user, group, capabilities, no new
    // privileges, a seccomp filter.
    let pid = a.pid();
    let id = DYNAMIC_ID.to_string();
    assert!(proc_status(pid, "Uid").split_whitespace().all(|u| u == id), "{}", proc_status(pid, "Uid"));
    assert_eq!(proc_status(pid, "Groups"), group.gid.to_string());
    let cap_eff = u64::from_str_radix(&proc_status(pid, "CapEff"), 16).unwrap();
    // CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39).
    assert_eq!(cap_eff, (1 << 10) | (1 << 12) | (1 << 38) | (1 << 39), "CapEff {cap_eff:#x}");
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1");
    assert_eq!(proc_status(pid, "Seccomp"), "2", "filter mode");
    // ProtectSystem=strict and ProtectKernelTunables=: read-only mounts.
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    for point in ["/", "/proc/sys", "/sys"] {
        let line = mountinfo.lines().find(|l| l.split_whitespace().nth(4) == Some(point));
        let options = line.and_then(|l| l.split_whitespace().nth(5)).unwrap_or_default();
        assert!(options.split(',').any(|o| o == "ro"), "{point} is not read-only for the daemon: {line:?}");
    }

    // Its routes, one of them behind a liveness session with B.
    ip::wait_installed(&pair.a.ns, &plain, SHORT);
    sessions::wait_state(&a, pair.a.peer, "up", LONG);
    ip::wait_installed(&pair.a.ns, &pair.a.route(0), SHORT);

    // A deletion, repaired and attributed with eBPF.
    let mark = a.log_mark();
    let mut del = pair.a.ns.exec("ip");
    del.args(["route", "del", &plain.dst]);
    let deleter = del.spawn().unwrap();
    let deleter_pid = deleter.id();
    assert!(cmd::wait_output(deleter, SHORT, "ip route del").success());
    let line = a.wait_log_from(mark, "route reinstalled", route_msg("route reinstalled", &plain.dst), SHORT);
    assert_eq!(field(&line, "attribution").as_deref(), Some("ebpf"), "{line}");
    assert_eq!(field_u64(&line, "deleted_by.pid"), Some(u64::from(deleter_pid)), "{line}");

    // Metrics, and the control socket given to the group.
    let text = metrics::fetch(&pair.a.ns, pair::METRICS);
    assert_eq!(metrics::value(&text, "guardian_attribution_mode", &[("mode", "ebpf")]), Some(1.0), "{text}");
    let meta = std::fs::metadata(a.socket()).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.uid(), meta.gid()), (0o660, DYNAMIC_ID, group.gid));

    // The watchdog keeps being petted.
    let mark = notify.mark();
    notify.wait_from(mark, "WATCHDOG=1", SHORT);

    // ExecReload=: `guardian reload` as the service's user, in its sandbox.
    a.write_config(&config.clone().route(RouteSpec::new("10.9.1.0/24").via(pair.a.peer).dev(pair.a.dev)));
    let mut reload = pair.a.ns.exec(wrapper[0]);
    reload.args(&wrapper[1..]).arg(guardian_bin()).arg("--control-socket").arg(a.socket()).arg("reload");
    reload.envs(seccomp.iter().map(|(k, v)| (k, v)));
    let out = cmd::run(&mut reload, CLI_TIMEOUT);
    assert!(out.success(), "ExecReload under the unit: {out:?}");
    assert!(out.stdout.contains("1 route added"), "{out:?}");

    // STOPPING=1 and a clean exit, not a SIGSYS.
    let mark = notify.mark();
    a.sigterm();
    notify.wait_from(mark, "STOPPING=1", SHORT);
    let status = a.wait_exit(SHORT);
    assert!(status.success(), "the daemon under the unit exited {status:?}");
    drop(b);
}

#[test]
fn the_units_filter_allows_what_it_must_and_not_what_it_drops() {
    require_tool!("systemd-analyze");
    let allowed = Unit::load().syscall_allow_list();
    for needed in ["bpf", "fchown", "prlimit64", "sendto", "recvmmsg", "execve"] {
        assert!(allowed.contains(needed), "{needed} is not allowed");
    }
    for dropped in ["setrlimit", "setuid", "perf_event_open", "mount", "ptrace"] {
        assert!(!allowed.contains(dropped), "{dropped} is allowed");
    }
}
