//! Where the `guardian` binary under test is.

use std::path::PathBuf;

/// Path of the `guardian` binary: env `GUARDIAN_BIN` when set, else the
/// binary next to this test executable's profile folder
/// (`<target>/<profile>/deps/<test-exe>` -> `<target>/<profile>/guardian`).
/// Panics when it does not exist.
pub fn guardian_bin() -> PathBuf {
    let path = match std::env::var_os("GUARDIAN_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let exe = std::env::current_exe().expect("current_exe");
            let deps = exe.parent().expect("test executable has a parent folder");
            let profile = if deps.file_name().is_some_and(|n| n == "deps") {
                deps.parent().expect("deps has a parent folder")
            } else {
                deps
            };
            profile.join("guardian")
        }
    };
    assert!(
        path.is_file(),
        "guardian binary not found at {}: build it first: cargo xtask test (or cargo build -p guardian)",
        path.display()
    );
    path
}
