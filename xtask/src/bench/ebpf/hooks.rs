//! Part 1: what the hooks cost on unrelated traffic, per program variant.

use super::*;

fn start_guardian(ctx: &Ctx, ns: &Netns, config: &Path, mode: &str, force: &str) -> Daemon {
    let daemon = ctx.start_daemon_with(ns, config, &["--attribution", mode, "--ebpf-force", force]);
    daemon.wait_ready(Duration::from_secs(30));
    daemon
}

pub(super) fn hook_cost(ctx: &Ctx, variant: &str, force: &str) -> Result<Vec<Row>> {
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
    let measured = caught(|| -> Result<()> {
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
        rows.push(Row::new(
            "ebpf",
            format!("{label} runs per second during the flood"),
            median(&rate),
            "runs/s",
            detail,
        ));
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
