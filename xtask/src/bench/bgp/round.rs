//! One round: fresh namespaces, S loaded, the receivers started and idle,
//! S's sessions to the receivers of the mode enabled, both tables watched
//! until full, the figures read, everything stopped and removed.

use super::*;

/// What one receiver did in one round.
pub(super) struct Receiver {
    /// Established -> the last route addition of a full table, seconds.
    pub(super) load_secs: f64,
    pub(super) rss_before: u64,
    pub(super) rss_after: u64,
    pub(super) peak: u64,
    /// utime + stime from the enable to the full table, seconds.
    pub(super) cpu_secs: f64,
    /// Route notifications the bench missed (the time is then an upper bound).
    pub(super) overruns: u64,
    /// Route additions the kernel notified (a replacement counts again).
    pub(super) notified: u64,
    pub(super) established: SystemTime,
}

impl Receiver {
    pub(super) fn bytes_per_route(&self, n: u32) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / f64::from(n)
    }
}

/// guardian's own account of its load, from its log (seconds after Established).
#[derive(Default)]
pub(super) struct GuardianTrail {
    /// `BGP start-up: every neighbor sent End-of-RIB`: the BGP task has read every UPDATE.
    pub(super) end_of_rib: Option<f64>,
    /// The last `routes of a source updated`: the reconciler took the last batch.
    pub(super) last_source_update: Option<f64>,
    pub(super) source_updates: usize,
    /// `netlink overrun, resyncing`: guardian missed kernel notifications.
    pub(super) netlink_overruns: usize,
    /// Anything that says the session went down during the load.
    pub(super) sessions_down: Vec<String>,
    /// `guardian bgp --json`'s neighbor once the table is full.
    pub(super) bgp: Value,
}

/// One round's figures: `sides[GUARDIAN]`, `sides[BIRD]` for the receivers
/// the mode loaded.
pub(super) struct Round {
    pub(super) mode: Mode,
    /// S's protocol enabled first.
    pub(super) first: &'static str,
    pub(super) sides: [Option<Receiver>; 2],
    pub(super) trail: Option<GuardianTrail>,
}

/// S, G and R, with S joined to each by a veth pair.
struct Topology {
    s: Netns,
    g: Netns,
    r: Netns,
}

impl Topology {
    fn new() -> Topology {
        let t = Topology { s: Netns::tagged("bgp-s"), g: Netns::tagged("bgp-g"), r: Netns::tagged("bgp-r") };
        for (s_dev, s_addr, other, addr) in [("vg", S_TO_G, &t.g, G_ADDR), ("vr", S_TO_R, &t.r, R_ADDR)] {
            t.s.veth_to(s_dev, other, "va");
            t.s.addr_add(s_dev, &format!("{s_addr}/24"));
            other.addr_add("va", &format!("{addr}/24"));
        }
        t
    }
}

/// The files every round uses, in the bench folder.
pub(super) struct Files {
    pub(super) routes: PathBuf,
    pub(super) guardian: PathBuf,
}

/// A round in `mode`; `guardian_first`: which of S's sessions is enabled
/// first when both are.
pub(super) fn one_round(ctx: &Ctx, n: u32, mode: Mode, guardian_first: bool, files: &Files) -> Result<Round> {
    let topo = Topology::new();
    let s_log = fresh(ctx.dir.join("bgp-s.log"));
    let r_log = fresh(ctx.dir.join("bgp-r.log"));
    let s_config = configs::announcer(&s_log, &files.routes, n);
    let r_config = configs::receiver(&r_log);
    // For the record, beside the results.
    std::fs::write(ctx.dir.join("bgp-s.conf"), &s_config)?;
    std::fs::write(ctx.dir.join("bgp-r.conf"), &r_config)?;

    let t = Instant::now();
    let s = Bird::builder(&topo.s, &s_config).env("TZ", "UTC").quiet().start();
    wait_loaded(&s, n)?;
    let s_secs = t.elapsed().as_secs_f64();
    let r = Bird::builder(&topo.r, &r_config).env("TZ", "UTC").quiet().start();
    let g = ctx.start_daemon(&topo.g, &files.guardian);
    g.wait_ready(Ctx::ready_timeout(0));
    std::thread::sleep(SETTLE);
    g.check_alive()?;
    r.check_alive()?;
    let pids = [g.pid(), r.pid()];
    let before = [g.rss_bytes(), r.rss_bytes()];
    let loaded = [mode.loads(GUARDIAN), mode.loads(BIRD)];

    let mut watches = [
        loaded[GUARDIAN].then(|| TableWatch::start(&topo.g, "guardian")).transpose()?,
        loaded[BIRD].then(|| TableWatch::start(&topo.r, "bird")).transpose()?,
    ];
    let start_cpu = [cpu(pids[GUARDIAN])?, cpu(pids[BIRD])?];
    let mut order = [(TO_GUARDIAN, GUARDIAN), (TO_BIRD, BIRD)];
    if !guardian_first {
        order.reverse();
    }
    let order: Vec<&str> = order.iter().filter(|(_, i)| loaded[*i]).map(|(p, _)| *p).collect();
    println!(
        "    {}: S has its {} routes after {s_secs:.1} s; enabling {}",
        mode.label(),
        count_label(n),
        order.join(", ")
    );
    for protocol in &order {
        let out = s.birdc(&["enable", protocol]);
        if !out.stdout.contains("enabled") {
            bail!("birdc enable {protocol} on S: {out:?}");
        }
    }

    let deadline = Instant::now() + LOAD_TIMEOUT;
    let mut full: [Option<(Full, Cpu)>; 2] = [None, None];
    while (0..2).any(|i| loaded[i] && full[i].is_none()) {
        for i in 0..2 {
            if let (Some(watch), None) = (watches[i].as_mut(), &full[i]) {
                if let Some(f) = watch.check(u64::from(n))? {
                    full[i] = Some((f, cpu(pids[i])?));
                }
            }
        }
        g.check_alive()?;
        r.check_alive()?;
        s.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "after {LOAD_TIMEOUT:?}, not every table holds {n} routes (full: guardian's {}, BIRD's {}); guardian says {}",
                full[GUARDIAN].is_some(),
                full[BIRD].is_some(),
                g.cli(&["bgp", "--json"]).stdout.trim()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(watches);
    std::thread::sleep(SETTLE);
    g.check_alive()?;
    r.check_alive()?;
    let after = [(g.rss_bytes(), g.peak_rss_bytes()), (r.rss_bytes(), r.peak_rss_bytes())];

    let ups = [
        loaded[GUARDIAN].then(|| guardian_established(&g)).transpose()?,
        loaded[BIRD].then(|| bird_established(&r_log)).transpose()?,
    ];
    let sides = std::array::from_fn(|i| {
        let ((f, end_cpu), up) = (full[i]?, ups[i]?);
        Some(Receiver {
            load_secs: secs_between(up, f.at),
            rss_before: before[i],
            rss_after: after[i].0,
            peak: after[i].1,
            cpu_secs: cpu_secs(start_cpu[i], end_cpu),
            overruns: f.overruns,
            notified: f.notified,
            established: up,
        })
    });
    let trail = ups[GUARDIAN].map(|up| guardian_trail(&g, up));
    if loaded[BIRD] {
        let count = configs::route_count(&r.birdc(&["show", "route", "count"]).stdout);
        if count != Some(u64::from(n)) {
            eprintln!("    the receiving BIRD's table holds {count:?} routes, not {n}");
        }
    }
    drop(g);
    drop(r);
    drop(s);
    drop(topo);
    Ok(Round { mode, first: order[0], sides, trail })
}

/// `path`, with what an earlier round left there removed.
fn fresh(path: PathBuf) -> PathBuf {
    let _ = std::fs::remove_file(&path);
    path
}

/// Waits until S's table holds the `n` routes of its static protocol.
fn wait_loaded(s: &Bird, n: u32) -> Result<()> {
    let deadline = Instant::now() + S_LOAD_TIMEOUT;
    loop {
        let out = s.birdc(&["show", "route", "count"]);
        if configs::route_count(&out.stdout) == Some(u64::from(n)) {
            return Ok(());
        }
        s.check_alive()?;
        if Instant::now() > deadline {
            bail!("after {S_LOAD_TIMEOUT:?}, S's table is not full: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn guardian_established(g: &Daemon) -> Result<SystemTime> {
    let line = g.logs().find_from(0, &msg("BGP session up")).context("guardian logged no `BGP session up`")?;
    timestamp(&line).with_context(|| format!("no timestamp in {line}"))
}

fn bird_established(log: &Path) -> Result<SystemTime> {
    let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    text.lines()
        .find_map(|l| configs::bird_up_at(l, FROM_S))
        .with_context(|| format!("the receiving BIRD logged no `{FROM_S}: State changed to up` in {}", log.display()))
}

fn timestamp(line: &Value) -> Option<SystemTime> {
    line["timestamp"].as_str().and_then(parse_rfc3339)
}

pub(super) fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn cpu_secs(a: Cpu, b: Cpu) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    b.ticks.saturating_sub(a.ticks) as f64 / hz
}

/// Where guardian's time went, from its log lines after Established.
fn guardian_trail(g: &Daemon, up: SystemTime) -> GuardianTrail {
    let mut trail = GuardianTrail::default();
    for line in g.logs().snapshot() {
        let Some(message) = logs::message(&line) else { continue };
        let after = timestamp(&line).map(|t| secs_between(up, t));
        match message {
            "BGP start-up: every neighbor sent End-of-RIB; routes none announced again are withdrawn" => {
                trail.end_of_rib = after;
            }
            "routes of a source updated" => {
                trail.source_updates += 1;
                trail.last_source_update = after;
            }
            "netlink overrun, resyncing" => trail.netlink_overruns += 1,
            m if m.starts_with("BGP session down") => trail.sessions_down.push(line.to_string()),
            _ => {}
        }
    }
    let view = g.cli(&["bgp", "--json"]);
    trail.bgp = serde_json::from_str::<Value>(&view.stdout).map(|v| v["neighbors"][0].clone()).unwrap_or(Value::Null);
    trail
}
