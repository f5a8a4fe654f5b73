//! The process metrics every Prometheus exporter has (`process_*`, without
//! guardian's prefix, named as the Go and Python clients name them), read
//! from /proc/self on each scrape. prometheus-client has no such collector.
//!
//! Parsing is pure (the `parse_*` functions); [`ProcessCollector`] only
//! reads the files. A file that cannot be read or parsed leaves its metrics
//! out of that scrape rather than failing it.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The names it exports (and their types), for the check of the rules and
/// the dashboard against what guardian exports.
pub const NAMES: [(&str, &str); 6] = [
    ("process_cpu_seconds", "counter"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_start_time_seconds", "gauge"),
];

/// What /proc/PID/stat says, in the units the metrics use.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    /// Seconds after boot.
    pub start_after_boot: f64,
}

/// Parses /proc/PID/stat: utime and stime (fields 14, 15), starttime (22),
/// vsize (23) and rss in pages (24). The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from its last `)`.
pub fn parse_stat(text: &str, ticks_per_second: u64, page_size: u64) -> Option<Stat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    // Index 0 is field 3 (state).
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let ticks = ticks_per_second.max(1) as f64;
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_after_boot: field(22)? as f64 / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size,
    })
}

/// The soft limit on open files from /proc/PID/limits (None when unlimited).
pub fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// The boot time in seconds since the epoch (`btime` in /proc/stat).
pub fn parse_boot_time(stat: &str) -> Option<u64> {
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

#[derive(Debug, Default)]
pub struct ProcessCollector;

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf reads a configuration value; no memory is passed.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|v| *v > 0)
}

fn encode_gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let ticks = sysconf(libc::_SC_CLK_TCK).unwrap_or(100);
        let page = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096);
        if let Some(stat) = read("/proc/self/stat").and_then(|t| parse_stat(&t, ticks, page)) {
            let cpu = ConstCounter::new(stat.cpu_seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
            let (resident, virt) = (stat.resident_bytes as f64, stat.virtual_bytes as f64);
            encode_gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory size in bytes", resident)?;
            encode_gauge(&mut encoder, "process_virtual_memory_bytes", "Virtual memory size in bytes", virt)?;
            if let Some(boot) = read("/proc/stat").and_then(|t| parse_boot_time(&t)) {
                let start = boot as f64 + stat.start_after_boot;
                encode_gauge(
                    &mut encoder,
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds",
                    start,
                )?;
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            encode_gauge(&mut encoder, "process_open_fds", "Number of open file descriptors", dir.count() as f64)?;
        }
        if let Some(max) = read("/proc/self/limits").and_then(|t| parse_max_fds(&t)) {
            encode_gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors", max as f64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
