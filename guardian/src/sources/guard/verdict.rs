//! Who took a guarded route, and what guardian makes of it: the owner's
//! doing is respected, the kernel's waits for its cause to end, anyone
//! else's is put back (or, in audit mode, only reported).

use crate::attribution::{Deleter, Verdict, Who};
use crate::config::{GuardConfig, GuardMode, UnknownDeleter};
use crate::messages::{Cause, Requester};

/// The verdict on one loss of a route `guard` holds. `program` is the
/// program the deleting process runs (its command line's first word), an
/// owner's name as well as its comm: a thread may have a name of its own
/// (FRR's zebra deletes from `zebra_dplane`).
pub fn decide(
    guard: &GuardConfig,
    cause: &Cause,
    requester: Option<Requester>,
    deleter: Option<&Deleter>,
    program: Option<&str>,
) -> Verdict {
    let stranger = match guard.mode {
        GuardMode::Repair => Verdict::Repaired,
        GuardMode::Audit => Verdict::WouldRepair,
    };
    // Flushed with its link: whoever set the link down did not aim at the
    // route, and while the link is down nothing can put it back.
    if matches!(cause, Cause::LinkDown { .. }) {
        return Verdict::Kernel;
    }
    match deleter.map(|d| &d.who) {
        Some(Who::Process { process, .. }) => {
            let by_name = guard.owner.iter().any(|o| *o == process.comm || Some(o.as_str()) == program);
            let by_unit = guard
                .owner_unit
                .as_deref()
                .is_some_and(|unit| process.cgroup.as_deref().is_some_and(|path| unit_of(path) == unit));
            if by_name || by_unit {
                Verdict::Owner
            } else {
                stranger
            }
        }
        Some(Who::Kernel) => Verdict::Kernel,
        // The kernel's own socket sent it and no eBPF record named an ioctl
        // caller: an address or a nexthop went away.
        _ if requester.is_some_and(|r| r.port_id == 0) => Verdict::Kernel,
        // Nobody can be named: the requester exited before its socket was
        // looked up, or nothing was attributed (a scan found it missing).
        // Owners are long-lived daemons that keep their socket; but a
        // daemon that just stopped looks exactly like this.
        _ => match guard.unknown_deleter {
            UnknownDeleter::Repair => stranger,
            UnknownDeleter::Accept => Verdict::Accepted,
        },
    }
}

/// The last component of a cgroup path: the systemd unit for a service
/// (`/system.slice/bird.service` -> `bird.service`).
pub fn unit_of(cgroup: &str) -> &str {
    cgroup.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests;
