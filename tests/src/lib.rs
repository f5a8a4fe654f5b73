//! Harness for guardian's integration tests: the real `guardian` binary, real
//! netlink, in network namespaces the tests create and remove.
//!
//! One job per module:
//! - [`probe`]: are the prerequisites here (root, `ip`, netns)? skip loudly
//!   or, under `CI`, fail;
//! - [`bin`]: where the binary under test is (`GUARDIAN_BIN` or next to the
//!   test executable);
//! - [`netns`]: namespace guard, veth pairs, running code inside a namespace;
//! - [`daemon`]: the daemon guard (config, logs, signals, CLI);
//! - [`logs`]: JSON log lines and predicates on them;
//! - [`config`]: writing configuration files;
//! - [`ip`]: reading the kernel's routes;
//! - [`monitor`]: `ip monitor route` in the background;
//! - [`metrics`]: fetching `/metrics` from inside a namespace (a thread that
//!   joins the namespace with setns and speaks HTTP/1.1 over a TcpStream: no
//!   curl, no helper binary);
//! - [`wait`]: polling a condition with a deadline;
//! - [`cmd`], [`tempdir`]: running commands with a deadline, temp folders.
//!
//! Every guard cleans up in `Drop`, so a failing or panicking test leaves no
//! namespace, process or file behind. Declare the [`netns::Netns`] before the
//! [`daemon::Daemon`] so the daemon is stopped first.

pub mod bin;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod ip;
pub mod logs;
pub mod metrics;
pub mod monitor;
pub mod netns;
pub mod probe;
pub mod tempdir;
pub mod wait;

pub use config::{Config, RouteSpec};
pub use daemon::{guardian, msg, Daemon};
pub use ip::Family;
pub use netns::Netns;
