//! What `demo` and `bench` need from the machine, checked up front so that a
//! newcomer gets one clear sentence instead of a failure half-way through.

use std::process::{Command, Stdio};

use anyhow::{bail, Result};

pub fn check_root_and_ip(task: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "`cargo xtask {task}` creates network namespaces and so must run as root: \
             try `sudo -E cargo xtask {task}` (or run it in a root shell)"
        );
    }
    let ip = Command::new("ip").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !matches!(ip, Ok(s) if s.success()) {
        bail!(
            "`cargo xtask {task}` needs the `ip` command from iproute2: install it \
             (`apt-get install iproute2`) and run it again"
        );
    }
    Ok(())
}

/// For a test that cannot run here: fails under CI (every prerequisite is
/// installed there, so a skip would hide a gap); elsewhere writes
/// `SKIPPED: <test>: <reason>` straight to fd 2, past libtest's capture,
/// where `cargo xtask test` counts it as a skip, not a pass.
#[cfg(test)]
pub fn skip_test(reason: &str) {
    let test = std::thread::current().name().unwrap_or("<test>").to_owned();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("{test}: prerequisites missing under CI (tests must not skip in CI): {reason}");
    }
    let msg = format!("\nSKIPPED: {test}: {reason}\n");
    // SAFETY: writing a byte buffer to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}
