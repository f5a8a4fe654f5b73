//! guardian as a receive-only BGP speaker (issue 12, docs/bgp.md): it
//! learns routes from its neighbors and never advertises one.
//!
//! ```text
//!  TCP bytes ──► message::frame ──► session::Session::handle(event, now)
//!                                        │ (OPEN checks: open.rs,
//!                                        │  UPDATEs: update.rs, RFC 7606)
//!                                        ▼
//!                       Actions: send, connect, close, SessionUp/Down,
//!                                Update ──► the RIB (best path)
//! ```
//!
//! Everything here is sans-IO: no sockets, no clock, no tokio.

pub mod message;
pub mod open;
pub mod session;
pub mod update;
