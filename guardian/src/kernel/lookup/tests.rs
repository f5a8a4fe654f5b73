use super::*;

/// Loopback is in every namespace, so this needs no setup or privilege.
#[tokio::test]
async fn the_path_to_a_loopback_address_is_lo_with_that_source() {
    let mut lookup = RouteLookup::new().expect("netlink socket");
    let path = lookup.path_to("127.0.0.1".parse().unwrap(), None).await.expect("lookup");
    let lo = nix::net::if_::if_nametoindex("lo").expect("lo");
    assert_eq!(path, Path { ifindex: lo, source: Some("127.0.0.1".parse().unwrap()) });
}
