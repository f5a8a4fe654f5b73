//! `cargo xtask bench`: the four benchmarks, each against a floor
//! measured side by side in the same run, in namespaces created and removed
//! per scenario. Figures are reported, never asserted: the table says
//! whether each target was met on this machine, this time.
//!
//! | scenario | figure | floor |
//! |---|---|---|
//! | repair  | RTM_DELROUTE -> RTM_NEWROUTE, p50/p99 | a reflex in the bench: one notification + one request |
//! | scan    | `guardian reconcile` at 1k..1M routes; the same dump parsed by netlink-packet-route | a raw dump of the table that only counts |
//! | install | routes/s from start to ready at 1M | `ip -batch` of the same routes |
//! | memory  | RSS per tracked route at 1M | (none: the target is absolute) |
//! | liveness | CPU per daemon at 1k BFD sessions (100 ms x3); detection time - bound at 100 and 10k; flaps, CPU, pps and RSS per session at 10k | BIRD 2 `protocol bfd` in the same topology, same run (CPU, detection at 100) |
//! | guard   | repair of BIRD's routes guarded, p50/p99; at 1M guarded routes: one scan, RSS per route, time to take them under guard | FRR zebra repairing its own route and BIRD alone (scan 10 s); a raw dump; the daemon without the guard; `ip -batch` |
//! | ebpf    | ns per invocation of the attribution hooks under a UDP flood; pps with them attached; attributed reinstalls after 1M deletions | an empty tp_btf program on the same hook; pps with `--attribution netlink` (no programs) |
//! | bgp     | Established -> 1M BGP routes in the kernel; RSS per route; CPU | a second BIRD 2 receiving the same routes from the same BIRD, same run |

mod bgp;
mod ebpf;
mod floor;
mod guard;
mod install;
mod liveness;
mod memory;
mod repair;
mod scan;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use guardian_test_support::{Daemon, Netns};
use serde::Serialize;

use crate::cargo::{self, Profile};
use crate::prereq;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Repair,
    Scan,
    Install,
    Memory,
    Ebpf,
    Liveness,
    Guard,
    Bgp,
}

#[derive(clap::Args)]
pub struct Options {
    /// Run one scenario only.
    #[arg(long, value_enum)]
    only: Option<Scenario>,
    /// The largest route count used (scan sizes above it are skipped; install
    /// and memory use min(1M, this)).
    #[arg(long, default_value_t = 1_000_000)]
    max_routes: u32,
    /// Rounds of the install scenario (guardian and `ip -batch` alternate).
    #[arg(long, default_value_t = 3)]
    install_rounds: usize,
}

/// A scenario: runs, prints progress, returns its rows.
type Bench = fn(&Ctx) -> Result<Vec<Row>>;

/// One line of the results table (and of results.json).
#[derive(Serialize, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub figure: String,
    pub value: f64,
    pub unit: &'static str,
    /// Human text, e.g. "< 2 ms".
    pub target: Option<String>,
    /// Whether the value meets the target (None: no target on this row).
    pub met: Option<bool>,
    pub floor: Option<f64>,
    pub floor_what: Option<&'static str>,
    /// value / floor.
    pub ratio: Option<f64>,
    /// Spread, sample counts, anything a reader needs to trust the figure.
    pub detail: serde_json::Value,
}

impl Row {
    /// A row without target or floor; add them with [`Row::target`] and [`Row::floor`].
    pub fn new(
        scenario: &'static str,
        figure: String,
        value: f64,
        unit: &'static str,
        detail: serde_json::Value,
    ) -> Row {
        Row {
            scenario,
            figure,
            value,
            unit,
            target: None,
            met: None,
            floor: None,
            floor_what: None,
            ratio: None,
            detail,
        }
    }

    /// A target (human text) and whether the value meets it.
    pub fn target(self, target: String, met: bool) -> Row {
        Row { target: Some(target), met: Some(met), ..self }
    }

    /// A floor measured beside the value; the ratio is value / floor.
    pub fn floor(self, floor: f64, what: &'static str) -> Row {
        Row { floor: Some(floor), floor_what: Some(what), ratio: Some(self.value / floor), ..self }
    }
}

/// What every scenario gets: the release binary and a folder for generated files.
pub struct Ctx {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub max_routes: u32,
    pub install_rounds: usize,
}

impl Ctx {
    /// Starts guardian in `ns` with `config` (does not wait for it to be
    /// ready); its control socket lives in the bench folder, its log lines
    /// are kept, not echoed.
    pub fn start_daemon(&self, ns: &Netns, config: &Path) -> Daemon {
        self.start_daemon_with(ns, config, &[])
    }

    /// Like `start_daemon`, with more `guardian run` arguments (e.g. `--attribution ebpf`).
    pub fn start_daemon_with(&self, ns: &Netns, config: &Path, run_args: &[&str]) -> Daemon {
        let socket = self.dir.join(format!("{}.sock", ns.name()));
        let _ = std::fs::remove_file(&socket);
        Daemon::builder(ns).bin(&self.bin).config_path(config).socket(&socket).run_args(run_args).quiet().spawn()
    }

    /// Writes a guardian config of `count` routes into the bench folder.
    pub fn config_of(&self, count: u32) -> Result<PathBuf> {
        let path = self.dir.join(format!("routes-{count}.toml"));
        crate::config::write_generated(&path, 0, count)?;
        Ok(path)
    }

    /// How long to wait for a daemon holding `count` routes to be ready.
    pub fn ready_timeout(count: u32) -> Duration {
        Duration::from_secs(30 + u64::from(count) / 5_000)
    }
}

pub fn run(options: &Options) -> Result<ExitCode> {
    prereq::check_root_and_ip("bench")?;
    if cfg!(debug_assertions) {
        println!("==> building guardian and the bench itself in release (the floors run in the bench)");
        match cargo::reexec_in_release()? {}
    }
    println!("==> building guardian in release (cargo build --release -p guardian)");
    let bin = cargo::build_guardian(Profile::Release)?;
    let dir = cargo::target_dir()?.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ctx = Ctx { bin, dir, max_routes: options.max_routes, install_rounds: options.install_rounds.max(1) };

    let wanted = |s: Scenario| options.only.is_none_or(|o| o == s);
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let scenarios: [(Scenario, &str, Bench); 8] = [
        (Scenario::Repair, "repair", repair::run),
        (Scenario::Scan, "scan", scan::run),
        (Scenario::Install, "install", install::run),
        (Scenario::Memory, "memory", memory::run),
        (Scenario::Ebpf, "ebpf", ebpf::run),
        (Scenario::Liveness, "liveness", liveness::run),
        (Scenario::Guard, "guard", guard::run),
        (Scenario::Bgp, "bgp", bgp::run),
    ];
    for (scenario, name, bench) in scenarios {
        if !wanted(scenario) {
            continue;
        }
        println!("\n==> {name}");
        match caught(|| bench(&ctx)) {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                eprintln!("    {name} failed: {e:#}");
                failures.push(format!("{name}: {e:#}"));
            }
        }
    }

    println!("\n{}", table(&rows));
    let json_path = ctx.dir.join("results.json");
    write_json(&json_path, &ctx, &rows, &failures)?;
    println!("(also written to {})", json_path.display());
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {} scenario(s) could not run: {}", failures.len(), failures.join("; "));
        Ok(ExitCode::FAILURE)
    }
}

fn write_json(path: &Path, ctx: &Ctx, rows: &[Row], failures: &[String]) -> Result<()> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let doc = serde_json::json!({
        "guardian": ctx.bin,
        "max_routes": ctx.max_routes,
        "machine": {
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "kernel": kernel.trim(),
        },
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "rows": rows,
        "failures": failures,
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

fn table(rows: &[Row]) -> String {
    let mut lines =
        vec![["figure".to_owned(), "value".to_owned(), "target".to_owned(), "floor".to_owned(), "ratio".to_owned()]];
    for r in rows {
        let met = match r.met {
            Some(true) => " (met)",
            Some(false) => " (MISSED)",
            None => "",
        };
        lines.push([
            format!("{}: {}", r.scenario, r.figure),
            format!("{} {}", num(r.value), r.unit),
            r.target.clone().map(|t| t + met).unwrap_or_else(|| "-".into()),
            match (r.floor, r.floor_what) {
                (Some(f), Some(w)) => format!("{} {} ({w})", num(f), r.unit),
                (Some(f), None) => format!("{} {}", num(f), r.unit),
                _ => "-".into(),
            },
            r.ratio.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..5).map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    out
}

/// Fails with the Debian package to install when `program` cannot be
/// started (`args`: something it answers without doing anything).
pub fn require(scenario: &str, program: &str, args: &[&str], package: &str) -> Result<()> {
    let ran =
        Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if ran.is_err() {
        bail!(
            "the {scenario} scenario needs `{program}`: install it (`apt-get install -y {package}`) and run \
             `cargo xtask bench --only {scenario}` again"
        );
    }
    Ok(())
}

/// `bird` and `birdc` (BIRD 2), the floor of the scenarios that compare with it.
pub fn require_bird(scenario: &str) -> Result<()> {
    require(scenario, "bird", &["--version"], "bird2")?;
    // birdc has no --version: being able to start it is enough.
    require(scenario, "birdc", &["-v", "-s", "/nonexistent"], "bird2")
}

/// `guardian status --json` for a row's detail: `None` when it does not
/// answer (the figures are worth reporting all the same).
pub fn status_of(daemon: &Daemon) -> Option<serde_json::Value> {
    let out = daemon.cli(&["status", "--json"]);
    out.success().then(|| serde_json::from_str(&out.stdout).ok()).flatten()
}

/// Runs the parts of a scenario one after the other; one that fails (or
/// panics) does not stop the others, whose rows are kept: the scenario
/// then fails naming the parts that did.
pub fn run_parts(ctx: &Ctx, scenario: &str, parts: &[(&str, Bench)]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (name, part) in parts {
        match caught(|| part(ctx)) {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                eprintln!("    {scenario} {name} failed: {e:#}");
                errors.push(format!("{name}: {e:#}"));
            }
        }
    }
    if !errors.is_empty() {
        bail!("{} (the other parts' figures are printed above)", errors.join("; "));
    }
    Ok(rows)
}

/// Runs `f`, turning a panic into an error: guardian-test-support panics
/// where something must work (a namespace, a daemon that gets ready), and a
/// scenario or part that fails that way must not stop the others. The
/// panic hook has printed the panic; the guards have cleaned up.
pub fn caught<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a panic without a message");
        Err(anyhow!("panicked: {message}"))
    })
}

/// Three significant figures, without scientific notation for everyday sizes.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Nearest-rank percentile (p in 0..=100) of unsorted samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    assert!(!samples.is_empty(), "percentile of no samples");
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(samples: &[f64]) -> f64 {
    assert!(!samples.is_empty(), "median of no samples");
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

pub fn min_max(samples: &[f64]) -> (f64, f64) {
    samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// Route counts in human form: 1k, 10k, 1M.
pub fn count_label(n: u32) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Parses a humantime-like duration ("1.2ms", "3.4s", "850µs", "1m 2s") into seconds.
pub fn parse_duration_secs(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for part in text.split_whitespace() {
        let split = part.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (value, unit) = part.split_at(split);
        let value: f64 = value.parse().ok()?;
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        any = true;
    }
    any.then_some(total)
}

/// "2026-11-26T12:29:01.123456Z" (or with a +hh:mm offset) as a SystemTime.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0i64)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (t, sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60))
    };
    let mut t = time.split(':');
    let (h, mi): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from civil (Howard Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let whole = days * 86_400 + h * 3600 + mi * 60 - offset_secs;
    let total = whole as f64 + sec;
    (total >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests;
