use super::*;

#[test]
fn the_workspace_follows_the_test_layout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = violations(&root, &SOURCES, &[]).unwrap();
    assert!(found.is_empty(), "tests out of place (docs/testing.md, \"Where tests live\"):\n{}", found.join("\n"));
}

#[test]
fn inline_tests_sibling_test_files_and_undeclared_ones_are_named() {
    let root = std::env::temp_dir().join(format!("xtask-layout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("src/lib.rs", "mod good;\nmod inline;\nmod sibling_tests;\n#[cfg(test)]\nmod tests;\n");
    write("src/tests.rs", "");
    write("src/good.rs", "mod inner;\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod netns_tests;\n");
    write("src/good/tests/mod.rs", "mod topic;\n");
    write("src/good/tests/topic.rs", "");
    write("src/good/netns_tests.rs", "");
    write("src/good/inner.rs", "#[cfg(test)]\nmod tests;\n");
    write("src/good/inner/tests.rs", "");
    write("src/inline.rs", "fn f() {}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n");
    write("src/sibling_tests.rs", "");
    write("src/orphan/tests.rs", "");
    let found = violations(&root, &["src"], &[]).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(
        found,
        [
            "src/inline.rs: inline `mod tests { ... }`: move it to a file of its own",
            "src/orphan/tests.rs: no `#[cfg(test)] mod tests;` in the module it tests",
            "src/sibling_tests.rs: tests beside a module: make them its child module `tests`",
        ]
    );
}
