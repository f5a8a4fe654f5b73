//! The multicast listener: turns rtnetlink notifications into events for the
//! reconciler.
//!
//! It is subscribed before the reconciler's first dump, so nothing falls
//! between the two. Notifications of guardian's own installs and everything
//! irrelevant are dropped here, so the reconciler sees little. Each batch
//! says when it was read: the reconciler ignores a loss read before its own
//! latest install of that route, since that install already repaired it.

use super::links::{parse_link, Link};
use super::socket::{groups, NetlinkSocket};
use super::wire::{self, KernelRoute};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub enum Event {
    /// Another process added a route (any protocol). `replace` is set when
    /// it replaced the route with that identity; without it, the route was
    /// added beside one with the same identity (append/prepend) or alone.
    RouteAdded {
        route: KernelRoute,
        replace: bool,
        requester: Requester,
    },
    /// A route with guardian's protocol was deleted (also by guardian: a
    /// withdrawal that hit a route still tracked is a loss too).
    RouteDeleted {
        route: KernelRoute,
        requester: Requester,
    },
    LinkChanged(Link),
    LinkRemoved(Link),
    AddressAdded,
    AddressRemoved,
    /// The socket's buffer overflowed: events were lost, resync.
    Overrun,
    /// Guardian's own add or replace with this request sequence number has
    /// been applied (a run of them is one event, with the run's last number).
    /// A delete read before it happened before it in the kernel.
    OwnEcho {
        seq: u32,
    },
}

/// Who asked the kernel for a change, as its notification says: the
/// requesting socket's port id (0 for the kernel itself) and the request's
/// sequence number. Deleter attribution starts from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requester {
    pub port_id: u32,
    pub seq: u32,
}

/// Events of one wake-up.
#[derive(Debug)]
pub struct EventBatch {
    /// When the first event was read: the best known time of a loss.
    pub received: Instant,
    /// When the last event was read: every event happened before this.
    pub read_done: Instant,
    pub events: Vec<Event>,
}

pub struct Monitor {
    socket: NetlinkSocket,
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
    pub async fn run(self, own_port: u32, protocol: u8, tx: mpsc::Sender<EventBatch>) {
        let mut buf = Vec::with_capacity(64 << 10);
        loop {
            let first = self.socket.recv(&mut buf).await;
            let now = Instant::now();
            let mut batch = EventBatch { received: now, read_done: now, events: Vec::new() };
            let mut result = first.map(Some);
            loop {
                match result {
                    Ok(Some(_)) => classify(&buf, own_port, protocol, &mut batch.events),
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

fn classify(buf: &[u8], own_port: u32, protocol: u8, out: &mut Vec<Event>) {
    for msg in wire::messages(buf) {
        let Ok(msg) = msg else { return };
        let own = own_port != 0 && msg.pid == own_port;
        match msg.ty {
            wire::RTM_NEWROUTE if own => match out.last_mut() {
                Some(Event::OwnEcho { seq }) => *seq = msg.seq,
                _ => out.push(Event::OwnEcho { seq: msg.seq }),
            },
            wire::RTM_NEWROUTE => {
                let Some(route) = wire::parse_route(msg.payload) else {
                    continue;
                };
                let requester = Requester { port_id: msg.pid, seq: msg.seq };
                out.push(Event::RouteAdded { route, replace: msg.flags & wire::NLM_F_REPLACE != 0, requester });
            }
            wire::RTM_DELROUTE => {
                // Only a route of ours can be a loss; a foreign route that
                // had replaced ours was already handled when it appeared.
                if let Some(route) = wire::parse_route(msg.payload).filter(|r| r.protocol == protocol) {
                    out.push(Event::RouteDeleted { route, requester: Requester { port_id: msg.pid, seq: msg.seq } });
                }
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
