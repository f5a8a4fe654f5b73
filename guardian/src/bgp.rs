//! guardian as a receive-only BGP speaker (issue 12, docs/bgp.md,
//! docs/bgp-rib.md): it learns routes from its neighbors and never
//! advertises one.
//!
//! ```text
//!  TCP bytes ──► message::frame ──► session::Session::handle(event, now)
//!                                        │ (OPEN checks: open.rs,
//!                                        │  UPDATEs: update.rs, RFC 7606)
//!                                        ▼
//!                       Actions: send, connect, close, SessionUp/Down,
//!                                Update ──► rib (Adj-RIB-In, import filter,
//!                                           best path, next hop check)
//!                                           ──► SourceUpdate per `bgp:<neighbor>` ──► reconciler
//! ```
//!
//! Everything here but `task` (the tokio task that owns the connections
//! and feeds the rest) and `net` (the TCP sockets: connect, the listener,
//! TCP MD5) is sans-IO: no sockets, no clock, no tokio.

pub mod handle;
pub mod message;
pub mod net;
pub mod open;
pub mod rib;
pub mod session;
pub mod task;
pub mod update;
