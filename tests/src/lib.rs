//! Harness for guardian's integration tests: the real `guardian` binary, real
//! netlink, in network namespaces the tests create and remove.
//!
//! One job per module:
//! - [`probe`]: are the prerequisites here (root, `ip`, netns)? skip loudly
//!   or, under `CI`, fail;
//! - [`bird`]: BIRD 2 in a namespace, the other end of the interop tests,
//!   and `birdc show bfd sessions` parsed;
//! - [`doublezerod`]: a `doublezero` profile peer that behaves like the
//!   DoubleZero client's liveness session (it keeps a stale discriminator);
//! - [`bin`]: where the binary under test is (`GUARDIAN_BIN` or next to the
//!   test executable);
//! - [`netns`]: namespace guard, veth pairs, running code inside a namespace;
//! - [`daemon`]: the daemon guard (config, logs, signals, CLI);
//! - [`logs`]: JSON log lines and predicates on them;
//! - [`config`]: writing configuration files;
//! - [`ip`]: reading the kernel's routes;
//! - [`monitor`]: `ip monitor route` in the background;
//! - [`pair`]: two namespaces joined by a veth pair, each with its guardian
//!   (liveness peers of each other);
//! - [`sessions`]: `guardian sessions --json` and waiting for a state;
//! - [`nft`]: nftables rules in a namespace (cut or thin out traffic);
//! - [`notify`]: a stand-in for systemd's `NOTIFY_SOCKET` that keeps
//!   what the daemon sends (READY=1, STATUS=, WATCHDOG=1, ...);
//! - [`metrics`]: fetching `/metrics` from inside a namespace (a thread that
//!   joins the namespace with setns and speaks HTTP/1.1 over a TcpStream: no
//!   curl, no helper binary);
//! - [`unit`]: `packaging/guardian.service`'s settings carried out by hand
//!   around the daemon (user, capabilities, read-only mounts, system call
//!   filter through the `seccomp-exec` helper binary);
//! - [`users`]: throw-away users and groups (the control socket's group);
//! - [`wait`]: polling a condition with a deadline;
//! - [`cmd`], [`tempdir`]: running commands with a deadline, temp folders.
//!
//! Every guard cleans up in `Drop`, so a failing or panicking test leaves no
//! namespace, process or file behind. Declare the [`netns::Netns`] before the
//! [`daemon::Daemon`] so the daemon is stopped first.

pub mod bin;
pub mod bird;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod doublezerod;
pub mod ip;
pub mod logs;
pub mod metrics;
pub mod monitor;
pub mod netns;
pub mod nft;
pub mod notify;
pub mod pair;
pub mod probe;
pub mod sessions;
pub mod tempdir;
pub mod unit;
pub mod users;
pub mod wait;

pub use config::{Config, RouteSpec};
pub use daemon::{guardian, msg, Daemon};
pub use ip::Family;
pub use netns::Netns;
