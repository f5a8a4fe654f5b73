//! `cargo xtask test`: build the guardian binary, then run every test of the
//! workspace with `GUARDIAN_BIN` pointing at it (the integration tests in
//! `tests/` drive that binary; cargo only sets `CARGO_BIN_EXE_guardian`
//! inside the guardian package itself).

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cargo::{self, Profile};

pub fn run(extra: &[String]) -> Result<ExitCode> {
    let bin = cargo::build_guardian(Profile::Debug)?;
    // `--workspace` would also pick guardian-ebpf, which only builds for the
    // BPF target (`cargo xtask build-ebpf`); everything else is tested.
    let mut cmd = cargo::cargo();
    // Every test binary runs even after one fails, so a red run lists every
    // failure at once; the exit code still says it failed.
    cmd.args(["test", "--no-fail-fast"]);
    if !selects_packages(extra) {
        cmd.args(["--workspace", "--exclude", "guardian-ebpf"]);
    }
    let status = cmd.args(extra).env("GUARDIAN_BIN", &bin).status().context("running `cargo test`")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
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
    fn package_selection_is_seen_before_the_test_binary_arguments_only() {
        assert!(selects_packages(&args(&["-p", "guardian"])));
        assert!(selects_packages(&args(&["--package=guardian"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
        assert!(!selects_packages(&args(&["repair", "--", "--nocapture"])));
    }
}
