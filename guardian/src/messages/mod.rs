//! The types that pass between guardian's tasks, and nothing else: desired
//! routes (sources -> reconciler), route events (kernel monitor ->
//! reconciler), repairs and their causes
//! (reconciler -> attribution) and who caused them (attribution ->
//! reconciler, for damping), liveness verdicts (liveness -> reconciler),
//! the snapshots the control API serves (`api`) and reload requests
//! (signal or control API -> the daemon's reload task).
//!
//! A leaf: it imports only [`crate::route`] (the route model) and outside
//! crates, so producer and consumer both import down into it and no two
//! tasks need each other's modules. `cargo xtask layers` checks that the
//! crate's top-level modules import one another without a cycle.

pub mod api;
mod desired;
mod events;
mod gate;
mod reload;
mod repair;

pub use desired::{
    Change, DesiredRoute, DesiredRoutes, GuardNotice, GuardTerms, OwnedLoss, Source, SourceKind, SourceReport,
    SourceUpdate,
};
pub use events::{Event, EventBatch, KernelRoute, Link, Requester};
pub use gate::{Gate, GateKey};
pub use reload::{ReloadError, ReloadRequest};
pub use repair::{Cause, Deleted, DeleterId, GuardTag, Noticed, Repaired};
