//! Which sessions exist and which routes hang on each.
//!
//! A session is identified by (profile, peer, local address, interface);
//! routes reference it and it ends with the last one (1,000 routes via one
//! next hop are one session). Sessions live in a slab whose index is also
//! their id in the timer queue; a generation number tells a reused index
//! from its predecessor. Pure bookkeeping: no sockets, no clock.

use super::packet::Profile;
use super::session::Session;
use crate::messages::GateKey;
// hashbrown (foldhash): a lookup per received packet, where SipHash shows.
use hashbrown::HashMap;
use std::net::IpAddr;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub profile: Profile,
    pub peer: IpAddr,
    pub local: IpAddr,
    pub ifindex: u32,
}

/// A route that follows a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRef {
    pub key: GateKey,
    /// Installed on Up, never withdrawn by liveness.
    pub no_uninstall: bool,
}

#[derive(Debug)]
pub struct Entry {
    pub key: SessionKey,
    pub session: Session,
    pub generation: u32,
    pub routes: Vec<RouteRef>,
    /// The interface's name when the session was created (for display).
    pub ifname: String,
    pub created: Instant,
    /// Until the session first reaches Up or its start-up grace ends, a
    /// Down does not withdraw routes (a restart must not blackhole them).
    pub in_grace: bool,
    /// When the current state began (convergence histograms, uptime).
    pub state_since: Instant,
}

#[derive(Debug, Default)]
pub struct Registry {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    generation: u32,
    by_key: HashMap<SessionKey, u32>,
    by_discriminator: HashMap<u32, u32>,
    /// Each route's session and its place in that session's `routes`, so
    /// that attaching and detaching cost the same with 10 routes on a
    /// session as with 100,000.
    route_session: HashMap<GateKey, (u32, u32)>,
}

impl Registry {
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The id the next [`Registry::insert`] will use, and its generation
    /// (the timer queue registers it first, and may refuse).
    pub fn next_id(&self) -> (u32, u32) {
        let id = self.free.last().copied().unwrap_or(self.slots.len() as u32);
        (id, self.generation.wrapping_add(1))
    }

    /// Adds a session under `key`; the caller checked that none exists.
    pub fn insert(&mut self, key: SessionKey, session: Session, ifname: String, now: Instant) -> u32 {
        debug_assert!(!self.by_key.contains_key(&key));
        let (id, generation) = self.next_id();
        self.generation = generation;
        if self.free.last() == Some(&id) {
            self.free.pop();
        } else {
            self.slots.push(None);
        }
        self.by_discriminator.insert(session.local_discriminator(), id);
        self.by_key.insert(key, id);
        self.slots[id as usize] = Some(Entry {
            key,
            session,
            generation,
            routes: Vec::new(),
            ifname,
            created: now,
            in_grace: true,
            state_since: now,
        });
        id
    }

    /// Removes a session; its routes are detached.
    pub fn remove(&mut self, id: u32) -> Option<Entry> {
        let entry = self.slots.get_mut(id as usize)?.take()?;
        self.by_key.remove(&entry.key);
        self.by_discriminator.remove(&entry.session.local_discriminator());
        for route in &entry.routes {
            self.route_session.remove(&route.key);
        }
        self.free.push(id);
        Some(entry)
    }

    pub fn get(&self, id: u32) -> Option<&Entry> {
        self.slots.get(id as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.slots.get_mut(id as usize)?.as_mut()
    }

    pub fn find(&self, key: &SessionKey) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    pub fn find_by_discriminator(&self, discriminator: u32) -> Option<u32> {
        self.by_discriminator.get(&discriminator).copied()
    }

    /// The session a route follows.
    pub fn session_of(&self, route: &GateKey) -> Option<u32> {
        self.route_session.get(route).map(|&(id, _)| id)
    }

    /// A random non-zero discriminator no session uses.
    pub fn unused_discriminator(&self, rng: &mut fastrand::Rng) -> u32 {
        loop {
            let d = rng.u32(1..);
            if !self.by_discriminator.contains_key(&d) {
                return d;
            }
        }
    }

    /// Hangs `route` on session `id` (moving it from any other session).
    /// Returns the session it left if that one has no routes left.
    pub fn attach(&mut self, id: u32, route: RouteRef) -> Option<u32> {
        let emptied = match self.route_session.get(&route.key).copied() {
            Some((old, at)) if old == id => {
                if let Some(r) = self.get_mut(id).and_then(|e| e.routes.get_mut(at as usize)) {
                    *r = route;
                }
                return None;
            }
            Some(_) => self.detach(&route.key),
            None => None,
        };
        if let Some(entry) = self.slots.get_mut(id as usize).and_then(Option::as_mut) {
            let at = entry.routes.len() as u32;
            entry.routes.push(route);
            self.route_session.insert(route.key, (id, at));
        }
        emptied
    }

    /// Takes `route` off its session; returns the session if it has no
    /// routes left (the caller ends it). The session's last route takes
    /// its place.
    pub fn detach(&mut self, route: &GateKey) -> Option<u32> {
        let (id, at) = self.route_session.remove(route)?;
        let entry = self.slots.get_mut(id as usize)?.as_mut()?;
        entry.routes.swap_remove(at as usize);
        if let Some(moved) = entry.routes.get(at as usize) {
            if let Some(place) = self.route_session.get_mut(&moved.key) {
                place.1 = at;
            }
        }
        entry.routes.is_empty().then_some(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().enumerate().filter(|(_, s)| s.is_some()).map(|(i, _)| i as u32)
    }

    pub fn entries(&self) -> impl Iterator<Item = (u32, &Entry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|e| (i as u32, e)))
    }

    /// The routes that follow some session.
    pub fn routes(&self) -> impl Iterator<Item = &GateKey> + '_ {
        self.route_session.keys()
    }
}

#[cfg(test)]
mod tests;
