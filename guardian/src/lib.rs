//! guardian: keeps a set of routes in the kernel and repairs deletions.
//!
//! Follow a deleted route: [`kernel::monitor`] reads the kernel's
//! notification -> [`reconcile`] decides it is a loss of a tracked route
//! (damping it if it keeps happening) -> [`kernel::routes`] reinstalls it ->
//! [`reconcile`] logs `route reinstalled` and counts it in [`metrics`].

/// The git revision guardian was built from (12 hex digits), or "unknown"
/// outside a git checkout (`build.rs`).
pub const GIT_REVISION: &str = env!("GUARDIAN_GIT_REVISION");

/// What `guardian --version` prints after the name: `0.1.0 (git 0123456789ab)`.
pub const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("GUARDIAN_GIT_REVISION"), ")");

pub mod attribution;
pub mod bgp;
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
pub mod sources;
pub mod systemd;
pub mod time;
