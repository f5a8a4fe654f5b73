//! A guarded route as the reconciler keeps it: in the compact route model
//! when that says everything about it (a plain unicast route: most of a
//! BGP table), else as an exact copy of the kernel's message (multipath
//! with weights, metrics, realms, blackholes...), replayed as it was.

use crate::kernel::wire::{self, RTN_UNICAST};
use crate::messages::{DesiredRoute, DesiredRoutes, KernelRoute};
use crate::route::raw::RawRoute;
use crate::route::RouteSpec;
use std::sync::Arc;

/// Adds `route` (with its RTM_NEWROUTE payload) to `set`. `dev_name` names
/// an interface index; a route over an interface it cannot name is kept
/// as a copy. Returns false for a payload that is not a route.
pub fn add(
    set: &mut DesiredRoutes,
    route: &KernelRoute,
    payload: &[u8],
    mut dev_name: impl FnMut(u32) -> Option<String>,
) -> bool {
    if route.kind == RTN_UNICAST && !route.unusual && wire::raw::is_plain(payload) {
        let dev = match route.oif {
            0 => None,
            index => dev_name(index).map(|name| set.devs.intern(&name)),
        };
        if route.oif == 0 || dev.is_some() {
            let spec = RouteSpec { key: route.key, via: route.gateway, dev, src: route.prefsrc };
            set.routes.push(DesiredRoute { spec, gated: false });
            return true;
        }
    }
    let Some(copy) = wire::raw::copy(payload) else { return false };
    add_copy(set, route, Arc::new(copy));
    true
}

/// Adds a route already copied (a notification's).
pub fn add_copy(set: &mut DesiredRoutes, route: &KernelRoute, copy: Arc<RawRoute>) {
    // The spec only names the route; the copy says the rest.
    let spec = RouteSpec { key: route.key, via: None, dev: None, src: None };
    set.routes.push(DesiredRoute { spec, gated: false });
    set.raw.insert(route.key, copy);
}

/// Adds a notification's route: as the model when that is enough, else
/// its copy.
pub fn add_notified(
    set: &mut DesiredRoutes,
    route: &KernelRoute,
    copy: Arc<RawRoute>,
    dev_name: impl FnMut(u32) -> Option<String>,
) {
    if !add(set, route, copy.payload(), dev_name) {
        add_copy(set, route, copy);
    }
}

#[cfg(test)]
mod tests;
