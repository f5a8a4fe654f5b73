//! Harness for guardian's integration tests: the real `guardian` binary, real
//! netlink, in network namespaces the tests create and remove.
//!
//! What `xtask` needs too (namespaces and veth pairs, the loud skip, the
//! daemon runner, BIRD 2, metrics, logs, config files, commands with a
//! deadline, polling) lives in the `guardian-test-support` crate
//! (`test-support/`) and is re-exported here, so the tests have one import
//! root: `guardian_tests::netns`, `guardian_tests::Daemon`, ...
//!
//! What only the integration tests use is here, one job per module:
//! - [`ip`]: reading the kernel's routes;
//! - [`monitor`]: `ip monitor route` in the background;
//! - [`pair`]: two namespaces joined by a veth pair, each with its guardian
//!   (liveness peers of each other);
//! - [`sessions`]: `guardian sessions --json` and waiting for a state;
//! - [`nft`]: nftables rules in a namespace (cut or thin out traffic);
//! - [`doublezerod`]: a `doublezero` profile peer that behaves like the
//!   DoubleZero client's liveness session (it keeps a stale discriminator).
//! - [`notify`]: a stand-in for systemd's `NOTIFY_SOCKET` that keeps
//!   what the daemon sends (READY=1, STATUS=, WATCHDOG=1, ...);
//! - [`unit`]: `packaging/guardian.service`'s settings carried out by hand
//!   around the daemon (user, capabilities, read-only mounts, system call
//!   filter through the `seccomp-exec` helper binary);
//! - [`users`]: throw-away users and groups (the control socket's group);
//!
//! Every guard cleans up in `Drop`, so a failing or panicking test leaves no
//! namespace, process or file behind. Declare the [`netns::Netns`] before the
//! [`daemon::Daemon`] so the daemon is stopped first.

pub use guardian_test_support::{bird, cmd, config, daemon, logs, metrics, netns, skip, tempdir, wait};
pub use guardian_test_support::{guardian, msg, Config, Daemon, Netns, RouteSpec};
pub use guardian_test_support::{require_ebpf, require_netns, require_tool};

pub mod bgp;
pub mod bgp_peer;
pub mod doublezerod;
pub mod frr;
pub mod ip;
pub mod monitor;
pub mod nft;
pub mod notify;
pub mod pair;
pub mod sessions;
pub mod unit;
pub mod users;

pub use ip::Family;
