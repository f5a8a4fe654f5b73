//! Route liveness (issue 4): guardian's BFD-style sessions, against BIRD 2's
//! `protocol bfd` where BIRD can be measured the same way.
//!
//! Topology (one per daemon pair, each in its own two namespaces): a veth
//! pair `va` (namespace A) / `vb` (namespace B); A holds N addresses
//! 10.200.0.1.., B holds N addresses 10.200.128.1..; session i runs between
//! A_i and B_i. (BIRD 2 keys a BFD session by peer address and interface
//! only, so N sessions need N distinct peer addresses on both sides; the
//! same topology serves guardian.) guardian in A keeps 198.18.x.y/32 via
//! B_i src A_i dev va, liveness = "nexthop"; guardian in B keeps
//! 198.19.x.y/32 via A_i src B_i dev vb. BIRD gets `neighbor B_i dev "va"
//! local A_i` and the mirror image. Every address has a permanent neighbour
//! entry on the other side (the neighbour table is small and shared), so
//! ARP never runs. Intervals 100 ms both ways, multiplier 3.
//!
//! 1. CPU at 1,000 sessions: a guardian pair and a BIRD pair, one after the
//!    other (two cores), two rounds in alternating order. Once every session
//!    is Up at the fast rate, utime+stime of each daemon (/proc/PID/stat)
//!    over 3 windows of 10 s, as a fraction of one core; the machine's other
//!    load in the same windows beside it. Target: guardian <= 0.2x BIRD.
//! 2. Detection: one nftables rule dropping UDP dport 3784 on A's input,
//!    added by an `nft -e -a -i` already running in A (the cut instant is
//!    taken just before the command is written; the kernel's echo bounds
//!    it). Per session: Down time (guardian's `liveness session down` JSON
//!    log line, BIRD's `changed state from Up to Down` trace line) minus the
//!    cut, minus the bound (3 x 100 ms). At 100 sessions beside BIRD, and at
//!    10,000 (all cut at once; only sessions whose detection time, read from
//!    the control API just before the cut, is the bound are timed), then
//!    again at 10,000 on the 1 s pair below (bound 3 s).
//! 3. 10,000 sessions between two guardians for 60 s: flaps (transitions
//!    out of Up, from the metrics; every session's uptime from the control
//!    API), CPU per daemon, control packets per second.
//!    Then the same pair at guardian's default 1 s intervals for 30 s.
//! 4. Memory: VmRSS of A's guardian with 10,000 sessions minus that of
//!    the same daemon with no routes, per session (also against 10,000
//!    routes without liveness, to separate the session from the route); at
//!    100 ms after the 60 s window, and at 1 s with every session Up and idle
//!    (on a machine where 100 ms does not hold, that is the idle figure).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::ebpf::parse_rfc3339;
use super::{count_label, median, min_max, num, percentile, Ctx, Row};
use crate::cleanup;
use crate::daemon::{self, field, Daemon};
use crate::netns::{self, Netns};

const INTERVAL_MS: u32 = 100;
const MULTIPLIER: u32 = 3;
/// Detect multiplier x agreed interval.
const BOUND_MS: f64 = (MULTIPLIER * INTERVAL_MS) as f64;
/// guardian and BIRD side by side.
const COMPARE_SESSIONS: u32 = 1_000;
/// guardian alone.
const SCALE_SESSIONS: u32 = 10_000;
/// Detection beside BIRD.
const DETECT_SESSIONS: u32 = 100;
/// CPU windows per daemon pair at 1,000 sessions.
const CPU_WINDOWS: usize = 3;
const CPU_WINDOW: Duration = Duration::from_secs(10);
const SCALE_WINDOW: Duration = Duration::from_secs(60);
/// The same sessions at guardian's default rate, for memory with every session Up and idle.
const SLOW_INTERVAL_MS: u32 = 1_000;
const SLOW_WINDOW: Duration = Duration::from_secs(30);
/// After every session is Up at the fast rate, before measuring.
const SETTLE: Duration = Duration::from_secs(3);
/// Inside each namespace (its own loopback).
const METRICS: &str = "127.0.0.1:9469";
const MAC_A: &str = "02:00:5e:10:00:0a";
const MAC_B: &str = "02:00:5e:10:00:0b";
const TABLE: u32 = 100;
const CPU_RATIO_TARGET: f64 = 0.2;
/// BIRD and FRR land within about this much of the bound.
const DETECT_SLACK_MS: f64 = 3.0;
const SCENARIO: &str = "liveness";

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    require("bird", &["--version"], "bird2")?;
    require("birdc", &["-v", "-s", "/nonexistent"], "bird2")?;
    require("nft", &["--version"], "nftables")?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let parts: [(&str, super::Bench); 3] =
        [("cpu beside BIRD", compare), ("detection beside BIRD", detection), ("scale", scale)];
    for (name, part) in parts {
        match part(ctx) {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                eprintln!("    liveness {name} failed: {e:#}");
                errors.push(format!("{name}: {e:#}"));
            }
        }
    }
    if !errors.is_empty() {
        bail!("{} (the other parts' figures are printed above)", errors.join("; "));
    }
    Ok(rows)
}

/// Fails with the Debian package to install when `program` cannot be started.
fn require(program: &str, args: &[&str], package: &str) -> Result<()> {
    // birdc has no --version: being able to start it is enough.
    let ran =
        Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if ran.is_err() {
        bail!(
            "the liveness scenario needs `{program}`: install it (`apt-get install -y {package}`) and run \
             `cargo xtask bench --only liveness` again"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- topology

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn dev(self) -> &'static str {
        match self {
            Side::A => "va",
            Side::B => "vb",
        }
    }

    fn local(self, i: u32) -> Ipv4Addr {
        match self {
            Side::A => addr_a(i),
            Side::B => addr_b(i),
        }
    }

    fn peer(self, i: u32) -> Ipv4Addr {
        match self {
            Side::A => addr_b(i),
            Side::B => addr_a(i),
        }
    }

    /// The destination of the i-th route this side keeps.
    fn dst(self, i: u32) -> Ipv4Addr {
        let base: u32 = match self {
            Side::A => 0xc612_0000, // 198.18.0.0
            Side::B => 0xc613_0000, // 198.19.0.0
        };
        Ipv4Addr::from(base + i)
    }
}

/// 10.200.0.1 ..: A's addresses (at most 32,767).
fn addr_a(i: u32) -> Ipv4Addr {
    assert!(i < 0x7fff, "at most 32,767 sessions");
    Ipv4Addr::from(0x0ac8_0000 + 1 + i)
}

/// 10.200.128.1 ..: B's addresses.
fn addr_b(i: u32) -> Ipv4Addr {
    assert!(i < 0x7fff, "at most 32,767 sessions");
    Ipv4Addr::from(0x0ac8_8000 + 1 + i)
}

/// Two namespaces joined by va/vb, N addresses on each side, permanent
/// neighbour entries for all of them.
struct Pair {
    a: Netns,
    b: Netns,
    n: u32,
}

impl Pair {
    fn new(ctx: &Ctx, tag: &str, n: u32) -> Result<Pair> {
        let a = Netns::create(&netns::unique_name(&format!("{tag}-a")))?;
        let b = Netns::create(&netns::unique_name(&format!("{tag}-b")))?;
        a.ip(&["link", "add", "va", "address", MAC_A, "type", "veth", "peer", "name", "vb", "address", MAC_B])?;
        a.ip(&["link", "set", "vb", "netns", b.name()])?;
        a.ip(&["link", "set", "va", "up"])?;
        b.ip(&["link", "set", "vb", "up"])?;
        for (ns, side, peer_mac) in [(&a, Side::A, MAC_B), (&b, Side::B, MAC_A)] {
            let path = ctx.dir.join(format!("liveness-{tag}-{}.batch", side.dev()));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for i in 0..n {
                writeln!(out, "addr add {}/16 dev {}", side.local(i), side.dev())?;
            }
            for i in 0..n {
                writeln!(out, "neigh replace {} lladdr {peer_mac} dev {} nud permanent", side.peer(i), side.dev())?;
            }
            out.flush()?;
            drop(out);
            ns.ip(&["-batch", path.to_str().context("non-UTF-8 path")?])
                .with_context(|| format!("adding {n} addresses and neighbours in {}", ns.name()))?;
        }
        Ok(Pair { a, b, n })
    }

    fn ns(&self, side: Side) -> &Netns {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

// ---------------------------------------------------------------- guardian

/// A guardian config for one side: `routes` routes (with liveness or
/// without), intervals of `interval_ms`, multiplier 3, metrics on, no periodic scan.
fn write_guardian_config(path: &Path, side: Side, routes: u32, liveness: bool, interval_ms: u32) -> Result<()> {
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    write!(
        out,
        "# generated by `cargo xtask bench --only liveness`: {routes} routes\n\
         [daemon]\n\
         metrics_listen = \"{METRICS}\"\n\
         \n\
         [reconcile]\n\
         interval = \"0s\"\n\
         \n\
         [liveness]\n\
         profile = \"bfd\"\n\
         desired_tx = \"{interval_ms}ms\"\n\
         required_rx = \"{interval_ms}ms\"\n\
         detect_multiplier = {MULTIPLIER}\n"
    )?;
    for i in 0..routes {
        write!(
            out,
            "\n[[route]]\ndst = \"{}/32\"\nvia = \"{}\"\ndev = \"{}\"\nsrc = \"{}\"\ntable = {TABLE}\n",
            side.dst(i),
            side.peer(i),
            side.dev(),
            side.local(i)
        )?;
        if liveness {
            writeln!(out, "liveness = \"nexthop\"")?;
        }
    }
    out.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn start_guardian(ctx: &Ctx, pair: &Pair, side: Side, tag: &str, routes: u32, liveness: bool) -> Result<Daemon> {
    start_guardian_at(ctx, pair, side, tag, routes, liveness, INTERVAL_MS)
}

fn start_guardian_at(
    ctx: &Ctx,
    pair: &Pair,
    side: Side,
    tag: &str,
    routes: u32,
    liveness: bool,
    interval_ms: u32,
) -> Result<Daemon> {
    let config = ctx.dir.join(format!("liveness-{tag}-{}.toml", side.dev()));
    write_guardian_config(&config, side, routes, liveness, interval_ms)?;
    let mut daemon = ctx.start_daemon_with(pair.ns(side), &config, &["--attribution", "netlink"])?;
    daemon.wait_ready(Ctx::ready_timeout(routes))?;
    Ok(daemon)
}

/// The metrics of the guardian in `ns`, as "name{labels}" -> value.
fn scrape(ns: &Netns) -> Result<HashMap<String, f64>> {
    let text = ns.run(|| crate::demo::http_get(METRICS, "/metrics"))??;
    Ok(parse_metrics(&text))
}

fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The sum of every series whose "name{labels}" starts with `prefix`.
fn sum_of(m: &HashMap<String, f64>, prefix: &str) -> f64 {
    // `+ 0.0`: an empty f64 sum is -0.0.
    m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum::<f64>() + 0.0
}

const UP: &str = "guardian_liveness_sessions{state=\"up\"}";
const FROM_UP: &str = "guardian_liveness_transitions_total{from=\"up\"";
const SENT: &str = "guardian_liveness_packets_sent_total";
const RECEIVED: &str = "guardian_liveness_packets_received_total";

/// How far sessions got by the end of a wait for all of them.
struct UpWait {
    all: bool,
    after: Duration,
    up_a: f64,
    up_b: f64,
}

/// Waits until both guardians of `pair` report `pair.n` sessions Up and
/// every session runs at the fast rate (detection time 300 ms); fails after
/// `timeout`.
fn wait_guardians_up(pair: &Pair, daemons: &mut [&mut Daemon; 2]) -> Result<Duration> {
    let timeout = Duration::from_secs(60 + u64::from(pair.n) / 200);
    let w = wait_guardians(pair, daemons, timeout, INTERVAL_MS)?;
    if !w.all {
        bail!(
            "after {timeout:?}, {} of {} sessions Up in A and {} in B; A's log ends with:\n{}",
            w.up_a,
            pair.n,
            w.up_b,
            daemons[0].log_tail(3)
        );
    }
    Ok(w.after)
}

/// Like `wait_guardians_up`, but says how far it got instead of failing.
fn wait_guardians(pair: &Pair, daemons: &mut [&mut Daemon; 2], timeout: Duration, interval_ms: u32) -> Result<UpWait> {
    let n = f64::from(pair.n);
    let t = Instant::now();
    loop {
        for d in daemons.iter_mut() {
            d.check_alive()?;
        }
        let (up_a, up_b) = (
            scrape(&pair.a).map(|m| sum_of(&m, UP)).unwrap_or(0.0),
            scrape(&pair.b).map(|m| sum_of(&m, UP)).unwrap_or(0.0),
        );
        let all = up_a >= n && up_b >= n && daemons.iter().all(|d| all_fast(d, pair.n, interval_ms).unwrap_or(false));
        if all || t.elapsed() > timeout {
            return Ok(UpWait { all, after: t.elapsed(), up_a, up_b });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Whether `n` sessions are Up at `interval_ms` (detection time: multiplier x that).
fn all_fast(daemon: &Daemon, n: u32, interval_ms: u32) -> Result<bool> {
    let bound_ms = f64::from(MULTIPLIER * interval_ms);
    let sessions = daemon.api_get("/v1/sessions")?;
    let list = sessions.as_array().context("/v1/sessions answered no list")?;
    let fast = list
        .iter()
        .filter(|s| {
            s["state"] == "up"
                && s["detect_time_seconds"].as_f64().is_some_and(|d| (d * 1e3 - bound_ms).abs() < 0.5)
                && s["tx_interval_seconds"].as_f64().is_some_and(|t| t * 1e3 <= f64::from(interval_ms) + 0.5)
        })
        .count();
    Ok(fast >= n as usize)
}

// ---------------------------------------------------------------- BIRD

/// A `bird -f` process in a namespace, with its control socket and log in
/// the bench folder (log timestamps in UTC, to the microsecond).
struct Bird {
    child: Option<Child>,
    pid: i32,
    ctl: PathBuf,
    log: PathBuf,
    stderr: PathBuf,
}

impl Bird {
    fn start(ctx: &Ctx, pair: &Pair, side: Side, tag: &str) -> Result<Bird> {
        let stem = ctx.dir.join(format!("liveness-{tag}-bird-{}", side.dev()));
        let conf = stem.with_extension("conf");
        let ctl = stem.with_extension("ctl");
        let log = stem.with_extension("log");
        let stderr = stem.with_extension("stderr");
        for p in [&ctl, &log] {
            let _ = std::fs::remove_file(p);
        }
        write_bird_config(&conf, &log, side, pair.n)?;
        let check = Command::new("bird").arg("-p").arg("-c").arg(&conf).output().context("running bird -p")?;
        if !check.status.success() {
            bail!("BIRD rejects {}: {}", conf.display(), String::from_utf8_lossy(&check.stderr).trim());
        }
        let mut cmd = pair.ns(side).command("bird")?;
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&ctl)
            .arg("-P")
            .arg(stem.with_extension("pid"))
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?);
        let child = cmd.spawn().context("starting bird")?;
        let pid = child.id() as i32;
        cleanup::add_pid(pid);
        let mut bird = Bird { child: Some(child), pid, ctl, log, stderr };
        let t = Instant::now();
        while bird.sessions().is_err() {
            bird.check_alive()?;
            if t.elapsed() > Duration::from_secs(10) {
                bail!("bird in {} did not open its control socket within 10 s", pair.ns(side).name());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(bird)
    }

    /// `birdc show bfd sessions`: (peer, state, interval s, timeout s).
    fn sessions(&self) -> Result<Vec<(String, String, f64, f64)>> {
        let mut cmd = Command::new("birdc");
        cmd.arg("-s").arg(&self.ctl).args(["show", "bfd", "sessions"]);
        let out = daemon::run_with_timeout(cmd, Duration::from_secs(30)).context("running birdc")?;
        if !out.status.success() {
            bail!("birdc: {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Unable to connect") {
            bail!("birdc: {}", text.trim());
        }
        Ok(text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.len() < 6 || f[0].parse::<std::net::IpAddr>().is_err() {
                    return None;
                }
                Some((f[0].to_owned(), f[2].to_owned(), f[4].parse().ok()?, f[5].parse().ok()?))
            })
            .collect())
    }

    /// Sessions Up at the fast rate.
    fn fast_up(&self) -> Result<usize> {
        Ok(self
            .sessions()?
            .iter()
            .filter(|(_, state, interval, timeout)| {
                state == "Up"
                    && *interval * 1e3 <= f64::from(INTERVAL_MS) + 0.5
                    && (*timeout * 1e3 - BOUND_MS).abs() < 0.5
            })
            .count())
    }

    fn check_alive(&mut self) -> Result<()> {
        let child = self.child.as_mut().context("bird was already stopped")?;
        if let Some(status) = child.try_wait()? {
            cleanup::forget_pid(self.pid);
            self.child = None;
            let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            bail!("bird exited unexpectedly ({status}): {}", err.trim());
        }
        Ok(())
    }

    /// Log lines from byte `from` on, and the new end.
    fn log_from(&self, from: u64) -> (Vec<String>, u64) {
        let Ok(bytes) = std::fs::read(&self.log) else { return (Vec::new(), from) };
        let start = (from as usize).min(bytes.len());
        // Only whole lines: stop at the last newline.
        let tail = &bytes[start..];
        let cut = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(&tail[..cut]);
        (text.lines().map(str::to_owned).collect(), start as u64 + cut as u64)
    }

    fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: plain syscall on our unreaped child.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            let t = Instant::now();
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if t.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            cleanup::forget_pid(self.pid);
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            cleanup::forget_pid(self.pid);
        }
    }
}

fn write_bird_config(path: &Path, log: &Path, side: Side, n: u32) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    write!(
        out,
        "# generated by `cargo xtask bench --only liveness`: {n} BFD sessions\n\
         router id {};\n\
         timeformat log \"%F %T.%6f\";\n\
         log \"{}\" all;\n\
         debug protocols {{ states, events }};\n\
         protocol device {{ }}\n\
         protocol bfd {{\n  \
           interface \"*\" {{ min rx interval {INTERVAL_MS} ms; min tx interval {INTERVAL_MS} ms; multiplier {MULTIPLIER}; }};\n",
        side.local(0),
        log.display()
    )?;
    for i in 0..n {
        writeln!(out, "  neighbor {} dev \"{}\" local {};", side.peer(i), side.dev(), side.local(i))?;
    }
    writeln!(out, "}}")?;
    out.flush()?;
    Ok(())
}

fn wait_birds_up(pair: &Pair, birds: &mut [&mut Bird; 2]) -> Result<Duration> {
    let t = Instant::now();
    let timeout = Duration::from_secs(60 + u64::from(pair.n) / 200);
    loop {
        let mut counts = Vec::new();
        for b in birds.iter_mut() {
            b.check_alive()?;
            counts.push(b.fast_up().unwrap_or(0));
        }
        if counts.iter().all(|c| *c >= pair.n as usize) {
            return Ok(t.elapsed());
        }
        if t.elapsed() > timeout {
            bail!("after {timeout:?}, BIRD has {counts:?} of {} sessions Up at 100 ms", pair.n);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------- CPU

#[derive(Clone, Copy)]
struct Cpu {
    /// utime + stime, clock ticks, all threads (/proc/PID/stat).
    ticks: u64,
    /// Sum of the live threads' on-CPU nanoseconds (/proc/PID/task/*/schedstat).
    sched_ns: u64,
    at: Instant,
}

fn cpu(pid: i32) -> Result<Cpu> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let after = &stat[stat.rfind(')').context("no ')' in /proc/PID/stat")? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).context("no utime")?
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).context("no stime")?;
    let mut sched_ns = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(text) = std::fs::read_to_string(task?.path().join("schedstat")) else { continue };
        sched_ns += text.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(Cpu { ticks, sched_ns, at: Instant::now() })
}

/// Busy fraction of one core between two samples: (from ticks, from schedstat).
fn busy(a: Cpu, b: Cpu) -> (f64, f64) {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = b.at.duration_since(a.at).as_secs_f64();
    ((b.ticks - a.ticks) as f64 / hz / secs, b.sched_ns.saturating_sub(a.sched_ns) as f64 / 1e9 / secs)
}

/// Sleeps `len`, checking every second that the daemons live.
fn hold(len: Duration, alive: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    let end = Instant::now() + len;
    while Instant::now() < end {
        std::thread::sleep((end - Instant::now()).min(Duration::from_secs(1)));
        alive()?;
    }
    Ok(())
}

/// The whole machine's busy and total clock ticks (first line of /proc/stat).
fn host_ticks() -> Result<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let v: Vec<u64> =
        text.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        bail!("unexpected first line in /proc/stat");
    }
    // user nice system idle iowait irq softirq steal
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    Ok((busy, busy + v[3] + v[4]))
}

struct Window {
    /// Per daemon: (from ticks, from schedstat), fraction of a core.
    daemons: [(f64, f64); 2],
    /// Cores busy on the machine minus the two daemons (other processes, ksoftirqd, the bench).
    other: f64,
}

/// `windows` consecutive windows of `len`.
fn cpu_windows(
    pids: [i32; 2],
    windows: usize,
    len: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Window>> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut out = Vec::new();
    let mut before = [cpu(pids[0])?, cpu(pids[1])?];
    let mut host_before = host_ticks()?;
    for _ in 0..windows {
        hold(len, alive)?;
        let after = [cpu(pids[0])?, cpu(pids[1])?];
        let host_after = host_ticks()?;
        let daemons = [busy(before[0], after[0]), busy(before[1], after[1])];
        let secs = after[0].at.duration_since(before[0].at).as_secs_f64();
        let host = (host_after.0 - host_before.0) as f64 / hz / secs;
        out.push(Window { daemons, other: (host - daemons[0].0 - daemons[1].0).max(0.0) });
        before = after;
        host_before = host_after;
    }
    Ok(out)
}

/// The namespace's UDP counters (/proc/net/snmp as seen from inside it).
fn udp_stats(ns: &Netns) -> Result<HashMap<String, f64>> {
    let text = ns.run(|| std::fs::read_to_string("/proc/thread-self/net/snmp"))?.context("reading net/snmp")?;
    let udp: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp:")).collect();
    let [names, values] = udp[..] else { bail!("no Udp lines in net/snmp") };
    Ok(names
        .split_whitespace()
        .zip(values.split_whitespace())
        .skip(1)
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect())
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

// ---------------------------------------------------------------- part 1

struct CpuRun {
    /// Per daemon per window, fraction of a core from /proc/PID/stat.
    ticks: Vec<f64>,
    sched: Vec<f64>,
    /// Per window, cores busy with anything else.
    other: Vec<f64>,
    flaps: f64,
    up_after: Duration,
}

/// Rounds of the comparison; the order alternates (guardian first, then BIRD first).
const ROUNDS: usize = 2;

fn guardian_cpu(ctx: &Ctx, n: u32) -> Result<CpuRun> {
    let pair = Pair::new(ctx, "lvg", n)?;
    let mut a = start_guardian(ctx, &pair, Side::A, "cpu", n, true)?;
    let mut b = start_guardian(ctx, &pair, Side::B, "cpu", n, true)?;
    let up_after = wait_guardians_up(&pair, &mut [&mut a, &mut b])?;
    std::thread::sleep(SETTLE);
    let m0 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let windows = cpu_windows([a.pid(), b.pid()], CPU_WINDOWS, CPU_WINDOW, &mut || {
        a.check_alive()?;
        b.check_alive()
    })?;
    let m1 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let flaps = (0..2).map(|i| sum_of(&m1[i], FROM_UP) - sum_of(&m0[i], FROM_UP)).sum();
    let _ = a.stop(Duration::from_secs(30));
    let _ = b.stop(Duration::from_secs(30));
    Ok(cpu_run(windows, flaps, up_after))
}

fn bird_cpu(ctx: &Ctx, n: u32) -> Result<CpuRun> {
    let pair = Pair::new(ctx, "lvb", n)?;
    let mut a = Bird::start(ctx, &pair, Side::A, "cpu")?;
    let mut b = Bird::start(ctx, &pair, Side::B, "cpu")?;
    let up_after = wait_birds_up(&pair, &mut [&mut a, &mut b])?;
    std::thread::sleep(SETTLE);
    let pos = [a.log_len(), b.log_len()];
    let windows = cpu_windows([a.pid, b.pid], CPU_WINDOWS, CPU_WINDOW, &mut || {
        a.check_alive()?;
        b.check_alive()
    })?;
    let flaps = [(&a, pos[0]), (&b, pos[1])]
        .iter()
        .map(|(bird, from)| {
            bird.log_from(*from).0.iter().filter(|l| l.contains("changed state from Up to")).count() as f64
        })
        .sum();
    a.stop();
    b.stop();
    Ok(cpu_run(windows, flaps, up_after))
}

fn compare(ctx: &Ctx) -> Result<Vec<Row>> {
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
                let r = guardian_cpu(ctx, n)?;
                report_cpu(&format!("round {} guardian", round + 1), &r, n);
                g_runs.push(r);
            } else {
                let r = bird_cpu(ctx, n)?;
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

fn cpu_run(windows: Vec<Window>, flaps: f64, up_after: Duration) -> CpuRun {
    CpuRun {
        ticks: windows.iter().flat_map(|w| w.daemons.iter().map(|x| x.0)).collect(),
        sched: windows.iter().flat_map(|w| w.daemons.iter().map(|x| x.1)).collect(),
        other: windows.iter().map(|w| w.other).collect(),
        flaps,
        up_after,
    }
}

fn report_cpu(who: &str, r: &CpuRun, n: u32) {
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

// ---------------------------------------------------------------- detection

/// An `nft -e -a -i` running in a namespace, ready to add the drop rule.
struct Cutter {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<(bool, String)>,
}

impl Cutter {
    fn new(ns: &Netns) -> Result<Cutter> {
        for args in [
            vec!["add", "table", "inet", "gxlive"],
            vec!["add chain inet gxlive input { type filter hook input priority 0; policy accept; }"],
        ] {
            let mut cmd = ns.command("nft")?;
            cmd.args(&args);
            let out = daemon::run_with_timeout(cmd, Duration::from_secs(10))?;
            if !out.status.success() {
                bail!("nft {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
            }
        }
        let mut cmd = ns.command("nft")?;
        cmd.args(["-e", "-a", "-i"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting nft -i")?;
        cleanup::add_pid(child.id() as i32);
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
    fn cut(&mut self) -> Result<(SystemTime, Duration)> {
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
    fn undo(ns: &Netns) -> Result<()> {
        let mut cmd = ns.command("nft")?;
        cmd.args(["delete", "table", "inet", "gxlive"]);
        let out = daemon::run_with_timeout(cmd, Duration::from_secs(10))?;
        if !out.status.success() {
            bail!("nft delete table: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        cleanup::forget_pid(self.child.id() as i32);
    }
}

struct Detection {
    /// Multiplier x interval of the sessions timed.
    bound_ms: f64,
    /// Per session: Down time - cut - bound, ms.
    over_bound_ms: Vec<f64>,
    /// guardian only: Down time - last packet received - bound (its own log field), ms.
    lateness_ms: Vec<f64>,
    /// Sessions that went down for another reason than a timeout.
    other_reasons: usize,
    /// Sessions that went down but whose detection time at the cut was not
    /// the bound (guardian only: still at the start-up rate after a flap).
    slow_at_cut: usize,
    /// How long the nft echo took (the cut happened within it).
    cut_window_ms: f64,
}

impl Detection {
    /// Nothing seen yet of a cut made within `window`.
    fn new(bound_ms: f64, window: Duration) -> Detection {
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
    fn summary(&self) -> Value {
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

    fn print(&self, who: &str, n: u32) {
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

fn ms_between(t: SystemTime, t0: SystemTime) -> f64 {
    match t.duration_since(t0) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

fn detection_timeout(n: u32) -> Duration {
    Duration::from_secs(10 + u64::from(n) / 500)
}

/// Cuts A's input and waits for `expect` `liveness session down` lines in A's log.
/// Sessions whose detection time at the cut was not the bound (still at the
/// slow start-up rate, after a flap) are counted apart, not timed.
fn detect_guardian(pair: &Pair, a: &mut Daemon, expect: u32, bound_ms: f64) -> Result<Detection> {
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
    let mut seen = a.log_len();
    let (cut_at, window) = cutter.cut()?;
    let deadline = Instant::now() + detection_timeout(pair.n);
    let mut d = Detection::new(bound_ms, window);
    while d.over_bound_ms.len() + d.other_reasons + d.slow_at_cut < expect as usize {
        for line in a.log_lines_from(seen) {
            seen += 1;
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            if field(&v, "message").and_then(Value::as_str) != Some("liveness session down")
                || field(&v, "from").and_then(Value::as_str) != Some("up")
            {
                continue;
            }
            if field(&v, "reason").and_then(Value::as_str) != Some("timeout") {
                d.other_reasons += 1;
                continue;
            }
            let own = field(&v, "peer").and_then(Value::as_str).and_then(|p| detect.get(p));
            if own.is_some_and(|ms| (ms - bound_ms).abs() >= 0.5) {
                d.slow_at_cut += 1;
                continue;
            }
            let Some(at) = v["timestamp"].as_str().and_then(parse_rfc3339) else { continue };
            d.over_bound_ms.push(ms_between(at, cut_at) - bound_ms);
            // "Some(300.4ms)"
            if let Some(last) = field(&v, "last_packet")
                .and_then(Value::as_str)
                .map(|s| s.trim_start_matches("Some(").trim_end_matches(')'))
                .and_then(super::parse_duration_secs)
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
fn detect_bird(pair: &Pair, a: &mut Bird) -> Result<Detection> {
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

fn detection(ctx: &Ctx) -> Result<Vec<Row>> {
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
        let mut a = Bird::start(ctx, &pair, Side::A, "det")?;
        let mut b = Bird::start(ctx, &pair, Side::B, "det")?;
        wait_birds_up(&pair, &mut [&mut a, &mut b])?;
        std::thread::sleep(SETTLE);
        let d = detect_bird(&pair, &mut a)?;
        a.stop();
        b.stop();
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
fn detection_rows(g: &Detection, bird: Option<&Detection>, n: u32, expect: u32, detail: Value) -> Vec<Row> {
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

// ---------------------------------------------------------------- parts 3, 4

/// RSS of an idle guardian in A with `routes` routes, after ready and a pause.
fn idle_rss(ctx: &Ctx, pair: &Pair, routes: u32, liveness: bool, tag: &str) -> Result<u64> {
    let mut d = start_guardian_at(ctx, pair, Side::A, tag, routes, liveness, SLOW_INTERVAL_MS)?;
    std::thread::sleep(SETTLE);
    d.check_alive()?;
    let rss = d.rss_bytes()?;
    let _ = d.stop(Duration::from_secs(30));
    Ok(rss)
}

fn scale(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = SCALE_SESSIONS.min(ctx.max_routes);
    let label = count_label(n);
    println!("    part 3: {label} sessions between two guardians for {} s", SCALE_WINDOW.as_secs());
    let t = Instant::now();
    let pair = Pair::new(ctx, "lvs", n)?;
    println!("    {label} addresses and neighbours on each side in {:.1} s", t.elapsed().as_secs_f64());

    // Memory baselines in the same namespace: no routes, then the same routes without liveness.
    let rss_empty = idle_rss(ctx, &pair, 0, true, "mem0")?;
    let rss_plain = idle_rss(ctx, &pair, n, false, "plain")?;
    pair.a.ip(&["route", "flush", "table", &TABLE.to_string()])?;

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
        b.check_alive()
    })?;
    let u1 = [udp_stats(&pair.a)?, udp_stats(&pair.b)?];
    let m1 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let secs = SCALE_WINDOW.as_secs_f64();
    let delta = |i: usize, key: &str| sum_of(&m1[i], key) - sum_of(&m0[i], key);
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
    let rss_live = a.rss_bytes()?;
    let peak_live = a.peak_rss_bytes()?;
    let rss_b = b.rss_bytes()?;
    let extra = |m: &HashMap<String, f64>| {
        json!({
            "packets_invalid": sum_of(m, "guardian_liveness_packets_invalid_total"),
            "unknown_peer_packets": sum_of(m, "guardian_liveness_unknown_peer_packets_total"),
            "socket_errors": sum_of(m, "guardian_liveness_socket_errors_total"),
            "timer_queue_length": sum_of(m, "guardian_liveness_timer_queue_length"),
            "sessions_rejected": sum_of(m, "guardian_liveness_sessions_rejected_total"),
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
    let status_a = a.cli_json(&["status"]).ok();
    let _ = a.stop(Duration::from_secs(60));
    let _ = b.stop(Duration::from_secs(60));
    drop((a, b));

    // The same sessions at 1 s: all Up and idle, for memory (and whether they hold).
    Cutter::undo(&pair.a)?;
    for ns in [&pair.a, &pair.b] {
        ns.ip(&["route", "flush", "table", &TABLE.to_string()])?;
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

struct SlowRun {
    all_up: bool,
    up_after: f64,
    flaps: [f64; 2],
    cpu: [f64; 2],
    sent: [f64; 2],
    rss_a: u64,
    peak_a: u64,
    up_at_cut: u32,
    detection: Detection,
}

/// Both guardians of `pair` at 1 s intervals: wait for every session, hold, measure.
fn slow_run(ctx: &Ctx, pair: &Pair) -> Result<SlowRun> {
    let n = pair.n;
    let mut a = start_guardian_at(ctx, pair, Side::A, "slow", n, true, SLOW_INTERVAL_MS)?;
    let mut b = start_guardian_at(ctx, pair, Side::B, "slow", n, true, SLOW_INTERVAL_MS)?;
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
        b.check_alive()
    })?;
    let m1 = [scrape(&pair.a)?, scrape(&pair.b)?];
    let secs = SLOW_WINDOW.as_secs_f64();
    let flaps = [0, 1].map(|i| sum_of(&m1[i], FROM_UP) - sum_of(&m0[i], FROM_UP));
    let sent = [0, 1].map(|i| (sum_of(&m1[i], SENT) - sum_of(&m0[i], SENT)) / secs);
    let cpu = [w[0].daemons[0].0, w[0].daemons[1].0];
    let (rss_a, peak_a) = (a.rss_bytes()?, a.peak_rss_bytes()?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_in_their_halves() {
        assert_eq!(addr_a(0), Ipv4Addr::new(10, 200, 0, 1));
        assert_eq!(addr_b(0), Ipv4Addr::new(10, 200, 128, 1));
        assert_eq!(addr_a(9_999), Ipv4Addr::new(10, 200, 39, 16));
        assert_eq!(Side::A.peer(3), Side::B.local(3));
        assert_eq!(Side::A.dst(257), Ipv4Addr::new(198, 18, 1, 1));
        assert_eq!(Side::B.dst(0), Ipv4Addr::new(198, 19, 0, 0));
    }

    #[test]
    fn metrics_with_labels() {
        let m = parse_metrics(
            "# HELP x\nguardian_liveness_sessions{state=\"up\"} 3\n\
             guardian_liveness_transitions_total{from=\"up\",to=\"down\",reason=\"timeout\"} 2\n\
             guardian_liveness_transitions_total{from=\"up\",to=\"down\",reason=\"remote_down\"} 1\n\
             guardian_liveness_transitions_total{from=\"init\",to=\"up\",reason=\"handshake\"} 7\n",
        );
        assert_eq!(sum_of(&m, UP), 3.0);
        assert_eq!(sum_of(&m, FROM_UP), 3.0);
    }
}
