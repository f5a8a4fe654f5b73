use super::same_network;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn same_network_compares_the_leading_bits_of_one_family() {
    assert!(same_network(ip("192.0.2.1"), ip("192.0.2.200"), 24));
    assert!(!same_network(ip("192.0.2.1"), ip("192.0.3.1"), 24));
    assert!(same_network(ip("10.1.2.3"), ip("99.9.9.9"), 0), "a /0 holds everything");
    assert!(same_network(ip("2001:db8::1"), ip("2001:db8::ffff"), 64));
    assert!(!same_network(ip("2001:db8::1"), ip("2001:db9::1"), 64));
    assert!(!same_network(ip("192.0.2.1"), ip("::ffff:192.0.2.1"), 24), "families never mix");
}
