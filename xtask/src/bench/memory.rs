//! Steady resident memory once 1M tracked routes are installed: VmRSS after
//! ready plus a settling pause, minus the RSS of the same daemon with no
//! routes, per route.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use guardian_test_support::Netns;

use super::{count_label, num, Ctx, Row};

const ROUTES: u32 = 1_000_000;
const TARGET_BYTES_PER_ROUTE: f64 = 150.0;
/// After ready, allocations from the initial sync are let go of.
const SETTLE: Duration = Duration::from_secs(2);

struct Sample {
    rss: u64,
    peak: u64,
}

fn measure(ctx: &Ctx, routes: u32) -> Result<Sample> {
    let ns = Netns::tagged_with_link(&format!("mem{}", count_label(routes)));
    let config = ctx.config_of(routes)?;
    let daemon = ctx.start_daemon(&ns, &config);
    daemon.wait_ready(Ctx::ready_timeout(routes));
    std::thread::sleep(SETTLE);
    daemon.check_alive()?;
    let sample = Sample { rss: daemon.rss_bytes(), peak: daemon.peak_rss_bytes() };
    let _ = daemon.stop(Duration::from_secs(60));
    drop(daemon);
    drop(ns);
    Ok(sample)
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ROUTES.min(ctx.max_routes);
    let label = count_label(n);
    let base = measure(ctx, 0)?;
    std::thread::sleep(SETTLE);
    let full = measure(ctx, n)?;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "    RSS with 0 routes {:.1} MiB, with {label} routes {:.1} MiB (peak {:.1} MiB)",
        mib(base.rss),
        mib(full.rss),
        mib(full.peak)
    );
    let per_route = (full.rss as f64 - base.rss as f64) / f64::from(n);
    let total_per_route = full.rss as f64 / f64::from(n);
    println!(
        "    {} bytes per route above the empty daemon, {} bytes per route in all",
        num(per_route),
        num(total_per_route)
    );
    let detail = json!({
        "routes": n,
        "rss_0_bytes": base.rss,
        "rss_n_bytes": full.rss,
        "peak_rss_n_bytes": full.peak,
        "peak_rss_0_bytes": base.peak,
    });
    let is_full = n == ROUTES;
    Ok(vec![
        Row {
            scenario: "memory",
            figure: format!("(RSS at {label} - RSS at 0) / {label}"),
            value: per_route,
            unit: "bytes/route",
            target: is_full.then(|| format!("<= {TARGET_BYTES_PER_ROUTE} bytes/route")),
            met: is_full.then_some(per_route <= TARGET_BYTES_PER_ROUTE),
            floor: None,
            floor_what: None,
            ratio: None,
            detail: detail.clone(),
        },
        Row::new("memory", format!("RSS at {label} / {label}"), total_per_route, "bytes/route", detail),
    ])
}
