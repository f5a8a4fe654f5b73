//! One reconcile scan at 1k, 10k, 100k and 1M tracked routes: the median
//! `duration_seconds` of `guardian reconcile --json`, against the floor of a
//! raw netlink dump of the same table (strict checking, table filter) that
//! only counts messages. Rounds alternate floor / guardian in the same
//! namespace, so both see the same machine at the same time.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use guardian_test_support::{Daemon, Netns};
use netlink_sys::Socket;
use serde_json::json;

use super::{count_label, median, min_max, num, Ctx, Row};
use crate::config::TABLE;
use crate::netlink;

const SIZES: [u32; 4] = [1_000, 10_000, 100_000, 1_000_000];
const ROUNDS: usize = 5;
/// Issue 9: at 100k and 1M routes, a scan within 1.3x the raw dump.
const TARGET_RATIO: f64 = 1.3;
const TARGET_FROM: u32 = 100_000;

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &n in SIZES.iter().filter(|&&n| n <= ctx.max_routes) {
        rows.push(one_size(ctx, n).with_context(|| format!("scan at {}", count_label(n)))?);
    }
    if rows.is_empty() {
        bail!("--max-routes {} is below the smallest scan size (1000)", ctx.max_routes);
    }
    Ok(rows)
}

fn one_size(ctx: &Ctx, n: u32) -> Result<Row> {
    let label = count_label(n);
    let ns = Netns::tagged_with_link(&format!("scan{label}"));
    let config = ctx.config_of(n)?;
    let daemon = ctx.start_daemon(&ns, &config);
    daemon.wait_ready(Ctx::ready_timeout(n));
    let ready = daemon.started().elapsed();
    println!("    {label}: guardian ready after {:.2} s", ready.as_secs_f64());

    let dumper = dump_socket(&ns)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut floor = Vec::new();
    let mut guardian = Vec::new();
    let mut last = serde_json::Value::Null;
    for round in 0..ROUNDS {
        let (dump, scan, result) = timed_round(&dumper, &mut buf, round as u32 + 1, &daemon, n, &label)?;
        floor.push(dump);
        guardian.push(scan);
        last = result;
    }
    let _ = daemon.stop(Duration::from_secs(30));
    drop(ns);

    let (g, f) = (median(&guardian), median(&floor));
    let (gmin, gmax) = min_max(&guardian);
    let (fmin, fmax) = min_max(&floor);
    println!(
        "    {label}: reconcile median {} ms (min {} max {}), raw dump median {} ms (min {} max {}), ratio {:.2}x",
        num(g * 1e3),
        num(gmin * 1e3),
        num(gmax * 1e3),
        num(f * 1e3),
        num(fmin * 1e3),
        num(fmax * 1e3),
        g / f
    );
    let targeted = n >= TARGET_FROM;
    Ok(Row {
        scenario: "scan",
        figure: format!("one reconcile at {label} routes (median of {ROUNDS})"),
        value: g * 1e3,
        unit: "ms",
        target: targeted.then(|| format!("<= {TARGET_RATIO}x floor")),
        met: targeted.then_some(g / f <= TARGET_RATIO),
        floor: Some(f * 1e3),
        floor_what: Some("raw dump"),
        ratio: Some(g / f),
        detail: json!({
            "routes": n,
            "guardian_seconds": guardian,
            "floor_seconds": floor,
            "ready_seconds": ready.as_secs_f64(),
            "last_reconcile": last,
        }),
    })
}

/// A socket in `ns` for the raw dumps (the floor).
pub(super) fn dump_socket(ns: &Netns) -> Result<Socket> {
    ns.run_in(|| -> Result<Socket> {
        let s = netlink::open(&[], 0)?;
        netlink::set_recv_timeout(&s, Duration::from_secs(60))?;
        Ok(s)
    })
}

/// One round: a raw dump of table 100 that only counts (it must hold `n`
/// routes), then `guardian reconcile --json`. Returns both durations in
/// seconds and guardian's answer. `label` names the round in warnings.
pub(super) fn timed_round(
    dumper: &Socket,
    buf: &mut [u8],
    seq: u32,
    daemon: &Daemon,
    n: u32,
    label: &str,
) -> Result<(f64, f64, serde_json::Value)> {
    let t = std::time::Instant::now();
    let counted = netlink::count_dump(dumper, TABLE, seq, buf)?;
    let dump = t.elapsed().as_secs_f64();
    if counted != n as usize {
        bail!("the kernel's table {TABLE} holds {counted} routes, expected {n}");
    }
    let result = daemon.cli_json(&["reconcile", "--json"]);
    let secs = result["duration_seconds"]
        .as_f64()
        .with_context(|| format!("`guardian reconcile --json` has no duration_seconds: {result}"))?;
    if result["checked"].as_u64() != Some(u64::from(n)) || result["missing"].as_u64() != Some(0) {
        eprintln!("    {label}: reconcile reports {result} (expected checked={n}, missing=0)");
    }
    Ok((dump, secs, result))
}
