//! `cargo xtask test`: build the guardian binary, then run every test of the
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
    let bin = cargo::build_guardian(Profile::Debug)?;
    let code = run_tests(&bin, extra, &[])?;
    // Only for a whole run: `cargo xtask test -- some_filter` means just that.
    if !extra.is_empty() || code != ExitCode::SUCCESS {
        return Ok(code);
    }
    for force in FORCED_VARIANTS {
        println!("\n==> attribution tests with GUARDIAN_EBPF_FORCE={force}");
        let args: Vec<String> = ["-p", "guardian", "--lib", "-p", "guardian-tests", "--test", "attribution"]
            .iter()
            .chain(&["--test", "attribution_flush"])
            .map(|s| s.to_string())
            .collect();
        let env = [("GUARDIAN_EBPF_FORCE", force), ("GUARDIAN_TEST_FLUSH_ROUTES", FORCED_FLUSH_ROUTES)];
        let code = run_tests(&bin, &args, &env)?;
        if code != ExitCode::SUCCESS {
            println!("attribution tests failed with GUARDIAN_EBPF_FORCE={force}");
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo test` against `bin`, echoing its output and its totals.
fn run_tests(bin: &std::path::Path, extra: &[String], env: &[(&str, &str)]) -> Result<ExitCode> {
    // `--workspace` would also pick guardian-ebpf, which only builds for the
    // BPF target (`cargo xtask build-ebpf`); everything else is tested.
    let mut cmd = cargo::cargo();
    // Every test binary runs even after one fails, so a red run lists every
    // failure at once; the exit code still says it failed.
    cmd.args(["test", "--no-fail-fast"]);
    if !selects_packages(extra) {
        cmd.args(["--workspace", "--exclude", "guardian-ebpf"]);
    }
    cmd.args(extra).env("GUARDIAN_BIN", bin).envs(env.iter().copied()).stdout(Stdio::piped());
    let mut child = cmd.spawn().context("running `cargo test`")?;
    // Echo cargo's output and add up its per-binary "test result" lines, so
    // the run ends with one total (many binaries end in "0 passed" doc tests).
    let mut totals = Totals::default();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.context("reading `cargo test` output")?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait().context("waiting for `cargo test`")?;
    println!("\ntotal: {} passed, {} failed, {} ignored", totals.passed, totals.failed, totals.ignored);
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
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
mod tests {
    use super::selects_packages;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn test_result_lines_add_up() {
        let mut t = super::Totals::default();
        t.add("test result: ok. 46 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.05s");
        t.add("test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1s");
        t.add("running 3 tests");
        assert_eq!(t, super::Totals { passed: 49, failed: 2, ignored: 1 });
    }

    #[test]
    fn package_selection_is_seen_before_the_test_binary_arguments_only() {
        assert!(selects_packages(&args(&["-p", "guardian"])));
        assert!(selects_packages(&args(&["--package=guardian"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
        assert!(!selects_packages(&args(&["repair", "--", "--nocapture"])));
    }
}
