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
//! WARN guardian::attribution: route reinstalled route=10.7.0.0/24 via 192.0.2.2 dev veth0 guard="bird" owner="bird" ...
//! WARN guardian::attribution: route reinstalled route=... noticed=scan missing_for=... cause=deleted attribution=none
//! ```

use super::deleter::{Attribution, Deleter, Who};
use super::process::ProcessInfo;
use super::recent::Verdict;
use crate::messages::{OwnedLoss, Repaired};

/// The target of the line, as the README shows it, wherever it is called
/// from (the reconciler's fallback too): `RUST_LOG=guardian::attribution=warn`
/// keeps the repairs and their deleters.
pub const TARGET: &str = "guardian::attribution";

/// One line about a deleted route: `$level`, the line's own fields, then
/// the deleter's (the same in every line, so one query finds them all),
/// then the message.
macro_rules! deleter_line {
    ($level:expr, $deleter:expr, { $($fields:tt)* }, $($message:tt)+) => {{
        let deleter: Option<&Deleter> = $deleter;
        let (named, process, exact) = split(deleter);
        tracing::event!(
            target: TARGET,
            $level,
            $($fields)*
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
            $($message)+
        )
    }};
}

/// Logs one repaired loss at WARN; `deleter: None` is `attribution=none`
/// (the same line as `reconcile::log_unattributed`).
pub fn log_reinstalled(r: &Repaired, deleter: Option<&Deleter>) {
    deleter_line!(tracing::Level::WARN, deleter, {
        route = %r.route,
        // A guarded route's (another daemon's): which guard, whose route.
        guard = r.guard.as_ref().map(|g| g.guard.as_str()),
        owner = r.guard.as_ref().map(|g| g.owner.as_str()),
        family = %r.family.label(),
        noticed = %r.noticed.label(),
        missing_for = ?r.missing_for,
        cause = %r.cause.label(),
        dev = r.cause.link(),
    }, "route reinstalled");
}

#[cfg(test)]
mod tests;

/// A deleter as the lines write it: a word (`kernel`, `exited`), or a
/// process and whether it was found exactly (written only when weak, so
/// the usual line stays short).
fn split(deleter: Option<&Deleter>) -> (Option<&'static str>, Option<&ProcessInfo>, Option<bool>) {
    match deleter.map(|d| &d.who) {
        Some(Who::Kernel) => (Some("kernel"), None, None),
        Some(Who::Exited) => (Some("exited"), None, None),
        Some(Who::Process { process, exact }) => (None, Some(process), (!exact).then_some(false)),
        None => (None, None, None),
    }
}

/// A guard's decision about a guarded route it did not have put back: the
/// owner's withdrawal or update (INFO), the kernel's doing (INFO), and in
/// audit mode what it would have done (WARN for a stranger). The repairs
/// themselves are `route reinstalled` lines.
pub fn log_verdict(loss: &OwnedLoss, owner: &str, verdict: Verdict, deleter: Option<&Deleter>) {
    let message = match (verdict, &loss.cause) {
        (Verdict::Owner, crate::messages::Cause::Replaced) if loss.replacement.is_some() => "route replaced by owner",
        (Verdict::Owner, _) => "route withdrawn by owner",
        (Verdict::Kernel, _) => "guarded route removed by the kernel",
        (Verdict::Accepted, _) => "guarded route deleted by an unknown process; accepted",
        (Verdict::WouldRepair | Verdict::Repaired, _) => "guarded route deleted (audit: not repaired)",
    };
    macro_rules! verdict_line {
        ($level:expr) => {
            deleter_line!($level, deleter, {
                route = %loss.route,
                guard = loss.guard.as_str(),
                owner,
                verdict = verdict.label(),
                noticed = %loss.noticed.label(),
                cause = %loss.cause.label(),
                dev = loss.cause.link(),
            }, "{}", message)
        };
    }
    match verdict {
        Verdict::WouldRepair | Verdict::Repaired => verdict_line!(tracing::Level::WARN),
        _ => verdict_line!(tracing::Level::INFO),
    }
}
