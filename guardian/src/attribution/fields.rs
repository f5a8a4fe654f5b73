//! The `route reinstalled` line, with its deleter.
//!
//! One `tracing::warn!` with every field, the optional ones as `Option`s: a
//! `None` is not recorded, so a line carries exactly the fields known for
//! its deleter, under one callsite (one `RUST_LOG` directive, one format).
//! The process's own strings (comm, command line, cgroup) are recorded as
//! strings, never `%`-displayed: the text format then quotes and escapes
//! them (`deleted_by.comm="ip"`), so a process named `x attribution=ebpf`
//! or holding a newline cannot forge fields or lines; JSON gets them plain.
//!
//! ```text
//! WARN guardian::attribution: route reinstalled route=10.9.0.0/24 via 192.0.2.2 dev veth0 table 100
//!   family=ipv4 noticed=event missing_for=1.2ms cause=deleted deleted_by.pid=30343 deleted_by.ppid=30300
//!   deleted_by.comm="ip" deleted_by.cmdline="ip route del 10.9.0.0/24 table 100" deleted_by.uid=0
//!   deleted_by.cgroup="/system.slice/foo.service" attribution=ebpf
//! WARN guardian::attribution: route reinstalled route=... deleted_by=exited attribution=netlink-portid
//! WARN guardian::attribution: route reinstalled route=... cause=link_down dev="veth0" deleted_by=kernel attribution=netlink-portid
//! WARN guardian::attribution: route reinstalled route=... noticed=scan missing_for=... cause=deleted attribution=none
//! ```

use super::deleter::{Attribution, Deleter, Who};
use crate::messages::Repaired;

/// The target of the line, as the README shows it, wherever it is called
/// from (the reconciler's fallback too): `RUST_LOG=guardian::attribution=warn`
/// keeps the repairs and their deleters.
pub const TARGET: &str = "guardian::attribution";

/// Logs one repaired loss at WARN; `deleter: None` is `attribution=none`
/// (the same line as `reconcile::log_unattributed`).
pub fn log_reinstalled(r: &Repaired, deleter: Option<&Deleter>) {
    let who = deleter.map(|d| &d.who);
    let (named, process, exact) = match who {
        Some(Who::Kernel) => (Some("kernel"), None, None),
        Some(Who::Exited) => (Some("exited"), None, None),
        // Written only when weak, so the usual line stays short.
        Some(Who::Process { process, exact }) => (None, Some(process), (!exact).then_some(false)),
        None => (None, None, None),
    };
    tracing::warn!(
        target: TARGET,
        route = %r.route,
        family = %r.family.label(),
        noticed = %r.noticed.label(),
        missing_for = ?r.missing_for,
        cause = %r.cause.label(),
        dev = r.cause.link(),
        // `display` is in scope inside tracing's macros.
        deleted_by = named.map(display),
        deleted_by.pid = process.map(|p| p.pid),
        // Only when a thread other than the leader asked (eBPF sees threads).
        deleted_by.tgid = process.filter(|p| p.tgid != p.pid).map(|p| p.tgid),
        deleted_by.ppid = process.map(|p| p.ptgid),
        deleted_by.comm = process.map(|p| p.comm.as_str()),
        deleted_by.cmdline = process.and_then(|p| p.cmdline.as_deref()),
        deleted_by.uid = process.map(|p| p.uid),
        deleted_by.cgroup = process.and_then(|p| p.cgroup.as_deref()),
        deleted_by.exact = exact,
        attribution = %Attribution::of(deleter).label(),
        "route reinstalled"
    );
}

#[cfg(test)]
mod tests;
