#[test]
fn newer_releases_sort_after_older_ones() {
    assert!(super::version_key("6.12.117+deb13-amd64") > super::version_key("6.12.107+deb13-amd64"));
    assert!(super::version_key("5.10.0-32-amd64") > super::version_key("5.10.0-30-amd64"));
}
