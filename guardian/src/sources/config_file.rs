//! The configuration file as a source: its `[[route]]`s, the whole set each
//! time the file is read, so a route taken out of the file is withdrawn.

use crate::config::RouteSet;
use crate::messages::{Change, DesiredRoute, DesiredRoutes, Source, SourceReport, SourceUpdate};
use crate::route::RouteKey;
use std::collections::HashSet;
use tokio::sync::oneshot;

/// The file's routes as one update; routes with `liveness` are gated by
/// their session.
pub fn update(routes: RouteSet, done: Option<oneshot::Sender<SourceReport>>) -> SourceUpdate {
    let RouteSet { specs, devs, liveness, multipath, .. } = routes;
    let gated: HashSet<RouteKey> = liveness.iter().map(|l| l.key.route).collect();
    let legs_gated = liveness.iter().filter(|l| l.key.leg.is_some()).map(|l| l.key.route).collect();
    let routes = specs.into_iter().map(|spec| DesiredRoute { gated: gated.contains(&spec.key), spec }).collect();
    SourceUpdate {
        source: Source::config(),
        change: Change::Replace(DesiredRoutes { routes, devs, raw: Default::default(), multipath, legs_gated }),
        done,
    }
}

#[cfg(test)]
mod tests;
