//! `cargo xtask kernels`: the attribution tests on every kernel of the
//! matrix: Debian 11 (5.10), 12 (6.1) and 13 (6.12) booted from Debian's
//! own packages with QEMU (TCG: nested KVM fails here) and virtme-ng, and
//! the host's kernel run natively (its image is not on disk to boot).
//!
//! ```text
//! fetch (cached in /var/lib/guardian-kernels) ───┐
//! cargo build: guardian + attribution test bins ─┴─> per row: vng --exec run.sh
//!        (the host's filesystem is the guest's root; results in target/kernels/<row>/)
//!     └─> one table: kernel, variant, passed/failed, what is missing there
//!         -> target/kernels/matrix.md; `--readme` puts it in README.md
//! ```
//!
//! Timings inside TCG mean nothing; correctness does (`cargo xtask bench`
//! measures on the host).

mod fetch;
mod suite;
mod table;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cargo::{self, Profile};
use crate::setup::run as run_cmd;

/// virtme-ng, pinned: the guest's init and the QEMU command line are its.
const VIRTME_NG: &str = "virtme-ng==1.42";
/// A row that takes longer than this has hung.
const ROW_TIMEOUT_SECS: u32 = 900;

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Run only the rows whose name contains this (e.g. `bullseye`, `host`)
    #[arg(long)]
    only: Option<String>,
    /// Also rewrite README.md's kernel table from this run
    #[arg(long)]
    readme: bool,
}

/// One row of the matrix.
struct Row {
    name: &'static str,
    /// Debian suite whose kernel boots; `None` runs on the host.
    suite: Option<&'static str>,
    label: &'static str,
    /// Forced choices (`GUARDIAN_EBPF_FORCE`), where the row proves a
    /// variant the kernel would not get by probing.
    force: Option<&'static str>,
}

const ROWS: &[Row] = &[
    Row { name: "bullseye", suite: Some("bullseye"), label: "Debian 11", force: None },
    // 5.10's own verifier on the packet-path variant with its bounded loop
    // (it probes to fentry otherwise): Ubuntu 22.04's and RHEL 9's path.
    Row {
        name: "bullseye-consume_skb",
        suite: Some("bullseye"),
        label: "Debian 11, consume_skb forced",
        force: Some("hook=consume_skb"),
    },
    Row { name: "bookworm", suite: Some("bookworm"), label: "Debian 12", force: None },
    Row { name: "trixie", suite: Some("trixie"), label: "Debian 13", force: None },
    Row { name: "host", suite: None, label: "this host (native)", force: None },
];

pub fn run(options: &Options) -> Result<ExitCode> {
    let started = Instant::now();
    crate::prereq::check_root_and_ip("kernels")?;
    let rows: Vec<&Row> =
        ROWS.iter().filter(|r| options.only.as_ref().is_none_or(|o| r.name.contains(o.as_str()))).collect();
    if rows.is_empty() {
        bail!("no matrix row matches --only: rows are {}", ROWS.iter().map(|r| r.name).collect::<Vec<_>>().join(", "));
    }
    let vng = if rows.iter().any(|r| r.suite.is_some()) { Some(install_tools()?) } else { None };
    let bins = build()?;
    let out_root = cargo::target_dir()?.join("kernels");
    let mut results = Vec::new();
    for row in rows {
        let out = out_root.join(row.name);
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out)?;
        let script = out.join("run.sh");
        let tests: &[&str] = if row.suite.is_some() { &suite::GUEST_TESTS } else { &[] };
        std::fs::write(&script, suite::script(&bins, &out, row.force, tests))?;
        let row_started = Instant::now();
        match (row.suite, &vng) {
            (Some(suite_name), Some(vng)) => {
                let kernel = fetch::kernel(suite_name)?;
                println!("==> {} ({}): booting {} under QEMU (TCG)", row.name, row.label, kernel.release);
                boot(vng, &kernel, &out, &script)?;
            }
            _ => {
                println!("==> {} ({}): on the host", row.name, row.label);
                Command::new("sh").arg(&script).status().context("running the suite on the host")?;
            }
        }
        let outcome = suite::read(&out);
        println!(
            "    {}: {} passed, {} failed{} in {:.0} s ({})",
            outcome.kernel,
            outcome.passed.len(),
            outcome.failed.len(),
            if outcome.unfinished { ", UNFINISHED" } else { "" },
            row_started.elapsed().as_secs_f64(),
            out.join("log").display(),
        );
        results.push((row.label, row.force, outcome));
    }
    let markdown = table::markdown(&results);
    println!("\n{markdown}");
    let file = out_root.join("matrix.md");
    std::fs::write(&file, &markdown)?;
    println!("written to {}", file.display());
    if options.readme {
        table::update_readme(&cargo::workspace_root().join("README.md"), &markdown)?;
        println!("README.md's kernel table updated");
    }
    println!("kernel matrix took {:.0} s", started.elapsed().as_secs_f64());
    let ok = results.iter().all(|(_, _, o)| !o.unfinished && o.failed.is_empty() && !o.passed.is_empty());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// QEMU, kmod, busybox from Debian; virtme-ng from PyPI into a venv in the
/// cache (pip may not install into Debian's own Python). Returns `vng`.
fn install_tools() -> Result<PathBuf> {
    let mut missing = Vec::new();
    for (tool, package) in
        [("qemu-system-x86_64", "qemu-system-x86"), ("depmod", "kmod"), ("busybox", "busybox-static"), ("dpkg", "dpkg")]
    {
        if !on_path(tool) {
            missing.push(package);
        }
    }
    let venv = Path::new(fetch::CACHE).join("venv");
    if !venv.join("bin").join("python3").exists() && !python_has_venv() {
        missing.push("python3-venv");
    }
    if !missing.is_empty() {
        println!("installing {}", missing.join(" "));
        run_cmd(Command::new("apt-get").args(["update", "-q"]))?;
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdin(Stdio::null()),
        )?;
    }
    let vng = venv.join("bin").join("vng");
    if !vng.exists() {
        std::fs::create_dir_all(fetch::CACHE)?;
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run_cmd(Command::new(venv.join("bin").join("pip")).args(["install", "-q", VIRTME_NG]))?;
    }
    Ok(vng)
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn python_has_venv() -> bool {
    Command::new("python3").args(["-c", "import ensurepip, venv"]).output().is_ok_and(|o| o.status.success())
}

/// guardian (release: under emulation a debug build spends seconds per
/// start parsing the kernel's BTF) and the test executables.
fn build() -> Result<suite::Binaries> {
    let guardian = cargo::build_guardian(Profile::Release)?;
    let out = cargo::cargo()
        .args(["test", "--no-run", "--message-format=json", "-p", "guardian", "--lib"])
        .args(["-p", "guardian-tests", "--test", "attribution", "--test", "attribution_flush"])
        .stderr(Stdio::inherit())
        .output()
        .context("running `cargo test --no-run`")?;
    if !out.status.success() {
        bail!("building the attribution tests failed (see above)");
    }
    let find = |package: &str, target: &str| -> Result<PathBuf> {
        for line in out.stdout.split(|&b| b == b'\n') {
            let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
            let Some(exe) = msg["executable"].as_str() else { continue };
            if msg["target"]["name"] == target && msg["package_id"].as_str().is_some_and(|p| p.contains(package)) {
                return Ok(PathBuf::from(exe));
            }
        }
        bail!("cargo built no test executable {target} of {package}")
    };
    Ok(suite::Binaries {
        lib: find("guardian", "guardian")?,
        attribution: find("tests", "attribution")?,
        flush: find("tests", "attribution_flush")?,
        guardian,
    })
}

/// Boots `kernel` with the host's filesystem as root and runs `script`;
/// `out` is the one folder the guest writes to the host.
fn boot(vng: &Path, kernel: &fetch::Kernel, out: &Path, script: &Path) -> Result<()> {
    let venv_bin = vng.parent().expect("vng lives in a folder");
    let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
    let vng_log = std::fs::File::create(out.join("vng.log"))?;
    let status = Command::new("timeout")
        .arg(ROW_TIMEOUT_SECS.to_string())
        .arg(vng)
        .arg("-r")
        .arg(&kernel.vmlinuz)
        .args(["--disable-kvm", "--cpus", "2", "--memory", "2G"])
        .arg(format!("--rwdir={}", out.display()))
        .arg("--exec")
        .arg(format!("sh {}", script.display()))
        .env("PATH", path)
        .stdin(Stdio::null())
        // QEMU reopens the guest's stdout/stderr through /proc/self/fd with
        // truncation: never hand it ours (a CI log would be cut).
        .stdout(vng_log.try_clone()?)
        .stderr(vng_log)
        .status()
        .context("running virtme-ng (vng)")?;
    if !status.success() && !out.join("done").exists() {
        println!("    vng exited with {status}; see {}", out.join("log").display());
    }
    Ok(())
}
