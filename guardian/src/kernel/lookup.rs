//! Asking the kernel how it would reach an address (RTM_GETROUTE): the
//! device and source address a liveness session uses when the route's
//! configuration does not name them.
//!
//! By hand on the writer's kind of socket rather than through rtnetlink:
//! measured, rtnetlink for this and the link dump would add five crates and
//! a sixth of the stripped binary to save about 25 lines
//! (docs/architecture.md, "Dependencies").

use super::socket::NetlinkSocket;
use super::wire::{self, RTA_OIF, RTA_PREFSRC};
use super::KernelError;
use crate::route::Family;
use std::net::IpAddr;

/// Where the kernel sends packets for an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    pub ifindex: u32,
    pub source: Option<IpAddr>,
}

pub struct RouteLookup {
    socket: NetlinkSocket,
    seq: u32,
    out: Vec<u8>,
    inbuf: Vec<u8>,
}

impl RouteLookup {
    pub fn new() -> Result<RouteLookup, KernelError> {
        Ok(RouteLookup {
            socket: NetlinkSocket::request()?,
            seq: 1,
            out: Vec::new(),
            inbuf: Vec::with_capacity(64 << 10),
        })
    }

    /// The path to `dst`, through device `oif` when given (the kernel then
    /// answers even without a route, taking `dst` as on-link).
    pub async fn path_to(&mut self, dst: IpAddr, oif: Option<u32>) -> Result<Path, KernelError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.out.clear();
        wire::push_route_get(&mut self.out, seq, dst, oif);
        self.socket.send(&self.out).await?;
        loop {
            self.socket.recv(&mut self.inbuf).await?;
            for msg in wire::messages(&self.inbuf) {
                let msg = msg?;
                if msg.seq != seq {
                    continue;
                }
                match msg.ty {
                    wire::RTM_NEWROUTE => return parse_path(msg.payload, Family::of(&dst)),
                    wire::NLMSG_ERROR => {
                        let (errno, extack) = wire::parse_error(msg.payload).unwrap_or((0, None));
                        return Err(KernelError::Request {
                            op: "route lookup",
                            message: wire::error_text(errno, extack),
                        });
                    }
                    _ => {}
                }
            }
        }
    }
}

fn parse_path(payload: &[u8], family: Family) -> Result<Path, KernelError> {
    let mut path = Path { ifindex: 0, source: None };
    let attrs = payload.get(wire::RTMSG_LEN..).unwrap_or_default();
    for (ty, value) in wire::attributes(attrs) {
        match ty {
            RTA_OIF if value.len() == 4 => path.ifindex = u32::from_ne_bytes(value.try_into().unwrap()),
            RTA_PREFSRC if value.len() == family.addr_len() => {
                path.source = crate::route::Addr::from_bytes(value).map(|a| a.to_ip(family))
            }
            _ => {}
        }
    }
    if path.ifindex == 0 {
        return Err(KernelError::Request { op: "route lookup", message: "the answer names no device".into() });
    }
    Ok(path)
}

#[cfg(test)]
mod tests;
