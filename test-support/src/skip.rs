//! Prerequisite probe: decides once per test process whether the tests can
//! run here (root or CAP_NET_ADMIN, `ip` present, a network namespace can be
//! created). A test that cannot run prints `SKIPPED: <reason>` to stderr and
//! returns early; with env `CI` set it panics instead, because CI must never
//! be the place where tests skip.

use std::process::Command;
use std::sync::OnceLock;

/// Bit of CAP_NET_ADMIN in the capability masks of /proc/self/status.
const CAP_NET_ADMIN: u32 = 12;

/// Returns `true` when the network tests can run. Otherwise reports the
/// reason (skip, or panic under CI) and returns `false`.
///
/// Use through [`crate::require_netns!`].
pub fn netns_ready() -> bool {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    match RESULT.get_or_init(probe) {
        Ok(()) => true,
        Err(reason) => skip(reason),
    }
}

/// Returns `true` when `tool` is on PATH (checked by running `tool --version`),
/// otherwise skips (or panics under CI) like [`netns_ready`].
pub fn tool_ready(tool: &str) -> bool {
    match Command::new(tool).arg("--version").output() {
        Ok(_) => true,
        Err(e) => skip(&format!("`{tool}` is not available: {e}")),
    }
}

/// True when deleter attribution by eBPF can run here (the kernel has BTF;
/// loading itself needs root, which [`netns_ready`] checks), otherwise
/// skips (or panics under CI).
pub fn ebpf_ready() -> bool {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return skip("the kernel has no BTF (/sys/kernel/btf/vmlinux), which guardian's eBPF programs need");
    }
    true
}

/// True when tracefs is mounted (the ioctl tracepoint attaches through it).
pub fn tracefs_ready() -> bool {
    if !std::path::Path::new("/sys/kernel/tracing/events").exists() {
        return skip("tracefs is not mounted at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)");
    }
    true
}

fn skip(reason: &str) -> bool {
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("{test}: prerequisites missing under CI (tests must not skip in CI): {reason}");
    }
    // Straight to fd 2, bypassing libtest's output capture (which would hide
    // the line of a test that returns normally), so a skip is always visible.
    let msg = format!("\nSKIPPED: {test}: {reason}\n");
    // SAFETY: writing a byte buffer to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    false
}

fn probe() -> Result<(), String> {
    if !has_net_admin() {
        return Err("needs root or CAP_NET_ADMIN (run as root)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("`ip -V` failed: {}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => return Err(format!("`ip` (iproute2) is not available: {e}")),
    }
    crate::netns::remove_leftovers();
    let name = format!("gt-{}-probe", std::process::id());
    let add = Command::new("ip").args(["netns", "add", &name]).output();
    match add {
        Ok(o) if o.status.success() => {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            Ok(())
        }
        Ok(o) => Err(format!("cannot create a network namespace: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("cannot run `ip netns add`: {e}")),
    }
}

fn has_net_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// First line of every test that needs network namespaces:
/// `guardian_tests::require_netns!();` returns from the test (after printing
/// `SKIPPED: ...`) when the prerequisites are missing, and panics under CI.
#[macro_export]
macro_rules! require_netns {
    () => {
        if !$crate::probe::netns_ready() {
            return;
        }
    };
}

/// `guardian_tests::require_tool!("setpriv");` skips like [`require_netns!`]
/// when the tool is missing.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !$crate::probe::tool_ready($tool) {
            return;
        }
    };
}

/// `guardian_tests::require_ebpf!();` skips like [`require_netns!`] when
/// eBPF attribution cannot run.
#[macro_export]
macro_rules! require_ebpf {
    () => {
        if !$crate::probe::netns_ready() || !$crate::probe::ebpf_ready() {
            return;
        }
    };
}
