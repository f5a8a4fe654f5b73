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
