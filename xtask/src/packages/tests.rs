use super::*;

#[test]
fn the_shared_list_parses_and_names_what_ci_installed_before() {
    let text = std::fs::read_to_string(list_path()).unwrap();
    let needs = parse(&text);
    for package in ["iproute2", "nftables", "bird2", "procps", "util-linux", "libcap2-bin", "curl", "net-tools"] {
        assert!(needs.iter().any(|n| n.package == package), "{package} is not in the list");
    }
    assert!(needs.iter().all(|n| !n.probe.is_empty() && !n.package.contains('#')), "{needs:?}");
}

#[test]
fn paths_and_commands_are_probed() {
    assert!(present("/"));
    assert!(!present("/no/such/file/anywhere"));
    assert!(present("sh"));
    assert!(!present("no-such-command-guardian"));
}
