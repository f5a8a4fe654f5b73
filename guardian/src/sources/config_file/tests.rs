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
    let gated: Vec<(String, bool)> = set.routes.iter().map(|r| (r.spec.key.dst_ip().to_string(), r.gated)).collect();
    assert_eq!(gated, vec![("10.1.0.0".to_owned(), false), ("10.2.0.0".to_owned(), true)]);
}

#[test]
fn a_multipath_route_with_nexthop_liveness_has_its_legs_gated_one_by_one() {
    let config = Config::from_toml(
        r#"
        [[route]]
        dst = "10.1.0.0/24"
        nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0" }]
        liveness = "nexthop"
        [[route]]
        dst = "10.2.0.0/24"
        nexthops = [{ via = "192.0.2.2", dev = "a0" }, { via = "198.51.100.2", dev = "b0" }]
        "#,
        "test.toml",
    )
    .unwrap();
    let Change::Replace(set) = update(config.routes, None).change else { panic!("the file replaces its whole set") };
    assert_eq!(set.multipath.len(), 2);
    let legs_gated: Vec<String> = set.legs_gated.iter().map(|k| k.dst_ip().to_string()).collect();
    assert_eq!(legs_gated, ["10.1.0.0"]);
    assert!(set.routes.iter().all(|r| r.gated == (r.spec.key.dst_ip().to_string() == "10.1.0.0")));
}
