//! What deleter attribution costs, in two parts.
//!
//! 1. The hooks on unrelated traffic, for each program variant
//!    ([`VARIANTS`], forced with `--ebpf-force`; one that does not load on
//!    this kernel is reported as such). `tp_btf/consume_skb` fires for every
//!    consumed skb on the host, so a UDP flood between two namespaces of the
//!    bench (joined by a veth pair, iperf3, 64-byte datagrams, no rate limit)
//!    runs it hundreds of thousands of times a second while guardian sits
//!    idle in a third namespace.
//!    - Cost per invocation: with `kernel.bpf_stats_enabled=1` (restored
//!      afterwards, also on Ctrl-C), `run_time_ns` / `run_cnt` of each of
//!      guardian's programs, read from /proc/<guardian>/fdinfo/<prog fd>
//!      before and after the flood. The floor is an empty program on the
//!      same hook ([`super::floor`]), attached by the bench during the same
//!      floods. (The ioctl program runs only on ioctl(2) calls, which the
//!      flood does not make: its row says how often that was.)
//!    - Packets per second received by iperf3 with guardian on
//!      `--attribution netlink` (no programs: the floor) and `--attribution
//!      ebpf`, in interleaved pairs (the order alternates), with the stats
//!      off (they add two clock reads to every invocation); the figure is the
//!      median of the per-pair ratios.
//! 2. The record pipeline under a mass deletion: guardian guards 1M /32
//!    routes; one `ip -batch` of `route del` lines (one round, unlike `ip
//!    route flush`) deletes them all; the bench waits for every `route
//!    reinstalled` line and reports the deletion rate, the attribution of
//!    the lines, `guardian_attribution_drops`, and the time from each
//!    deletion (its RTM_DELROUTE on a monitor socket in the namespace; the
//!    batch start for any the monitor missed) to the timestamp of its line.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use guardian_test_support::{cmd, logs, metrics, Daemon, Netns};
use serde_json::{json, Value};

use super::floor;
use super::{count_label, median, min_max, num, percentile, status_of, Ctx, Row};
use crate::cleanup;
use crate::config::{self, TABLE};
use crate::netlink::{self, RTM_DELROUTE};

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";
/// Length of one UDP flood.
const FLOOD_SECS: u32 = 10;
/// netlink / ebpf pairs for the packet rate.
const PAIRS: usize = 5;
/// Floods with the stats on, for the cost per invocation.
const STATS_RUNS: usize = 3;
/// Each variant against the empty program on the same hook (issue 11).
const TARGET_RATIO: f64 = 1.05;
/// UDP pps with attribution over without, where the hook is not on the
/// packet path (fentry on the rtnetlink handlers).
const TARGET_PPS_RATIO: f64 = 0.99;
/// The program variants measured: (label, `--ebpf-force` choices).
/// `bounded` is what kernels without `bpf_loop` (5.10 to 5.16) run.
const VARIANTS: [(&str, &str); 3] = [
    ("consume_skb+bpf_loop", "hook=consume_skb,walk=bpf_loop"),
    ("consume_skb+bounded", "hook=consume_skb,walk=bounded"),
    ("fentry", "hook=fentry"),
];
/// What the prototype measured (attribution.md), for the record.
const PROTOTYPE_NS: f64 = 45.0;
/// Routes deleted at once in part 2.
const ROUTES: u32 = 1_000_000;
/// Metrics inside part 2's namespace (its own loopback).
const METRICS: &str = "127.0.0.1:9469";
/// guardian refreshes `attribution_drops` every 5 s.
const DROPS_REFRESH: Duration = Duration::from_millis(5_500);
const SERVER: &str = "198.51.100.2";
const CLIENT: &str = "198.51.100.1";
/// `prog_type` in fdinfo (enum bpf_prog_type).
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
const BPF_PROG_TYPE_TRACING: u32 = 26;

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let iperf = Command::new("iperf3").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !matches!(iperf, Ok(s) if s.success()) {
        bail!(
            "the ebpf scenario needs iperf3 for its UDP flood: install it (`apt-get install -y iperf3`) and run \
             `cargo xtask bench --only ebpf` again"
        );
    }
    let mut rows = Vec::new();
    for (variant, force) in VARIANTS {
        println!("  -- {variant} ({force})");
        match loads(ctx, force) {
            Ok(()) => rows.extend(hook_cost(ctx, variant, force)?),
            Err(why) => {
                println!("    does not load on this kernel: {why}");
                rows.push(Row {
                    scenario: "ebpf",
                    figure: format!("{variant}: loads on this kernel"),
                    value: 0.0,
                    unit: "no",
                    target: None,
                    met: None,
                    floor: None,
                    floor_what: None,
                    ratio: None,
                    detail: json!({ "force": force, "error": why }),
                });
            }
        }
    }
    rows.extend(pipeline(ctx)?);
    Ok(rows)
}

// ---------------------------------------------------------------- part 1

/// Two namespaces joined by a veth pair, an iperf3 server in one.
struct Flood {
    tx: Netns,
    rx: Netns,
    server: Option<Child>,
}

impl Flood {
    fn new() -> Result<Flood> {
        let tx = Netns::tagged("ebpf-tx");
        let rx = Netns::tagged("ebpf-rx");
        tx.veth_to("vtx", &rx, "vrx");
        tx.addr_add("vtx", &format!("{CLIENT}/24"));
        rx.addr_add("vrx", &format!("{SERVER}/24"));
        let mut cmd = rx.exec("iperf3");
        cmd.args(["-s", "-B", SERVER]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let server = cmd.spawn().context("starting the iperf3 server")?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(Flood { tx, rx, server: Some(server) })
    }

    /// One flood; returns the datagrams per second the server received.
    fn run(&self) -> Result<Received> {
        let mut last = String::new();
        for _ in 0..3 {
            let mut cmd = self.tx.exec("iperf3");
            cmd.args(["-c", SERVER, "-B", CLIENT, "-u", "-l", "64", "-b", "0", "-t", &FLOOD_SECS.to_string(), "-J"]);
            let out = cmd::run(&mut cmd, Duration::from_secs(u64::from(FLOOD_SECS) + 30));
            let doc: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
            let sum = &doc["end"]["sum_received"];
            if let (Some(packets), Some(lost), Some(secs)) =
                (sum["packets"].as_f64(), sum["lost_packets"].as_f64(), sum["seconds"].as_f64())
            {
                if secs > 0.0 {
                    return Ok(Received { pps: (packets - lost) / secs, sent_pps: packets / secs });
                }
            }
            last = doc["error"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("exit {}, {}", out.status, out.stderr.trim()));
            // The server may not listen yet, or still be busy with the last test.
            std::thread::sleep(Duration::from_secs(1));
        }
        bail!("iperf3 gave no result: {last}")
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = (&self.tx, &self.rx);
    }
}

#[derive(Clone, Copy)]
struct Received {
    pps: f64,
    sent_pps: f64,
}

/// One BPF program held by guardian, as its fdinfo shows it.
#[derive(Clone, Debug)]
struct ProgStat {
    id: u32,
    kind: u32,
    run_time_ns: u64,
    run_cnt: u64,
}

fn prog_label(kind: u32) -> String {
    match kind {
        BPF_PROG_TYPE_TRACING => "consume_skb (tp_btf)".into(),
        BPF_PROG_TYPE_TRACEPOINT => "sys_enter_ioctl (tracepoint)".into(),
        k => format!("program of type {k}"),
    }
}

/// guardian's BPF programs: its fds whose fdinfo has `prog_type`, by program id.
fn prog_stats(pid: i32) -> Result<BTreeMap<u32, ProgStat>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut progs = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(text) = std::fs::read_to_string(entry?.path()) else { continue };
        let get = |key: &str| -> Option<u64> {
            text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.trim().parse().ok())
        };
        let (Some(kind), Some(id)) = (get("prog_type"), get("prog_id")) else { continue };
        progs.insert(
            id as u32,
            ProgStat {
                id: id as u32,
                kind: kind as u32,
                run_time_ns: get("run_time_ns").unwrap_or(0),
                run_cnt: get("run_cnt").unwrap_or(0),
            },
        );
    }
    Ok(progs)
}

/// One program over one flood.
#[derive(Clone)]
struct ProgDelta {
    label: String,
    ns_per_run: Option<f64>,
    runs: u64,
    runs_per_sec: f64,
}

/// Run time per run of each program between two reads of its stats.
fn deltas(before: &BTreeMap<u32, ProgStat>, after: &BTreeMap<u32, ProgStat>, secs: f64) -> Vec<ProgDelta> {
    after
        .values()
        .map(|a| {
            let b = before.get(&a.id);
            let runs = a.run_cnt - b.map_or(0, |b| b.run_cnt);
            let time = a.run_time_ns - b.map_or(0, |b| b.run_time_ns);
            ProgDelta {
                label: prog_label(a.kind),
                ns_per_run: (runs > 0).then(|| time as f64 / runs as f64),
                runs,
                runs_per_sec: runs as f64 / secs,
            }
        })
        .collect()
}

/// Whether the variant `force` loads here (`guardian ebpf-variant`).
fn loads(ctx: &Ctx, force: &str) -> std::result::Result<(), String> {
    let out = Command::new(&ctx.bin)
        .args(["ebpf-variant", "--ebpf-force", force])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ctx.bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn start_guardian(ctx: &Ctx, ns: &Netns, config: &Path, mode: &str, force: &str) -> Daemon {
    let daemon = ctx.start_daemon_with(ns, config, &["--attribution", mode, "--ebpf-force", force]);
    daemon.wait_ready(Duration::from_secs(30));
    daemon
}

fn hook_cost(ctx: &Ctx, variant: &str, force: &str) -> Result<Vec<Row>> {
    let is_handler = force.contains("hook=fentry");
    let g_ns = Netns::tagged_with_link("ebpf-g");
    let config = ctx.dir.join("ebpf-hook.toml");
    config::write_generated(&config, 0, 10)?;
    let flood = Flood::new()?;
    let stats_path = Path::new(BPF_STATS);
    let stats_before = std::fs::read_to_string(stats_path).unwrap_or_default().trim().to_owned();

    // Packet rate, netlink vs ebpf, stats off.
    cleanup::set_sysctl(stats_path, "0").with_context(|| format!("writing {BPF_STATS}"))?;
    let mut netlink_pps = Vec::new();
    let mut ebpf_pps = Vec::new();
    let mut ratios = Vec::new();
    let mut sent = Vec::new();
    for pair in 0..PAIRS {
        let order: [&str; 2] = if pair % 2 == 0 { ["netlink", "ebpf"] } else { ["ebpf", "netlink"] };
        let mut got = HashMap::new();
        for mode in order {
            let daemon = start_guardian(ctx, &g_ns, &config, mode, force);
            let progs = prog_stats(daemon.pid())?;
            match (mode, progs.len()) {
                ("netlink", n) if n > 0 => bail!("guardian --attribution netlink holds {n} BPF programs"),
                ("ebpf", 0) => bail!("guardian --attribution ebpf is ready but holds no BPF program fd"),
                _ => {}
            }
            let r = flood.run()?;
            daemon.check_alive()?;
            let _ = daemon.stop(Duration::from_secs(10));
            sent.push(r.sent_pps);
            got.insert(mode, r.pps);
        }
        let (n, e) = (got["netlink"], got["ebpf"]);
        println!(
            "    pair {}: received {} pps with --attribution netlink, {} pps with ebpf (ratio {:.3})",
            pair + 1,
            num(n),
            num(e),
            e / n
        );
        netlink_pps.push(n);
        ebpf_pps.push(e);
        ratios.push(e / n);
    }

    // Cost per invocation, stats on.
    cleanup::set_sysctl(stats_path, "1").with_context(|| format!("writing {BPF_STATS}"))?;
    let mut runs: Vec<Vec<ProgDelta>> = Vec::new();
    let mut stats_pps = Vec::new();
    let mut floor_ns = Vec::new();
    // `caught`: the stats go off again even when a daemon does not start.
    let measured = super::caught(|| -> Result<()> {
        let _floor = floor::Floor::attach().context("attaching the floor program")?;
        let own = std::process::id() as i32;
        for i in 0..STATS_RUNS {
            let daemon = start_guardian(ctx, &g_ns, &config, "ebpf", force);
            let before = prog_stats(daemon.pid())?;
            let floor_before = prog_stats(own)?;
            let t0 = Instant::now();
            let r = flood.run()?;
            let after = prog_stats(daemon.pid())?;
            let floor_after = prog_stats(own)?;
            let secs = t0.elapsed().as_secs_f64();
            daemon.check_alive()?;
            let _ = daemon.stop(Duration::from_secs(10));
            let floor = deltas(&floor_before, &floor_after, secs);
            floor_ns.extend(floor.iter().filter_map(|d| d.ns_per_run));
            let deltas = deltas(&before, &after, secs);
            let text: Vec<String> = deltas
                .iter()
                .map(|d| {
                    format!(
                        "{}: {} ns/run over {} runs ({}/s)",
                        d.label,
                        d.ns_per_run.map(num).unwrap_or_else(|| "-".into()),
                        d.runs,
                        num(d.runs_per_sec)
                    )
                })
                .collect();
            let floor_text = floor.first().and_then(|d| d.ns_per_run).map(num).unwrap_or_else(|| "-".into());
            println!(
                "    stats run {}: {}; empty tp_btf floor: {floor_text} ns/run; received {} pps",
                i + 1,
                text.join("; "),
                num(r.pps)
            );
            runs.push(deltas);
            stats_pps.push(r.pps);
        }
        Ok(())
    });
    cleanup::restore_sysctl(stats_path);
    drop(flood);
    drop(g_ns);
    measured?;

    let mut rows = Vec::new();
    let labels: Vec<String> = {
        let mut l: Vec<String> = runs.iter().flatten().map(|d| d.label.clone()).collect();
        l.sort();
        l.dedup();
        l
    };
    let pps_detail = json!({
        "flood": format!("iperf3 -u -l 64 -b 0 -t {FLOOD_SECS}, veth between two namespaces"),
        "pairs": PAIRS,
        "received_pps_netlink": netlink_pps,
        "received_pps_ebpf": ebpf_pps,
        "ratios_ebpf_over_netlink": ratios,
        "sent_pps": sent,
        "bpf_stats_enabled": "0 during the pairs",
        "bpf_stats_enabled_before": stats_before,
    });
    let floor = (!floor_ns.is_empty()).then(|| median(&floor_ns));
    if let Some(f) = floor {
        println!("    empty tp_btf floor on consume_skb: median {} ns/run", num(f));
    }
    for label in &labels {
        let of: Vec<&ProgDelta> = runs.iter().flatten().filter(|d| &d.label == label).collect();
        let label = label.as_str();
        let ns: Vec<f64> = of.iter().filter_map(|d| d.ns_per_run).collect();
        let rate: Vec<f64> = of.iter().map(|d| d.runs_per_sec).collect();
        let counts: Vec<u64> = of.iter().map(|d| d.runs).collect();
        let is_skb = label.starts_with("consume_skb");
        let label = format!("{variant}: {label}");
        let detail = json!({
            "ns_per_run": ns,
            "runs": counts,
            "runs_per_sec": rate,
            "received_pps_with_stats_on": stats_pps,
            "measured": "delta run_time_ns / delta run_cnt from /proc/<guardian>/fdinfo around each flood, kernel.bpf_stats_enabled=1; runs/s over the wall time between the two reads",
            "prototype_ns": PROTOTYPE_NS,
            "floor_ns_per_run": floor_ns,
        });
        if !ns.is_empty() {
            let m = median(&ns);
            rows.push(Row {
                scenario: "ebpf",
                figure: format!("{label} ns per run under a UDP flood (median of {})", ns.len()),
                value: m,
                unit: "ns",
                target: is_skb.then(|| format!("<= {TARGET_RATIO}x the empty program")),
                met: floor.filter(|_| is_skb).map(|f| m / f <= TARGET_RATIO),
                floor: floor.filter(|_| is_skb),
                floor_what: is_skb.then_some("empty tp_btf program on consume_skb, same floods"),
                ratio: floor.filter(|_| is_skb).map(|f| m / f),
                detail: detail.clone(),
            });
        }
        rows.push(Row {
            scenario: "ebpf",
            figure: format!("{label} runs per second during the flood"),
            value: median(&rate),
            unit: "runs/s",
            target: None,
            met: None,
            floor: None,
            floor_what: None,
            ratio: None,
            detail,
        });
    }
    let (rlo, rhi) = min_max(&ratios);
    println!("    ebpf/netlink received pps: median ratio {:.3} (min {:.3} max {:.3})", median(&ratios), rlo, rhi);
    rows.push(Row {
        scenario: "ebpf",
        figure: format!("{variant}: UDP pps received with the programs attached (ratio: median of {PAIRS} pairs)"),
        value: median(&ebpf_pps),
        unit: "pkt/s",
        target: is_handler.then(|| format!(">= {TARGET_PPS_RATIO}x without")),
        met: is_handler.then_some(median(&ratios) >= TARGET_PPS_RATIO),
        floor: Some(median(&netlink_pps)),
        floor_what: Some("--attribution netlink"),
        ratio: Some(median(&ratios)),
        detail: pps_detail,
    });
    Ok(rows)
}

// ---------------------------------------------------------------- part 2

/// Records the wall-clock time each tracked /32 was first seen deleted.
struct Monitor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<MonitorSeen>>,
}

#[derive(Default)]
struct MonitorSeen {
    deleted_at: HashMap<Ipv4Addr, SystemTime>,
    overruns: u64,
}

impl Monitor {
    fn start(ns: &Netns) -> Result<Monitor> {
        let sock = ns.run_in(|| -> Result<netlink_sys::Socket> {
            let s = netlink::open(&[netlink::RTNLGRP_IPV4_ROUTE], 256 << 20)?;
            netlink::set_recv_timeout(&s, Duration::from_millis(50))?;
            Ok(s)
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread =
            std::thread::Builder::new().name("ebpf-monitor".into()).spawn(move || -> Result<MonitorSeen> {
                let mut seen = MonitorSeen::default();
                let mut buf = vec![0u8; 256 * 1024];
                while !flag.load(Ordering::Relaxed) {
                    let n = match netlink::recv(&sock, &mut buf) {
                        Ok(Some(n)) => n,
                        Ok(None) => continue,
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            seen.overruns += 1;
                            continue;
                        }
                        Err(e) => return Err(e).context("reading the monitor socket"),
                    };
                    let at = SystemTime::now();
                    for (kind, _, payload) in netlink::messages(&buf[..n]) {
                        if let Some(ev) = netlink::parse_route(kind, payload) {
                            if ev.kind == RTM_DELROUTE && ev.table == TABLE && ev.dst_len == 32 {
                                seen.deleted_at.entry(ev.dst).or_insert(at);
                            }
                        }
                    }
                }
                Ok(seen)
            })?;
        Ok(Monitor { stop, thread })
    }

    fn finish(self) -> Result<MonitorSeen> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_else(|_| bail!("the monitor thread panicked"))
    }
}

/// The metrics page of the guardian in `ns`.
fn scrape(ns: &Netns) -> Result<String> {
    match metrics::http_get(ns, METRICS, "/metrics")? {
        (200, body) => Ok(body),
        (code, _) => bail!("http://{METRICS}/metrics in {} answered HTTP {code}", ns.name()),
    }
}

fn pipeline(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ROUTES.min(ctx.max_routes);
    let label = count_label(n);
    let ns = Netns::tagged_with_link("ebpf-del");
    let config = ctx.dir.join(format!("ebpf-{n}.toml"));
    config::write_generated(&config, 0, n)?;
    let text = std::fs::read_to_string(&config)?;
    std::fs::write(&config, text.replacen("metrics_listen = \"off\"", &format!("metrics_listen = \"{METRICS}\""), 1))?;
    let batch = ctx.dir.join(format!("ebpf-del-{n}.batch"));
    {
        let mut out = BufWriter::new(std::fs::File::create(&batch)?);
        for i in 0..n {
            writeln!(out, "route del {}/32 table {TABLE}", config::nth_destination(i))?;
        }
        out.flush()?;
    }

    let daemon = ctx.start_daemon_with(&ns, &config, &["--attribution", "ebpf"]);
    daemon.wait_ready(Ctx::ready_timeout(n));
    println!("    guardian ready in {} with {label} routes (--attribution ebpf)", ns.name());
    let before = scrape(&ns)?;
    let monitor = Monitor::start(&ns)?;
    let mut seen_lines = daemon.log_mark();

    let batch_start = SystemTime::now();
    let t = Instant::now();
    ns.ip(&["-batch", batch.to_str().context("non-UTF-8 path")?]);
    let ip_secs = t.elapsed().as_secs_f64();
    println!("    ip -batch deleted {label} routes in {ip_secs:.2} s ({} deletions/s)", num(f64::from(n) / ip_secs));

    // Every `route reinstalled` line: (destination, timestamp, attribution).
    let mut lines: Vec<(Option<Ipv4Addr>, Option<SystemTime>, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60 + u64::from(n) / 1_000);
    let mut timed_out = false;
    while lines.len() < n as usize {
        for v in daemon.logs().lines_from(seen_lines) {
            seen_lines += 1;
            if !logs::is(&v, "route reinstalled") {
                continue;
            }
            let dst = logs::field(&v, "route").and_then(|r| r.split(['/', ' ']).next()?.parse::<Ipv4Addr>().ok());
            let at = v["timestamp"].as_str().and_then(parse_rfc3339);
            let attribution = logs::field(&v, "attribution").unwrap_or_else(|| "(none)".to_owned());
            lines.push((dst, at, attribution));
        }
        if lines.len() >= n as usize {
            break;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            eprintln!("    only {} of {n} `route reinstalled` lines after the deadline", lines.len());
            break;
        }
        daemon.check_alive()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    let all_logged = t.elapsed().as_secs_f64();
    // Let the drop gauge catch up, then read the metrics.
    std::thread::sleep(DROPS_REFRESH);
    let seen = monitor.finish()?;
    let after = scrape(&ns)?;
    let status = status_of(&daemon);
    daemon.check_alive()?;
    let _ = daemon.stop(Duration::from_secs(30));
    drop(daemon);
    drop(ns);

    let mut by_attribution: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, a) in &lines {
        *by_attribution.entry(a.clone()).or_default() += 1;
    }
    let ebpf_lines = by_attribution.get("ebpf").copied().unwrap_or(0);
    let mut from_monitor = Vec::new();
    let mut from_batch_start = Vec::new();
    let mut approximated = 0usize;
    let mut last_line: Option<SystemTime> = None;
    for (dst, at, _) in &lines {
        let Some(at) = *at else { continue };
        last_line = Some(last_line.map_or(at, |l| l.max(at)));
        let ms = |t0: SystemTime| at.duration_since(t0).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0);
        from_batch_start.push(ms(batch_start));
        match dst.and_then(|d| seen.deleted_at.get(&d)) {
            Some(t0) => from_monitor.push(ms(*t0)),
            None => {
                approximated += 1;
                from_monitor.push(ms(batch_start));
            }
        }
    }
    if from_monitor.is_empty() {
        bail!("guardian logged no timestamped `route reinstalled` line after {n} deletions");
    }
    let drops = metrics::sum(&after, "guardian_attribution_drops");
    let records = metrics::sum(&after, "guardian_attribution_records_total")
        .map(|a| a - metrics::sum(&before, "guardian_attribution_records_total").unwrap_or(0.0));
    let overruns_metric = metrics::sum(&after, "guardian_netlink_overruns_total");
    let p50 = median(&from_monitor);
    let p99 = percentile(&from_monitor, 99.0);
    let (_, max) = min_max(&from_monitor);
    let span = last_line.and_then(|l| l.duration_since(batch_start).ok()).map(|d| d.as_secs_f64());
    let lines_per_sec = span.map(|s| lines.len() as f64 / s);
    println!(
        "    {} reinstall lines in {all_logged:.2} s after the batch started: {:?}; attribution_drops {}, \
         records read {}",
        lines.len(),
        by_attribution,
        drops.map(num).unwrap_or_else(|| "?".into()),
        records.map(num).unwrap_or_else(|| "?".into()),
    );
    println!(
        "    deletion -> reinstall line: p50 {} ms, p99 {} ms, max {} ms ({} of {} deletion times from the monitor, \
         {approximated} from the batch start; monitor overruns {}); from the batch start p99 {} ms",
        num(p50),
        num(p99),
        num(max),
        from_monitor.len() - approximated,
        from_monitor.len(),
        seen.overruns,
        num(percentile(&from_batch_start, 99.0)),
    );
    let detail = json!({
        "routes": n,
        "ip_batch_seconds": ip_secs,
        "ip_deletions_per_sec": f64::from(n) / ip_secs,
        "reinstall_lines": lines.len(),
        "reinstall_lines_by_attribution": by_attribution,
        "timed_out_waiting_for_lines": timed_out,
        "seconds_from_batch_start_to_last_line": span,
        "reinstall_lines_per_sec": lines_per_sec,
        "attribution_drops": drops,
        "attribution_records_read": records,
        "netlink_overruns_total": overruns_metric,
        "latency_ms": {"p50": p50, "p99": p99, "max": max},
        "latency_from_batch_start_ms": {"p50": median(&from_batch_start), "p99": percentile(&from_batch_start, 99.0)},
        "deletion_time": "wall clock when the bench's monitor socket (RTNLGRP_IPV4_ROUTE, in the namespace) received the RTM_DELROUTE; the batch start where the monitor missed it",
        "deletion_times_approximated": approximated,
        "monitor_overruns": seen.overruns,
        "status_after": status,
    });
    let row = |figure: String, value: f64, unit: &'static str, target: Option<String>, met: Option<bool>| Row {
        scenario: "ebpf",
        figure,
        value,
        unit,
        target,
        met,
        floor: None,
        floor_what: None,
        ratio: None,
        detail: detail.clone(),
    };
    let mut rows = vec![
        row(format!("ip -batch deletions/s ({label} route del)"), f64::from(n) / ip_secs, "deletions/s", None, None),
        row(
            format!("reinstall lines with attribution=ebpf, of {label}"),
            ebpf_lines as f64,
            "lines",
            Some(format!("= {n}")),
            Some(ebpf_lines == n as usize),
        ),
        row(
            format!("reinstall lines with another attribution, of {label}"),
            (lines.len() - ebpf_lines) as f64,
            "lines",
            None,
            None,
        ),
        row(
            format!("guardian_attribution_drops after {label} deletions"),
            drops.unwrap_or(f64::NAN),
            "records",
            Some("= 0".into()),
            drops.map(|d| d == 0.0),
        ),
        row(format!("deletion -> reinstall line p99 ({label} at once)"), p99, "ms", None, None),
    ];
    if let Some(rate) = lines_per_sec {
        rows.push(row(format!("reinstall lines/s, batch start to last line ({label})"), rate, "lines/s", None, None));
    }
    Ok(rows)
}

/// "2026-11-26T12:29:01.123456Z" (or with a +hh:mm offset) as a SystemTime.
pub(super) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0i64)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (t, sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60))
    };
    let mut t = time.split(':');
    let (h, mi): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from civil (Howard Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let whole = days * 86_400 + h * 3600 + mi * 60 - offset_secs;
    let total = whole as f64 + sec;
    (total >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamps_as_tracing_writes_them() {
        let t = parse_rfc3339("2024-03-01T00:00:01.5Z").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64(), 1_709_251_201.5);
        let u = parse_rfc3339("2024-03-01T01:00:01.5+01:00").unwrap();
        assert_eq!(t, u);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_rfc3339("soon"), None);
    }
}
