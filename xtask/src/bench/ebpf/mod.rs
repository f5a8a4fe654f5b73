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
//!    the lines, `guardian_attribution_drops_total`, and the time from each
//!    deletion (its RTM_DELROUTE on a monitor socket in the namespace; the
//!    batch start for any the monitor missed) to the timestamp of its line.
//!
//! One file per job: [`flood`] (the UDP flood between two namespaces),
//! [`progs`] (guardian's BPF programs, as their fdinfo counts them),
//! [`hooks`] (part 1) and [`pipeline`] (part 2).

mod flood;
mod hooks;
mod pipeline;
mod progs;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use guardian_test_support::{cmd, logs, metrics, Daemon, Netns};
use serde_json::{json, Value};

use super::floor;
use super::{caught, count_label, median, min_max, num, parse_rfc3339, percentile, status_of, Ctx, Row};
use crate::cleanup;
use crate::config::{self, TABLE};
use crate::netlink::{self, RTM_DELROUTE};

use flood::*;
use hooks::*;
use pipeline::*;
use progs::*;

pub(super) const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";
/// Length of one UDP flood.
pub(super) const FLOOD_SECS: u32 = 10;
/// netlink / ebpf pairs for the packet rate.
pub(super) const PAIRS: usize = 5;
/// Floods with the stats on, for the cost per invocation.
pub(super) const STATS_RUNS: usize = 3;
/// Each variant against the empty program on the same hook (issue 11).
pub(super) const TARGET_RATIO: f64 = 1.05;
/// UDP pps with attribution over without, where the hook is not on the
/// packet path (fentry on the rtnetlink handlers).
pub(super) const TARGET_PPS_RATIO: f64 = 0.99;
/// The program variants measured: (label, `--ebpf-force` choices).
/// `bounded` is what kernels without `bpf_loop` (5.10 to 5.16) run.
pub(super) const VARIANTS: [(&str, &str); 3] = [
    ("consume_skb+bpf_loop", "hook=consume_skb,walk=bpf_loop"),
    ("consume_skb+bounded", "hook=consume_skb,walk=bounded"),
    ("fentry", "hook=fentry"),
];
/// What the prototype measured (attribution.md), for the record.
pub(super) const PROTOTYPE_NS: f64 = 45.0;
/// Routes deleted at once in part 2.
pub(super) const ROUTES: u32 = 1_000_000;
/// Metrics inside part 2's namespace (its own loopback).
pub(super) const METRICS: &str = "127.0.0.1:9469";
/// guardian refreshes `attribution_drops_total` every 5 s.
pub(super) const DROPS_REFRESH: Duration = Duration::from_millis(5_500);
pub(super) const SERVER: &str = "198.51.100.2";
pub(super) const CLIENT: &str = "198.51.100.1";
/// `prog_type` in fdinfo (enum bpf_prog_type).
pub(super) const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
pub(super) const BPF_PROG_TYPE_TRACING: u32 = 26;

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
