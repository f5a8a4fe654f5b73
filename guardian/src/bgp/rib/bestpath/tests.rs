use super::*;

fn rank(n: u8) -> Rank {
    Rank {
        local_pref: 100,
        as_path_len: 2,
        origin: Origin::Igp,
        neighbor_as: 65000 + n as u32,
        med: 0,
        ebgp: true,
        router_id: Ipv4Addr::new(10, 0, 0, n),
        peer_addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)),
    }
}

fn pick(ranks: &[Rank], multipath: bool) -> Vec<usize> {
    let mut alive: Vec<usize> = (0..ranks.len()).collect();
    select(ranks, multipath, &mut alive);
    alive
}

#[test]
fn highest_local_pref_wins_over_everything_after_it() {
    let mut a = rank(1);
    let mut b = rank(2);
    a.as_path_len = 1;
    b.local_pref = 200;
    b.as_path_len = 9;
    assert_eq!(pick(&[a, b], false), [1]);
}

#[test]
fn a_missing_local_pref_counts_as_100() {
    let path = |lp| Path {
        neighbor: super::super::types::NeighborId(0),
        peer_addr: "192.0.2.1".parse().unwrap(),
        peer_router_id: Ipv4Addr::new(1, 1, 1, 1),
        peer_as: 1,
        ebgp: true,
        next_hop: "192.0.2.1".parse().unwrap(),
        link_local: None,
        local_pref: lp,
        as_path_len: 1,
        neighbor_as: 1,
        origin: Origin::Igp,
        med: None,
    };
    assert_eq!(Rank::of(&path(None)).local_pref, 100);
    assert_eq!(Rank::of(&path(Some(7))).local_pref, 7);
}

#[test]
fn shorter_as_path_wins_then_lower_origin() {
    let mut a = rank(1);
    let b = rank(2);
    a.as_path_len = 3;
    assert_eq!(pick(&[a, b], false), [1]);
    let mut a = rank(1);
    let mut b = rank(2);
    a.origin = Origin::Incomplete;
    b.origin = Origin::Egp;
    assert_eq!(pick(&[a, b], false), [1]);
}

#[test]
fn med_is_compared_only_between_paths_from_the_same_neighbor_as() {
    // Different neighbor ASes: MED is ignored, the router id decides.
    let mut a = rank(1);
    let b = rank(2);
    a.med = 50;
    assert_eq!(pick(&[a, b], false), [0]);
    // Same neighbor AS: the lower MED wins whatever the router id.
    let mut b = rank(2);
    b.neighbor_as = a.neighbor_as;
    assert_eq!(pick(&[a, b], false), [1]);
}

#[test]
fn med_elimination_is_per_neighbor_as_not_a_total_order() {
    // a (AS 1, MED 10) loses to b (AS 1, MED 5); c (AS 2, MED 99) stays.
    let mut a = rank(1);
    let mut b = rank(2);
    let mut c = rank(3);
    a.neighbor_as = 1;
    b.neighbor_as = 1;
    c.neighbor_as = 2;
    a.med = 10;
    b.med = 5;
    c.med = 99;
    assert_eq!(pick(&[a, b, c], true), [1, 2]);
}

#[test]
fn ebgp_wins_over_ibgp() {
    let a = rank(2);
    let mut b = rank(1);
    b.ebgp = false;
    assert_eq!(pick(&[a, b], false), [0]);
}

#[test]
fn lowest_router_id_then_lowest_peer_address_break_ties() {
    assert_eq!(pick(&[rank(3), rank(2)], false), [1]);
    let mut a = rank(1);
    let mut b = rank(1);
    a.peer_addr = "192.0.2.9".parse().unwrap();
    b.peer_addr = "192.0.2.8".parse().unwrap();
    assert_eq!(pick(&[a, b], false), [1]);
}

#[test]
fn multipath_keeps_the_paths_equal_through_the_ebgp_step_best_first() {
    let mut worse = rank(0);
    worse.as_path_len = 5;
    let mut ibgp = rank(4);
    ibgp.ebgp = false;
    assert_eq!(pick(&[rank(3), worse, rank(1), ibgp, rank(2)], true), [2, 4, 0]);
}

#[test]
fn multipath_with_only_ibgp_paths_keeps_them_all() {
    let mut a = rank(2);
    let mut b = rank(1);
    a.ebgp = false;
    b.ebgp = false;
    assert_eq!(pick(&[a, b], true), [1, 0]);
}
