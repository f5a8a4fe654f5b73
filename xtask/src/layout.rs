//! The test layout of docs/testing.md ("Where tests live"), checked on the
//! repository by a unit test, so CI fails when a change puts tests
//! elsewhere: a module's unit tests are its child module `tests` in a file
//! of its own (`a/b.rs` -> `a/b/tests.rs`, `a/mod.rs` -> `a/tests.rs`, or a
//! `tests/` folder when they outgrow one file), tests that need root its
//! child module `netns_tests`. No inline `mod tests { ... }`, no
//! `*_tests.rs` beside the module.

use std::path::Path;

use anyhow::{Context, Result};

use crate::layers::rust_files;

/// The crates' source folders, from the workspace root.
pub const SOURCES: [&str; 6] =
    ["guardian/src", "guardian-common/src", "guardian-ebpf/src", "xtask/src", "tests/src", "test-support/src"];

/// What breaks the layout in `sources` (folders under `root`), one line
/// each; files in `allowed` may keep inline tests.
pub fn violations(root: &Path, sources: &[&str], allowed: &[&str]) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for src in sources {
        let dir = root.join(src);
        if !dir.is_dir() {
            continue;
        }
        for file in rust_files(&dir)? {
            let shown = file.strip_prefix(root).unwrap_or(&file).to_string_lossy().into_owned();
            let in_src = file.strip_prefix(&dir).expect("under its source folder");
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {shown}"))?;
            if has_inline_tests(&text) && !allowed.contains(&shown.as_str()) {
                found.push(format!("{shown}: inline `mod tests {{ ... }}`: move it to a file of its own"));
            }
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with("_tests.rs") && name != "netns_tests.rs" {
                found.push(format!("{shown}: tests beside a module: make them its child module `tests`"));
            }
            if let Some(module) = test_module(in_src) {
                if !declared(&file, module) {
                    found.push(format!("{shown}: no `#[cfg(test)] mod {module};` in the module it tests"));
                }
            }
        }
    }
    Ok(found)
}

/// Whether `text` has a test module written inline.
fn has_inline_tests(text: &str) -> bool {
    text.lines().map(str::trim_start).any(|l| {
        let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub(super) ")).unwrap_or(l);
        l.starts_with("mod tests {") || l.starts_with("mod netns_tests {")
    })
}

/// `tests` or `netns_tests` when the file at `in_src` (a path inside a
/// source folder) is such a module's own file.
fn test_module(in_src: &Path) -> Option<&'static str> {
    let name = in_src.file_name()?.to_str()?;
    let parent = in_src.parent().and_then(Path::file_name).and_then(|p| p.to_str());
    match (name, parent) {
        ("mod.rs", Some("tests")) => Some("tests"),
        ("tests.rs", _) => Some("tests"),
        ("netns_tests.rs", _) => Some("netns_tests"),
        _ => None,
    }
}

/// Whether the module that owns `file` (a `tests.rs`, `netns_tests.rs` or
/// `tests/mod.rs`) declares `mod <module>;`.
fn declared(file: &Path, module: &str) -> bool {
    let own_dir = if file.ends_with("tests/mod.rs") { file.parent().and_then(Path::parent) } else { file.parent() };
    let Some(dir) = own_dir else { return false };
    let mut owners = vec![dir.join("mod.rs"), dir.join("lib.rs"), dir.join("main.rs")];
    if let (Some(up), Some(stem)) = (dir.parent(), dir.file_name()) {
        owners.push(up.join(format!("{}.rs", stem.to_string_lossy())));
    }
    let declaration = format!("mod {module};");
    owners.iter().filter_map(|o| std::fs::read_to_string(o).ok()).any(|text| {
        text.lines().any(|l| {
            let l = l.trim();
            l == declaration || l.strip_prefix("pub(crate) ").is_some_and(|rest| rest == declaration)
        })
    })
}

#[cfg(test)]
mod tests;
