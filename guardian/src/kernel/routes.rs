//! The reconciler's writer: batched route requests and filtered dumps over
//! one request socket.
//!
//! A batch is many messages in one `sendmsg`; only the last asks for an ACK.
//! The kernel handles a datagram's messages in order and answers failures
//! with an error carrying the message's sequence number, so one ACK at the
//! end tells that every message before it has been handled.

use super::socket::NetlinkSocket;
use super::wire::{self, RouteRequest};
use super::KernelError;
use crate::messages::{KernelRoute, Link};
use crate::route::Family;

/// Keeps a batch well below the socket's send buffer.
const MAX_BATCH_BYTES: usize = 256 << 10;
const RECV_BUFFER: usize = 64 << 10;

#[derive(Debug, Clone)]
pub enum Op {
    Replace(RouteRequest),
    /// Puts back a route exactly as the kernel had it (a guarded route the
    /// route model cannot express), replacing what has its identity now.
    Replay(std::sync::Arc<wire::raw::RawRoute>),
    /// Deletes the route with this identity and, when given, next hop.
    Delete(RouteRequest),
}

/// What a dump saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dumped {
    pub routes: usize,
    /// The table changed while it was dumped: routes may have been skipped.
    pub interrupted: bool,
}

/// Why the kernel refused one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub errno: i32,
    pub message: String,
}

impl OpError {
    /// The route cannot be installed until a link or address comes back.
    pub fn waits_for_link(&self) -> bool {
        matches!(
            self.errno,
            libc::ENETDOWN | libc::ENODEV | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL
        )
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub struct RouteWriter {
    socket: NetlinkSocket,
    protocol: u8,
    seq: u32,
    out: Vec<u8>,
    inbuf: Vec<u8>,
}

impl RouteWriter {
    pub fn new(protocol: u8) -> Result<RouteWriter, KernelError> {
        Ok(RouteWriter {
            socket: NetlinkSocket::request()?,
            protocol,
            seq: 1,
            out: Vec::with_capacity(MAX_BATCH_BYTES + 1024),
            inbuf: Vec::with_capacity(RECV_BUFFER),
        })
    }

    /// Guardian's own route protocol.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The port id that marks notifications caused by our own requests.
    pub fn port_id(&self) -> u32 {
        self.socket.port_id()
    }

    /// The sequence number the next op of [`Self::apply`] gets; the ops of a
    /// call are numbered consecutively from it.
    pub fn next_op_seq(&self) -> u32 {
        self.seq
    }

    /// Applies `ops` in order and returns one result per op. Deleting a
    /// route that is already gone is a success.
    pub async fn apply(&mut self, ops: &[Op]) -> Result<Vec<Result<(), OpError>>, KernelError> {
        let mut results = Vec::with_capacity(ops.len());
        let mut start = 0;
        while start < ops.len() {
            // Encode as many ops as fit; each gets seq = base + its offset.
            let base = self.seq;
            self.out.clear();
            let mut end = start;
            loop {
                let seq = base.wrapping_add((end - start) as u32);
                // A message is at most ~120 bytes, so 200 spare bytes always fit it.
                let last = end + 1 == ops.len() || self.out.len() + 200 >= MAX_BATCH_BYTES;
                match &ops[end] {
                    Op::Replace(r) => wire::push_replace(&mut self.out, seq, last, r),
                    Op::Delete(r) => wire::push_delete(&mut self.out, seq, last, r),
                    Op::Replay(route) => wire::raw::push_replay(&mut self.out, seq, last, route),
                }
                end += 1;
                if last {
                    break;
                }
            }
            let count = end - start;
            self.seq = base.wrapping_add(count as u32);
            self.socket.send(&self.out).await?;
            let mut batch: Vec<Result<(), OpError>> = vec![Ok(()); count];
            self.collect_replies(base, count, &ops[start..end], &mut batch).await?;
            results.extend(batch);
            start = end;
        }
        Ok(results)
    }

    async fn collect_replies(
        &mut self,
        base: u32,
        count: usize,
        ops: &[Op],
        batch: &mut [Result<(), OpError>],
    ) -> Result<(), KernelError> {
        let last = base.wrapping_add(count as u32 - 1);
        loop {
            match self.socket.recv(&mut self.inbuf).await {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => return Err(KernelError::RepliesLost),
                Err(e) => return Err(e.into()),
            }
            for msg in wire::messages(&self.inbuf) {
                let msg = msg?;
                let offset = msg.seq.wrapping_sub(base) as usize;
                if msg.ty != wire::NLMSG_ERROR || offset >= count {
                    continue; // a late reply to an earlier, abandoned batch
                }
                let Some((errno, extack)) = wire::parse_error(msg.payload) else {
                    continue;
                };
                if errno != 0 {
                    let gone = matches!(ops[offset], Op::Delete(_)) && matches!(errno, libc::ESRCH | libc::ENOENT);
                    if !gone {
                        let message = wire::error_text(errno, extack);
                        batch[offset] = Err(OpError { errno, message });
                    }
                }
                if msg.seq == last {
                    return Ok(());
                }
            }
        }
    }

    /// Dumps the routes of `family` in `table` (0: all tables) with our
    /// protocol, calling `visit` for each. A route the route model cannot
    /// express (guardian's own multipath routes) comes with its fingerprint
    /// in `extra`; working it out for the others would slow every scan.
    pub async fn dump_routes(
        &mut self,
        family: Family,
        table: u32,
        mut visit: impl FnMut(&KernelRoute),
    ) -> Result<Dumped, KernelError> {
        self.dump_protocol(family, table, self.protocol, |payload, route| match route.unusual {
            false => visit(route),
            true => visit(&KernelRoute { extra: wire::raw::extra(payload), ..*route }),
        })
        .await
    }

    /// Dumps the routes of `family` in `table` (0: all tables) with
    /// `protocol`, calling `visit` with each message's payload (for a
    /// [`wire::raw::RawRoute`]) and its decoded route.
    pub async fn dump_protocol(
        &mut self,
        family: Family,
        table: u32,
        protocol: u8,
        mut visit: impl FnMut(&[u8], &KernelRoute),
    ) -> Result<Dumped, KernelError> {
        let seq = self.next_seq();
        self.out.clear();
        wire::push_route_dump(&mut self.out, seq, family, table, protocol);
        self.socket.send(&self.out).await?;
        let mut dumped = Dumped::default();
        self.read_dump(seq, |msg| {
            dumped.interrupted |= msg.flags & wire::NLM_F_DUMP_INTR != 0;
            if msg.ty == wire::RTM_NEWROUTE {
                if let Some(route) = wire::parse_route(msg.payload) {
                    dumped.routes += 1;
                    visit(msg.payload, &route);
                }
            }
        })
        .await?;
        Ok(dumped)
    }

    pub async fn dump_links(&mut self) -> Result<Vec<Link>, KernelError> {
        let seq = self.next_seq();
        self.out.clear();
        wire::push_link_dump(&mut self.out, seq);
        self.socket.send(&self.out).await?;
        let mut links = Vec::new();
        self.read_dump(seq, |msg| {
            if msg.ty == wire::RTM_NEWLINK {
                links.extend(super::links::parse_link(msg.payload));
            }
        })
        .await?;
        Ok(links)
    }

    async fn read_dump(&mut self, seq: u32, mut each: impl FnMut(&wire::NlMsg)) -> Result<(), KernelError> {
        loop {
            self.socket.recv(&mut self.inbuf).await?;
            if let Some(end) = dump_datagram(&self.inbuf, seq, &mut each) {
                return end;
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        seq
    }
}

/// Hands `each` the messages of one datagram of dump `seq`; `Some` once the
/// dump has ended, with how. Apart from the async reader, so that the scan's
/// per-route work (decoding, comparing) inlines into a plain loop, and so
/// that it is tested without a socket.
fn dump_datagram(buf: &[u8], seq: u32, each: &mut impl FnMut(&wire::NlMsg)) -> Option<Result<(), KernelError>> {
    for msg in wire::messages(buf) {
        let msg = match msg {
            Ok(msg) => msg,
            Err(e) => return Some(Err(e.into())),
        };
        if msg.seq != seq {
            continue;
        }
        match msg.ty {
            // A dump that fails after it started reports the error
            // in its DONE message; error and DONE read the same.
            wire::NLMSG_DONE | wire::NLMSG_ERROR => {
                let (errno, extack) = wire::parse_error(msg.payload).unwrap_or((0, None));
                // IPv4 answers a dump of a table that does not exist
                // (yet) with ENOENT: that table simply holds nothing.
                if errno == 0 || errno == libc::ENOENT {
                    return Some(Ok(()));
                }
                return Some(Err(KernelError::Request { op: "dump", message: wire::error_text(errno, extack) }));
            }
            _ => each(&msg),
        }
    }
    None
}

#[cfg(test)]
mod tests;
