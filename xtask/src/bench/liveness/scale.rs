//! Parts 3 and 4: 10,000 sessions between two guardians (flaps, CPU, pps), memory per session.

use super::*;

// ---------------------------------------------------------------- parts 3, 4

/// RSS of an idle guardian in A with `routes` routes, after ready and a pause.
pub(super) fn idle_rss(ctx: &Ctx, pair: &Pair, routes: u32, liveness: bool, tag: &str) -> Result<u64> {
    let slow = Probe { interval_ms: SLOW_INTERVAL_MS, auth: Auth::Off };
    let d = start_guardian_at(ctx, pair, Side::A, tag, routes, liveness.then_some(slow))?;
    std::thread::sleep(SETTLE);
    d.check_alive()?;
    let rss = d.rss_bytes();
    let _ = d.stop(Duration::from_secs(30));
    Ok(rss)
}

pub(super) fn scale(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = SCALE_SESSIONS.min(ctx.max_routes);
    let label = count_label(n);
    println!("    part 3: {label} sessions between two guardians for {} s", SCALE_WINDOW.as_secs());
    let t = Instant::now();
    let pair = Pair::new(ctx, "lvs", n)?;
    println!("    {label} addresses and neighbours on each side in {:.1} s", t.elapsed().as_secs_f64());

    // Memory baselines in the same namespace: no routes, then the same routes without liveness.
    let rss_empty = idle_rss(ctx, &pair, 0, true, "mem0")?;
    let rss_plain = idle_rss(ctx, &pair, n, false, "plain")?;
    pair.a.ip(&["route", "flush", "table", &TABLE.to_string()]);

    let mut a = start_guardian(ctx, &pair, Side::A, "scale", n, true)?;
    let mut b = start_guardian(ctx, &pair, Side::B, "scale", n, true)?;
    let up = wait_guardians(&pair, &mut [&mut a, &mut b], Duration::from_secs(30 + u64::from(n) / 500), INTERVAL_MS)?;
    if up.all {
        println!("    all {label} sessions Up at 100 ms on both sides {:.1} s after start", up.after.as_secs_f64());
    } else {
        println!(
            "    NOT all Up after {:.0} s: {} Up in A, {} in B (of {n}); measuring what happens anyway",
            up.after.as_secs_f64(),
            up.up_a,
            up.up_b
        );
    }
    std::thread::sleep(SETTLE);

    let m0 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let u0 = [udp_stats(&pair.a)?, udp_stats(&pair.b)?];
    let up_at_start: Vec<f64> = m0.iter().map(|m| sum_of(m, UP)).collect();
    let windows = cpu_windows([a.pid(), b.pid()], 1, SCALE_WINDOW, &mut || {
        a.check_alive()?;
        Ok(b.check_alive()?)
    })?;
    let u1 = [udp_stats(&pair.a)?, udp_stats(&pair.b)?];
    let m1 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let secs = SCALE_WINDOW.as_secs_f64();
    let delta = |i: usize, series: Series| sum_of(&m1[i], series) - sum_of(&m0[i], series);
    let flaps: Vec<f64> = (0..2).map(|i| delta(i, FROM_UP)).collect();
    let sent: Vec<f64> = (0..2).map(|i| delta(i, SENT) / secs).collect();
    let received: Vec<f64> = (0..2).map(|i| delta(i, RECEIVED) / secs).collect();
    let udp_delta =
        |i: usize, key: &str| u1[i].get(key).copied().unwrap_or(0.0) - u0[i].get(key).copied().unwrap_or(0.0);
    let rcvbuf_errors: Vec<f64> = (0..2).map(|i| udp_delta(i, "RcvbufErrors") / secs).collect();
    let udp_in: Vec<f64> = (0..2).map(|i| udp_delta(i, "InDatagrams") / secs).collect();
    let w = &windows[0];
    let up_now: Vec<f64> = m1.iter().map(|m| sum_of(m, UP)).collect();
    // Cross-check with the sessions' own uptimes.
    let mut short_uptime = Vec::new();
    for d in [&a, &b] {
        let list = d.api_get("/v1/sessions")?;
        let shorter = list
            .as_array()
            .map(|l| l.iter().filter(|s| s["uptime_seconds"].as_f64().is_none_or(|u| u < secs)).count())
            .unwrap_or(usize::MAX);
        short_uptime.push(shorter);
    }
    let rss_live = a.rss_bytes();
    let peak_live = a.peak_rss_bytes();
    let rss_b = b.rss_bytes();
    let extra = |m: &[Sample]| {
        json!({
            "packets_invalid": sum_of(m, ("guardian_liveness_packets_invalid_total", &[])),
            "unknown_peer_packets": sum_of(m, ("guardian_liveness_unknown_peer_packets_total", &[])),
            "socket_errors": sum_of(m, ("guardian_liveness_socket_errors_total", &[])),
            "timer_queue_length": sum_of(m, ("guardian_liveness_timer_queue_length", &[])),
            "sessions_rejected": sum_of(m, ("guardian_liveness_sessions_rejected_total", &[])),
        })
    };
    let side_metrics = [extra(&m1[0]), extra(&m1[1])];
    println!(
        "    over {secs:.0} s: flaps A {} B {}; sessions with uptime < window: A {} B {}; CPU A {} B {} \
         (schedstat {} / {}; other load {:.2} cores)",
        flaps[0],
        flaps[1],
        short_uptime[0],
        short_uptime[1],
        pct(w.daemons[0].0),
        pct(w.daemons[1].0),
        pct(w.daemons[0].1),
        pct(w.daemons[1].1),
        w.other,
    );
    println!(
        "    control packets/s sent A {} B {}, received A {} B {}; UDP datagrams/s delivered A {} B {}, \
         dropped on a full receive buffer (RcvbufErrors) A {} B {}",
        num(sent[0]),
        num(sent[1]),
        num(received[0]),
        num(received[1]),
        num(udp_in[0]),
        num(udp_in[1]),
        num(rcvbuf_errors[0]),
        num(rcvbuf_errors[1]),
    );
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let per_session = (rss_live as f64 - rss_empty as f64) / f64::from(n);
    let per_session_over_routes = (rss_live as f64 - rss_plain as f64) / f64::from(n);
    println!(
        "    RSS of A: {:.1} MiB with no routes, {:.1} MiB with {label} routes without liveness, {:.1} MiB with \
         {label} sessions{} (peak {:.1} MiB): {} bytes per session ({} above a route without liveness)",
        mib(rss_empty),
        mib(rss_plain),
        mib(rss_live),
        if up.all { " Up" } else { " (not all Up)" },
        mib(peak_live),
        num(per_session),
        num(per_session_over_routes)
    );

    // Detection: every session Up at the cut should go down.
    let up_at_cut = scrape(&pair.a).map(|m| sum_of(&m, UP)).unwrap_or(0.0) as u32;
    println!("    part 2 at {label}: cutting A's input ({up_at_cut} sessions Up in A)");
    let det = detect_guardian(&pair, &mut a, up_at_cut, BOUND_MS)?;
    det.print("guardian", n);
    let status_a = status_of(&a);
    let _ = a.stop(Duration::from_secs(60));
    let _ = b.stop(Duration::from_secs(60));
    drop((a, b));

    // The same sessions at 1 s: all Up and idle, for memory (and whether they hold).
    Cutter::undo(&pair.a)?;
    for ns in [&pair.a, &pair.b] {
        ns.ip(&["route", "flush", "table", &TABLE.to_string()]);
    }
    let slow = slow_run(ctx, &pair)?;
    drop(pair);

    let detail = json!({
        "sessions": n,
        "window_seconds": secs,
        "all_up_before_the_window": up.all,
        "wait_for_all_up_seconds": up.after.as_secs_f64(),
        "sessions_up_at_start_a_b": up_at_start,
        "sessions_up_at_end_a_b": up_now,
        "flaps_a_b": flaps,
        "sessions_with_uptime_below_window_a_b": short_uptime,
        "cpu_pct_a_b": [w.daemons[0].0 * 100.0, w.daemons[1].0 * 100.0],
        "cpu_schedstat_pct_a_b": [w.daemons[0].1 * 100.0, w.daemons[1].1 * 100.0],
        "other_load_cores": w.other,
        "packets_sent_per_sec_a_b": sent,
        "packets_received_per_sec_a_b": received,
        "udp_in_datagrams_per_sec_a_b": udp_in,
        "udp_rcvbuf_errors_per_sec_a_b": rcvbuf_errors,
        "metrics_at_end_a_b": side_metrics,
        "flaps_measured": "increase of guardian_liveness_transitions_total{from=\"up\"} over the window; \
                           cross-checked with uptime_seconds from GET /v1/sessions",
    });
    let mem_detail = json!({
        "sessions": n,
        "all_up": up.all,
        "rss_no_routes_bytes": rss_empty,
        "rss_routes_without_liveness_bytes": rss_plain,
        "rss_sessions_bytes": rss_live,
        "peak_rss_sessions_bytes": peak_live,
        "rss_b_sessions_bytes": rss_b,
        "measured": "VmRSS of A's guardian: idle (ready + 3 s) with no routes; idle with the same routes without \
                     liveness; after the 60 s window with the sessions running (one route per session)",
    });
    let cpu_mean = (w.daemons[0].0 + w.daemons[1].0) / 2.0;
    let row =
        |figure: String, value: f64, unit: &'static str, target: Option<String>, met: Option<bool>, d: &Value| Row {
            scenario: SCENARIO,
            figure,
            value,
            unit,
            target,
            met,
            floor: None,
            floor_what: None,
            ratio: None,
            detail: d.clone(),
        };
    let total_flaps = flaps[0] + flaps[1];
    let mut rows = vec![
        row(
            format!("session flaps over {} s, {label} sessions (both daemons)", SCALE_WINDOW.as_secs()),
            total_flaps,
            "flaps",
            Some("= 0".into()),
            Some(up.all && total_flaps == 0.0 && short_uptime.iter().all(|s| *s == 0)),
            &detail,
        ),
        row(
            format!("CPU per daemon, {label} sessions (mean of A and B)"),
            cpu_mean * 100.0,
            "% of a core",
            None,
            None,
            &detail,
        ),
        row(
            format!("control packets sent per daemon per second, {label} sessions"),
            (sent[0] + sent[1]) / 2.0,
            "pkt/s",
            None,
            None,
            &detail,
        ),
        row(
            format!("control packets received per daemon per second, {label} sessions"),
            (received[0] + received[1]) / 2.0,
            "pkt/s",
            None,
            None,
            &detail,
        ),
        row(
            format!("datagrams dropped on a full receive buffer per daemon per second, {label} sessions"),
            (rcvbuf_errors[0] + rcvbuf_errors[1]) / 2.0,
            "pkt/s",
            Some("= 0".into()),
            Some(rcvbuf_errors.iter().all(|x| *x == 0.0)),
            &detail,
        ),
        row(
            format!("memory: (RSS with {label} sessions - RSS with no routes) / {label}"),
            per_session,
            "bytes/session",
            None,
            None,
            &mem_detail,
        ),
        row(
            format!("memory: (RSS with {label} sessions - RSS with {label} routes without liveness) / {label}"),
            per_session_over_routes,
            "bytes/session",
            None,
            None,
            &mem_detail,
        ),
    ];
    let slow_per_session = (slow.rss_a as f64 - rss_empty as f64) / f64::from(n);
    let slow_over_routes = (slow.rss_a as f64 - rss_plain as f64) / f64::from(n);
    println!(
        "    at 1 s: RSS of A {:.1} MiB with {label} sessions{}: {} bytes per session ({} above a route without \
         liveness)",
        mib(slow.rss_a),
        if slow.all_up { " all Up" } else { " (NOT all Up)" },
        num(slow_per_session),
        num(slow_over_routes)
    );
    let slow_detail = json!({
        "sessions": n,
        "interval_ms": SLOW_INTERVAL_MS,
        "all_up": slow.all_up,
        "all_up_after_seconds": slow.up_after,
        "window_seconds": SLOW_WINDOW.as_secs_f64(),
        "flaps_a_b": slow.flaps,
        "cpu_pct_a_b": slow.cpu.map(|x| x * 100.0),
        "packets_sent_per_sec_a_b": slow.sent,
        "rss_no_routes_bytes": rss_empty,
        "rss_routes_without_liveness_bytes": rss_plain,
        "rss_sessions_up_bytes": slow.rss_a,
        "peak_rss_sessions_up_bytes": slow.peak_a,
        "measured": "the same pair and routes at desired_tx = required_rx = 1 s (guardian's default); VmRSS of A \
                     after the window, minus the baselines measured before the 100 ms run",
    });
    let slow_flaps = slow.flaps[0] + slow.flaps[1];
    rows.push(row(
        format!("memory: (RSS with {label} sessions Up at 1 s - RSS with no routes) / {label}"),
        slow_per_session,
        "bytes/session",
        None,
        None,
        &slow_detail,
    ));
    rows.push(row(
        format!("memory: (RSS with {label} sessions Up at 1 s - RSS with {label} routes without liveness) / {label}"),
        slow_over_routes,
        "bytes/session",
        None,
        None,
        &slow_detail,
    ));
    rows.push(row(
        format!("session flaps over {} s, {label} sessions at 1 s (both daemons)", SLOW_WINDOW.as_secs()),
        slow_flaps,
        "flaps",
        Some("= 0".into()),
        Some(slow.all_up && slow_flaps == 0.0),
        &slow_detail,
    ));
    rows.push(row(
        format!("CPU per daemon, {label} sessions at 1 s (mean of A and B)"),
        (slow.cpu[0] + slow.cpu[1]) / 2.0 * 100.0,
        "% of a core",
        None,
        None,
        &slow_detail,
    ));
    if !slow.detection.over_bound_ms.is_empty() {
        let slow_det_detail = json!({
            "sessions": n,
            "interval_ms": SLOW_INTERVAL_MS,
            "sessions_up_at_the_cut": slow.up_at_cut,
            "bound_ms": slow.detection.bound_ms,
            "guardian": slow.detection.summary(),
            "measured": "as at 100 sessions, on the 1 s pair (every session Up and stable): all cut at once",
        });
        rows.extend(detection_rows(&slow.detection, None, n, slow.up_at_cut, slow_det_detail));
    }
    if det.over_bound_ms.is_empty() {
        eprintln!("    no session went down (timeout) after cutting A's input at {label} sessions");
        return Ok(rows);
    }
    let det_detail = json!({
        "sessions": n,
        "sessions_up_at_the_cut": up_at_cut,
        "bound_ms": BOUND_MS,
        "guardian": det.summary(),
        "status_after": status_a,
        "measured": "as at 100 sessions; all sessions are cut at once",
    });
    rows.extend(detection_rows(&det, None, n, up_at_cut, det_detail));
    Ok(rows)
}

pub(super) struct SlowRun {
    pub(super) all_up: bool,
    pub(super) up_after: f64,
    pub(super) flaps: [f64; 2],
    pub(super) cpu: [f64; 2],
    pub(super) sent: [f64; 2],
    pub(super) rss_a: u64,
    pub(super) peak_a: u64,
    pub(super) up_at_cut: u32,
    pub(super) detection: Detection,
}

/// Both guardians of `pair` at 1 s intervals: wait for every session, hold, measure.
pub(super) fn slow_run(ctx: &Ctx, pair: &Pair) -> Result<SlowRun> {
    let n = pair.n;
    let slow = Some(Probe { interval_ms: SLOW_INTERVAL_MS, auth: Auth::Off });
    let mut a = start_guardian_at(ctx, pair, Side::A, "slow", n, slow)?;
    let mut b = start_guardian_at(ctx, pair, Side::B, "slow", n, slow)?;
    let up =
        wait_guardians(pair, &mut [&mut a, &mut b], Duration::from_secs(60 + u64::from(n) / 200), SLOW_INTERVAL_MS)?;
    println!(
        "    at 1 s intervals: {} after {:.1} s (A {} Up, B {})",
        if up.all { "all Up" } else { "NOT all Up" },
        up.after.as_secs_f64(),
        up.up_a,
        up.up_b
    );
    std::thread::sleep(SETTLE);
    let m0 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let w = cpu_windows([a.pid(), b.pid()], 1, SLOW_WINDOW, &mut || {
        a.check_alive()?;
        Ok(b.check_alive()?)
    })?;
    let m1 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let secs = SLOW_WINDOW.as_secs_f64();
    let flaps = [0, 1].map(|i| sum_of(&m1[i], FROM_UP) - sum_of(&m0[i], FROM_UP));
    let sent = [0, 1].map(|i| (sum_of(&m1[i], SENT) - sum_of(&m0[i], SENT)) / secs);
    let cpu = [w[0].daemons[0].0, w[0].daemons[1].0];
    let (rss_a, peak_a) = (a.rss_bytes(), a.peak_rss_bytes());
    let up_at_cut = scrape(&pair.a).map(|m| sum_of(&m, UP)).unwrap_or(0.0) as u32;
    println!(
        "    at 1 s intervals over {secs:.0} s: flaps A {} B {}; CPU A {} B {}; packets/s sent A {} B {}",
        flaps[0],
        flaps[1],
        pct(cpu[0]),
        pct(cpu[1]),
        num(sent[0]),
        num(sent[1])
    );
    println!("    part 2 at {} sessions at 1 s: cutting A's input ({up_at_cut} Up in A)", count_label(n));
    let bound_ms = f64::from(MULTIPLIER * SLOW_INTERVAL_MS);
    let detection = detect_guardian(pair, &mut a, up_at_cut, bound_ms)?;
    detection.print("guardian at 1 s", n);
    let _ = a.stop(Duration::from_secs(60));
    let _ = b.stop(Duration::from_secs(60));
    Ok(SlowRun {
        all_up: up.all,
        up_after: up.after.as_secs_f64(),
        flaps,
        cpu,
        sent,
        rss_a,
        peak_a,
        up_at_cut,
        detection,
    })
}
