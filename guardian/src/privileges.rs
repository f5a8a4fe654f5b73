//! Capability checks: guardian needs CAP_NET_ADMIN, not uid 0, so a systemd
//! unit that grants only that capability works.

use caps::{CapSet, Capability};

pub fn has_net_admin() -> bool {
    caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_ADMIN).unwrap_or(false)
}
