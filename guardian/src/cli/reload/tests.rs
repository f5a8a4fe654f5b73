use super::*;

#[test]
fn the_summary_counts_what_changed() {
    let r = ReloadReport { config: "/etc/g.toml".into(), added: 1, removed: 2, changed: 0, unchanged: 3, shadowed: 0 };
    assert_eq!(summary(&r), "reloaded /etc/g.toml: 1 route added, 2 removed, 0 changed, 3 unchanged");
}
