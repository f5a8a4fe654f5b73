//! `cargo xtask demo`: guardian's whole idea in a few seconds.
//!
//! ```text
//!   namespace gx-demo-PID            namespace gx-demo-peer-PID
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

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cargo::{self, Profile};
use crate::cleanup;
use crate::daemon::{field, Daemon};
use crate::netns::{self, Netns};
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

/// A temporary folder, removed on drop and on Ctrl-C.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("guardian-{tag}-{}", std::process::id()));
        cleanup::add_path(&path);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        cleanup::remove_path(&self.0);
    }
}

pub fn run() -> Result<ExitCode> {
    prereq::check_root_and_ip("demo")?;

    step("building guardian (cargo build -p guardian)");
    let bin = cargo::build_guardian(Profile::Debug)?;

    let host_name = netns::unique_name("demo");
    let peer_name = netns::unique_name("demo-peer");
    step(&format!(
        "creating two network namespaces joined by a veth pair: {host_name} (guardian's host) and {peer_name} (the next hop)"
    ));
    let host = Netns::create(&host_name)?;
    let peer = Netns::create(&peer_name)?;
    host.ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", &peer_name])?;
    host.ip(&["addr", "add", "192.0.2.1/24", "dev", "veth0"])?;
    host.ip(&["-6", "addr", "add", "2001:db8::1/64", "dev", "veth0", "nodad"])?;
    host.ip(&["link", "set", "veth0", "up"])?;
    peer.ip(&["addr", "add", "192.0.2.2/24", "dev", "veth1"])?;
    peer.ip(&["-6", "addr", "add", "2001:db8::2/64", "dev", "veth1", "nodad"])?;
    peer.ip(&["link", "set", "veth1", "up"])?;
    println!("    {host_name}: veth0 192.0.2.1/24 2001:db8::1/64  <->  {peer_name}: veth1 192.0.2.2/24 2001:db8::2/64");

    let dir = TempDir::new("demo")?;
    let socket = dir.0.join("guardian.sock");
    let config_path = dir.0.join("guardian.toml");
    std::fs::write(&config_path, config(&socket))?;
    step(&format!(
        "starting `guardian run` in {host_name}, guarding 3 routes via the peer (config: {})",
        config_path.display()
    ));
    println!("    198.51.100.0/24   via 192.0.2.2   (main table)");
    println!("    {VICTIM}    via 192.0.2.2   (table {VICTIM_TABLE})");
    println!("    2001:db8:100::/48 via 2001:db8::2 (main table)");
    let mut daemon = Daemon::start(&bin, &host, &config_path, &socket)?;

    step("waiting until guardian says it is ready (guardian status --json)");
    let ready = daemon.wait_ready(Duration::from_secs(20))?;
    println!("    ready after {:.0} ms", ready.as_secs_f64() * 1e3);

    step("what guardian guards (guardian routes):");
    println!("{}", indent(daemon.cli_ok(&["routes"])?.trim_end()));

    step(&format!("a stray process deletes a guarded route: ip route del {VICTIM} table {VICTIM_TABLE}"));
    let deleted_at = Instant::now();
    host.ip(&["route", "del", VICTIM, "table", VICTIM_TABLE])?;

    step("waiting for guardian to notice (netlink event), put it back and say who deleted it (eBPF); its log says:");
    let line = daemon.wait_log(
        "route reinstalled",
        |v| field(v, "route").and_then(Value::as_str).is_some_and(|r| r.contains(VICTIM)),
        Duration::from_secs(10),
    )?;
    println!("    {}", render_log(&line));
    println!("    (the demo saw that line {:.1} ms after the delete)", deleted_at.elapsed().as_secs_f64() * 1e3);

    step(&format!("the kernel has the route again (ip route show table {VICTIM_TABLE}):"));
    println!("{}", indent(host.ip(&["route", "show", "table", VICTIM_TABLE])?.trim_end()));

    step("guardian routes, again:");
    println!("{}", indent(daemon.cli_ok(&["routes"])?.trim_end()));

    step(&format!("guardian's metrics (http://{METRICS}/metrics inside {host_name}):"));
    match host.run(|| http_get(METRICS, "/metrics"))? {
        Ok(body) => {
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
        Err(e) => println!("    (could not read the metrics: {e:#})"),
    }

    step("stopping guardian (SIGTERM) and removing the namespaces");
    let status = daemon.stop(Duration::from_secs(10))?;
    drop(daemon);
    drop(host);
    drop(peer);
    drop(dir);
    if !status.success() {
        bail!("guardian exited with {status} after SIGTERM (expected 0)");
    }
    println!("\ndone: the namespaces, the config and the socket are gone.");
    Ok(ExitCode::SUCCESS)
}

/// `2026-..Z  WARN guardian::attribution: route reinstalled route=... noticed=event missing_for=1.2ms
/// cause=deleted deleted_by.pid=... deleted_by.comm=ip ... attribution=ebpf`
fn render_log(line: &Value) -> String {
    let get = |k: &str| field(line, k).map(value_text).unwrap_or_default();
    let message = field(line, "message").and_then(Value::as_str).unwrap_or_default();
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
        if let Some(v) = field(line, key) {
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

/// A plain HTTP/1.0 GET (the connection closes after the body): enough for
/// a Prometheus text page, without a client dependency.
pub fn http_get(addr: &str, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .with_context(|| format!("reading the answer to GET http://{addr}{path} (5 s timeout)"))?;
    let (head, body) = response.split_once("\r\n\r\n").context("no HTTP header in the answer")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        bail!("GET http://{addr}{path} answered {status}");
    }
    Ok(body.to_owned())
}
