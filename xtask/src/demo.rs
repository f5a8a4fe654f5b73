//! `cargo xtask demo`: guardian's whole idea in a few seconds.
//!
//! ```text
//!   namespace gt-PID-0-demo-a        namespace gt-PID-1-demo-b
//!   guardian run, guarding:          the next hop
//!     198.51.100.0/24  (main)
//!     203.0.113.0/24   (table 100)   veth1 192.0.2.2/24
//!     2001:db8:100::/48 (main)             2001:db8::2/64
//!   veth0 192.0.2.1/24  ----------------/
//!         2001:db8::1/64
//! ```
//!
//! A stray `ip route del` removes the table-100 route; guardian notices on
//! netlink, reinstalls it, logs `route reinstalled` and counts it.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use guardian_test_support::logs::{self, value};
use guardian_test_support::netns::VethPair;
use guardian_test_support::tempdir::TempDir;
use guardian_test_support::{metrics, Daemon};
use serde_json::Value;

use crate::cargo::{self, Profile};
use crate::prereq;

const METRICS: &str = "127.0.0.1:9469";
/// The route the "stray process" deletes.
const VICTIM: &str = "203.0.113.0/24";
const VICTIM_TABLE: &str = "100";

fn config(socket: &Path) -> String {
    format!(
        r#"# The demo's configuration (written by `cargo xtask demo`).
[daemon]
control_socket = "{socket}"
metrics_listen = "{METRICS}"   # inside the demo namespace

[reconcile]
interval = "30s"                   # the periodic scan: a safety net behind netlink events

[[route]]
dst = "198.51.100.0/24"
via = "192.0.2.2"
dev = "veth0"

[[route]]
dst = "{VICTIM}"
via = "192.0.2.2"
dev = "veth0"
table = {VICTIM_TABLE}

[[route]]
dst = "2001:db8:100::/48"
via = "2001:db8::2"
dev = "veth0"
"#,
        socket = socket.display()
    )
}

fn step(text: &str) {
    println!("\n==> {text}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

pub fn run() -> Result<ExitCode> {
    prereq::check_root_and_ip("demo")?;

    step("building guardian (cargo build -p guardian)");
    let bin = cargo::build_guardian(Profile::Debug)?;

    step("creating two network namespaces joined by a veth pair: guardian's host and the next hop");
    let VethPair { a: host, b: peer } = VethPair::tagged("demo", "veth0", "veth1");
    println!(
        "    {}: veth0 192.0.2.1/24 2001:db8::1/64  <->  {}: veth1 192.0.2.2/24 2001:db8::2/64",
        host.name(),
        peer.name()
    );

    let dir = Arc::new(TempDir::new("demo"));
    let socket = dir.path().join("guardian.sock");
    step(&format!(
        "starting `guardian run` in {}, guarding 3 routes via the peer (config: {})",
        host.name(),
        dir.path().join("guardian.toml").display()
    ));
    println!("    198.51.100.0/24   via 192.0.2.2   (main table)");
    println!("    {VICTIM}    via 192.0.2.2   (table {VICTIM_TABLE})");
    println!("    2001:db8:100::/48 via 2001:db8::2 (main table)");
    let daemon = Daemon::builder(&host).bin(&bin).dir(Arc::clone(&dir)).config_text(&config(&socket)).quiet().spawn();

    step("waiting until guardian says it is ready (guardian status --json)");
    daemon.wait_ready(Duration::from_secs(20));
    println!("    ready after {:.0} ms", daemon.started().elapsed().as_secs_f64() * 1e3);

    step("what guardian guards (guardian routes):");
    println!("{}", indent(cli_text(&daemon, &["routes"])?.trim_end()));

    step(&format!("a stray process deletes a guarded route: ip route del {VICTIM} table {VICTIM_TABLE}"));
    let deleted_at = Instant::now();
    host.ip(&["route", "del", VICTIM, "table", VICTIM_TABLE]);

    step("waiting for guardian to notice (netlink event), put it back and say who deleted it (eBPF); its log says:");
    let line = daemon.wait_log(
        "route reinstalled",
        |v| logs::is(v, "route reinstalled") && logs::field(v, "route").is_some_and(|r| r.contains(VICTIM)),
        Duration::from_secs(10),
    );
    println!("    {}", render_log(&line));
    println!("    (the demo saw that line {:.1} ms after the delete)", deleted_at.elapsed().as_secs_f64() * 1e3);

    step(&format!("the kernel has the route again (ip route show table {VICTIM_TABLE}):"));
    println!("{}", indent(host.ip(&["route", "show", "table", VICTIM_TABLE]).stdout.trim_end()));

    step("guardian routes, again:");
    println!("{}", indent(cli_text(&daemon, &["routes"])?.trim_end()));

    step(&format!("guardian's metrics (http://{METRICS}/metrics inside {}):", host.name()));
    match metrics::http_get(&host, METRICS, "/metrics") {
        Ok((200, body)) => {
            let lines: Vec<&str> = body
                .lines()
                .filter(|l| {
                    l.starts_with("guardian_route_reinstalls_total")
                        || l.starts_with("guardian_routes_tracked")
                        || l.starts_with("guardian_routes_desired")
                })
                .collect();
            if lines.is_empty() {
                println!("    (no guardian_route_reinstalls_total / guardian_routes_* lines in the metrics)");
            }
            for l in lines {
                println!("    {l}");
            }
        }
        Ok((code, _)) => println!("    (the metrics answered HTTP {code})"),
        Err(e) => println!("    (could not read the metrics: {e})"),
    }

    step("stopping guardian (SIGTERM) and removing the namespaces");
    let status = daemon.stop(Duration::from_secs(10));
    drop(daemon);
    drop(host);
    drop(peer);
    drop(dir);
    match status {
        Some(status) if status.success() => {}
        Some(status) => bail!("guardian exited with {status} after SIGTERM (expected 0)"),
        None => bail!("guardian did not stop within 10 s of SIGTERM (killed)"),
    }
    println!("\ndone: the namespaces, the config and the socket are gone.");
    Ok(ExitCode::SUCCESS)
}

/// `guardian <args>` against the demo's daemon; its stdout, or an error
/// with its stderr.
fn cli_text(daemon: &Daemon, args: &[&str]) -> Result<String> {
    let out = daemon.cli(args);
    if !out.success() {
        bail!("`guardian {}` exited with {}: {}", args.join(" "), out.status, out.stderr.trim());
    }
    Ok(out.stdout)
}

/// `2026-..Z  WARN guardian::attribution: route reinstalled route=... noticed=event missing_for=1.2ms
/// cause=deleted deleted_by.pid=... deleted_by.comm=ip ... attribution=ebpf`
fn render_log(line: &Value) -> String {
    let get = |k: &str| value(line, k).map(value_text).unwrap_or_default();
    let message = logs::message(line).unwrap_or_default();
    let mut out = format!("{} {:>5} {}: {message}", get("timestamp"), get("level"), get("target"));
    // The daemon's own field order (JSON objects come back sorted).
    const FIELDS: [&str; 14] = [
        "route",
        "family",
        "noticed",
        "missing_for",
        "cause",
        "dev",
        "deleted_by",
        "deleted_by.pid",
        "deleted_by.ppid",
        "deleted_by.comm",
        "deleted_by.cmdline",
        "deleted_by.uid",
        "deleted_by.cgroup",
        "attribution",
    ];
    for key in FIELDS {
        if let Some(v) = value(line, key) {
            out.push_str(&format!(" {key}={}", value_text(v)));
        }
    }
    out
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains(' ') => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
