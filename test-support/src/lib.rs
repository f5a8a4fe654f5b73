//! What guardian's tests and `xtask` share: the integration tests
//! (`tests/`), guardian's privileged unit tests (`netns_tests.rs`) and
//! `cargo xtask demo`/`bench` all create network namespaces, run the real
//! `guardian` binary or BIRD 2 in them and read metrics. One copy of each,
//! here:
//!
//! - [`skip`]: are the prerequisites here (root, `ip`, a namespace, BTF,
//!   a tool)? Skip loudly (`SKIPPED: <test>: <reason>`) or, under `CI`,
//!   fail; the `require_*!` macros;
//! - [`netns`]: the namespace guard, veth pairs with addresses, running a
//!   closure or a command inside a namespace;
//! - [`daemon`]: the real `guardian` binary in a namespace: configuration
//!   file, JSON logs, readiness, CLI and control API, signals;
//! - [`config`]: writing guardian configuration files;
//! - [`bird`]: BIRD 2 in a namespace, `birdc` and its BFD sessions;
//! - [`metrics`]: `/metrics` fetched from inside a namespace, the text
//!   exposition format parsed;
//! - [`logs`]: line streams (JSON logs, BIRD, `ip monitor`) collected by a
//!   reader thread;
//! - [`cmd`], [`wait`], [`tempdir`]: commands with a deadline, polling a
//!   condition, temporary folders.
//!
//! Everything here panics with a clear message when something that must
//! work does not (a test fails where it stands; `xtask` turns the panic of
//! a benchmark part into that part's error). Where a failure is an answer
//! a caller polls for (an HTTP GET, `birdc`, a process that exited), the
//! function returns a `Result` instead.
//!
//! Every guard cleans up in `Drop`, also when a test panics: declare the
//! [`netns::Netns`] before the [`daemon::Daemon`] or [`bird::Bird`] in it,
//! so the process stops before its namespace goes.
//!
//! This crate never depends on the `guardian` crate: it drives the binary
//! through its command line, like an operator.

pub mod bird;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod logs;
pub mod metrics;
pub mod netns;
pub mod skip;
pub mod tempdir;
pub mod wait;

pub use config::{Config, RouteSpec};
pub use daemon::{guardian, msg, Daemon};
pub use netns::Netns;

/// For a Ctrl-C handler (xtask's): deletes every namespace and temporary
/// folder this process created and still holds. The processes started in
/// those namespaces with [`netns::Netns::exec`] die with the process.
pub fn remove_all() {
    netns::remove_all();
    tempdir::remove_all();
}
