use super::*;

fn v4(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap();
    Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

#[test]
fn keys_give_back_the_prefix_they_were_made_from() {
    for p in [v4("10.1.2.0/24"), v4("0.0.0.0/0"), v4("255.255.255.255/32"), v4("2001:db8::/32"), v4("::/0")] {
        let back = match p.family {
            Family::V4 => V4Key::of(&p).prefix(),
            Family::V6 => V6Key::of(&p).prefix(),
        };
        assert_eq!(back, p);
    }
}

#[test]
fn a_prefix_entry_costs_sixteen_bytes_in_the_v4_table() {
    // Key and entry are what a hash table slot holds per prefix; with the
    // control byte and the load factor this is ~19-36 bytes a prefix.
    assert_eq!(std::mem::size_of::<(V4Key, Entry)>(), 16);
    assert!(std::mem::size_of::<(V6Key, Entry)>() <= 32);
}

// Paths are ids here; "neighbor" is the id divided by ten.
fn nb(a: AttrId) -> NeighborId {
    NeighborId(a.0 / 10)
}

fn none(_: Paths) -> Option<Want> {
    None
}

fn ids(t: &Table<V4Key>, p: &Prefix) -> Vec<u32> {
    let mut v: Vec<u32> = t.paths(p).iter().map(|a| a.0).collect();
    v.sort();
    v
}

#[test]
fn one_path_per_neighbor_replaced_in_place_and_others_kept_in_the_side_list() {
    let mut t = Table::<V4Key>::default();
    let p = v4("10.0.0.0/8");
    assert_eq!(t.upsert(&p, AttrId(10), nb, none), Upsert::Added);
    assert_eq!(t.upsert(&p, AttrId(20), nb, none), Upsert::Added);
    assert_eq!(t.upsert(&p, AttrId(30), nb, none), Upsert::Added);
    assert_eq!(t.upsert(&p, AttrId(21), nb, none), Upsert::Replaced(AttrId(20)));
    assert_eq!(t.upsert(&p, AttrId(21), nb, none), Upsert::Unchanged);
    assert_eq!(ids(&t, &p), [10, 21, 30]);
    assert_eq!(t.remove(&p, |a| nb(a) == NeighborId(1), none), [AttrId(10)]);
    assert_eq!(ids(&t, &p), [21, 30]);
    t.remove(&p, |a| nb(a) == NeighborId(3), none);
    assert_eq!(ids(&t, &p), [21]);
    assert!(t.paths(&p).single().is_some());
    assert_eq!(t.free_lists.len(), 1, "the side list is given back once one path is left");
}

#[test]
fn a_prefix_emptied_and_refilled_in_one_batch_is_pending_once() {
    let mut t = Table::<V4Key>::default();
    let p = v4("10.0.0.0/8");
    t.upsert(&p, AttrId(10), nb, none);
    t.remove(&p, |_| true, none);
    t.upsert(&p, AttrId(11), nb, none);
    assert_eq!(t.pending.keys.len(), 1);
    t.take(none, |_, _, _| {});
    assert_eq!(t.len(), 1);
    t.remove(&p, |_| true, none);
    t.take(none, |_, _, _| {});
    assert_eq!(t.len(), 0, "an emptied prefix is forgotten once taken");
}
