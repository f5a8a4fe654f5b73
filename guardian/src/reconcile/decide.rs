//! Whether a kernel route is the route guardian means to have.

use crate::kernel::wire::RTN_UNICAST;
use crate::messages::{KernelRoute, Link};
use crate::route::{DevId, DevNames, RouteSpec};
use std::collections::HashMap;

/// The current interface index of each configured device name (by [`DevId`]),
/// so comparing a million routes needs no string lookups.
#[derive(Debug, Default, Clone)]
pub struct DevIndex {
    by_id: Vec<Option<u32>>,
}

impl DevIndex {
    pub fn refresh(&mut self, devs: &DevNames, links: &HashMap<String, Link>) {
        self.by_id =
            (0..devs.len() as u32).map(|id| links.get(devs.name(DevId::from_index(id))).map(|l| l.index)).collect();
    }

    pub fn get(&self, dev: DevId) -> Option<u32> {
        self.by_id.get(dev.index()).copied().flatten()
    }
}

/// A kernel route with a tracked identity satisfies the tracked route only
/// with guardian's protocol, a plain unicast type, and the same gateway,
/// device and preferred source; anything else is a loss to repair.
pub fn matches(spec: &RouteSpec, route: &KernelRoute, devs: &DevIndex, protocol: u8) -> bool {
    route.protocol == protocol
        && route.kind == RTN_UNICAST
        && !route.unusual
        && route.gateway == spec.via
        && route.prefsrc == spec.src
        && match spec.dev {
            None => true,
            Some(dev) => devs.get(dev) == Some(route.oif),
        }
}

#[cfg(test)]
mod tests;
