//! `cargo xtask build-ebpf` and `cargo xtask check-ebpf`.
//!
//! The eBPF crate builds with the nightly toolchain (`-Z build-std=core` for
//! `bpfel-unknown-none`) and bpf-linker (`cargo xtask setup`); the object is
//! committed at `guardian/ebpf/guardian.bpf.o` and embedded by the daemon,
//! so `cargo build` needs stable Rust only. Paths are remapped so the object
//! does not depend on where the checkout lives.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cargo::workspace_root;

/// Pinned by date: the committed object must be what CI rebuilds, and a
/// moving `nightly` (a newer rustc or LLVM) changes the instructions.
/// `cargo xtask setup` installs it.
pub const TOOLCHAIN: &str = "nightly-2026-10-30";
pub const TARGET: &str = "bpfel-unknown-none";
/// The committed object, relative to the workspace root.
pub const OBJECT: &str = "guardian/ebpf/guardian.bpf.o";

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

/// `rustup run nightly cargo build ...` into `target_dir`; returns the object.
pub fn build_into(target_dir: &Path) -> Result<PathBuf> {
    let root = workspace_root();
    let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| home().join(".cargo"));
    let sysroot = Command::new("rustup")
        .args(["run", TOOLCHAIN, "rustc", "--print", "sysroot"])
        .output()
        .context("running `rustup run nightly rustc --print sysroot` (is rustup installed?)")?;
    if !sysroot.status.success() {
        bail!("the nightly toolchain is missing: run `cargo xtask setup`");
    }
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    let flags = [
        "-Cdebuginfo=2".to_owned(),
        // BTF (with func_info) is what the kernel needs for bpf_loop callbacks.
        "-Clink-arg=--btf".to_owned(),
        format!("--remap-path-prefix={}=/guardian", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={sysroot}=/rustc"),
    ];
    let mut cmd = Command::new("rustup");
    cmd.current_dir(&root)
        .args(["run", TOOLCHAIN, "cargo", "build", "-p", "guardian-ebpf", "--release"])
        .args(["--target", TARGET, "-Z", "build-std=core", "--target-dir"])
        .arg(target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    for var in ["RUSTFLAGS", "RUSTC", "RUSTC_WRAPPER", "RUSTUP_TOOLCHAIN", "CARGO", "CARGO_TARGET_DIR"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().context("running the nightly cargo")?;
    if !status.success() {
        bail!("building guardian-ebpf failed (see above); `cargo xtask setup` installs what it needs");
    }
    Ok(target_dir.join(TARGET).join("release").join("guardian"))
}

pub fn build() -> Result<()> {
    let root = workspace_root();
    let object = build_into(&root.join("target").join("ebpf"))?;
    let dest = root.join(OBJECT);
    std::fs::create_dir_all(dest.parent().expect("has a parent"))?;
    std::fs::copy(&object, &dest).with_context(|| format!("copying {} to {}", object.display(), dest.display()))?;
    println!("wrote {OBJECT} ({} bytes)", std::fs::metadata(&dest)?.len());
    Ok(())
}

/// Rebuilds into a temporary folder and compares what the kernel sees.
pub fn check() -> Result<()> {
    let root = workspace_root();
    let dir = std::env::temp_dir().join(format!("guardian-check-ebpf-{}", std::process::id()));
    let result = (|| {
        let fresh = build_into(&dir)?;
        let committed = std::fs::read(root.join(OBJECT)).with_context(|| format!("reading {OBJECT}"))?;
        let fresh = std::fs::read(&fresh)?;
        let (a, b) = (essence(&committed)?, essence(&fresh)?);
        if a != b {
            let differing: Vec<_> = a
                .iter()
                .chain(b.iter())
                .filter(|(name, _)| a.iter().find(|x| &x.0 == name) != b.iter().find(|x| &x.0 == name))
                .map(|(name, _)| name.clone())
                .collect();
            bail!(
                "{OBJECT} is stale (differs in {}): run `cargo xtask build-ebpf` and commit the object",
                differing.join(", ")
            );
        }
        println!("{OBJECT} is up to date ({} sections compared)", a.len());
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The parts of an eBPF ELF object that matter to the kernel: program
/// sections, maps, read-only data, license, and the relocations of program
/// sections (by symbol name, not index). Debug info and BTF line info are
/// left out: they carry paths and vary with nothing the kernel runs.
pub fn essence(elf: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let get = |at: usize, n: usize| elf.get(at..at + n).context("ELF object is truncated");
    let u16_at = |at| get(at, 2).map(|b| u16::from_le_bytes(b.try_into().unwrap()) as usize);
    let u32_at = |at| get(at, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
    let u64_at = |at| get(at, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize);
    if elf.get(..4) != Some(b"\x7fELF") {
        bail!("not an ELF object");
    }
    let (shoff, shentsize, shnum, shstrndx) = (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?);
    let sh = |i: usize| shoff + i * shentsize;
    let cstr = |at: usize| -> Result<String> {
        let rest = elf.get(at..).context("string past the end")?;
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let shstr = u64_at(sh(shstrndx) + 0x18)?;
    let name_of = |i: usize| -> Result<String> { cstr(shstr + u32_at(sh(i))?) };
    let data_of = |i: usize| -> Result<&[u8]> {
        let (ty, off, size) = (u32_at(sh(i) + 4)?, u64_at(sh(i) + 0x18)?, u64_at(sh(i) + 0x20)?);
        if ty == 8 {
            return Ok(&[]); // SHT_NOBITS
        }
        get(off, size)
    };
    let mut out = Vec::new();
    for i in 0..shnum {
        let name = name_of(i)?;
        let (ty, flags) = (u32_at(sh(i) + 4)?, u64_at(sh(i) + 8)?);
        let exec = flags & 0x4 != 0;
        let kept = exec || name == "maps" || name == "license" || name.starts_with(".rodata") || name == ".data";
        if kept {
            out.push((name.clone(), data_of(i)?.to_vec()));
        }
        if ty == 9 {
            // SHT_REL: keep those of program sections, symbols by name.
            let target = u32_at(sh(i) + 0x2c)?;
            if u64_at(sh(target) + 8)? & 0x4 == 0 {
                continue;
            }
            let symtab = u32_at(sh(i) + 0x28)?;
            let strtab = u64_at(sh(u32_at(sh(symtab) + 0x28)?) + 0x18)?;
            let symoff = u64_at(sh(symtab) + 0x18)?;
            let mut rels = Vec::new();
            for rel in data_of(i)?.chunks_exact(16) {
                let offset = u64::from_le_bytes(rel[..8].try_into().unwrap());
                let info = u64::from_le_bytes(rel[8..].try_into().unwrap());
                let sym = symoff + (info >> 32) as usize * 24;
                let mut sym_name = cstr(strtab + u32_at(sym)?)?;
                if sym_name.is_empty() {
                    sym_name = name_of(u16_at(sym + 6)?)?; // section symbol
                }
                rels.extend_from_slice(format!("{offset}:{}:{sym_name};", info & 0xffff_ffff).as_bytes());
            }
            out.push((name, rels));
        }
    }
    out.sort();
    Ok(out)
}
