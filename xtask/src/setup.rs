//! `cargo xtask setup`: what `cargo xtask build-ebpf` needs on a fresh
//! machine: the nightly toolchain with `rust-src`, and bpf-linker built
//! against the nightly's own libLLVM (so both speak the same bitcode).
//!
//! bpf-linker's build script links `$LLVM_PREFIX/lib/libLLVM.so` and sets an
//! rpath to that folder; the nightly ships only the versioned
//! `libLLVM.so.NN.N-rust-...`, so a folder of symlinks
//! (`$CARGO_HOME/guardian-llvm/nightly/lib`) stands in for an LLVM install.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::ebpf::TOOLCHAIN;

pub const BPF_LINKER_VERSION: &str = "0.13.0";

/// Runs `cmd`, echoing it, and fails when it does.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(())
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo"))
}

pub fn run_setup() -> Result<()> {
    run(Command::new("rustup").args(["toolchain", "install", TOOLCHAIN, "--profile", "minimal"]))?;
    run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", TOOLCHAIN]))?;

    let out = Command::new("rustup").args(["run", TOOLCHAIN, "rustc", "--print", "sysroot"]).output()?;
    let lib = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("lib");
    let versioned = std::fs::read_dir(&lib)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("libLLVM.so."))
        .with_context(|| format!("no libLLVM.so.* in {}", lib.display()))?;
    // libLLVM.so.22.1-rust-1.97.0-nightly -> 22
    let major: u32 = versioned["libLLVM.so.".len()..]
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .with_context(|| format!("cannot read the LLVM version from {versioned}"))?;

    let prefix = cargo_home().join("guardian-llvm").join(TOOLCHAIN);
    let prefix_lib = prefix.join("lib");
    std::fs::create_dir_all(&prefix_lib)?;
    for link in ["libLLVM.so".to_owned(), versioned.clone()] {
        let path = prefix_lib.join(&link);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(lib.join(&versioned), &path)
            .with_context(|| format!("linking {}", path.display()))?;
    }

    // bpf-linker must link the LLVM of this very toolchain: a stamp beside
    // the prefix records which toolchain the installed one was built for.
    let stamp = prefix.join("bpf-linker.stamp");
    let built_for_this = std::fs::read_to_string(&stamp).map(|s| s.trim() == versioned).unwrap_or(false);
    let installed = built_for_this
        && Command::new("bpf-linker")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION))
            .unwrap_or(false);
    if installed && std::env::var_os("GUARDIAN_REINSTALL_BPF_LINKER").is_none() {
        println!("bpf-linker {BPF_LINKER_VERSION} is installed (GUARDIAN_REINSTALL_BPF_LINKER=1 rebuilds it)");
    } else {
        let feature = format!("llvm-{major}");
        run(Command::new("cargo")
            .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--locked", "--force"])
            .args(["--no-default-features", "--features", &feature])
            .env("LLVM_PREFIX", &prefix)
            .env_remove("RUSTUP_TOOLCHAIN"))?;
        std::fs::write(&stamp, &versioned).with_context(|| format!("writing {}", stamp.display()))?;
    }
    println!("ready: `cargo xtask build-ebpf` builds {}", crate::ebpf::OBJECT);
    Ok(())
}
