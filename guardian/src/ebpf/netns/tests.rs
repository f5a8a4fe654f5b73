use super::*;

#[test]
fn every_namespace_means_no_filter_whatever_the_identity() {
    for by in [NetnsBy::Inode, NetnsBy::Cookie] {
        // The cookie needs 5.14+: an older test host has only the inode.
        if let Ok((chosen, id)) = choose(Some(by), true) {
            assert_eq!((chosen, id), (by, 0));
        }
    }
    let (_, id) = choose(Some(NetnsBy::Inode), false).unwrap();
    assert_eq!(id, current_netns_inode().unwrap());
}
