//! Who deleted a route, and the bounded label that names it in metrics.
//!
//! Any process can give itself any name (`prctl(PR_SET_NAME)`), so the
//! `deleter` label of `guardian_route_reinstalls_total` is never the raw
//! name: it is `kernel`, `unknown`, a name from a configured allow-list, or
//! `other`, a set as small as the allow-list.

use super::portid::PortOwner;
use super::process::ProcessInfo;
use serde::{Deserialize, Serialize};

/// How the deleter was learnt: the `attribution` log field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribution {
    /// The eBPF program saw the request in the requester's context.
    Ebpf,
    /// The notification's port id, resolved through /proc (weaker: a
    /// short-lived requester is often gone).
    NetlinkPortid,
    /// Not attributed (no program, no notification: noticed by a scan).
    None,
}

impl Attribution {
    /// The label of an optional deleter: `none` when there is none.
    pub fn of(deleter: Option<&Deleter>) -> Attribution {
        deleter.map_or(Attribution::None, |d| d.attribution)
    }

    pub fn label(self) -> &'static str {
        match self {
            Attribution::Ebpf => "ebpf",
            Attribution::NetlinkPortid => "netlink-portid",
            Attribution::None => "none",
        }
    }
}

/// Who asked for the deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// No process asked: the kernel removed the route (a link went down,
    /// an address or a nexthop was removed).
    Kernel,
    /// A process asked but was gone before guardian could name it.
    Exited,
    /// `exact` is false when the process was found by taking the port id
    /// as a pid rather than through the socket it sent from.
    Process {
        #[serde(flatten)]
        process: ProcessInfo,
        exact: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleter {
    pub attribution: Attribution,
    pub who: Who,
}

impl Deleter {
    /// The deleter a resolved port id names; `None` when the requester
    /// lives but could not be named ([`PortOwner::Hidden`]).
    pub fn from_port_owner(owner: PortOwner) -> Option<Deleter> {
        let who = match owner {
            PortOwner::Kernel => Who::Kernel,
            PortOwner::Exited => Who::Exited,
            PortOwner::Resolved { process, exact } => Who::Process { process, exact },
            PortOwner::Hidden => return None,
        };
        Some(Deleter { attribution: Attribution::NetlinkPortid, who })
    }
}

/// `ip route del 10.9.0.0/24 table 100` as pid 30343, for tests of what
/// reports a deleter.
#[cfg(test)]
pub fn example_ip_route_del(attribution: Attribution, exact: bool) -> Deleter {
    let process = ProcessInfo {
        pid: 30343,
        tgid: 30343,
        ptgid: 30300,
        uid: 0,
        gid: 0,
        comm: "ip".into(),
        cmdline: Some("ip route del 10.9.0.0/24 table 100".into()),
        cgroup: Some("/system.slice/foo.service".into()),
    };
    Deleter { attribution, who: Who::Process { process, exact } }
}

/// The default allow-list (docs/reconcile.md, README: Metrics): names worth a label of their own.
pub const DEFAULT_LABELLED: [&str; 8] =
    ["ip", "NetworkManager", "systemd-networkd", "dhclient", "dhcpcd", "bird", "zebra", "route"];

/// The labels with a fixed meaning, which no allow-listed name may take.
const RESERVED: [&str; 3] = ["kernel", "unknown", "other"];

/// A task name holds at most 15 bytes (`TASK_COMM_LEN` with its NUL):
/// systemd-networkd runs as `systemd-network`.
const COMM_MAX: usize = 15;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    #[error("an empty process name cannot be a deleter label")]
    Empty,
    #[error("`{0}` is a reserved deleter label (kernel, unknown, other)")]
    Reserved(String),
    #[error("`{0}` is listed twice (process names are compared on their first 15 bytes)")]
    Duplicate(String),
}

/// The allow-list that bounds the `deleter` metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleterLabels {
    names: Vec<String>,
}

impl Default for DeleterLabels {
    fn default() -> DeleterLabels {
        DeleterLabels::new(DEFAULT_LABELLED).expect("the default allow-list is valid")
    }
}

impl DeleterLabels {
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Result<DeleterLabels, LabelError> {
        let mut labels = DeleterLabels { names: Vec::new() };
        for name in names {
            let name = name.into();
            if name.is_empty() {
                return Err(LabelError::Empty);
            }
            if RESERVED.contains(&name.as_str()) {
                return Err(LabelError::Reserved(name));
            }
            if labels.names.iter().any(|n| comm_of(n) == comm_of(&name)) {
                return Err(LabelError::Duplicate(name));
            }
            labels.names.push(name);
        }
        Ok(labels)
    }

    /// The `deleter` label: `kernel` when no process asked, `unknown` when
    /// the process is not known (not attributed, or exited before it could
    /// be named), its allow-listed name, else `other`.
    pub fn label(&self, deleter: Option<&Deleter>) -> &str {
        match deleter.map(|d| &d.who) {
            Some(Who::Kernel) => "kernel",
            None | Some(Who::Exited) => "unknown",
            Some(Who::Process { process, .. }) => {
                let comm = process.comm.as_bytes();
                self.names.iter().find(|n| comm_of(n) == comm).map_or("other", String::as_str)
            }
        }
    }
}

/// What the kernel keeps of a process name: its first 15 bytes.
fn comm_of(name: &str) -> &[u8] {
    let bytes = name.as_bytes();
    &bytes[..bytes.len().min(COMM_MAX)]
}

#[cfg(test)]
mod tests;
