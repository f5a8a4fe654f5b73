use super::*;

fn route(source: &str, owner: Option<&str>) -> RouteInfo {
    RouteInfo {
        dst: "10.9.1.0/24".into(),
        via: Some("192.0.2.2".into()),
        dev: Some("veth0".into()),
        table: 100,
        src: None,
        metric: 0,
        family: "ipv4".into(),
        state: "installed".into(),
        reinstalls: 2,
        last_error: None,
        source: source.into(),
        owner: owner.map(str::to_owned),
        kind: if owner.is_some() { "guarded" } else { "own" }.into(),
        guard: owner.map(|_| "bird".into()),
        exact_copy: false,
        nexthops: Vec::new(),
    }
}

#[test]
fn each_route_shows_its_source_and_an_owner_column_only_when_one_has_an_owner() {
    let own = table(&[route("config", None)]);
    let lines: Vec<&str> = own.lines().collect();
    assert!(lines[0].contains("SOURCE") && !lines[0].contains("OWNER"), "{own}");
    assert!(lines[1].ends_with("config"), "{own}");
    let guarded = table(&[route("config", None), route("guard:bird", Some("bird"))]);
    let lines: Vec<&str> = guarded.lines().collect();
    assert!(lines[0].contains("OWNER"), "{guarded}");
    fn tail(line: &str) -> Vec<&str> {
        line.split_whitespace().rev().take(3).collect()
    }
    assert_eq!(tail(lines[1]), ["-", "config", "own"], "{guarded}");
    assert_eq!(tail(lines[2]), ["bird", "guard:bird", "guarded"], "{guarded}");
}

#[test]
fn a_route_kept_as_a_copy_says_so_instead_of_a_gateway() {
    let mut multipath = route("guard:bird", Some("bird"));
    (multipath.via, multipath.dev, multipath.exact_copy) = (None, None, true);
    let text = table(&[multipath]);
    assert!(text.lines().nth(1).unwrap().contains("(as copied)"), "{text}");
}

#[test]
fn a_multipath_route_says_how_many_of_its_legs_are_in() {
    use crate::messages::api::NexthopInfo;
    let leg = |via: &str, up| NexthopInfo { via: via.into(), dev: "veth0".into(), weight: 1, up };
    let mut r = route("config", None);
    (r.via, r.dev, r.nexthops) = (None, None, vec![leg("192.0.2.2", true), leg("192.0.2.3", false)]);
    let text = table(&[r]);
    assert!(text.lines().nth(1).unwrap().contains("1 of 2 legs"), "{text}");
}
