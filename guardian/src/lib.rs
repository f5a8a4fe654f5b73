//! guardian: keeps a set of routes in the kernel and repairs deletions.
//!
//! Follow a deleted route: [`kernel::monitor`] reads the kernel's
//! notification -> [`reconcile`] decides it is a loss of a tracked route
//! (damping it if it keeps happening) -> [`kernel::routes`] reinstalls it ->
//! [`reconcile`] logs `route reinstalled` and counts it in [`metrics`].

pub mod attribution;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod ebpf;
pub mod kernel;
pub mod liveness;
pub mod logging;
pub mod messages;
pub mod metrics;
pub mod privileges;
pub mod reconcile;
pub mod route;
pub mod time;
