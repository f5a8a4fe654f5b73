//! The loud skip, and the prerequisites tests probe for.
//!
//! A test that cannot run here (not root, no `ip`, no BTF, a tool missing)
//! calls [`skip`]: it writes `SKIPPED: <test>: <reason>` straight to fd 2,
//! past libtest's capture, and the test returns; `cargo xtask test` counts
//! those lines apart from passes and lists each with its reason. With env
//! `CI` set (to anything but `false`/`0`) a skip panics instead: CI
//! installs every prerequisite, so a skip there would hide a gap.
//!
//! The probes (`*_ready`) call [`skip`] themselves and return `false`; the
//! `require_*!` macros wrap them as a test's first line.

use std::process::Command;
use std::sync::OnceLock;

/// Capability bits, as in the masks of /proc/self/status.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_NET_ADMIN: u32 = 12;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Whether `CI` asks for failures instead of skips.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Reports that the current test cannot run here: `SKIPPED: <test>:
/// <reason>` on fd 2 (past libtest's capture, which would hide the line of
/// a test that returns normally), or a panic under CI. The caller returns.
pub fn skip(reason: &str) {
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    if under_ci() {
        panic!("{test}: prerequisites missing under CI (tests must not skip in CI): {reason}");
    }
    let msg = format!("\nSKIPPED: {test}: {reason}\n");
    // SAFETY: writing a byte buffer to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// True when network tests can run here: root or CAP_NET_ADMIN, `ip`
/// present, a network namespace can be created (checked once per
/// process; leftovers of dead test processes are removed first).
/// Otherwise skips and returns false. Use through [`crate::require_netns!`].
pub fn netns_ready() -> bool {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    match RESULT.get_or_init(probe_netns) {
        Ok(()) => true,
        Err(reason) => {
            skip(reason);
            false
        }
    }
}

/// True when `tool` can be started (`tool --version`); otherwise skips.
pub fn tool_ready(tool: &str) -> bool {
    match Command::new(tool).arg("--version").output() {
        Ok(_) => true,
        Err(e) => {
            skip(&format!("`{tool}` is not available: {e}"));
            false
        }
    }
}

/// True when guardian's eBPF programs can load here: [`netns_ready`], the
/// capabilities to load and attach them, and BTF; otherwise skips.
pub fn ebpf_ready() -> bool {
    if !netns_ready() {
        return false;
    }
    let can_load = has_cap(CAP_SYS_ADMIN) || (has_cap(CAP_BPF) && has_cap(CAP_PERFMON));
    if !can_load {
        skip("needs root or CAP_BPF + CAP_PERFMON to load eBPF programs");
        return false;
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        skip("the kernel has no BTF (/sys/kernel/btf/vmlinux), which guardian's eBPF programs need");
        return false;
    }
    true
}

/// True when tracefs is mounted with the syscall tracepoints (guardian's
/// ioctl program attaches to one; aya looks for tracefs once per process,
/// so a test cannot mount it privately); otherwise skips.
pub fn tracefs_ready() -> bool {
    if !std::path::Path::new("/sys/kernel/tracing/events/syscalls").exists() {
        skip("tracefs is not mounted at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)");
        return false;
    }
    true
}

fn probe_netns() -> Result<(), String> {
    if !has_cap(CAP_NET_ADMIN) {
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

/// Whether this process holds capability `bit` (CapEff).
fn has_cap(bit: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << bit) != 0)
}

/// First line of every test that needs network namespaces (root or
/// CAP_NET_ADMIN, `ip`): returns from the test after a loud skip when the
/// prerequisites are missing; panics under CI.
#[macro_export]
macro_rules! require_netns {
    () => {
        if !$crate::skip::netns_ready() {
            return;
        }
    };
}

/// `require_tool!("setpriv");` skips like [`require_netns!`] when the tool
/// is missing.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !$crate::skip::tool_ready($tool) {
            return;
        }
    };
}

/// Like [`require_netns!`], for tests that load guardian's eBPF programs
/// (the capabilities for it and BTF, too). Tests that only run guardian
/// with `attribution.mode = "netlink"` or `"off"` need [`require_netns!`].
#[macro_export]
macro_rules! require_ebpf {
    () => {
        if !$crate::skip::ebpf_ready() {
            return;
        }
    };
}
