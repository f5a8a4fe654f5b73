//! CPU of a daemon over time windows (/proc/PID/stat, schedstat), the machine's other load.

use super::*;

// ---------------------------------------------------------------- CPU

#[derive(Clone, Copy)]
pub(in crate::bench) struct Cpu {
    /// utime + stime, clock ticks, all threads (/proc/PID/stat).
    pub(in crate::bench) ticks: u64,
    /// Sum of the live threads' on-CPU nanoseconds (/proc/PID/task/*/schedstat).
    pub(in crate::bench) sched_ns: u64,
    pub(in crate::bench) at: Instant,
}

pub(in crate::bench) fn cpu(pid: i32) -> Result<Cpu> {
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
pub(super) fn busy(a: Cpu, b: Cpu) -> (f64, f64) {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = b.at.duration_since(a.at).as_secs_f64();
    ((b.ticks - a.ticks) as f64 / hz / secs, b.sched_ns.saturating_sub(a.sched_ns) as f64 / 1e9 / secs)
}

/// Sleeps `len`, checking every second that the daemons live.
pub(super) fn hold(len: Duration, alive: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    let end = Instant::now() + len;
    while Instant::now() < end {
        std::thread::sleep((end - Instant::now()).min(Duration::from_secs(1)));
        alive()?;
    }
    Ok(())
}

/// The whole machine's busy and total clock ticks (first line of /proc/stat).
pub(super) fn host_ticks() -> Result<(u64, u64)> {
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

pub(super) struct Window {
    /// Per daemon: (from ticks, from schedstat), fraction of a core.
    pub(super) daemons: [(f64, f64); 2],
    /// Cores busy on the machine minus the two daemons (other processes, ksoftirqd, the bench).
    pub(super) other: f64,
}

/// `windows` consecutive windows of `len`.
pub(super) fn cpu_windows(
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
pub(super) fn udp_stats(ns: &Netns) -> Result<HashMap<String, f64>> {
    let text = ns.run_in(|| std::fs::read_to_string("/proc/thread-self/net/snmp")).context("reading net/snmp")?;
    let udp: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp:")).collect();
    let [names, values] = udp[..] else { bail!("no Udp lines in net/snmp") };
    Ok(names
        .split_whitespace()
        .zip(values.split_whitespace())
        .skip(1)
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect())
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}
