use super::*;

#[test]
fn generated_destinations_are_distinct_host_routes_in_10_slash_8() {
    assert_eq!(nth_destination(0), Ipv4Addr::new(10, 0, 0, 0));
    assert_eq!(nth_destination(257), Ipv4Addr::new(10, 0, 1, 1));
    assert_eq!(nth_destination(999_999), Ipv4Addr::new(10, 15, 66, 63));
}

#[test]
fn generated_config_has_one_route_table_per_route() {
    let dir = std::env::temp_dir().join(format!("xtask-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("routes.toml");
    write_generated(&path, 5, 3).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(text.matches("[[route]]").count(), 3);
    assert!(text.contains("dst = \"10.0.0.5/32\""));
    assert!(text.contains("dst = \"10.0.0.7/32\""));
    assert!(text.contains("interval = \"0s\""));
}
