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
    let RouteSet { specs, devs, liveness, .. } = routes;
    let gated: HashSet<RouteKey> = liveness.iter().map(|l| l.key).collect();
    let routes = specs.into_iter().map(|spec| DesiredRoute { gated: gated.contains(&spec.key), spec }).collect();
    SourceUpdate { source: Source::config(), change: Change::Replace(DesiredRoutes { routes, devs }), done }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn routes_with_liveness_are_gated_and_the_others_not() {
        let config = Config::from_toml(
            r#"
            [[route]]
            dst = "10.1.0.0/24"
            via = "192.0.2.2"
            [[route]]
            dst = "10.2.0.0/24"
            via = "192.0.2.2"
            liveness = "nexthop"
            "#,
            "test.toml",
        )
        .unwrap();
        let update = update(config.routes, None);
        assert_eq!(update.source, Source::config());
        let Change::Replace(set) = update.change else { panic!("the file replaces its whole set") };
        let gated: Vec<(String, bool)> =
            set.routes.iter().map(|r| (r.spec.key.dst_ip().to_string(), r.gated)).collect();
        assert_eq!(gated, vec![("10.1.0.0".to_owned(), false), ("10.2.0.0".to_owned(), true)]);
    }
}
