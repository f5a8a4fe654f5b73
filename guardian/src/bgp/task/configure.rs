//! The BGP task's configuration: a (new) `[bgp]` applied to the running
//! neighbors, the listener, and what a reload does to a session
//! (docs/bgp.md).

use super::peer::Peer;
use super::BgpTask;
use crate::bgp::message;
use crate::bgp::net::{self, Listener};
use crate::bgp::rib::{Rib, RibConfig};
use crate::bgp::session::{Event, State};
use crate::config::BgpConfig;
use crate::kernel::addresses::AddressWatch;
use std::time::{Duration, Instant};

impl BgpTask {
    /// Takes a (new) `[bgp]`: neighbors that left are stopped and their
    /// routes withdrawn, new ones started, changed ones reset or, when only
    /// the import filter, install or limits changed, asked for a
    /// ROUTE-REFRESH.
    pub(super) async fn configure(&mut self, config: Option<BgpConfig>) {
        let now = Instant::now();
        let rib_settings = |c: &BgpConfig| (c.local_as, c.router_id, c.table, c.metric);
        let restart_all = match (&self.config, &config) {
            (Some(old), Some(new)) => rib_settings(old) != rib_settings(new),
            (Some(_), None) => true,
            _ => false,
        };
        if restart_all {
            // Another AS, router id, table or metric: every route's identity
            // or every session changes. Start over.
            for i in (0..self.peers.len()).rev() {
                self.remove_peer(i, now);
            }
            self.flush().await;
            self.rib = None;
        }
        let Some(new) = config else {
            self.config = None;
            self.listener = None;
            self.watch = None;
            self.settle_if_done(true).await;
            return;
        };
        if self.rib.is_none() {
            self.rib = Some(Rib::new(RibConfig {
                table: new.table,
                metric: new.metric.unwrap_or(0),
                multipath: new.multipath,
            }));
        }
        if self.watch.is_none() {
            match AddressWatch::subscribe() {
                Ok(w) => self.watch = Some(w),
                Err(e) => {
                    tracing::error!(error = %e, "cannot watch interface addresses; next hops are checked against those at start")
                }
            }
            self.refresh_addresses();
        }
        let rib = self.rib.as_mut().expect("made above");
        rib.set_multipath(new.multipath);
        // Gone or changed beyond the RIB's part: stop and remove.
        for i in (0..self.peers.len()).rev() {
            let keep = new
                .neighbors
                .iter()
                .any(|n| n.address == self.peers[i].config.address && self.peers[i].same_session(&new, n));
            if !keep {
                self.remove_peer(i, now);
            }
        }
        for n in &new.neighbors {
            match self.peers.iter().position(|p| p.config.address == n.address) {
                Some(i) => {
                    let rib = self.rib.as_mut().expect("made above");
                    let refresh = rib.reconfigure_neighbor(self.peers[i].rib_id, Peer::rib_config(n));
                    self.peers[i].config = n.clone();
                    if refresh {
                        self.refresh(i, now);
                    }
                }
                None => {
                    let rib = self.rib.as_mut().expect("made above");
                    let id = rib.add_neighbor(Peer::rib_config(n));
                    let mut peer = Peer::new(&new, n.clone(), id);
                    if self.adoption.is_none() {
                        peer.adopted = true;
                    }
                    let name = peer.name.clone();
                    self.peers.push(peer);
                    let i = self.peers.len() - 1;
                    tracing::info!(neighbor = %name, remote_as = n.remote_as, passive = n.passive, "BGP neighbor configured");
                    self.set_state_metric(i);
                    let actions = self.peers[i].session.handle(Event::ManualStart, now);
                    self.act(i, actions, now);
                }
            }
        }
        // The start-up adoption waits as long as a neighbor's restart may
        // take (at least a second: End-of-RIB needs a session first).
        if let Some(longest) = new.neighbors.iter().map(|n| n.restart_time_max).max() {
            if let Some(until) = self.adoption.as_mut() {
                *until = now + longest.max(Duration::from_secs(1));
            }
        }
        self.open_listener(&new);
        self.config = Some(new);
        self.settle_if_done(false).await;
    }

    /// Listens on TCP 179 exactly while a neighbor is passive, with every
    /// passive neighbor's MD5 key on the socket.
    fn open_listener(&mut self, config: &BgpConfig) {
        let passive: Vec<_> = config.neighbors.iter().filter(|n| n.passive).collect();
        if passive.is_empty() {
            if self.listener.take().is_some() {
                tracing::info!("BGP listener closed: no neighbor is passive");
            }
            return;
        }
        if self.listener.is_none() {
            match Listener::bind(net::BGP_PORT) {
                Ok(l) => {
                    tracing::info!(port = net::BGP_PORT, "BGP listening for passive neighbors");
                    self.listener = Some(l);
                }
                Err(e) => {
                    tracing::error!(error = %e, "BGP cannot listen: passive neighbors cannot connect");
                    return;
                }
            }
        }
        let listener = self.listener.as_ref().expect("bound above");
        for n in &config.neighbors {
            if let Err(e) = listener.set_md5(n.address, n.md5_key.as_deref().filter(|_| n.passive)) {
                tracing::error!(neighbor = %n.address, error = %e, "cannot set the TCP MD5 key for the neighbor");
            }
        }
    }

    fn remove_peer(&mut self, i: usize, now: Instant) {
        let actions = self.peers[i].session.handle(Event::ManualStop, now);
        self.act(i, actions, now);
        let peer = self.peers.remove(i);
        if let Some((_, task)) = peer.connecting {
            task.abort();
        }
        if let Some(rib) = self.rib.as_mut() {
            rib.remove_neighbor(peer.rib_id);
        }
        self.metrics.bgp.forget(&peer.name);
        tracing::info!(neighbor = %peer.name, "BGP neighbor removed; its routes are withdrawn");
    }

    /// Asks the peer to send everything again (the import filter changed:
    /// what the old one refused was not kept).
    fn refresh(&mut self, i: usize, now: Instant) {
        let peer = &self.peers[i];
        let Some(neg) = peer.session.negotiated().filter(|_| peer.session.state() == State::Established) else {
            return;
        };
        if neg.route_refresh {
            if let Some(conn) = &peer.conn {
                for family in &neg.families {
                    conn.send(message::route_refresh(*family));
                }
            }
            tracing::info!(neighbor = %peer.name, "BGP import filter changed: asked for a route refresh");
        } else {
            tracing::info!(neighbor = %peer.name, "BGP import filter changed and the peer lacks route refresh: session reset");
            let actions = self.peers[i].session.handle(Event::AdminReset, now);
            self.act(i, actions, now);
        }
    }
}
