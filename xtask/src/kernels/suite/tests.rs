#[test]
fn libtest_lines_are_counted_by_result() {
    let out = "running 3 tests\ntest a::b ... ok\ntest c ... FAILED\ntest d ... ignored\n\ntest result: FAILED.";
    let (passed, failed) = super::test_lines(out);
    assert_eq!(passed, ["b"]);
    assert_eq!(failed, ["c"]);
}
