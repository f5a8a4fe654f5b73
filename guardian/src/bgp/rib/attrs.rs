//! Interned paths: a prefix refers to its path by a four-byte id, and the
//! million prefixes of one UPDATE stream with one set of attributes share
//! one entry here (BIRD's attribute cache does the same).
//!
//! An entry also holds what is derived from the path once instead of per
//! prefix: its rank for the decision process and where its next hop
//! resolves. Staleness (graceful restart) is a property of the entry too:
//! marking a neighbor stale flips its entries and unlists them, so a path
//! announced again interns as a fresh entry and replaces the stale one
//! prefix by prefix. Marking stale thus touches no prefix.

use super::bestpath::Rank;
use super::types::{NeighborId, Path};
use crate::route::{Family, Nexthop};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct AttrId(pub u32);

#[derive(Debug)]
pub(super) struct Attr {
    pub path: Path,
    /// The family of the prefixes that use it (a path may serve both, with
    /// RFC 8950 next hops; each family is staled and swept on its own).
    pub family: Family,
    pub stale: bool,
    pub rank: Rank,
    /// Where the route goes; `None`: unresolvable.
    pub hop: Option<Nexthop>,
    /// Prefixes using it.
    pub refs: u32,
}

#[derive(Debug, Default)]
pub(super) struct Attrs {
    slots: Vec<Option<Attr>>,
    free: Vec<u32>,
    /// The fresh entries by path, one per family (stale ones are unlisted).
    fresh: HashMap<Path, [Option<AttrId>; 2]>,
}

fn family_slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl Attrs {
    /// The fresh entry for `path` in `family`, made with `hop` if new. An
    /// entry is freed when its last reference is released.
    pub fn intern(&mut self, family: Family, path: &Path, hop: impl FnOnce() -> Option<Nexthop>) -> AttrId {
        if let Some(id) = self.fresh.get(path).and_then(|ids| ids[family_slot(family)]) {
            return id;
        }
        let attr = Attr { path: path.clone(), family, stale: false, rank: Rank::of(path), hop: hop(), refs: 0 };
        let id = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(attr);
                AttrId(i)
            }
            None => {
                self.slots.push(Some(attr));
                AttrId(self.slots.len() as u32 - 1)
            }
        };
        self.fresh.entry(path.clone()).or_default()[family_slot(family)] = Some(id);
        id
    }

    pub fn get(&self, id: AttrId) -> &Attr {
        self.slots[id.0 as usize].as_ref().expect("a prefix refers only to live attributes")
    }

    pub fn neighbor(&self, id: AttrId) -> NeighborId {
        self.get(id).path.neighbor
    }

    pub fn add_ref(&mut self, id: AttrId) {
        self.slot(id).refs += 1;
    }

    pub fn release(&mut self, id: AttrId) {
        self.slot(id).refs -= 1;
        if self.get(id).refs > 0 {
            return;
        }
        let attr = self.slots[id.0 as usize].take().expect("live");
        self.free.push(id.0);
        if !attr.stale {
            self.unlist(&attr.path, attr.family);
        }
    }

    /// Marks the neighbor's fresh entries of `family` stale; returns
    /// whether there were any.
    pub fn mark_stale(&mut self, neighbor: NeighborId, family: Family) -> bool {
        let mut unlisted = Vec::new();
        for attr in self.slots.iter_mut().flatten() {
            if attr.path.neighbor == neighbor && attr.family == family && !attr.stale {
                attr.stale = true;
                unlisted.push(attr.path.clone());
            }
        }
        for path in &unlisted {
            self.unlist(path, family);
        }
        !unlisted.is_empty()
    }

    pub fn has_stale(&self, neighbor: NeighborId, family: Family) -> bool {
        self.live().any(|(_, a)| a.path.neighbor == neighbor && a.family == family && a.stale)
    }

    /// The next hops that differ from each entry's, by id (`None`: the
    /// same, or no entry), without setting them: the caller still needs
    /// the old ones to say what each prefix had.
    pub fn resolutions(&self, mut hop: impl FnMut(&Path) -> Option<Nexthop>) -> Vec<Option<Option<Nexthop>>> {
        let mut changed = |a: &Attr| Some(hop(&a.path)).filter(|h| *h != a.hop);
        self.slots.iter().map(|a| a.as_ref().and_then(&mut changed)).collect()
    }

    /// Sets the next hops [`Attrs::resolutions`] found changed.
    pub fn set_resolutions(&mut self, hops: Vec<Option<Option<Nexthop>>>) {
        for (slot, hop) in self.slots.iter_mut().zip(hops) {
            if let (Some(attr), Some(hop)) = (slot, hop) {
                attr.hop = hop;
            }
        }
    }

    pub fn live(&self) -> impl Iterator<Item = (AttrId, &Attr)> {
        self.slots.iter().enumerate().filter_map(|(i, a)| a.as_ref().map(|a| (AttrId(i as u32), a)))
    }

    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn slot(&mut self, id: AttrId) -> &mut Attr {
        self.slots[id.0 as usize].as_mut().expect("a prefix refers only to live attributes")
    }

    fn unlist(&mut self, path: &Path, family: Family) {
        if let Some(ids) = self.fresh.get_mut(path) {
            ids[family_slot(family)] = None;
            if ids.iter().all(Option::is_none) {
                self.fresh.remove(path);
            }
        }
    }
}
