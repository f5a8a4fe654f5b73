//! A million guarded routes: BIRD's routes as `ip -batch` installs them
//! (`proto bird`, table 100; no BIRD needed: a guard reads the kernel),
//! then, round after round in the same namespace:
//!
//! 1. guardian without the guard (same routes in the kernel): its RSS;
//! 2. guardian with the guard: start -> the `routes under guard` line (the
//!    log is polled every 5 ms), its RSS, then scans: a raw dump of table
//!    100 that only counts (the floor, as in the `scan` scenario) and
//!    `guardian reconcile --json` (its `duration_seconds`), alternating.
//!
//! Memory per guarded route = (RSS with the guard - RSS without) / routes.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use guardian_test_support::{cmd, logs, msg, Netns};
use serde_json::{json, Value};

use super::super::{count_label, median, min_max, num, scan, Ctx, Row};
use super::{empty_config, guard_config, BIRD_PROTOCOL};
use crate::config::{self, TABLE};

const ROUTES: u32 = 1_000_000;
const ROUNDS: usize = 3;
const SCANS: usize = 5;
const TARGET_RATIO: f64 = 1.5;
const TARGET_BYTES: f64 = 200.0;
/// After the routes are under guard, allocations of the adoption are let go of.
const SETTLE: Duration = Duration::from_secs(2);
const IP_BATCH_TIMEOUT: Duration = Duration::from_secs(300);

struct Round {
    rss_without: u64,
    rss_with: u64,
    peak_with: u64,
    under_guard_secs: f64,
    ready_secs: f64,
    scans: Vec<f64>,
    dumps: Vec<f64>,
    last_reconcile: Value,
}

/// The routes measured: plain ones (the route model holds them: a slot
/// each) and ones with an attribute the model does not hold (`mtu`: an
/// exact copy of the kernel's message each, beside the slot).
const KINDS: [(&str, &str); 2] = [("plain", ""), ("with mtu", "mtu 1400")];

pub(super) fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (kind, extra) in KINDS {
        rows.extend(one_kind(ctx, kind, extra).with_context(|| format!("{kind} routes"))?);
    }
    Ok(rows)
}

fn one_kind(ctx: &Ctx, kind: &str, extra: &str) -> Result<Vec<Row>> {
    let n = ROUTES.min(ctx.max_routes);
    let label = format!("{} {kind}", count_label(n));
    let ns = Netns::tagged_with_link(&format!("grd{}", count_label(n)));
    let batch = ctx.dir.join(format!("guard-{n}-{}.batch", kind.replace(' ', "-")));
    config::write_ip_batch_as(&batch, 0, n, BIRD_PROTOCOL, extra)?;
    let t = Instant::now();
    // Longer than `Netns::ip` allows: 1M routes took 20-30 s on a busy machine.
    let out = cmd::run(&mut ns.ip_cmd(&["-batch", batch.to_str().context("non-UTF-8 path")?]), IP_BATCH_TIMEOUT);
    if !out.success() {
        bail!("ip -batch of {label} routes failed: {out:?}");
    }
    let ip_secs = t.elapsed().as_secs_f64();
    println!("    {n} routes `proto bird {extra}` in table {TABLE} by ip -batch in {ip_secs:.2} s");

    let with = ctx.dir.join("guard-scale.toml");
    std::fs::write(&with, guard_config("auto"))?;
    let without = ctx.dir.join("guard-scale-without.toml");
    std::fs::write(&without, empty_config("auto"))?;
    let dumper = scan::dump_socket(&ns)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut seq = 0;

    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        let daemon = ctx.start_daemon(&ns, &without);
        daemon.wait_ready(Ctx::ready_timeout(0));
        std::thread::sleep(SETTLE);
        daemon.check_alive()?;
        let rss_without = daemon.rss_bytes();
        let _ = daemon.stop(Duration::from_secs(30));
        drop(daemon);

        let daemon = ctx.start_daemon(&ns, &with);
        let deadline = Instant::now() + Ctx::ready_timeout(n);
        let line = loop {
            if let Some(line) = daemon.logs().find_from(0, &msg("routes under guard")) {
                break line;
            }
            daemon.check_alive()?;
            if Instant::now() > deadline {
                bail!("no `routes under guard` line within {:?}", Ctx::ready_timeout(n));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let under_guard_secs = daemon.started().elapsed().as_secs_f64();
        daemon.wait_ready(Ctx::ready_timeout(n));
        let ready_secs = daemon.started().elapsed().as_secs_f64();
        let held = logs::value(&line, "routes").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        if held != Some(u64::from(n)) {
            eprintln!("    {label}, round {round}: {line} (expected routes={n})");
        }
        std::thread::sleep(SETTLE);
        daemon.check_alive()?;
        let (rss_with, peak_with) = (daemon.rss_bytes(), daemon.peak_rss_bytes());

        let mut scans = Vec::new();
        let mut dumps = Vec::new();
        let mut last_reconcile = Value::Null;
        for _ in 0..SCANS {
            seq += 1;
            let (dump, scan, result) =
                scan::timed_round(&dumper, &mut buf, seq, &daemon, n, &format!("{label}, round {round}"))?;
            dumps.push(dump);
            scans.push(scan);
            last_reconcile = result;
        }
        let _ = daemon.stop(Duration::from_secs(60));
        drop(daemon);
        let r = Round { rss_without, rss_with, peak_with, under_guard_secs, ready_secs, scans, dumps, last_reconcile };
        println!(
            "    {label}, round {round}: under guard after {:.2} s (ready {:.2} s); RSS {:.1} MiB with the guard, {:.1} MiB without \
             (peak {:.1} MiB): {} bytes/route; scan median {} ms, raw dump median {} ms, {:.2}x",
            r.under_guard_secs,
            r.ready_secs,
            mib(r.rss_with),
            mib(r.rss_without),
            mib(r.peak_with),
            num(per_route(&r, n)),
            num(median(&r.scans) * 1e3),
            num(median(&r.dumps) * 1e3),
            median(&r.scans) / median(&r.dumps),
        );
        rounds.push(r);
    }
    drop(ns);

    let all_scans: Vec<f64> = rounds.iter().flat_map(|r| r.scans.iter().copied()).collect();
    let all_dumps: Vec<f64> = rounds.iter().flat_map(|r| r.dumps.iter().copied()).collect();
    let ratios: Vec<f64> = rounds.iter().map(|r| median(&r.scans) / median(&r.dumps)).collect();
    let bytes: Vec<f64> = rounds.iter().map(|r| per_route(r, n)).collect();
    let guard_secs: Vec<f64> = rounds.iter().map(|r| r.under_guard_secs).collect();
    let (g, f) = (median(&all_scans), median(&all_dumps));
    let is_full = n == ROUTES;
    let detail = json!({
        "routes": n,
        "kind": kind,
        "ip_batch_seconds": ip_secs,
        "scan_seconds": all_scans,
        "raw_dump_seconds": all_dumps,
        "ratio_per_round": ratios,
        "rss_without_bytes": rounds.iter().map(|r| r.rss_without).collect::<Vec<_>>(),
        "rss_with_bytes": rounds.iter().map(|r| r.rss_with).collect::<Vec<_>>(),
        "peak_rss_with_bytes": rounds.iter().map(|r| r.peak_with).collect::<Vec<_>>(),
        "bytes_per_route_per_round": bytes,
        "under_guard_seconds": guard_secs,
        "ready_seconds": rounds.iter().map(|r| r.ready_secs).collect::<Vec<_>>(),
        "last_reconcile": rounds.last().map(|r| r.last_reconcile.clone()),
    });
    let spread = |v: &[f64]| {
        let (lo, hi) = min_max(v);
        format!("{}-{}", num(lo), num(hi))
    };
    println!(
        "    {label}: scan {} ms vs raw dump {} ms ({:.2}x; per round {}); {} bytes/route (per round {}); under guard after {} s (per round {})",
        num(g * 1e3),
        num(f * 1e3),
        g / f,
        spread(&ratios),
        num(median(&bytes)),
        spread(&bytes),
        num(median(&guard_secs)),
        spread(&guard_secs),
    );
    let mut scan_row = Row::new(
        "guard",
        format!("one scan of {label} guarded routes (median of {})", all_scans.len()),
        g * 1e3,
        "ms",
        detail.clone(),
    )
    .floor(f * 1e3, "raw dump");
    if is_full {
        scan_row = scan_row.target(format!("<= {TARGET_RATIO}x floor"), g / f <= TARGET_RATIO);
    }
    let memory = median(&bytes);
    Ok(vec![
        scan_row,
        Row::new(
            "guard",
            format!("(RSS with guard - without) / {label} (median of {ROUNDS})"),
            memory,
            "bytes/route",
            detail.clone(),
        )
        .target(format!("<= {TARGET_BYTES} bytes/route"), memory <= TARGET_BYTES),
        Row::new(
            "guard",
            format!("start -> {label} routes under guard (median of {ROUNDS})"),
            median(&guard_secs),
            "s",
            detail,
        )
        .floor(ip_secs, "ip -batch install"),
    ])
}

fn mib(b: u64) -> f64 {
    b as f64 / f64::from(1 << 20)
}

fn per_route(r: &Round, n: u32) -> f64 {
    (r.rss_with as f64 - r.rss_without as f64) / f64::from(n)
}
