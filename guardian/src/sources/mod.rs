//! Sources of desired routes. Each turns what it knows into
//! [`SourceUpdate`](crate::messages::SourceUpdate)s for the reconciler and
//! never talks to the kernel; the reconciler treats them all alike
//! (docs/architecture.md, "one route pipeline").
//!
//! - `config_file.rs`: the configuration file's `[[route]]`s, sent at start
//!   and again on every SIGHUP.
//! - `guard.rs`: other daemons' routes, taken as the kernel has them and
//!   kept in place, their losses judged by who caused them.

pub mod config_file;
pub mod guard;
