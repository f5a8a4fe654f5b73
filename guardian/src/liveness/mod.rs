//! Route liveness: BFD-style sessions decide which routes are installed.
//!
//! Work in progress (issue 4). Pure parts first: [`packet`] (the two wire
//! profiles), [`session`] (the sans-IO state machine) and [`timers`]
//! (interval negotiation, jitter, backoff); [`network`] holds the sockets.

pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod network;
pub mod packet;
pub mod registry;
pub mod scheduler;
pub mod session;
#[cfg(test)]
mod session_auth_tests;
#[cfg(test)]
mod session_sim;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod session_timing_tests;
pub mod session_types;
pub mod task;
pub mod timers;
