//! Part 2: detection time after a cut, guardian against BIRD.

use super::*;

// ---------------------------------------------------------------- detection

/// An `nft -e -a -i` running in a namespace, ready to add the drop rule.
pub(super) struct Cutter {
    pub(super) child: Child,
    pub(super) stdin: ChildStdin,
    pub(super) lines: mpsc::Receiver<(bool, String)>,
}

impl Cutter {
    pub(super) fn new(ns: &Netns) -> Result<Cutter> {
        for args in [
            vec!["add", "table", "inet", "gxlive"],
            vec!["add chain inet gxlive input { type filter hook input priority 0; policy accept; }"],
        ] {
            let out = cmd::run(ns.exec("nft").args(&args), Duration::from_secs(10));
            if !out.success() {
                bail!("nft {}: {}", args.join(" "), out.stderr.trim());
            }
        }
        let mut cmd = ns.exec("nft");
        cmd.args(["-e", "-a", "-i"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting nft -i")?;
        let stdin = child.stdin.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        for (is_err, stream) in [
            (false, Box::new(child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>),
            (true, Box::new(child.stderr.take().expect("piped"))),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((is_err, line)).is_err() {
                        break;
                    }
                }
            });
        }
        // Let nft start before the instant matters.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Cutter { child, stdin, lines })
    }

    /// Adds the drop rule; returns the instant just before and how long
    /// until the kernel's echo of the rule came back.
    pub(super) fn cut(&mut self) -> Result<(SystemTime, Duration)> {
        let at = SystemTime::now();
        let t = Instant::now();
        writeln!(self.stdin, "add rule inet gxlive input udp dport 3784 drop")?;
        self.stdin.flush()?;
        loop {
            match self.lines.recv_timeout(Duration::from_secs(5)) {
                Ok((false, line)) if line.contains("drop") && line.contains("handle") => return Ok((at, t.elapsed())),
                Ok((false, _)) => {}
                Ok((true, line)) => bail!("nft: {line}"),
                Err(_) => bail!("nft did not echo the drop rule within 5 s"),
            }
        }
    }
}

impl Cutter {
    /// Removes the table (and so the drop rule) from `ns`.
    pub(super) fn undo(ns: &Netns) -> Result<()> {
        let out = cmd::run(ns.exec("nft").args(["delete", "table", "inet", "gxlive"]), Duration::from_secs(10));
        if !out.success() {
            bail!("nft delete table: {}", out.stderr.trim());
        }
        Ok(())
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) struct Detection {
    /// Multiplier x interval of the sessions timed.
    pub(super) bound_ms: f64,
    /// Per session: Down time - cut - bound, ms.
    pub(super) over_bound_ms: Vec<f64>,
    /// guardian only: Down time - last packet received - bound (its own log field), ms.
    pub(super) lateness_ms: Vec<f64>,
    /// Sessions that went down for another reason than a timeout.
    pub(super) other_reasons: usize,
    /// Sessions that went down but whose detection time at the cut was not
    /// the bound (guardian only: still at the start-up rate after a flap).
    pub(super) slow_at_cut: usize,
    /// How long the nft echo took (the cut happened within it).
    pub(super) cut_window_ms: f64,
}

impl Detection {
    /// Nothing seen yet of a cut made within `window`.
    pub(super) fn new(bound_ms: f64, window: Duration) -> Detection {
        Detection {
            bound_ms,
            over_bound_ms: Vec::new(),
            lateness_ms: Vec::new(),
            other_reasons: 0,
            slow_at_cut: 0,
            cut_window_ms: window.as_secs_f64() * 1e3,
        }
    }
}

impl Detection {
    pub(super) fn summary(&self) -> Value {
        let s = |v: &[f64]| {
            if v.is_empty() {
                return Value::Null;
            }
            let (lo, hi) = min_max(v);
            json!({"p50": median(v), "p99": percentile(v, 99.0), "min": lo, "max": hi, "count": v.len()})
        };
        json!({
            "down_minus_cut_minus_bound_ms": s(&self.over_bound_ms),
            "down_minus_last_packet_minus_bound_ms": s(&self.lateness_ms),
            "down_for_other_reasons": self.other_reasons,
            "down_but_detection_time_not_the_bound_at_the_cut": self.slow_at_cut,
            "cut_window_ms": self.cut_window_ms,
        })
    }

    pub(super) fn print(&self, who: &str, n: u32) {
        if self.over_bound_ms.is_empty() {
            println!("    {who}: no session went down");
            return;
        }
        let (lo, hi) = min_max(&self.over_bound_ms);
        print!(
            "    {who}, {n} sessions cut: {} down; Down - cut - {} ms: p50 {} p99 {} max {} (min {}) ms",
            self.over_bound_ms.len(),
            self.bound_ms,
            num(median(&self.over_bound_ms)),
            num(percentile(&self.over_bound_ms, 99.0)),
            num(hi),
            num(lo)
        );
        if !self.lateness_ms.is_empty() {
            print!(
                "; Down - last packet - {} ms: p50 {} p99 {} max {} ms",
                self.bound_ms,
                num(median(&self.lateness_ms)),
                num(percentile(&self.lateness_ms, 99.0)),
                num(min_max(&self.lateness_ms).1)
            );
        }
        if self.slow_at_cut + self.other_reasons > 0 {
            print!(
                "; not timed: {} whose detection time at the cut was not {} ms, {} down for another reason",
                self.slow_at_cut, self.bound_ms, self.other_reasons
            );
        }
        println!(" (nft echo after {:.2} ms)", self.cut_window_ms);
    }
}

pub(super) fn ms_between(t: SystemTime, t0: SystemTime) -> f64 {
    match t.duration_since(t0) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

pub(super) fn detection_timeout(n: u32) -> Duration {
    Duration::from_secs(10 + u64::from(n) / 500)
}

/// Cuts A's input and waits for `expect` `liveness session down` lines in A's log.
/// Sessions whose detection time at the cut was not the bound (still at the
/// slow start-up rate, after a flap) are counted apart, not timed.
pub(super) fn detect_guardian(pair: &Pair, a: &mut Daemon, expect: u32, bound_ms: f64) -> Result<Detection> {
    let mut cutter = Cutter::new(&pair.a)?;
    // Each Up session's detection time just before the cut, by peer.
    let detect: HashMap<String, f64> = a
        .api_get("/v1/sessions")?
        .as_array()
        .context("/v1/sessions answered no list")?
        .iter()
        .filter(|s| s["state"] == "up")
        .filter_map(|s| Some((s["peer"].as_str()?.to_owned(), s["detect_time_seconds"].as_f64()? * 1e3)))
        .collect();
    let mut seen = a.log_mark();
    let (cut_at, window) = cutter.cut()?;
    let deadline = Instant::now() + detection_timeout(pair.n);
    let mut d = Detection::new(bound_ms, window);
    while d.over_bound_ms.len() + d.other_reasons + d.slow_at_cut < expect as usize {
        for v in a.logs().lines_from(seen) {
            seen += 1;
            let text = |key: &str| logs::value(&v, key).and_then(Value::as_str);
            if !logs::is(&v, "liveness session down") || text("from") != Some("up") {
                continue;
            }
            if text("reason") != Some("timeout") {
                d.other_reasons += 1;
                continue;
            }
            let own = text("peer").and_then(|p| detect.get(p));
            if own.is_some_and(|ms| (ms - bound_ms).abs() >= 0.5) {
                d.slow_at_cut += 1;
                continue;
            }
            let Some(at) = v["timestamp"].as_str().and_then(parse_rfc3339) else { continue };
            d.over_bound_ms.push(ms_between(at, cut_at) - bound_ms);
            // "Some(300.4ms)"
            if let Some(last) = text("last_packet")
                .map(|s| s.trim_start_matches("Some(").trim_end_matches(')'))
                .and_then(super::super::parse_duration_secs)
            {
                d.lateness_ms.push(last * 1e3 - bound_ms);
            }
        }
        if Instant::now() > deadline {
            eprintln!(
                "    only {} of {expect} sessions went down within {:?} of the cut",
                d.over_bound_ms.len() + d.other_reasons + d.slow_at_cut,
                detection_timeout(pair.n)
            );
            break;
        }
        a.check_alive()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(d)
}

/// The same against BIRD in A: its `changed state from Up to Down` trace lines.
pub(super) fn detect_bird(pair: &Pair, a: &mut BenchBird) -> Result<Detection> {
    let bound_ms = BOUND_MS;
    let mut cutter = Cutter::new(&pair.a)?;
    let mut pos = a.log_len();
    let (cut_at, window) = cutter.cut()?;
    let deadline = Instant::now() + detection_timeout(pair.n);
    let mut d = Detection::new(bound_ms, window);
    while d.over_bound_ms.len() < pair.n as usize {
        let (lines, next) = a.log_from(pos);
        pos = next;
        for line in lines {
            // "2026-11-26 13:48:56.145395 <TRACE> bfd1: Session to 10.200.128.2 changed state from Up to Down"
            if !line.contains("changed state from Up to Down") {
                continue;
            }
            let Some(stamp) = line.get(..26) else { continue };
            let Some(at) = parse_rfc3339(&format!("{}Z", stamp.replacen(' ', "T", 1))) else { continue };
            d.over_bound_ms.push(ms_between(at, cut_at) - bound_ms);
        }
        if Instant::now() > deadline {
            eprintln!("    only {} of {} BIRD sessions went down", d.over_bound_ms.len(), pair.n);
            break;
        }
        a.check_alive()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(d)
}

pub(super) fn detection(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = DETECT_SESSIONS.min(ctx.max_routes);
    println!("    part 2: detection at {n} sessions, guardian pair then BIRD pair (one nft rule on A's input)");
    let g = {
        let pair = Pair::new(ctx, "lvdg", n)?;
        let mut a = start_guardian(ctx, &pair, Side::A, "det", n, true)?;
        let mut b = start_guardian(ctx, &pair, Side::B, "det", n, true)?;
        wait_guardians_up(&pair, &mut [&mut a, &mut b])?;
        std::thread::sleep(SETTLE);
        let d = detect_guardian(&pair, &mut a, n, BOUND_MS)?;
        let _ = a.stop(Duration::from_secs(30));
        let _ = b.stop(Duration::from_secs(30));
        d
    };
    g.print("guardian", n);
    let bird = {
        let pair = Pair::new(ctx, "lvdb", n)?;
        let mut a = BenchBird::start(ctx, &pair, Side::A, "det", Auth::Off)?;
        let mut b = BenchBird::start(ctx, &pair, Side::B, "det", Auth::Off)?;
        wait_birds_up(&pair, &mut [&mut a, &mut b])?;
        std::thread::sleep(SETTLE);
        let d = detect_bird(&pair, &mut a)?;
        drop((a, b));
        d
    };
    bird.print("BIRD", n);
    if g.over_bound_ms.is_empty() {
        bail!("no guardian session went down after the cut");
    }
    let detail = json!({
        "sessions": n,
        "bound_ms": BOUND_MS,
        "guardian": g.summary(),
        "bird": bird.summary(),
        "measured": "cut = wall clock just before `add rule inet gxlive input udp dport 3784 drop` is written to an \
                     `nft -e -a -i` already running in A (the rule is in place by the time nft echoes it, \
                     cut_window_ms later); Down = timestamp of guardian's `liveness session down` JSON line \
                     (reason timeout) / of BIRD's `changed state from Up to Down` trace line (TZ=UTC, microseconds). \
                     A session's last packet arrived up to one interval before the cut, so values below zero are \
                     expected; the bound is met while the max stays <= 0 (+3 ms of slack, like BIRD and FRR)",
    });
    Ok(detection_rows(&g, (!bird.over_bound_ms.is_empty()).then_some(&bird), n, n, detail))
}

/// `expect`: sessions Up at the cut, of `n`.
pub(super) fn detection_rows(g: &Detection, bird: Option<&Detection>, n: u32, expect: u32, detail: Value) -> Vec<Row> {
    let label = count_label(n);
    let bound = g.bound_ms;
    let stats = |v: &[f64]| [median(v), percentile(v, 99.0), min_max(v).1];
    let gs = stats(&g.over_bound_ms);
    let bs = bird.map(|b| stats(&b.over_bound_ms));
    let mut rows = Vec::new();
    for (i, what) in ["p50", "p99", "max"].iter().enumerate() {
        let is_max = *what == "max";
        rows.push(Row {
            scenario: SCENARIO,
            figure: format!("detection: Down - cut - {bound} ms, {what}, {label} sessions cut"),
            value: gs[i],
            unit: "ms",
            target: is_max.then(|| format!("<= +{DETECT_SLACK_MS} ms")),
            met: is_max.then_some(gs[i] <= DETECT_SLACK_MS && g.over_bound_ms.len() == expect as usize),
            floor: bs.map(|b| b[i]),
            floor_what: bs.map(|_| "BIRD 2 bfd, same cut"),
            ratio: None,
            detail: detail.clone(),
        });
    }
    if !g.lateness_ms.is_empty() {
        rows.push(Row {
            scenario: SCENARIO,
            figure: format!("detection: Down - last packet - {bound} ms (guardian's own field), max, {label}"),
            value: min_max(&g.lateness_ms).1,
            unit: "ms",
            target: None,
            met: None,
            floor: None,
            floor_what: None,
            ratio: None,
            detail: detail.clone(),
        });
    }
    rows.push(Row {
        scenario: SCENARIO,
        figure: format!("detection: sessions timed (Up at {bound} ms at the cut, down on timeout), of {label}"),
        value: g.over_bound_ms.len() as f64,
        unit: "sessions",
        target: Some(format!("= {n}")),
        met: Some(g.over_bound_ms.len() == n as usize),
        floor: None,
        floor_what: None,
        ratio: None,
        detail,
    });
    rows
}
