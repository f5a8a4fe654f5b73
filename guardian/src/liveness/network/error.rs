//! Socket errors, one variant per failure, each with the operation it
//! belongs to for the `socket errors by op` metric.

use crate::route::Family;
use std::io;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("cannot open a {} UDP socket: {source}", family.label())]
    Open { family: Family, source: io::Error },

    #[error("cannot register the {} liveness socket with the tokio reactor: {source}", family.label())]
    Register { family: Family, source: io::Error },

    #[error("cannot set {option} on a {} UDP socket: {source}", family.label())]
    SetSockOpt { family: Family, option: &'static str, source: io::Error },

    #[error("cannot bind UDP {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },

    /// Another socket holds the receive port (see [`super::ReceiveSocket`]).
    #[error(
        "UDP port {} ({}) is already in use{}: guardian shares its liveness port with no other \
         process, so that neither takes the other's control packets; stop the other BFD daemon, \
         or set liveness.port to another port that both ends of every session use",
        addr.port(),
        if addr.is_ipv4() { "IPv4" } else { "IPv6" },
        holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default()
    )]
    PortInUse { addr: SocketAddr, holder: Option<super::holder::PortHolder> },

    #[error(
        "no free {} UDP source port in {first}-{last} after {attempts} random tries (last: {source})",
        family.label()
    )]
    NoSourcePort { family: Family, first: u16, last: u16, attempts: u32, source: io::Error },

    #[error("cannot send to {to} from {from} on ifindex {ifindex}: {source}")]
    Send { to: SocketAddr, from: IpAddr, ifindex: u32, source: io::Error },

    /// The socket's send buffer is full; the datagram was not sent.
    #[error("send buffer full: datagram to {to} dropped")]
    SendWouldBlock { to: SocketAddr },

    /// A destination or source address of the other family.
    #[error("{addr} cannot be used on an {} socket", family.label())]
    WrongFamily { family: Family, addr: IpAddr },

    #[error("cannot receive on the {} liveness socket: {source}", family.label())]
    Recv { family: Family, source: io::Error },

    /// A datagram arrived without the ancillary data this layer asked the
    /// kernel for (it is consumed; the caller should count and go on).
    #[error("datagram received without its {missing}")]
    Incomplete { missing: &'static str },
}

impl NetworkError {
    /// The operation that failed: the `op` label of `socket errors by op`.
    pub fn op(&self) -> &'static str {
        match self {
            NetworkError::Open { .. } | NetworkError::Register { .. } => "open",
            NetworkError::SetSockOpt { .. } => "setsockopt",
            NetworkError::Bind { .. } | NetworkError::PortInUse { .. } | NetworkError::NoSourcePort { .. } => "bind",
            NetworkError::Send { .. } | NetworkError::SendWouldBlock { .. } | NetworkError::WrongFamily { .. } => {
                "send"
            }
            NetworkError::Recv { .. } | NetworkError::Incomplete { .. } => "recv",
        }
    }

    /// The system's error behind this one, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            NetworkError::Open { source, .. }
            | NetworkError::Register { source, .. }
            | NetworkError::SetSockOpt { source, .. }
            | NetworkError::Bind { source, .. }
            | NetworkError::NoSourcePort { source, .. }
            | NetworkError::Send { source, .. }
            | NetworkError::Recv { source, .. } => Some(source),
            NetworkError::SendWouldBlock { .. }
            | NetworkError::PortInUse { .. }
            | NetworkError::WrongFamily { .. }
            | NetworkError::Incomplete { .. } => None,
        }
    }
}
