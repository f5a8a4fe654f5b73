//! Part 2: the record pipeline under a mass deletion.

use super::*;

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

pub(super) fn pipeline(ctx: &Ctx) -> Result<Vec<Row>> {
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
    let drops = metrics::sum(&after, "guardian_attribution_drops_total");
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
            format!("guardian_attribution_drops_total after {label} deletions"),
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
