//! The recent deletions of tracked routes, for `guardian deletions`: a
//! bounded ring, so a mass flush costs a fixed amount of memory (an entry's
//! command line is capped at [`CMDLINE_MAX`](super::process::CMDLINE_MAX)).

use super::deleter::{Attribution, Deleter, Who};
use crate::messages::{Cause, Noticed, OwnedLoss, Repaired};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

/// One deletion of a tracked route: an entry of the command's JSON answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// When the loss was noticed; RFC 3339, UTC.
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// The route as the `route reinstalled` line writes it.
    pub route: String,
    #[serde(with = "NoticedDef")]
    pub noticed: Noticed,
    /// `"cause": "deleted" | "replaced" | "link_down"`, with `"dev"` for
    /// the last.
    #[serde(flatten, with = "CauseDef")]
    pub cause: Cause,
    pub attribution: Attribution,
    /// `null` when not attributed.
    pub deleted_by: Option<Who>,
    /// For a guarded route (another daemon's): its guard, its owner, and
    /// what guardian did or, in audit mode, would have done. Absent for
    /// guardian's own routes.
    #[serde(flatten)]
    pub guard: Option<GuardVerdict>,
}

/// A guard's decision about one deletion of a route it guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardVerdict {
    #[serde(rename = "guard")]
    pub name: String,
    pub owner: String,
    pub verdict: Verdict,
}

/// What a guard decided: the `verdict` field of logs and `guardian deletions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A stranger took it: put back.
    Repaired,
    /// Audit mode: a stranger took it, guardian would have put it back.
    WouldRepair,
    /// The owner withdrew or changed it: respected.
    Owner,
    /// The kernel removed it (link down, address gone): the owner's to put
    /// back once the cause is over, guardian's after the grace.
    Kernel,
    /// Nobody could be named and `unknown_deleter = "accept"`.
    Accepted,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Repaired => "repaired",
            Verdict::WouldRepair => "would_repair",
            Verdict::Owner => "owner",
            Verdict::Kernel => "kernel",
            Verdict::Accepted => "accepted",
        }
    }
}

impl Deletion {
    pub fn new(r: &Repaired, deleter: Option<Deleter>) -> Deletion {
        let guard = r.guard.as_ref().map(|g| GuardVerdict {
            name: g.guard.clone(),
            owner: g.owner.clone(),
            verdict: Verdict::Repaired,
        });
        Deletion::of(r.lost_at, &r.route, r.noticed, &r.cause, deleter, guard)
    }

    /// A guard's decision about a loss it did not have repaired (audit, the
    /// owner's doing, the kernel's).
    pub fn of_loss(loss: &OwnedLoss, deleter: Option<Deleter>, guard: GuardVerdict) -> Deletion {
        Deletion::of(loss.lost_at, &loss.route, loss.noticed, &loss.cause, deleter, Some(guard))
    }

    fn of(
        lost_at: Instant,
        route: &str,
        noticed: Noticed,
        cause: &Cause,
        deleter: Option<Deleter>,
        guard: Option<GuardVerdict>,
    ) -> Deletion {
        Deletion {
            time: wall_clock(lost_at),
            route: route.to_owned(),
            noticed,
            cause: cause.clone(),
            attribution: Attribution::of(deleter.as_ref()),
            deleted_by: deleter.map(|d| d.who),
            guard,
        }
    }
}

/// The wall-clock time of a monotonic instant in the past.
fn wall_clock(at: Instant) -> SystemTime {
    let now = SystemTime::now();
    now.checked_sub(at.elapsed()).unwrap_or(now)
}

// Serde's mirrors of the reconciler's types: a variant added there fails to
// compile here instead of going unlisted.

#[derive(Serialize, Deserialize)]
#[serde(remote = "Noticed", rename_all = "snake_case")]
enum NoticedDef {
    Event,
    Scan,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Cause", tag = "cause", rename_all = "snake_case")]
enum CauseDef {
    Deleted,
    Replaced,
    LinkDown { dev: String },
}

mod rfc3339 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_micros(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        humantime::parse_rfc3339(&text).map_err(D::Error::custom)
    }
}

/// The last deletions, oldest dropped first.
#[derive(Debug, Clone)]
pub struct Recent {
    entries: VecDeque<Deletion>,
    capacity: usize,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent::new(Recent::DEFAULT_CAPACITY)
    }
}

impl Recent {
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A ring of `capacity` entries; 0 keeps none.
    pub fn new(capacity: usize) -> Recent {
        // Allocated as it fills: most hosts never see a thousand deletions.
        Recent { entries: VecDeque::new(), capacity }
    }

    pub fn push(&mut self, deletion: Deletion) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(deletion);
    }

    /// Newest first, at most `limit` (all without one).
    pub fn newest(&self, limit: Option<usize>) -> impl Iterator<Item = &Deletion> {
        self.entries.iter().rev().take(limit.unwrap_or(usize::MAX))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
