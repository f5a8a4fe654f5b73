//! Installing 1M routes from a generated configuration: routes per second
//! from the daemon's start (spawn) to ready (`status --json` says so),
//! beside `ip -batch` installing the same routes into a fresh namespace.
//! Rounds alternate guardian / ip, each in a namespace of its own.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use guardian_test_support::{logs, msg, Netns};

use super::{count_label, median, min_max, num, parse_duration_secs, status_of, Ctx, Row};
use crate::config;

const ROUTES: u32 = 1_000_000;
const TARGET_PER_SEC: f64 = 300_000.0;
/// Lets the kernel finish freeing a deleted namespace's routes before the
/// next round starts (namespace teardown runs in a kernel worker).
const SETTLE: Duration = Duration::from_secs(2);

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ROUTES.min(ctx.max_routes);
    let label = count_label(n);
    let config = ctx.config_of(n)?;
    let batch = ctx.dir.join(format!("routes-{n}.batch"));
    config::write_ip_batch(&batch, 0, n)?;
    let batch = batch.to_str().context("non-UTF-8 path")?.to_owned();

    let mut guardian = Vec::new();
    let mut ip = Vec::new();
    let mut sync_logged = Vec::new();
    let mut statuses = Vec::new();
    for round in 1..=ctx.install_rounds {
        // guardian: start -> ready.
        let ns = Netns::tagged_with_link("install");
        let daemon = ctx.start_daemon(&ns, &config);
        daemon.wait_ready(Ctx::ready_timeout(n));
        let ready = daemon.started().elapsed().as_secs_f64();
        let sync = daemon.logs().find_from(0, &msg("initial sync complete"));
        let sync_secs = sync.as_ref().and_then(|v| logs::value(v, "duration")).and_then(duration_of);
        statuses.push(status_of(&daemon).unwrap_or(Value::Null));
        let _ = daemon.stop(Duration::from_secs(60));
        drop(daemon);
        drop(ns);
        std::thread::sleep(SETTLE);
        guardian.push(ready);
        sync_logged.push(sync_secs);

        // ip -batch of the same routes.
        let ns = Netns::tagged_with_link("install-ip");
        let t = Instant::now();
        ns.ip(&["-batch", &batch]);
        let secs = t.elapsed().as_secs_f64();
        drop(ns);
        std::thread::sleep(SETTLE);
        ip.push(secs);
        println!(
            "    round {round}: guardian start->ready {:.2} s ({} routes/s; initial sync logged {}), ip -batch {:.2} s ({} routes/s)",
            ready,
            num(f64::from(n) / ready),
            sync_secs.map(|s| format!("{s:.2} s")).unwrap_or_else(|| "no duration".into()),
            secs,
            num(f64::from(n) / secs),
        );
    }
    let g_rates: Vec<f64> = guardian.iter().map(|s| f64::from(n) / s).collect();
    let ip_rates: Vec<f64> = ip.iter().map(|s| f64::from(n) / s).collect();
    let (g, f) = (median(&g_rates), median(&ip_rates));
    let (gmin, gmax) = min_max(&g_rates);
    let (fmin, fmax) = min_max(&ip_rates);
    println!(
        "    guardian {} routes/s (min {} max {}), ip -batch {} routes/s (min {} max {})",
        num(g),
        num(gmin),
        num(gmax),
        num(f),
        num(fmin),
        num(fmax)
    );
    let is_full = n == ROUTES;
    Ok(vec![Row {
        scenario: "install",
        figure: format!("install {label} routes, start to ready (median of {})", guardian.len()),
        value: g,
        unit: "routes/s",
        target: is_full.then(|| format!(">= {}k routes/s", TARGET_PER_SEC / 1e3)),
        met: is_full.then_some(g >= TARGET_PER_SEC),
        floor: Some(f),
        floor_what: Some("ip -batch"),
        ratio: Some(g / f),
        detail: json!({
            "routes": n,
            "guardian_start_to_ready_seconds": guardian,
            "guardian_initial_sync_logged_seconds": sync_logged,
            "ip_batch_seconds": ip,
            "guardian_status_after_ready": statuses,
            "note": "ratio = guardian rate / ip -batch rate (higher is better)",
        }),
    }])
}

/// The log's `duration` field: a humantime string ("1.2s") or a number of seconds.
fn duration_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(x) => x.as_f64(),
        Value::String(s) => parse_duration_secs(s),
        _ => None,
    }
}
