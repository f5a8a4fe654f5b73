//! Damping: when repairs of one route back off instead of fighting at full
//! speed (docs/reconcile.md, "Damping"). Two reasons, each with its own
//! back-off, doubling from one second up to `damping_max_backoff`:
//!
//! | reason | what it reacts to | held back |
//! |---|---|---|
//! | fight | the same deleter (comm, uid, cgroup) took the route again within `fight_window` of guardian putting it back, `fight_rounds` times in a row | each next loss within `fight_window` of a repair, until a round breaks the streak |
//! | rate net | more than `max_repairs_per_route` losses within `damping_window`, whoever caused them | each further loss of that window |
//!
//! Who caused a loss is learnt after its repair (the attribution task
//! answers asynchronously, [`Damping::attributed`]), so the losses that
//! make the rounds are all repaired at once; the first one held back is a
//! later one. A loss whose deleter is unknown (the kernel, a process gone
//! before it could be named, no attribution) breaks a streak and never
//! makes one: only the rate net bounds those. Random deletions (a soak that
//! deletes routes at random a few times a minute each) come seconds after
//! the repair, not within the window, so they never make a fight.
//!
//! Nothing here reads a clock: every time is passed in.

use crate::config::ReconcileConfig;
use crate::messages::DeleterId;
use std::time::{Duration, Instant};

/// The first delay once a route is damped.
pub const BASE_BACKOFF: Duration = Duration::from_secs(1);

/// At most this many repairs of one route wait for their deleter: one
/// whose answer never comes is taken as unknown after this many more.
const MAX_AWAITING: usize = 8;

/// One route's record, kept only while it has losses (a mass flush makes
/// one per route for a while): small, and without an allocation unless a
/// known deleter keeps taking the route back at once, or answers come out
/// of order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damping {
    /// The rate net: the window's start and the losses in it.
    window_start: Instant,
    /// When guardian last put the route back.
    last_repair: Option<Instant>,
    losses: u32,
    /// Back-offs in a row of the rate net (reset by a calm window), and of
    /// the current fight.
    level: u16,
    fight_level: u16,
    /// Quick rounds in a row won by `fighter`.
    rounds: u16,
    fighter: Option<Box<DeleterId>>,
    /// Repairs whose deleter is not known yet, oldest first.
    awaiting: Rounds,
}

/// One repaired loss, until its deleter is known.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Round {
    lost_at: Instant,
    /// The loss came within `fight_window` of the repair before it.
    quick: bool,
    /// The attribution task answered (answers may come out of order)...
    answered: bool,
    /// ...naming this deleter.
    deleter: Option<Box<DeleterId>>,
}

/// A queue of rounds that needs no allocation for the usual one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rounds {
    first: Option<Round>,
    rest: Vec<Round>,
}

impl Rounds {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn push(&mut self, round: Round) {
        match self.first {
            None => self.first = Some(round),
            Some(_) => self.rest.push(round),
        }
    }

    fn pop(&mut self) -> Option<Round> {
        let first = self.first.take();
        if !self.rest.is_empty() {
            self.first = Some(self.rest.remove(0));
        }
        first
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Round> {
        self.first.iter_mut().chain(self.rest.iter_mut())
    }
}

/// Why a loss waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Fight,
    Rate,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Fight => "fight",
            Reason::Rate => "rate",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    RepairNow,
    /// Wait this long; `first` is true when the route has just become
    /// damped for this reason.
    Wait {
        delay: Duration,
        first: bool,
        reason: Reason,
    },
}

/// What a deleter's answer changed: a fight that just began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fight {
    pub deleter: DeleterId,
    pub rounds: u32,
}

impl Damping {
    pub fn new(now: Instant) -> Damping {
        Damping {
            window_start: now,
            last_repair: None,
            losses: 0,
            level: 0,
            fight_level: 0,
            rounds: 0,
            fighter: None,
            awaiting: Rounds::default(),
        }
    }

    /// Whether a loss noticed at `lost_at` came within `fight_window` of
    /// guardian's latest repair.
    fn is_quick(&self, lost_at: Instant, cfg: &ReconcileConfig) -> bool {
        self.last_repair.is_some_and(|at| lost_at.saturating_duration_since(at) <= cfg.fight_window)
    }

    /// The route is in a fight: its last `fight_rounds` losses were quick
    /// and by one deleter.
    pub fn fighter(&self, cfg: &ReconcileConfig) -> Option<&DeleterId> {
        self.fighter.as_deref().filter(|_| u32::from(self.rounds) >= cfg.fight_rounds)
    }

    /// Decides about one more loss of the route, noticed at `now`.
    pub fn on_loss(&mut self, now: Instant, cfg: &ReconcileConfig) -> Verdict {
        let fight = (self.fighter(cfg).is_some() && self.is_quick(now, cfg)).then(|| {
            let first = self.fight_level == 0;
            let delay = backoff(self.fight_level, cfg);
            self.fight_level = self.fight_level.saturating_add(1);
            (delay, first, Reason::Fight)
        });
        let rate = self.count_loss(now, cfg);
        match (fight, rate) {
            (None, None) => Verdict::RepairNow,
            (Some((delay, first, reason)), None) | (None, Some((delay, first, reason))) => {
                Verdict::Wait { delay, first, reason }
            }
            // Both: the longer wait, said once as a fight (the deleter is known).
            (Some((a, first, _)), Some((b, _, _))) => Verdict::Wait { delay: a.max(b), first, reason: Reason::Fight },
        }
    }

    /// The rate net's share of [`Damping::on_loss`].
    fn count_loss(&mut self, now: Instant, cfg: &ReconcileConfig) -> Option<(Duration, bool, Reason)> {
        if now.saturating_duration_since(self.window_start) >= cfg.damping_window {
            // A window without excess losses forgives earlier back-offs.
            if self.losses <= cfg.max_repairs_per_route {
                self.level = 0;
            }
            self.window_start = now;
            self.losses = 0;
        }
        self.losses += 1;
        if self.losses <= cfg.max_repairs_per_route {
            return None;
        }
        let first = self.level == 0;
        let delay = backoff(self.level, cfg);
        self.level = self.level.saturating_add(1);
        Some((delay, first, Reason::Rate))
    }

    /// Guardian put the route back at `now`, after the loss noticed at
    /// `lost_at`: a round whose deleter the attribution task will tell.
    pub fn repaired(&mut self, lost_at: Instant, now: Instant, cfg: &ReconcileConfig) {
        let quick = self.is_quick(lost_at, cfg);
        self.awaiting.push(Round { lost_at, quick, answered: false, deleter: None });
        self.last_repair = Some(now);
        if self.awaiting.len() > MAX_AWAITING {
            // Its answer is lost (the attribution task stopped): unknown.
            if let Some(first) = self.awaiting.first.as_mut() {
                first.answered = true;
            }
        }
    }

    /// The attribution task's answer for the loss noticed at `lost_at`;
    /// the fight it completes, if any. An answer for a round not awaited
    /// (forgotten meanwhile) changes nothing.
    pub fn attributed(&mut self, lost_at: Instant, deleter: Option<DeleterId>, cfg: &ReconcileConfig) -> Option<Fight> {
        if let Some(round) = self.awaiting.iter_mut().find(|r| r.lost_at == lost_at && !r.answered) {
            round.answered = true;
            // Boxed only when it can count: a quick round by a known deleter.
            round.deleter = deleter.filter(|_| round.quick).map(Box::new);
        }
        let mut began = None;
        // Rounds count in the order the losses happened.
        while self.awaiting.first.as_ref().is_some_and(|r| r.answered) {
            let round = self.awaiting.pop().expect("checked");
            began = self.count_round(round.quick, round.deleter, cfg).or(began);
        }
        began
    }

    fn count_round(&mut self, quick: bool, deleter: Option<Box<DeleterId>>, cfg: &ReconcileConfig) -> Option<Fight> {
        match deleter {
            Some(id) if quick && self.fighter.as_ref() == Some(&id) => self.rounds = self.rounds.saturating_add(1),
            Some(id) if quick => {
                self.fighter = Some(id);
                self.rounds = 1;
                self.fight_level = 0;
            }
            // The first loss, one after a calm moment, or by nobody known:
            // no round of a fight, and the end of any.
            _ => {
                self.fighter = None;
                self.rounds = 0;
                self.fight_level = 0;
            }
        }
        let fighter = self.fighter.as_deref().filter(|_| u32::from(self.rounds) == cfg.fight_rounds)?;
        Some(Fight { deleter: fighter.clone(), rounds: cfg.fight_rounds })
    }

    /// The record can be forgotten: nothing happened to the route for long
    /// enough that neither the rate net nor a fight remembers it.
    pub fn is_calm(&self, now: Instant, cfg: &ReconcileConfig) -> bool {
        let last = self.last_repair.map_or(self.window_start, |at| at.max(self.window_start));
        now.saturating_duration_since(last) >= cfg.damping_window.saturating_mul(2).max(cfg.damping_max_backoff)
    }
}

/// The `level`-th back-off in a row: 1 s, 2 s, 4 s... up to `damping_max_backoff`.
fn backoff(level: u16, cfg: &ReconcileConfig) -> Duration {
    BASE_BACKOFF.saturating_mul(1u32 << level.min(20)).min(cfg.damping_max_backoff)
}

#[cfg(test)]
mod tests;
