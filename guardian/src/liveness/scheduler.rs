//! One timer queue for every session (docs/liveness.md: never a timer, task or
//! socket per session).
//!
//! Each session has two running timers (transmit, detect) and a one-off
//! (the end of its start-up grace). Re-arming is the hot
//! path: the detect timer moves on every packet received. Pushing a heap
//! entry each time would leave several stale entries per session, so a
//! timer keeps at most one live entry: a deadline moved later is picked up
//! when its old entry comes due (the entry is pushed again at the new
//! time); only a deadline moved earlier pushes a new entry. The heap thus
//! holds about two entries per session, and the bound (docs/liveness.md: 4 per
//! session, at least 10,240) is checked when a session registers, never by
//! dropping a timer of a session that already exists.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Which of a session's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Which {
    Transmit = 0,
    Detect = 1,
    /// The end of a new session's start-up grace (docs/liveness.md: routes
    /// adopted at a restart stay until the session had its chance).
    Grace = 2,
}

const TIMERS: [Which; 3] = [Which::Transmit, Which::Detect, Which::Grace];

/// Registering would let the queue outgrow its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the liveness timer queue is full ({entries} entries for a bound of {bound}); raise liveness.queue_bound")]
pub struct QueueFull {
    pub entries: usize,
    pub bound: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: Instant,
    id: u32,
    generation: u32,
    which: u8,
}

#[derive(Debug, Clone, Copy, Default)]
struct TimerState {
    /// When the timer fires; `None` when disarmed.
    deadline: Option<Instant>,
    /// The time of this timer's live heap entry, if it has one.
    queued: Option<Instant>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    generation: u32,
    live: bool,
    timers: [TimerState; 3],
}

#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Vec<Slot>,
    sessions: usize,
    bound: usize,
}

/// Heap entries a session may need at once: one per timer, plus one for a
/// timer moved earlier while its later entry is still queued.
pub const ENTRIES_PER_SESSION: usize = 4;

impl TimerQueue {
    pub fn new(bound: usize) -> TimerQueue {
        TimerQueue { bound, ..TimerQueue::default() }
    }

    pub fn set_bound(&mut self, bound: usize) {
        self.bound = bound;
    }

    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Heap entries, live and superseded (the queue-length metric).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Makes room for session `id` (a slab index reused with a new
    /// `generation`, so timers of a removed session never fire for its
    /// successor).
    pub fn register(&mut self, id: u32, generation: u32) -> Result<(), QueueFull> {
        let entries = (self.sessions + 1) * ENTRIES_PER_SESSION;
        if entries > self.bound {
            return Err(QueueFull { entries, bound: self.bound });
        }
        let i = id as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Slot::default());
        }
        debug_assert!(!self.slots[i].live, "session {id} registered twice");
        self.slots[i] = Slot { generation, live: true, timers: Default::default() };
        self.sessions += 1;
        Ok(())
    }

    /// Forgets session `id`; its queued entries are dropped when they come due.
    pub fn remove(&mut self, id: u32) {
        if let Some(slot) = self.slots.get_mut(id as usize) {
            if slot.live {
                slot.live = false;
                self.sessions -= 1;
            }
        }
    }

    /// Sets (or with `None` clears) when a timer of session `id` fires.
    pub fn arm(&mut self, id: u32, which: Which, at: Option<Instant>) {
        let Some(slot) = self.slots.get_mut(id as usize).filter(|s| s.live) else { return };
        let generation = slot.generation;
        let timer = &mut slot.timers[which as usize];
        timer.deadline = at;
        let Some(at) = at else { return };
        // A later deadline is picked up when the queued entry comes due.
        if timer.queued.is_none_or(|queued| at < queued) {
            timer.queued = Some(at);
            self.heap.push(Reverse(Entry { at, id, generation, which: which as u8 }));
        }
    }

    /// When the earliest queued entry is due (possibly one that will only
    /// be re-queued: waking early costs one pop).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// The next timer due at `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<(u32, Which)> {
        while let Some(Reverse(entry)) = self.heap.peek().copied() {
            if entry.at > now {
                return None;
            }
            self.heap.pop();
            let Some(slot) = self.slots.get_mut(entry.id as usize) else { continue };
            if !slot.live || slot.generation != entry.generation {
                continue;
            }
            let which = TIMERS[entry.which as usize];
            let timer = &mut slot.timers[which as usize];
            if timer.queued != Some(entry.at) {
                continue; // superseded by an earlier entry
            }
            timer.queued = None;
            match timer.deadline {
                None => {}
                Some(deadline) if deadline > now => {
                    timer.queued = Some(deadline);
                    self.heap.push(Reverse(Entry { at: deadline, ..entry }));
                }
                Some(_) => {
                    timer.deadline = None;
                    return Some((entry.id, which));
                }
            }
        }
        None
    }

    /// When a timer of session `id` fires, if armed.
    pub fn deadline(&self, id: u32, which: Which) -> Option<Instant> {
        self.slots.get(id as usize).filter(|s| s.live).and_then(|s| s.timers[which as usize].deadline)
    }
}

#[cfg(test)]
mod tests;
