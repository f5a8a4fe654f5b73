//! The attribution tests one matrix row runs, as a shell script that works
//! the same inside a virtme-ng guest (the host's filesystem as its root)
//! and on the host itself, and the reading of what it leaves behind.

use std::path::{Path, PathBuf};

/// The test executables and the guardian binary, built on the host.
pub struct Binaries {
    pub guardian: PathBuf,
    /// guardian's unit tests (its `ebpf::netns_tests` load the programs).
    pub lib: PathBuf,
    /// tests/tests/attribution.rs: pid/comm/cmdline, failed deletes, other
    /// namespaces, link down, ioctls, the port-id fallback.
    pub attribution: PathBuf,
    /// tests/tests/attribution_flush.rs: a mass flush without drops.
    pub flush: PathBuf,
}

/// Routes flushed in each row: enough to fill many request skbs and keep
/// the ring busy, small enough for an emulated CPU.
pub const FLUSH_ROUTES: u32 = 10_000;

/// The tests of tests/attribution.rs an emulated guest runs: the issue's
/// list (each starts a daemon, seconds under TCG; the others, named in
/// the table when they run, are the host's). The unprivileged one is the
/// unit's setting, RLIMIT_MEMLOCK included.
pub const GUEST_TESTS: [&str; 5] = [
    "ip_route_del_is_attributed_to_ip_with_its_pid_and_command_line",
    "deletions_elsewhere_and_failed_deletes_blame_nobody",
    "link_down_names_the_link_and_who_set_it_down",
    "netlink_fallback_names_a_live_deleter_and_says_exited_for_a_gone_one",
    "an_unprivileged_user_with_bpf_capabilities_attributes_with_ebpf",
];

/// The script: results go to `out` (a folder the guest may write); `tests`
/// picks tests of tests/attribution.rs (all when empty).
pub fn script(bins: &Binaries, out: &Path, force: Option<&str>, tests: &[&str]) -> String {
    let force = match force {
        Some(f) => format!("export GUARDIAN_EBPF_FORCE='{f}'"),
        None => "unset GUARDIAN_EBPF_FORCE".to_owned(),
    };
    format!(
        r#"#!/bin/sh
# Written by `cargo xtask kernels`; runs in the guest (or on the host).
OUT='{out}'
exec >"$OUT/log" 2>&1
modprobe veth 2>/dev/null
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
export CI=true GUARDIAN_BIN='{guardian}' GUARDIAN_TEST_FLUSH_ROUTES={flush_routes}
{force}
uname -r >"$OUT/kernel"
'{guardian}' ebpf-variant >"$OUT/variant" 2>&1
'{lib}' ebpf::netns_tests --test-threads=1 >"$OUT/tests-lib" 2>&1
'{attribution}' {filters} >"$OUT/tests-attribution" 2>&1
'{flush}' --test-threads=1 >"$OUT/tests-flush" 2>&1
echo done >"$OUT/done"
"#,
        out = out.display(),
        guardian = bins.guardian.display(),
        lib = bins.lib.display(),
        attribution = bins.attribution.display(),
        flush = bins.flush.display(),
        flush_routes = FLUSH_ROUTES,
        filters = tests.join(" "),
    )
}

/// What one row's run left in `out`.
#[derive(Debug, Default)]
pub struct Outcome {
    pub kernel: String,
    pub variant: String,
    /// What the kernel lacks, as `guardian ebpf-variant` probed it.
    pub missing: String,
    pub passed: Vec<String>,
    pub failed: Vec<String>,
    /// The run did not finish (a boot failure, a hang cut by the timeout).
    pub unfinished: bool,
}

pub fn read(out: &Path) -> Outcome {
    let text = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let mut outcome = Outcome {
        kernel: text("kernel").trim().to_owned(),
        variant: text("variant").lines().next().unwrap_or("").trim().to_owned(),
        missing: text("variant").lines().find_map(|l| l.strip_prefix("missing: ")).unwrap_or("").trim().to_owned(),
        unfinished: !out.join("done").exists(),
        ..Outcome::default()
    };
    for file in ["tests-lib", "tests-attribution", "tests-flush"] {
        let (passed, failed) = test_lines(&text(file));
        outcome.passed.extend(passed);
        outcome.failed.extend(failed);
    }
    outcome
}

/// libtest's `test NAME ... ok` / `... FAILED` lines. A test that skipped
/// panics under CI=true, so it counts as failed, never as passed.
fn test_lines(output: &str) -> (Vec<String>, Vec<String>) {
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else { continue };
        let Some((name, result)) = rest.rsplit_once(" ... ") else { continue };
        let name = name.rsplit("::").next().unwrap_or(name).to_owned();
        match result.trim() {
            "ok" => passed.push(name),
            "FAILED" => failed.push(name),
            _ => {}
        }
    }
    (passed, failed)
}

#[cfg(test)]
mod tests;
