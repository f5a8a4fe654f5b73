use super::*;
use crate::liveness::session::SessionConfig;
use crate::route::{Addr, Family, RouteKey};

fn key(peer: &str) -> SessionKey {
    SessionKey { profile: Profile::Bfd, peer: peer.parse().unwrap(), local: "192.0.2.1".parse().unwrap(), ifindex: 2 }
}

fn route(n: u8) -> RouteRef {
    let dst = Addr::from_ip(&format!("10.0.0.{n}").parse().unwrap());
    RouteRef {
        key: RouteKey { family: Family::V4, table: 254, dst, dst_len: 32, tos: 0, metric: 0 }.into(),
        no_uninstall: false,
    }
}

fn session(r: &Registry, rng: &mut fastrand::Rng) -> Session {
    let d = r.unused_discriminator(rng);
    Session::new(SessionConfig::new(Profile::Bfd), d, 1, Instant::now()).0
}

/// A registry holding one session, with 192.0.2.2.
fn one_session(seed: u64) -> (Registry, u32) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut r = Registry::default();
    let s = session(&r, &mut rng);
    let id = r.insert(key("192.0.2.2"), s, "veth0".into(), Instant::now());
    (r, id)
}

#[test]
fn a_thousand_routes_via_one_peer_share_one_session() {
    let (mut r, id) = one_session(1);
    for n in 0..250u8 {
        for table in 0..4 {
            let mut route = route(n);
            route.key.route.table = 100 + table;
            assert_eq!(r.attach(id, route), None);
        }
    }
    assert_eq!(r.len(), 1);
    assert_eq!(r.get(id).unwrap().routes.len(), 1000);
}

#[test]
fn a_session_is_found_by_key_and_by_its_discriminator_until_removed() {
    let mut rng = fastrand::Rng::with_seed(2);
    let mut r = Registry::default();
    let s = session(&r, &mut rng);
    let d = s.local_discriminator();
    let id = r.insert(key("192.0.2.2"), s, "veth0".into(), Instant::now());
    assert_eq!(r.find(&key("192.0.2.2")), Some(id));
    assert_eq!(r.find(&key("192.0.2.3")), None);
    assert_eq!(r.find_by_discriminator(d), Some(id));
    r.attach(id, route(1));
    let entry = r.remove(id).unwrap();
    assert_eq!(entry.routes, vec![route(1)]);
    assert_eq!(r.find(&key("192.0.2.2")), None);
    assert_eq!(r.find_by_discriminator(d), None);
    assert_eq!(r.session_of(&route(1).key), None);
}

#[test]
fn detaching_the_last_route_says_the_session_is_empty() {
    let (mut r, id) = one_session(3);
    r.attach(id, route(1));
    r.attach(id, route(2));
    assert_eq!(r.detach(&route(1).key), None);
    assert_eq!(r.detach(&route(2).key), Some(id));
    assert_eq!(r.detach(&route(2).key), None, "already detached");
}

#[test]
fn moving_a_route_to_another_session_reports_the_one_it_emptied() {
    let mut rng = fastrand::Rng::with_seed(4);
    let mut r = Registry::default();
    let s = session(&r, &mut rng);
    let a = r.insert(key("192.0.2.2"), s, "veth0".into(), Instant::now());
    let s = session(&r, &mut rng);
    let b = r.insert(key("192.0.2.3"), s, "veth0".into(), Instant::now());
    r.attach(a, route(1));
    assert_eq!(r.attach(b, route(1)), Some(a));
    assert_eq!(r.session_of(&route(1).key), Some(b));
    assert!(r.get(a).unwrap().routes.is_empty());
}

#[test]
fn a_reused_slot_gets_a_new_generation() {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut r = Registry::default();
    let s = session(&r, &mut rng);
    let a = r.insert(key("192.0.2.2"), s, "veth0".into(), Instant::now());
    let first = r.get(a).unwrap().generation;
    r.remove(a);
    let s = session(&r, &mut rng);
    let b = r.insert(key("192.0.2.3"), s, "veth0".into(), Instant::now());
    assert_eq!(a, b);
    assert_ne!(r.get(b).unwrap().generation, first);
    assert_eq!(r.ids().collect::<Vec<_>>(), vec![b]);
}

#[test]
fn a_route_detached_from_the_middle_leaves_every_other_route_findable_in_place() {
    let (mut r, id) = one_session(6);
    for n in 1..=5 {
        r.attach(id, route(n));
    }
    // The last route takes the detached one's place...
    assert_eq!(r.detach(&route(2).key), None);
    // ...and is still updated in place, not added twice.
    let keep = RouteRef { no_uninstall: true, ..route(5) };
    assert_eq!(r.attach(id, keep), None);
    let routes = &r.get(id).unwrap().routes;
    assert_eq!(routes.len(), 4);
    assert!(routes.contains(&keep) && !routes.contains(&route(5)));
    for n in [1, 3, 4] {
        assert_eq!(r.session_of(&route(n).key), Some(id));
        assert_eq!(r.detach(&route(n).key), None, "route {n}");
    }
    assert_eq!(r.detach(&route(5).key), Some(id), "the last one empties the session");
}
