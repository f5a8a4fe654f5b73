//! The tracked set: every route guardian means to have in the kernel, with
//! its state. Owned by the reconciler task alone.
//!
//! Slots live in one vector (about 80 bytes each) with a hash index of
//! 4-byte slot numbers beside it, so a million routes cost about 90 bytes
//! each; rare per-route facts (errors, damping, when a loss was noticed)
//! live in side maps holding only the routes that have them.

use crate::route::{DevNames, Family, RouteKey, RouteSpec};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::collections::BTreeMap;
use std::hash::BuildHasher;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Configured, not yet installed by this daemon (or adopted).
    Pending,
    /// In the kernel as configured.
    Installed,
    /// Lost and about to be repaired.
    Missing,
    /// The kernel refused it; retried later.
    Failed,
    /// Lost too often; the repair waits for its back-off.
    Damped,
    /// Kept out of the kernel: its liveness session is not Up. Never
    /// repaired; a scan deletes it if it shows up.
    Withdrawn,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Pending | State::Missing => "pending",
            State::Installed => "installed",
            State::Failed => "failed",
            State::Damped => "damped",
            State::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Slot {
    pub spec: RouteSpec,
    pub state: State,
    /// When guardian last sent this route to the kernel, in microseconds
    /// since the reconciler started: a loss read before then is already repaired.
    pub sent_at: u64,
    pub reinstalls: u32,
    /// Guardian sent this route and has not yet read the kernel's
    /// notification of it: a delete read meanwhile came first in the kernel.
    pub echo_pending: bool,
    /// The source that holds the route (an index into the core's sources).
    pub source: SourceId,
    /// A liveness session decides whether the route is in the kernel.
    pub gated: bool,
}

/// An index into the reconciler's table of sources, small so a million
/// slots do not grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u16);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub pending: usize,
    pub installed: usize,
    pub failed: usize,
    pub damped: usize,
    pub withdrawn: usize,
    /// Routes in the table per family, whatever their state.
    pub v4: usize,
    pub v6: usize,
    pub installed_v4: usize,
    pub installed_v6: usize,
}

/// A set of slot numbers, a bit each: a million slots in 125 KiB, and 64 of
/// them compared with one word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotSet {
    words: Vec<u64>,
}

impl SlotSet {
    /// An empty set with room for slots `0..len` (it grows past that on insert).
    pub fn with_len(len: usize) -> SlotSet {
        SlotSet { words: vec![0; len.div_ceil(64)] }
    }

    /// Inlined: a scan inserts every route it finds in place.
    #[inline]
    pub fn insert(&mut self, i: usize) {
        if i / 64 >= self.words.len() {
            self.grow(i);
        }
        self.words[i / 64] |= 1 << (i % 64);
    }

    #[cold]
    fn grow(&mut self, i: usize) {
        self.words.resize(i / 64 + 1, 0);
    }

    pub fn remove(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, member: bool) {
        if member {
            self.insert(i);
        } else {
            self.remove(i);
        }
    }

    /// Word `w` of the set (slots `64 * w ..`); zero past its end.
    fn word(&self, w: usize) -> u64 {
        self.words.get(w).copied().unwrap_or(0)
    }
}

/// How many slots ahead of the one it reads a scan asks for (about 2 KiB):
/// far enough to hide a load from memory behind the routes in between. At a
/// million routes, asking for none made the scan 6% slower; 6 ahead saved half
/// of that; 12 and 48 did no better than 24.
const PREFETCH_AHEAD: usize = 24;

pub struct RouteTable {
    slots: Vec<Slot>,
    /// The slots in state Installed, beside the slots so that a scan finds
    /// the few routes that need something without reading every slot.
    installed: SlotSet,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    pub devs: DevNames,
    counts: Counts,
    /// Routes per (family, table): the tables a scan has to dump.
    tables: BTreeMap<(Family, u32), usize>,
}

impl RouteTable {
    pub fn new(devs: DevNames, capacity: usize) -> RouteTable {
        RouteTable {
            slots: Vec::with_capacity(capacity),
            installed: SlotSet::with_len(capacity),
            index: HashTable::with_capacity(capacity),
            hasher: DefaultHashBuilder::default(),
            devs,
            counts: Counts::default(),
            tables: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The (family, table) pairs that hold routes of this table.
    pub fn tables(&self) -> Vec<(Family, u32)> {
        self.tables.keys().copied().collect()
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    pub fn slot_mut(&mut self, i: usize) -> &mut Slot {
        &mut self.slots[i]
    }

    pub fn find(&self, key: &RouteKey) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.index.find(hash, |&i| self.slots[i as usize].spec.key == *key).map(|&i| i as usize)
    }

    /// Adds a route in state Pending (Withdrawn when `gated`: its session
    /// decides). The caller guarantees the key is new.
    pub fn insert(&mut self, spec: RouteSpec, source: SourceId, gated: bool) -> usize {
        debug_assert!(self.find(&spec.key).is_none());
        let i = self.slots.len();
        let hash = self.hasher.hash_one(spec.key);
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index.insert_unique(hash, i as u32, |&j| hasher.hash_one(slots[j as usize].spec.key));
        let state = if gated { State::Withdrawn } else { State::Pending };
        self.slots.push(Slot { spec, state, sent_at: 0, reinstalls: 0, echo_pending: false, source, gated });
        self.count(state, spec.key.family, 1);
        self.count_member(spec.key.family, 1);
        *self.tables.entry((spec.key.family, spec.key.table)).or_default() += 1;
        i
    }

    /// Makes room for `more` routes at once, instead of growing step by step.
    pub fn reserve(&mut self, more: usize) {
        self.slots.reserve(more);
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index.reserve(more, |&j| hasher.hash_one(slots[j as usize].spec.key));
    }

    /// Removes a route; the last slot moves into its place.
    pub fn remove(&mut self, key: &RouteKey) -> Option<Slot> {
        let i = self.find(key)?;
        let hash = self.hasher.hash_one(key);
        self.index.find_entry(hash, |&j| j as usize == i).ok()?.remove();
        let last = self.slots.len() - 1;
        if i != last {
            let moved_hash = self.hasher.hash_one(self.slots[last].spec.key);
            if let Some(entry) = self.index.find_mut(moved_hash, |&j| j as usize == last) {
                *entry = i as u32;
            }
        }
        let slot = self.slots.swap_remove(i);
        // The last slot's membership moves with it.
        self.installed.set(i, i != last && self.installed.contains(last));
        self.installed.remove(last);
        self.count(slot.state, slot.spec.key.family, -1);
        self.count_member(slot.spec.key.family, -1);
        let table = (slot.spec.key.family, slot.spec.key.table);
        if let Some(n) = self.tables.get_mut(&table) {
            *n -= 1;
            if *n == 0 {
                self.tables.remove(&table);
            }
        }
        Some(slot)
    }

    pub fn set_state(&mut self, i: usize, state: State) {
        let old = self.slots[i].state;
        if old != state {
            let family = self.slots[i].spec.key.family;
            self.count(old, family, -1);
            self.count(state, family, 1);
            self.slots[i].state = state;
            self.installed.set(i, state == State::Installed);
        }
    }

    /// The slots that are not both Installed and in `present`, in order:
    /// what a scan has to look at. Reads a word of each set per 64 slots and
    /// no slot, so a scan that finds everything in place costs next to nothing here.
    pub fn unsettled(&self, present: &SlotSet) -> Vec<usize> {
        let n = self.slots.len();
        let mut out = Vec::new();
        for w in 0..n.div_ceil(64) {
            // The slots of this word that exist: all 64 but in the last word.
            let in_table = if n - 64 * w >= 64 { u64::MAX } else { (1 << (n - 64 * w)) - 1 };
            let mut bits = in_table & !(self.installed.word(w) & present.word(w));
            while bits != 0 {
                out.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        out
    }

    /// Replaces a route's attributes (same identity); it must be installed again.
    pub fn update(&mut self, i: usize, spec: RouteSpec) {
        debug_assert_eq!(self.slots[i].spec.key, spec.key);
        self.slots[i].spec = spec;
        self.set_state(i, State::Pending);
    }

    fn count_member(&mut self, family: Family, delta: isize) {
        let n = match family {
            Family::V4 => &mut self.counts.v4,
            Family::V6 => &mut self.counts.v6,
        };
        *n = n.wrapping_add_signed(delta);
    }

    fn count(&mut self, state: State, family: Family, delta: isize) {
        let c = &mut self.counts;
        let apply = |n: &mut usize| *n = n.wrapping_add_signed(delta);
        match state {
            State::Pending | State::Missing => apply(&mut c.pending),
            State::Installed => {
                apply(&mut c.installed);
                match family {
                    Family::V4 => apply(&mut c.installed_v4),
                    Family::V6 => apply(&mut c.installed_v6),
                }
            }
            State::Failed => apply(&mut c.failed),
            State::Damped => apply(&mut c.damped),
            State::Withdrawn => apply(&mut c.withdrawn),
        }
    }

    /// Puts the slots in identity order, the order in which the kernel dumps
    /// a table, so a scan finds each dumped route at the slot after the last
    /// one instead of through the index (see [`RouteTable::find_after`]).
    pub fn sort(&mut self) {
        self.slots.sort_unstable_by_key(|s| s.spec.key);
        self.installed = SlotSet::with_len(self.slots.len());
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.state == State::Installed {
                self.installed.insert(i);
            }
        }
        self.index.clear();
        let hasher = &self.hasher;
        for (i, slot) in self.slots.iter().enumerate() {
            let hash = hasher.hash_one(slot.spec.key);
            self.index.insert_unique(hash, i as u32, |&j| hasher.hash_one(self.slots[j as usize].spec.key));
        }
    }

    /// Finds `key`, trying the slot at `hint` first: a scan walks the kernel's
    /// dump in the order the slots are sorted in, and a sequential check is
    /// several times cheaper than a random probe of the index at a million routes.
    pub fn find_after(&self, hint: usize, key: &RouteKey) -> Option<usize> {
        self.prefetch(hint + PREFETCH_AHEAD);
        match self.slots.get(hint) {
            Some(slot) if slot.spec.key == *key => Some(hint),
            _ => self.find(key),
        }
    }

    /// Starts loading slot `i` into the cache. Between two slots a scan
    /// does a route's worth of other work (the kernel's dump, decoding), and
    /// the hardware prefetcher alone leaves it waiting on memory for most slots.
    #[inline]
    fn prefetch(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let slot = self.slots.as_ptr().wrapping_add(i).cast::<i8>();
            // SAFETY: SSE is part of x86_64, and a prefetch only hints: it
            // reads nothing and never faults, even past the end of the slots.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// Releases memory left over from building the table.
    pub fn shrink(&mut self) {
        self.slots.shrink_to_fit();
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index.shrink_to_fit(|&j| hasher.hash_one(slots[j as usize].spec.key));
    }
}

#[cfg(test)]
mod tests;
