//! `cargo xtask test`: install what the tests need (as root, from
//! `.ci/test-packages`), build the guardian binary, then run every test of the
//! workspace with `GUARDIAN_BIN` pointing at it (the integration tests in
//! `tests/` drive that binary; cargo only sets `CARGO_BIN_EXE_guardian`
//! inside the guardian package itself). Then the attribution tests once
//! more per eBPF variant this kernel would not choose by itself
//! ([`FORCED_VARIANTS`]): the kernels that need them cannot all be booted.

use std::io::{BufRead, BufReader};
use std::process::{ExitCode, Stdio};

use anyhow::{Context, Result};

use crate::cargo::{self, Profile};

/// Every combination of the choices guardian probes, forced in turn
/// (`GUARDIAN_EBPF_FORCE`). The hook stays `consume_skb`: kernels that
/// refuse fentry (this one) cannot run the other, and `cargo xtask kernels`
/// runs fentry on Debian's kernels.
pub const FORCED_VARIANTS: [&str; 8] = [
    "hook=consume_skb,walk=bpf_loop,netns=cookie,memlock=cgroup",
    "hook=consume_skb,walk=bpf_loop,netns=cookie,memlock=rlimit",
    "hook=consume_skb,walk=bpf_loop,netns=inode,memlock=cgroup",
    "hook=consume_skb,walk=bpf_loop,netns=inode,memlock=rlimit",
    "hook=consume_skb,walk=bounded,netns=cookie,memlock=cgroup",
    "hook=consume_skb,walk=bounded,netns=cookie,memlock=rlimit",
    "hook=consume_skb,walk=bounded,netns=inode,memlock=cgroup",
    "hook=consume_skb,walk=bounded,netns=inode,memlock=rlimit",
];

/// Routes flushed by the mass-flush test in the forced-variant runs (the
/// main run flushes 100,000).
const FORCED_FLUSH_ROUTES: &str = "10000";

pub fn run(extra: &[String]) -> Result<ExitCode> {
    crate::packages::ensure()?;
    let bin = cargo::build_guardian(Profile::Debug)?;
    let mut all = Run::default();
    let code = run_tests(&bin, extra, &[], &mut all)?;
    // Only for a whole run: `cargo xtask test -- some_filter` means just that.
    if extra.is_empty() && code == ExitCode::SUCCESS {
        for force in FORCED_VARIANTS {
            println!("\n==> attribution tests with GUARDIAN_EBPF_FORCE={force}");
            let args: Vec<String> = ["-p", "guardian", "--lib", "-p", "guardian-tests", "--test", "attribution"]
                .iter()
                .chain(&["--test", "attribution_flush"])
                .map(|s| s.to_string())
                .collect();
            let env = [("GUARDIAN_EBPF_FORCE", force), ("GUARDIAN_TEST_FLUSH_ROUTES", FORCED_FLUSH_ROUTES)];
            let code = run_tests(&bin, &args, &env, &mut all)?;
            if code != ExitCode::SUCCESS {
                println!("attribution tests failed with GUARDIAN_EBPF_FORCE={force}");
                all.print_total();
                return Ok(code);
            }
        }
    }
    all.print_total();
    Ok(code)
}

/// What every `cargo test` of this invocation added up to.
#[derive(Debug, Default)]
struct Run {
    totals: Totals,
    skipped: Skipped,
}

impl Run {
    /// The one closing line: skipped tests (libtest counted them as passed)
    /// apart, each listed with its reason above it.
    fn print_total(&self) {
        for (test, reason) in &self.skipped.tests {
            println!("skipped: {test}: {reason}");
        }
        let count = self.skipped.count;
        println!(
            "\ntotal: {} passed, {} failed, {count} skipped",
            self.totals.passed.saturating_sub(count),
            self.totals.failed
        );
        if self.totals.ignored > 0 {
            println!("({} ignored)", self.totals.ignored);
        }
    }
}

/// `cargo test` against `bin`, echoing its output; its totals and skips
/// are added to `all`.
fn run_tests(bin: &std::path::Path, extra: &[String], env: &[(&str, &str)], all: &mut Run) -> Result<ExitCode> {
    // `--workspace` would also pick guardian-ebpf, which only builds for the
    // BPF target (`cargo xtask build-ebpf`); everything else is tested.
    let mut cmd = cargo::cargo();
    // Every test binary runs even after one fails, so a red run lists every
    // failure at once; the exit code still says it failed.
    cmd.args(["test", "--no-fail-fast"]);
    if !selects_packages(extra) {
        cmd.args(["--workspace", "--exclude", "guardian-ebpf"]);
    }
    cmd.args(extra).env("GUARDIAN_BIN", bin).envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("running `cargo test`")?;
    // A test that skips returns normally, so libtest counts it as passed;
    // it says why on stderr (`SKIPPED: <test>: <reason>`, past libtest's
    // capture). stderr is echoed as it comes and those lines collected.
    let stderr = child.stderr.take().expect("piped stderr");
    let skips = std::thread::spawn(move || {
        let mut skipped = Skipped::default();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            skipped.add(&line);
        }
        skipped
    });
    // Echo cargo's output and add up its per-binary "test result" lines.
    let mut totals = Totals::default();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.context("reading `cargo test` output")?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait().context("waiting for `cargo test`")?;
    let skipped = skips.join().unwrap_or_default();
    println!(
        "(this cargo test: {} tests run, {} failed, {} skipped)",
        totals.passed + totals.failed,
        totals.failed,
        skipped.count
    );
    all.totals.passed += totals.passed;
    all.totals.failed += totals.failed;
    all.totals.ignored += totals.ignored;
    all.skipped.merge(skipped);
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The tests that said they skipped, with their reasons.
#[derive(Debug, Default)]
struct Skipped {
    /// Skips counted (a test run under several variants counts each time).
    count: u64,
    /// Each test once, with its first reason.
    tests: std::collections::BTreeMap<String, String>,
}

impl Skipped {
    /// Takes `SKIPPED: <test>: <reason>` lines.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("SKIPPED: ") else { return };
        let (test, reason) = rest.split_once(": ").unwrap_or((rest, "no reason given"));
        if !self.tests.contains_key(test) {
            self.count += 1;
            self.tests.insert(test.to_owned(), reason.to_owned());
        }
    }

    fn merge(&mut self, other: Skipped) {
        self.count += other.count;
        for (test, reason) in other.tests {
            self.tests.entry(test).or_insert(reason);
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds a libtest summary: `test result: ok. 3 passed; 0 failed; 1 ignored; ...`.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else { return };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else { continue };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Whether the extra arguments pick packages themselves (`-p X`), which
/// cargo refuses together with `--workspace`.
fn selects_packages(extra: &[String]) -> bool {
    extra
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "-p" || a == "--package" || a.starts_with("--package=") || (a.starts_with("-p") && a.len() > 2))
}

#[cfg(test)]
mod tests;
