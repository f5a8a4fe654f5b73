use super::*;

#[test]
fn there_is_a_page_for_guardian_and_each_subcommand_and_the_main_page_lists_them() {
    let pages = pages();
    let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
    let main = &pages.iter().find(|(name, _)| name == "guardian.1").expect("guardian.1").1;
    let main = String::from_utf8_lossy(main);
    for sub in crate::cli::tests::visible_subcommands() {
        let page = format!("guardian-{sub}.1");
        assert!(names.contains(&page.as_str()), "no {page} among {names:?}");
        // roff escapes the hyphens of `admin-down` (admin\-down).
        assert!(main.contains(&sub.replace('-', "\\-")), "guardian.1 does not list `{sub}`");
    }
    assert!(!names.iter().any(|n| n.contains("ebpf-variant") || *n == "guardian-man.1"), "{names:?}");
    assert!(names.contains(&"guardian-bgp-reset.1"), "nested subcommands have their page: {names:?}");
    assert!(!names.iter().any(|n| n.ends_with("-help.1")), "{names:?}");
    assert!(main.contains(crate::GIT_REVISION), "guardian.1 names the version and revision");
}
