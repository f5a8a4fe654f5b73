//! The multicast listener: turns rtnetlink notifications into events for the
//! reconciler.
//!
//! It is subscribed before the reconciler's first dump, so nothing falls
//! between the two. Notifications of guardian's own installs are reduced to
//! an echo (the reconciler uses them to recognise stale deletes); everything
//! irrelevant is dropped here so the reconciler sees little.

use super::links::{parse_link, Link};
use super::socket::{groups, NetlinkSocket};
use super::wire::{self, KernelRoute};
use crate::route::RouteKey;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub enum Event {
    /// Another process added or replaced a route (any protocol).
    RouteAdded(KernelRoute),
    /// A route with guardian's protocol was deleted by someone else.
    RouteDeleted(KernelRoute),
    /// The kernel confirmed one of guardian's own installs.
    OwnInstall(RouteKey),
    LinkChanged(Link),
    LinkRemoved(Link),
    AddressAdded,
    AddressRemoved,
    /// The socket's buffer overflowed: events were lost, resync.
    Overrun,
}

/// Events of one wake-up, with the time the first was read.
#[derive(Debug)]
pub struct EventBatch {
    pub received: Instant,
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
            let mut batch = EventBatch { received: Instant::now(), events: Vec::new() };
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
            wire::RTM_NEWROUTE => {
                let Some(route) = wire::parse_route(msg.payload) else {
                    continue;
                };
                if own {
                    out.push(Event::OwnInstall(route.key));
                } else {
                    out.push(Event::RouteAdded(route));
                }
            }
            wire::RTM_DELROUTE if !own => {
                // Only a route of ours can be a loss; a foreign route that
                // had replaced ours was already handled when it appeared.
                if let Some(route) = wire::parse_route(msg.payload).filter(|r| r.protocol == protocol) {
                    out.push(Event::RouteDeleted(route));
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
