//! Running cargo from xtask: where the workspace and its target folder are,
//! and building the guardian binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (xtask lives in `<root>/xtask`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits inside the workspace").to_owned()
}

/// The cargo that runs us (`cargo xtask` sets CARGO), else the one on PATH.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    cmd
}

/// The target folder as cargo sees it (honours CARGO_TARGET_DIR, config files...).
pub fn target_dir() -> Result<PathBuf> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running `cargo metadata`")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).context("parsing `cargo metadata` output")?;
    let dir = meta["target_directory"].as_str().context("`cargo metadata` printed no target_directory")?;
    Ok(PathBuf::from(dir))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

/// `cargo build -p guardian --bins [--release]`; returns the binary's absolute path.
pub fn build_guardian(profile: Profile) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "guardian", "--bins"]);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running `cargo build -p guardian`")?;
    if !status.success() {
        bail!("`cargo build -p guardian` failed (see the compiler's messages above)");
    }
    let dir = match profile {
        Profile::Debug => "debug",
        Profile::Release => "release",
    };
    let bin = target_dir()?.join(dir).join("guardian");
    if !bin.is_file() {
        bail!(
            "cargo built guardian but {} is not there: does the guardian package still have its `guardian` binary?",
            bin.display()
        );
    }
    Ok(bin)
}

/// Replaces this (debug) xtask with a release build of itself, same
/// arguments: a benchmark's floors run inside xtask and must not be paid in
/// unoptimized code. Returns only on failure.
pub fn reexec_in_release() -> Result<std::convert::Infallible> {
    use std::os::unix::process::CommandExt;
    let status = cargo()
        .args(["build", "--release", "-p", "xtask", "-p", "guardian", "--bins"])
        .status()
        .context("running `cargo build --release`")?;
    if !status.success() {
        bail!("`cargo build --release -p xtask -p guardian` failed (see the compiler's messages above)");
    }
    let me = target_dir()?.join("release").join("xtask");
    let err = Command::new(&me).args(std::env::args_os().skip(1)).exec();
    Err(err).with_context(|| format!("running {}", me.display()))
}
