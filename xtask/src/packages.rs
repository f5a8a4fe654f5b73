//! The Debian packages the tests need (`.ci/test-packages`, shared with
//! `.ci/run`): `cargo xtask test` installs the missing ones when it runs as
//! root, and says loudly what is missing when it does not.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The list, relative to the workspace root.
const LIST: &str = ".ci/test-packages";

/// One line of the list: a package and what shows it is installed.
#[derive(Debug, PartialEq, Eq)]
struct Need {
    probe: String,
    package: String,
}

fn parse(text: &str) -> Vec<Need> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some(Need { probe: words.next()?.to_owned(), package: words.next()?.to_owned() })
        })
        .collect()
}

fn present(probe: &str) -> bool {
    if probe.starts_with('/') {
        return Path::new(probe).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(probe).is_file()))
        .unwrap_or(false)
        // sbin is not on every user's PATH.
        || ["/usr/sbin", "/sbin"].iter().any(|d| Path::new(d).join(probe).is_file())
}

fn list_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(LIST)
}

/// The packages of the list that are missing here, each once.
fn missing() -> Result<Vec<String>> {
    let path = list_path();
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut missing: Vec<String> = Vec::new();
    for need in parse(&text) {
        if !present(&need.probe) && !missing.contains(&need.package) {
            missing.push(need.package);
        }
    }
    Ok(missing)
}

/// Installs what the tests need with apt-get (root), or prints what is
/// missing (the tests that need it then skip, or fail under CI).
pub fn ensure() -> Result<()> {
    let missing = missing()?;
    if missing.is_empty() {
        println!("==> test prerequisites ({LIST}): all present");
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!(
            "==> test prerequisites ({LIST}): MISSING {}; not root, so not installing them: \
             the tests that need them will skip (run as root to install them)",
            missing.join(" ")
        );
        return Ok(());
    }
    println!("==> test prerequisites ({LIST}): installing {}", missing.join(" "));
    let apt = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .context("running apt-get (the test prerequisites are Debian packages)")?;
        if !status.success() {
            bail!("apt-get {} failed ({status}): install {} by hand", args.join(" "), missing.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing.iter().map(String::as_str));
    apt(&install)
}

#[cfg(test)]
mod tests;
