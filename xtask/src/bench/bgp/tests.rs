use super::*;

#[test]
fn a_million_announced_prefixes_are_distinct_host_routes() {
    assert_eq!(configs::prefix(0), "10.0.0.0/32");
    assert_eq!(configs::prefix(999_999), "10.15.66.63/32");
}

#[test]
fn the_route_count_is_read_from_birdc() {
    let out = "BIRD 2.0.12 ready.\n1000000 of 1000000 routes for 1000000 networks in table master4\n";
    assert_eq!(configs::route_count(out), Some(1_000_000));
    assert_eq!(configs::route_count("BIRD 2.0.12 ready.\n0 of 0 routes for 0 networks in table master4\n"), Some(0));
    assert_eq!(configs::route_count("BIRD 2.0.12 ready.\n"), None);
    assert_eq!(configs::route_count("Unable to connect to server control socket"), None);
}

#[test]
fn established_is_the_protocol_s_state_change_to_up_in_utc() {
    let line = "2026-12-04 18:17:42.043844 <TRACE> from_s: State changed to up";
    let at = configs::bird_up_at(line, FROM_S).unwrap();
    assert_eq!(at, parse_rfc3339("2026-12-04T18:17:42.043844Z").unwrap());
    assert_eq!(configs::bird_up_at("2026-12-04 18:17:32.721951 <TRACE> from_s: State changed to start", FROM_S), None);
    assert_eq!(configs::bird_up_at("2026-12-04 18:17:32.721951 <TRACE> kernel1: State changed to up", FROM_S), None);
}

#[test]
fn both_sessions_of_the_announcer_wait_to_be_enabled() {
    let s = configs::announcer(Path::new("/b/s.log"), Path::new("/b/routes"), 3);
    assert_eq!(s.matches("  disabled;\n").count(), 2, "{s}");
    assert!(s.contains("\ninclude \"/b/routes\";\n"), "{s}");
    assert!(s.contains(&format!("neighbor {G_ADDR} as {RECEIVER_AS};")), "{s}");
    assert!(s.contains(&format!("neighbor {R_ADDR} as {RECEIVER_AS};")), "{s}");
}

#[test]
fn both_receivers_are_passive_and_install_into_the_same_table() {
    let r = configs::receiver(Path::new("/b/r.log"));
    assert!(r.contains("passive on;") && r.contains(&format!("kernel table {TABLE};")), "{r}");
    let g = configs::guardian();
    assert!(g.contains("passive = true") && g.contains(&format!("table = {TABLE}\n")), "{g}");
    assert!(g.contains(&format!("address = \"{S_TO_G}\"")), "{g}");
}

#[test]
fn the_static_routes_file_has_a_line_per_route() {
    let dir = std::env::temp_dir().join(format!("xtask-bgp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("routes");
    configs::write_static_routes(&path, 3).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(text, "route 10.0.0.0/32 blackhole;\nroute 10.0.0.1/32 blackhole;\nroute 10.0.0.2/32 blackhole;\n");
}

#[test]
fn side_by_side_loads_both_receivers_and_the_other_modes_one() {
    assert!(Mode::SideBySide.loads(GUARDIAN) && Mode::SideBySide.loads(BIRD));
    assert!(Mode::GuardianAlone.loads(GUARDIAN) && !Mode::GuardianAlone.loads(BIRD));
    assert!(!Mode::BirdAlone.loads(GUARDIAN) && Mode::BirdAlone.loads(BIRD));
}
