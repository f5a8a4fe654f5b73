//! Records the git revision guardian is built from, for `guardian --version`
//! and the `guardian_build_info` metric (`GUARDIAN_GIT_REVISION`).
//!
//! This script only asks git: it never builds the eBPF object (that is
//! `cargo xtask build-ebpf`, on the nightly toolchain); the daemon embeds
//! the committed object and builds on stable alone. Outside a git checkout
//! (a source tarball, a vendored crate) the revision is "unknown", unless
//! the builder sets `GUARDIAN_GIT_REVISION` itself.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GUARDIAN_GIT_REVISION");
    let revision = match std::env::var("GUARDIAN_GIT_REVISION") {
        Ok(r) if !r.is_empty() => r,
        _ => {
            // Build again when HEAD moves: HEAD itself (a branch switch or a
            // detached checkout), the branch's ref and packed-refs (a commit).
            let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
            if let Some(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"]) {
                if branch.starts_with("refs/") {
                    watched.push(branch);
                }
            }
            for name in watched {
                if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
                    if Path::new(&path).exists() {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=GUARDIAN_GIT_REVISION={revision}");
}
