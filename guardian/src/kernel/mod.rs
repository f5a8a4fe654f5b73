//! Everything that talks to the kernel over rtnetlink.
//!
//! - [`socket`]: a tokio-driven netlink socket;
//! - [`wire`]: route messages encoded and decoded in place;
//! - [`routes`]: batched installs/deletes and dumps (the reconciler's writer);
//! - [`monitor`]: the multicast listener that turns notifications into events;
//! - [`links`]: interface messages;
//! - [`lookup`]: `ip route get`, for the path a liveness session takes.

pub mod addresses;
pub mod links;
pub mod lookup;
pub mod monitor;
pub mod routes;
pub mod socket;
pub mod wire;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed netlink reply: {0}")]
    Wire(#[from] wire::WireError),
    #[error("the kernel dropped replies (receive buffer overrun); the outcome of the batch is unknown")]
    RepliesLost,
    #[error("{op} failed: {message}")]
    Request { op: &'static str, message: String },
}
