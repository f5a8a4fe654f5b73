//! The multicast listener: turns rtnetlink notifications into events for the
//! reconciler.
//!
//! It is subscribed before the reconciler's first dump, so nothing falls
//! between the two. Notifications of guardian's own installs and everything
//! irrelevant are dropped here, so the reconciler sees little. Each batch
//! says when it was read: the reconciler ignores a loss read before its own
//! latest install of that route, since that install already repaired it.

use super::links::parse_link;
use super::socket::{groups, NetlinkSocket};
use super::wire;
use crate::messages::{Event, EventBatch, KernelRoute, Requester};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub struct Monitor {
    socket: NetlinkSocket,
}

/// The route protocols guards watch, besides guardian's own: their deletes
/// are passed on too, and their adds with an exact copy. Shared with the
/// reconciler, which sets it as guards come and go.
#[derive(Debug, Clone, Default)]
pub struct WatchedProtocols(Arc<[AtomicU64; 4]>);

impl WatchedProtocols {
    pub fn set(&self, protocols: &[u8]) {
        let mut words = [0u64; 4];
        for &p in protocols {
            words[p as usize / 64] |= 1 << (p % 64);
        }
        for (word, bits) in self.0.iter().zip(words) {
            word.store(bits, Ordering::Relaxed);
        }
    }

    pub fn contains(&self, protocol: u8) -> bool {
        self.0[protocol as usize / 64].load(Ordering::Relaxed) & (1 << (protocol % 64)) != 0
    }
}

/// At most this many events go to the reconciler in one batch, so it can
/// interleave repairs with reading during a mass flush.
const MAX_BATCH: usize = 4096;

impl Monitor {
    pub fn subscribe(rcvbuf: usize) -> std::io::Result<Monitor> {
        let socket = NetlinkSocket::monitor(
            &[groups::LINK, groups::IPV4_IFADDR, groups::IPV4_ROUTE, groups::IPV6_IFADDR, groups::IPV6_ROUTE],
            rcvbuf,
        )?;
        Ok(Monitor { socket })
    }

    /// Reads until the reconciler goes away. `own_port` is the writer's port
    /// id, `protocol` guardian's route protocol.
    pub async fn run(self, own_port: u32, protocol: u8, watched: WatchedProtocols, tx: mpsc::Sender<EventBatch>) {
        let mut buf = Vec::with_capacity(64 << 10);
        loop {
            let first = self.socket.recv(&mut buf).await;
            let now = Instant::now();
            let mut batch = EventBatch { received: now, read_done: now, events: Vec::new() };
            let mut result = first.map(Some);
            loop {
                match result {
                    Ok(Some(_)) => classify(&buf, own_port, protocol, &watched, &mut batch.events),
                    Ok(None) => break,
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => batch.events.push(Event::Overrun),
                    Err(e) => {
                        tracing::error!(error = %e, "netlink monitor failed; resyncing and retrying");
                        batch.events.push(Event::Overrun);
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        break;
                    }
                }
                if batch.events.len() >= MAX_BATCH {
                    break;
                }
                result = self.socket.try_recv(&mut buf);
            }
            batch.read_done = Instant::now();
            if !batch.events.is_empty() && tx.send(batch).await.is_err() {
                return;
            }
        }
    }
}

/// guardian's own multipath routes are compared by fingerprint: worked out
/// for the routes of its protocol that the route model cannot express
/// (rare), never for the plain ones.
fn own_extra(route: &mut KernelRoute, protocol: u8, payload: &[u8]) {
    if route.protocol == protocol && route.unusual {
        route.extra = wire::raw::extra(payload);
    }
}

fn classify(buf: &[u8], own_port: u32, protocol: u8, watched: &WatchedProtocols, out: &mut Vec<Event>) {
    for msg in wire::messages(buf) {
        let Ok(msg) = msg else { return };
        let own = own_port != 0 && msg.pid == own_port;
        match msg.ty {
            wire::RTM_NEWROUTE if own => match out.last_mut() {
                Some(Event::OwnEcho { seq }) => *seq = msg.seq,
                _ => out.push(Event::OwnEcho { seq: msg.seq }),
            },
            wire::RTM_NEWROUTE => {
                let Some(mut route) = wire::parse_route(msg.payload) else {
                    continue;
                };
                let raw = match watched.contains(route.protocol) {
                    true => {
                        route.extra = wire::raw::extra(msg.payload);
                        wire::raw::copy(msg.payload).map(Arc::new)
                    }
                    false => {
                        own_extra(&mut route, protocol, msg.payload);
                        None
                    }
                };
                let requester = Requester { port_id: msg.pid, seq: msg.seq };
                out.push(Event::RouteAdded { route, replace: msg.flags & wire::NLM_F_REPLACE != 0, requester, raw });
            }
            wire::RTM_DELROUTE => {
                // Only a route of ours or a guarded one can be a loss; a
                // foreign route that had replaced one was already handled
                // when it appeared.
                let Some(mut route) = wire::parse_route(msg.payload) else { continue };
                if route.protocol != protocol && !watched.contains(route.protocol) {
                    continue;
                }
                if route.protocol != protocol {
                    route.extra = wire::raw::extra(msg.payload);
                }
                own_extra(&mut route, protocol, msg.payload);
                out.push(Event::RouteDeleted { route, requester: Requester { port_id: msg.pid, seq: msg.seq } });
            }
            wire::RTM_NEWLINK => out.extend(parse_link(msg.payload).map(Event::LinkChanged)),
            wire::RTM_DELLINK => out.extend(parse_link(msg.payload).map(Event::LinkRemoved)),
            wire::RTM_NEWADDR => out.push(Event::AddressAdded),
            wire::RTM_DELADDR => out.push(Event::AddressRemoved),
            wire::NLMSG_OVERRUN => out.push(Event::Overrun),
            _ => {}
        }
    }
}
