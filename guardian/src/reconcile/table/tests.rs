use super::*;
use crate::route::{Addr, MAIN_TABLE};

fn spec(n: u32) -> RouteSpec {
    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
    RouteSpec {
        key: RouteKey {
            family: Family::V4,
            table: MAIN_TABLE,
            dst: Addr::from_ip(&ip),
            dst_len: 32,
            tos: 0,
            metric: 0,
        },
        via: None,
        dev: Some(crate::route::DevId::from_index(0)),
        src: None,
    }
}

#[test]
fn find_insert_remove_keep_the_index_consistent() {
    let mut t = RouteTable::new(DevNames::default(), 0);
    for n in 0..100 {
        t.insert(spec(n), SourceId(0), false);
    }
    assert_eq!(t.len(), 100);
    for n in (0..100).step_by(3) {
        assert!(t.remove(&spec(n).key).is_some());
    }
    for n in 0..100 {
        let found = t.find(&spec(n).key);
        if n % 3 == 0 {
            assert!(found.is_none(), "{n} was removed");
        } else {
            assert_eq!(t.slot(found.expect("still there")).spec, spec(n));
        }
    }
    assert!(t.remove(&spec(0).key).is_none());
}

#[test]
fn counts_follow_state_changes_and_removal() {
    let mut t = RouteTable::new(DevNames::default(), 4);
    let a = t.insert(spec(1), SourceId(0), false);
    let b = t.insert(spec(2), SourceId(0), false);
    assert_eq!(t.counts().pending, 2);
    t.set_state(a, State::Installed);
    t.set_state(b, State::Failed);
    let c = t.counts();
    assert_eq!((c.pending, c.installed, c.failed, c.installed_v4), (0, 1, 1, 1));
    t.remove(&spec(1).key);
    let c = t.counts();
    assert_eq!((c.installed, c.failed, c.installed_v4), (0, 1, 0));
}

#[test]
fn sort_orders_by_identity_and_keeps_the_index() {
    let mut t = RouteTable::new(DevNames::default(), 0);
    for n in [5, 1, 4, 2, 3] {
        t.insert(spec(n), SourceId(0), false);
    }
    t.sort();
    let order: Vec<RouteKey> = t.slots().iter().map(|s| s.spec.key).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    for n in 1..=5 {
        let i = t.find(&spec(n).key).unwrap();
        assert_eq!(t.slot(i).spec, spec(n));
        assert_eq!(t.find_after(i, &spec(n).key), Some(i), "the hint is taken when right");
        assert_eq!(t.find_after(0, &spec(n).key), Some(i), "and the index is used when wrong");
    }
    assert_eq!(t.find_after(99, &spec(9).key), None);
}

#[test]
fn a_slot_set_holds_members_across_words_and_grows_on_insert() {
    let mut set = SlotSet::with_len(10);
    for i in [0, 63, 64, 200] {
        set.insert(i);
    }
    assert!([0, 63, 64, 200].iter().all(|&i| set.contains(i)));
    assert!(!set.contains(1) && !set.contains(65) && !set.contains(10_000));
    set.remove(63);
    set.remove(10_000); // past the end: nothing to do
    assert!(!set.contains(63) && set.contains(64));
}

/// The slots in state Installed, read back through `unsettled`.
fn installed(t: &RouteTable) -> Vec<usize> {
    let everything = SlotSet { words: vec![u64::MAX; t.len().div_ceil(64)] };
    let not_installed = t.unsettled(&everything);
    (0..t.len()).filter(|i| !not_installed.contains(i)).collect()
}

#[test]
fn unsettled_is_every_slot_not_both_installed_and_present() {
    let mut t = RouteTable::new(DevNames::default(), 0);
    for n in 0..130 {
        t.insert(spec(n), SourceId(0), false);
    }
    for i in [1, 64, 65, 129] {
        t.set_state(i, State::Installed);
    }
    let mut present = SlotSet::with_len(130);
    for i in [0, 1, 64, 129] {
        present.insert(i);
    }
    let expected: Vec<usize> = (0..130).filter(|i| ![1, 64, 129].contains(i)).collect();
    assert_eq!(t.unsettled(&present), expected, "slot 65 is installed but was not seen");
    assert_eq!(t.unsettled(&SlotSet::default()).len(), 130, "none beyond the table's end");
}

#[test]
fn the_installed_set_follows_state_changes_removal_and_sort() {
    let mut t = RouteTable::new(DevNames::default(), 0);
    for n in [5, 1, 4, 2, 3] {
        t.insert(spec(n), SourceId(0), false);
    }
    t.set_state(0, State::Installed); // spec(5)
    t.set_state(4, State::Installed); // spec(3)
    t.set_state(2, State::Installed); // spec(4)
    t.set_state(2, State::Missing);
    assert_eq!(installed(&t), vec![0, 4]);
    t.remove(&spec(1).key); // spec(3), installed, moves from slot 4 into slot 1
    assert_eq!(installed(&t), vec![0, 1]);
    t.sort();
    let in_order: Vec<usize> = (0..t.len()).filter(|&i| t.slot(i).state == State::Installed).collect();
    assert_eq!(installed(&t), in_order);
    assert_eq!(in_order.len(), 2);
}

#[test]
fn slot_stays_small() {
    assert!(std::mem::size_of::<Slot>() <= 88, "{}", std::mem::size_of::<Slot>());
}
