use super::selects_packages;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn test_result_lines_add_up() {
    let mut t = super::Totals::default();
    t.add("test result: ok. 46 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.05s");
    t.add("test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1s");
    t.add("running 3 tests");
    assert_eq!(t, super::Totals { passed: 49, failed: 2, ignored: 1 });
}

#[test]
fn skip_lines_count_each_test_once_with_its_reason() {
    let mut s = super::Skipped::default();
    s.add("SKIPPED: repair::a: needs root or CAP_NET_ADMIN (run as root)");
    s.add("SKIPPED: repair::a: needs root or CAP_NET_ADMIN (run as root)");
    s.add("SKIPPED: liveness::b: `bird` is not available: No such file");
    s.add("   Compiling guardian");
    s.add("SKIPPED: lone");
    assert_eq!((s.count, s.tests.len()), (3, 3));
    assert_eq!(s.tests["liveness::b"], "`bird` is not available: No such file");
    assert_eq!(s.tests["lone"], "no reason given");
    // Another run of the same test binary (a forced variant) skips again.
    let mut again = super::Skipped::default();
    again.add("SKIPPED: repair::a: needs root or CAP_NET_ADMIN (run as root)");
    s.merge(again);
    assert_eq!((s.count, s.tests.len()), (4, 3));
}

#[test]
fn package_selection_is_seen_before_the_test_binary_arguments_only() {
    assert!(selects_packages(&args(&["-p", "guardian"])));
    assert!(selects_packages(&args(&["--package=guardian"])));
    assert!(!selects_packages(&args(&["--", "-p"])));
    assert!(!selects_packages(&args(&["repair", "--", "--nocapture"])));
}
