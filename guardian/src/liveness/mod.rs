//! Route liveness: BFD-style sessions decide which routes are installed.
//!
//! Work in progress (issue 4). Pure parts first: [`packet`] (the two wire
//! profiles), [`session`] (the sans-IO state machine) and [`timers`]
//! (interval negotiation, jitter, backoff); [`network`] holds the sockets.

pub mod engine;
pub mod network;
pub mod packet;
pub mod registry;
pub mod scheduler;
pub mod session;
pub mod session_types;
pub mod task;
pub mod timers;
