//! Deleter attribution without eBPF: who removed a route guardian keeps.
//!
//! ```text
//!  RTM_DELROUTE nlmsg_pid ─▶ portid::PortIdResolver ─▶ PortOwner ─▶ deleter::Deleter
//!        (/proc/thread-self/net/netlink, /proc/*/fd, process::Procfs)        │
//!                                   ┌───────────────────────────────────────┼───────────────┐
//!                                   ▼                                       ▼               ▼
//!                     deleter::DeleterLabels::label        fields::log_reinstalled    recent::Recent
//!                     (bounded `deleter` metric label)     (`route reinstalled`)      (`guardian deletions`)
//! ```
//!
//! The eBPF program (guardian-ebpf) yields the same [`Deleter`] with
//! [`Attribution::Ebpf`]; everything after the resolver serves both. See
//! the README ("Logs": what each `attribution` value means).

pub mod deleter;
pub mod fields;
pub mod portid;
pub mod process;
pub mod recent;
pub mod task;

#[cfg(test)]
pub(crate) mod fakeproc;

pub use deleter::{Attribution, Deleter, DeleterLabels, Who};
pub use fields::{log_reinstalled, log_verdict};
pub use portid::{PortIdResolver, PortOwner};
pub use process::{ProcessInfo, Procfs};
pub use recent::{Deletion, GuardVerdict, Recent, Verdict};
pub use task::{Attributor, Lost, Query};
