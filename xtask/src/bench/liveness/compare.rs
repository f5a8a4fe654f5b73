//! Part 1: CPU at 1,000 sessions, a guardian pair against a BIRD pair.

use super::*;

// ---------------------------------------------------------------- part 1

pub(super) struct CpuRun {
    /// Per daemon per window, fraction of a core from /proc/PID/stat.
    pub(super) ticks: Vec<f64>,
    pub(super) sched: Vec<f64>,
    /// Per window, cores busy with anything else.
    pub(super) other: Vec<f64>,
    pub(super) flaps: f64,
    pub(super) up_after: Duration,
}

/// Rounds of the comparison; the order alternates (guardian first, then BIRD first).
pub(super) const ROUNDS: usize = 2;

pub(super) fn guardian_cpu(ctx: &Ctx, n: u32, auth: Auth) -> Result<CpuRun> {
    let pair = Pair::new(ctx, "lvg", n)?;
    let probe = Some(Probe { auth, ..Probe::fast() });
    let mut a = start_guardian_at(ctx, &pair, Side::A, "cpu", n, probe)?;
    let mut b = start_guardian_at(ctx, &pair, Side::B, "cpu", n, probe)?;
    let up_after = wait_guardians_up(&pair, &mut [&mut a, &mut b])?;
    std::thread::sleep(SETTLE);
    let m0 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let windows = cpu_windows([a.pid(), b.pid()], CPU_WINDOWS, CPU_WINDOW, &mut || {
        a.check_alive()?;
        Ok(b.check_alive()?)
    })?;
    let m1 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let flaps = (0..2).map(|i| sum_of(&m1[i], FROM_UP) - sum_of(&m0[i], FROM_UP)).sum();
    let _ = a.stop(Duration::from_secs(30));
    let _ = b.stop(Duration::from_secs(30));
    Ok(cpu_run(windows, flaps, up_after))
}

pub(super) fn bird_cpu(ctx: &Ctx, n: u32, auth: Auth) -> Result<CpuRun> {
    let pair = Pair::new(ctx, "lvb", n)?;
    let mut a = BenchBird::start(ctx, &pair, Side::A, "cpu", auth)?;
    let mut b = BenchBird::start(ctx, &pair, Side::B, "cpu", auth)?;
    let up_after = wait_birds_up(&pair, &mut [&mut a, &mut b])?;
    std::thread::sleep(SETTLE);
    let pos = [a.log_len(), b.log_len()];
    let windows = cpu_windows([a.pid(), b.pid()], CPU_WINDOWS, CPU_WINDOW, &mut || {
        a.check_alive()?;
        Ok(b.check_alive()?)
    })?;
    let flaps = [(&a, pos[0]), (&b, pos[1])]
        .iter()
        .map(|(bird, from)| {
            bird.log_from(*from).0.iter().filter(|l| l.contains("changed state from Up to")).count() as f64
        })
        .sum();
    drop((a, b));
    Ok(cpu_run(windows, flaps, up_after))
}

pub(super) fn compare(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = COMPARE_SESSIONS.min(ctx.max_routes);
    let label = count_label(n);
    println!(
        "    part 1: CPU at {label} sessions, {ROUNDS} rounds of a guardian pair and a BIRD pair, one after the other"
    );
    let mut g_runs = Vec::new();
    let mut b_runs = Vec::new();
    for round in 0..ROUNDS {
        let guardian_first = round % 2 == 0;
        for is_guardian in [guardian_first, !guardian_first] {
            if is_guardian {
                let r = guardian_cpu(ctx, n, Auth::Off)?;
                report_cpu(&format!("round {} guardian", round + 1), &r, n);
                g_runs.push(r);
            } else {
                let r = bird_cpu(ctx, n, Auth::Off)?;
                report_cpu(&format!("round {} BIRD", round + 1), &r, n);
                b_runs.push(r);
            }
        }
    }
    let all =
        |runs: &[CpuRun], f: fn(&CpuRun) -> &Vec<f64>| -> Vec<f64> { runs.iter().flat_map(|r| f(r).clone()).collect() };
    let (g_ticks, b_ticks) = (all(&g_runs, |r| &r.ticks), all(&b_runs, |r| &r.ticks));
    let (g_sched, b_sched) = (all(&g_runs, |r| &r.sched), all(&b_runs, |r| &r.sched));
    let (gm, bm) = (median(&g_ticks), median(&b_ticks));
    let ratio = gm / bm;
    let (gs, bs) = (median(&g_sched), median(&b_sched));
    let round_ratios: Vec<f64> = g_runs.iter().zip(&b_runs).map(|(g, b)| median(&g.ticks) / median(&b.ticks)).collect();
    let (rlo, rhi) = min_max(&round_ratios);
    let (g_flaps, b_flaps): (f64, f64) = (g_runs.iter().map(|r| r.flaps).sum(), b_runs.iter().map(|r| r.flaps).sum());
    println!(
        "    guardian / BIRD CPU per daemon: {ratio:.3}x (medians of utime+stime; per round {rlo:.3}x .. {rhi:.3}x); \
         {:.3}x from schedstat",
        gs / bs
    );
    let detail = json!({
        "sessions": n,
        "interval_ms": INTERVAL_MS,
        "multiplier": MULTIPLIER,
        "rounds": ROUNDS,
        "windows_per_round": CPU_WINDOWS,
        "window_seconds": CPU_WINDOW.as_secs_f64(),
        "measured": "utime+stime of each daemon (all threads, /proc/PID/stat) over each window, % of one core; \
                     samples are per daemon (A, B) per window per round. Tick-based accounting: the veth peer's \
                     receive path runs in the sender's softirq and is charged to the sender, for both daemons",
        "guardian_pct_samples": g_ticks.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "bird_pct_samples": b_ticks.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "guardian_schedstat_pct_samples": g_sched.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "bird_schedstat_pct_samples": b_sched.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "ratio_per_round": round_ratios,
        "ratio_from_schedstat": gs / bs,
        "other_load_cores_guardian_windows": all(&g_runs, |r| &r.other),
        "other_load_cores_bird_windows": all(&b_runs, |r| &r.other),
        "guardian_flaps": g_flaps,
        "bird_flaps": b_flaps,
        "guardian_all_up_after_seconds": g_runs.iter().map(|r| r.up_after.as_secs_f64()).collect::<Vec<_>>(),
        "bird_all_up_after_seconds": b_runs.iter().map(|r| r.up_after.as_secs_f64()).collect::<Vec<_>>(),
        "bird": "BIRD 2 protocol bfd, neighbor B_i dev \"va\" local A_i, min rx/tx interval 100 ms, multiplier 3",
        "guardian": "reconcile interval 0s, --attribution netlink, metrics on",
    });
    let secs = CPU_WINDOW.as_secs() * CPU_WINDOWS as u64;
    Ok(vec![
        Row {
            scenario: SCENARIO,
            figure: format!("CPU per daemon, {label} sessions at 100 ms x3 (median of {} samples)", g_ticks.len()),
            value: gm * 100.0,
            unit: "% of a core",
            target: Some(format!("<= {CPU_RATIO_TARGET}x BIRD")),
            met: Some(ratio <= CPU_RATIO_TARGET),
            floor: Some(bm * 100.0),
            floor_what: Some("BIRD 2 bfd, same topology, same run"),
            ratio: Some(ratio),
            detail: detail.clone(),
        },
        Row {
            scenario: SCENARIO,
            figure: format!("session flaps during those {ROUNDS} x {secs} s, {label} sessions"),
            value: g_flaps,
            unit: "flaps",
            target: Some("= 0".into()),
            met: Some(g_flaps == 0.0),
            floor: Some(b_flaps),
            floor_what: Some("BIRD"),
            ratio: None,
            detail,
        },
    ])
}

pub(super) fn cpu_run(windows: Vec<Window>, flaps: f64, up_after: Duration) -> CpuRun {
    CpuRun {
        ticks: windows.iter().flat_map(|w| w.daemons.iter().map(|x| x.0)).collect(),
        sched: windows.iter().flat_map(|w| w.daemons.iter().map(|x| x.1)).collect(),
        other: windows.iter().map(|w| w.other).collect(),
        flaps,
        up_after,
    }
}

pub(super) fn report_cpu(who: &str, r: &CpuRun, n: u32) {
    let (lo, hi) = min_max(&r.ticks);
    let (slo, shi) = min_max(&r.sched);
    println!(
        "    {who}: {} sessions all Up at 100 ms after {:.1} s; CPU per daemon median {} (min {} max {}; \
         schedstat median {} min {} max {}); {} flaps; other load on the machine {} cores",
        n,
        r.up_after.as_secs_f64(),
        pct(median(&r.ticks)),
        pct(lo),
        pct(hi),
        pct(median(&r.sched)),
        pct(slo),
        pct(shi),
        r.flaps,
        r.other.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join("/")
    );
}
