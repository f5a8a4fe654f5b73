//! Who caused each repaired loss, as the attribution task tells after the
//! repair: the rounds of a fight (`damping.rs`). A fight that begins is
//! named once, in the log and in `guardian_route_fights_total`; the losses
//! after it wait (`events.rs`, `repair_or_damp`).

use super::Core;
use crate::messages::Deleted;
use crate::metrics::FightLabels;

impl Core {
    /// The deleter of a repaired loss. An answer for a route no longer
    /// tracked, or one whose damping record was forgotten, changes nothing.
    pub fn attributed(&mut self, deleted: Deleted) {
        let Some(i) = self.table.find(&deleted.key) else { return };
        let Some(d) = self.damping.get_mut(&deleted.key) else { return };
        let Some(fight) = d.attributed(deleted.lost_at, deleted.deleter, &self.cfg) else { return };
        // Counted before the line is written: whoever reads the line finds
        // the counter already up.
        self.metrics.route_fights.get_or_create(&FightLabels { deleter: deleted.label }).inc();
        let source = self.source(self.table.slot(i).source);
        let (guard, owner) = match source.guard {
            Some(_) => (Some(source.guard_name().to_owned()), source.owner.clone()),
            None => (None, None),
        };
        tracing::warn!(
            route = %self.display(i),
            guard = guard.as_deref(),
            owner = owner.as_deref(),
            deleted_by.comm = fight.deleter.comm.as_str(),
            deleted_by.uid = fight.deleter.uid,
            deleted_by.cgroup = fight.deleter.cgroup.as_deref(),
            rounds = fight.rounds,
            window = ?self.cfg.fight_window,
            "route fight"
        );
    }
}

#[cfg(test)]
mod tests;
