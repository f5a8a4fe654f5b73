//! One family's prefixes and the paths each has (Adj-RIB-In of every
//! neighbor at once, one path per neighbor), kept small: a million
//! prefixes must cost tens of bytes each, all told.
//!
//! An entry is two `u32`s: its first path, and the index of a side list
//! holding the others (rare: a second neighbor with the same prefix), with
//! a *dirty* bit. A prefix is dirty from its first change until
//! [`Table::take`]; the desired route it had before that first change is
//! kept in `pending` beside it, so a batch of changes reports each prefix
//! once, against what the reconciler was last told, and the route a
//! prefix had does not need to be stored for every prefix. An emptied
//! dirty prefix stays until then too, so that it is not reported twice.

use super::attrs::AttrId;
use super::desired::Want;
use super::types::{NeighborId, Prefix};
use crate::route::{Addr, Family};
use hashbrown::HashMap;
use std::hash::Hash;

/// How a family's prefixes are keyed, as compactly as the family allows.
pub(super) trait Key: Copy + Eq + Hash {
    fn of(p: &Prefix) -> Self;
    fn prefix(self) -> Prefix;
}

/// An IPv4 prefix: the address in the top 32 bits, the length below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct V4Key(u64);

impl Key for V4Key {
    fn of(p: &Prefix) -> V4Key {
        let a = u32::from_be_bytes([p.addr.0[0], p.addr.0[1], p.addr.0[2], p.addr.0[3]]);
        V4Key((a as u64) << 8 | p.len as u64)
    }

    fn prefix(self) -> Prefix {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&((self.0 >> 8) as u32).to_be_bytes());
        Prefix { family: Family::V4, addr: Addr(b), len: self.0 as u8 }
    }
}

/// An IPv6 prefix; `u64` halves keep it at 24 bytes (a `u128` would align it to 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct V6Key {
    hi: u64,
    lo: u64,
    len: u8,
}

impl Key for V6Key {
    fn of(p: &Prefix) -> V6Key {
        let bits = p.bits();
        V6Key { hi: (bits >> 64) as u64, lo: bits as u64, len: p.len }
    }

    fn prefix(self) -> Prefix {
        let bits = (self.hi as u128) << 64 | self.lo as u128;
        Prefix { family: Family::V6, addr: Addr(bits.to_be_bytes()), len: self.len }
    }
}

const NO_PATH: u32 = u32::MAX;
const DIRTY: u32 = 1 << 31;

/// A prefix's paths: `first` (`NO_PATH` when it has none), and in `more`
/// the dirty bit and the side list's index plus one (0: none).
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    first: u32,
    more: u32,
}

impl Entry {
    const EMPTY: Entry = Entry { first: NO_PATH, more: 0 };

    fn dirty(&self) -> bool {
        self.more & DIRTY != 0
    }

    fn list(&self) -> Option<usize> {
        match self.more & !DIRTY {
            0 => None,
            n => Some(n as usize - 1),
        }
    }

    fn set_list(&mut self, list: Option<usize>) {
        self.more = (self.more & DIRTY) | list.map_or(0, |i| i as u32 + 1);
    }
}

/// A prefix's paths, in no particular order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Paths<'a> {
    first: Option<AttrId>,
    rest: &'a [AttrId],
}

impl<'a> Paths<'a> {
    pub fn iter(self) -> impl Iterator<Item = AttrId> + 'a {
        self.first.into_iter().chain(self.rest.iter().copied())
    }

    /// The only path, when there is exactly one (the common case, worth a
    /// path of its own in the decision).
    pub fn single(self) -> Option<AttrId> {
        self.first.filter(|_| self.rest.is_empty())
    }

    pub fn is_empty(self) -> bool {
        self.first.is_none()
    }
}

/// What [`Table::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upsert {
    Added,
    Replaced(AttrId),
    Unchanged,
}

/// The dirty prefixes in the order they were touched, each with the route
/// it had before. Most had none (a first announcement): they cost their
/// key and an index, not a whole absent route.
#[derive(Debug)]
struct Pending<K> {
    keys: Vec<(K, u32)>,
    befores: Vec<Want>,
}

impl<K> Default for Pending<K> {
    fn default() -> Self {
        Pending { keys: Vec::new(), befores: Vec::new() }
    }
}

impl<K> Pending<K> {
    const NONE: u32 = u32::MAX;

    fn push(&mut self, key: K, before: Option<Want>) {
        let i = match before {
            None => Self::NONE,
            Some(w) => {
                self.befores.push(w);
                self.befores.len() as u32 - 1
            }
        };
        self.keys.push((key, i));
    }

    /// Empties it, each prefix with the route it had.
    fn drain(&mut self) -> impl Iterator<Item = (K, Option<Want>)> {
        let mut befores = std::mem::take(&mut self.befores).into_iter().map(Some);
        std::mem::take(&mut self.keys)
            .into_iter()
            .map(move |(k, i)| (k, if i == Self::NONE { None } else { befores.next().flatten() }))
    }
}

#[derive(Debug)]
pub(super) struct Table<K> {
    map: HashMap<K, Entry>,
    lists: Vec<Vec<AttrId>>,
    free_lists: Vec<usize>,
    pending: Pending<K>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table { map: HashMap::default(), lists: Vec::new(), free_lists: Vec::new(), pending: Pending::default() }
    }
}

fn paths<'a>(e: &Entry, lists: &'a [Vec<AttrId>]) -> Paths<'a> {
    let first = (e.first != NO_PATH).then_some(AttrId(e.first));
    let rest = e.list().map_or(&[][..], |i| &lists[i][..]);
    Paths { first, rest }
}

/// Marks `e` dirty, keeping the route it had until now.
fn touch<K>(
    key: K,
    e: &mut Entry,
    lists: &[Vec<AttrId>],
    pending: &mut Pending<K>,
    want: impl Fn(Paths) -> Option<Want>,
) {
    if !e.dirty() {
        pending.push(key, want(paths(e, lists)));
        e.more |= DIRTY;
    }
}

impl<K: Key> Table<K> {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes the table holds on the heap, side lists' contents aside.
    pub fn heap_bytes(&self) -> usize {
        self.map.allocation_size() + self.lists.capacity() * std::mem::size_of::<Vec<AttrId>>()
    }

    #[cfg(test)]
    pub fn paths(&self, p: &Prefix) -> Paths<'_> {
        self.map.get(&K::of(p)).map_or(Paths { first: None, rest: &[] }, |e| paths(e, &self.lists))
    }

    /// Sets `neighbor`'s path for `key` to `attr`.
    pub fn upsert(
        &mut self,
        p: &Prefix,
        attr: AttrId,
        neighbor_of: impl Fn(AttrId) -> NeighborId,
        want: impl Fn(Paths) -> Option<Want>,
    ) -> Upsert {
        let key = K::of(p);
        let Table { map, lists, free_lists, pending } = self;
        let e = map.entry(key).or_insert(Entry::EMPTY);
        let neighbor = neighbor_of(attr);
        let found = paths(e, lists).iter().enumerate().find(|(_, a)| neighbor_of(*a) == neighbor);
        if let Some((_, old)) = found {
            if old == attr {
                return Upsert::Unchanged;
            }
        }
        touch(key, e, lists, pending, want);
        match found {
            Some((0, old)) => {
                e.first = attr.0;
                Upsert::Replaced(old)
            }
            Some((n, old)) => {
                lists[e.list().expect("a second path lives in the list")][n - 1] = attr;
                Upsert::Replaced(old)
            }
            None if e.first == NO_PATH => {
                e.first = attr.0;
                Upsert::Added
            }
            None => {
                match e.list() {
                    Some(i) => lists[i].push(attr),
                    None => {
                        let i = free_lists.pop().unwrap_or_else(|| {
                            lists.push(Vec::new());
                            lists.len() - 1
                        });
                        lists[i].push(attr);
                        e.set_list(Some(i));
                    }
                }
                Upsert::Added
            }
        }
    }

    /// Removes the paths of `key` that `drop` names; returns them.
    pub fn remove(
        &mut self,
        p: &Prefix,
        mut drop: impl FnMut(AttrId) -> bool,
        want: impl Fn(Paths) -> Option<Want>,
    ) -> Vec<AttrId> {
        let key = K::of(p);
        let Table { map, lists, free_lists, pending } = self;
        let mut removed = Vec::new();
        if let Some(e) = map.get_mut(&key) {
            if paths(e, lists).iter().any(&mut drop) {
                touch(key, e, lists, pending, want);
                drop_paths(e, lists, free_lists, &mut drop, &mut removed);
            }
        }
        removed
    }

    /// Removes, from every prefix, the paths `drop` names; returns them.
    pub fn remove_all(
        &mut self,
        mut drop: impl FnMut(K, AttrId) -> bool,
        want: impl Fn(Paths) -> Option<Want>,
    ) -> Vec<AttrId> {
        let Table { map, lists, free_lists, pending } = self;
        let mut removed = Vec::new();
        for (&key, e) in map.iter_mut() {
            if paths(e, lists).iter().any(|a| drop(key, a)) {
                touch(key, e, lists, pending, &want);
                drop_paths(e, lists, free_lists, &mut |a| drop(key, a), &mut removed);
            }
        }
        removed
    }

    /// Marks dirty every prefix `affected` says the coming change concerns.
    pub fn touch_all(&mut self, affected: impl Fn(Paths) -> bool, want: impl Fn(Paths) -> Option<Want>) {
        let Table { map, lists, pending, .. } = self;
        for (&key, e) in map.iter_mut() {
            if affected(paths(e, lists)) {
                touch(key, e, lists, pending, &want);
            }
        }
    }

    /// Calls `changed` with each prefix whose desired route is not what it
    /// was before its first change since the last call (before, now);
    /// forgets emptied prefixes.
    pub fn take(
        &mut self,
        want: impl Fn(Paths) -> Option<Want>,
        mut changed: impl FnMut(Prefix, Option<Want>, Option<Want>),
    ) {
        let Table { map, lists, pending, .. } = self;
        for (key, before) in pending.drain() {
            let e = map.get_mut(&key).expect("a dirty prefix stays until taken");
            e.more &= !DIRTY;
            let now = want(paths(e, lists));
            if e.first == NO_PATH {
                map.remove(&key);
            }
            if before != now {
                changed(key.prefix(), before, now);
            }
        }
    }
}

/// Drops the paths `drop` names from `e`, keeping the rest compact.
fn drop_paths(
    e: &mut Entry,
    lists: &mut [Vec<AttrId>],
    free_lists: &mut Vec<usize>,
    drop: &mut impl FnMut(AttrId) -> bool,
    removed: &mut Vec<AttrId>,
) {
    let mut all: Vec<AttrId> = paths(e, lists).iter().collect();
    all.retain(|&a| {
        let gone = drop(a);
        if gone {
            removed.push(a);
        }
        !gone
    });
    e.first = all.first().map_or(NO_PATH, |a| a.0);
    if let Some(i) = e.list() {
        lists[i].clear();
        if all.len() > 1 {
            lists[i].extend_from_slice(&all[1..]);
        } else {
            free_lists.push(i);
            e.set_list(None);
        }
    }
}

#[cfg(test)]
mod tests;
