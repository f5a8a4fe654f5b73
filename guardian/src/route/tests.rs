use super::*;

fn spec(dst: &str, len: u8, via: Option<&str>, table: u32) -> RouteSpec {
    let ip: IpAddr = dst.parse().unwrap();
    RouteSpec {
        key: RouteKey {
            family: Family::of(&ip),
            table,
            dst: Addr::from_ip(&ip),
            dst_len: len,
            tos: 0,
            metric: if ip.is_ipv4() { 0 } else { IPV6_DEFAULT_METRIC },
        },
        via: via.map(|v| Gateway::from_ip(&v.parse().unwrap())),
        dev: None,
        src: None,
    }
}

#[test]
fn display_reads_like_ip_route() {
    let mut devs = DevNames::default();
    let mut s = spec("10.9.0.0", 24, Some("192.0.2.2"), 100);
    s.dev = Some(devs.intern("veth0"));
    let text = RouteDisplay { spec: &s, devs: &devs }.to_string();
    assert_eq!(text, "10.9.0.0/24 via 192.0.2.2 dev veth0 table 100");
}

#[test]
fn display_omits_main_table_and_default_ipv6_metric() {
    let devs = DevNames::default();
    let s = spec("2001:db8::", 64, Some("fe80::1"), MAIN_TABLE);
    let text = RouteDisplay { spec: &s, devs: &devs }.to_string();
    assert_eq!(text, "2001:db8::/64 via fe80::1");
}

#[test]
fn interning_returns_the_same_id_for_the_same_name() {
    let mut devs = DevNames::default();
    let a = devs.intern("veth0");
    let b = devs.intern("veth1");
    assert_ne!(a, b);
    assert_eq!(devs.intern("veth0"), a);
    assert_eq!(devs.name(b), "veth1");
}

#[test]
fn route_spec_stays_compact() {
    // The memory target (<= 150 bytes per route at 1M) depends on this.
    assert!(std::mem::size_of::<RouteSpec>() <= 72, "{}", std::mem::size_of::<RouteSpec>());
}
