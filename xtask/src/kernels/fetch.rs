//! Debian's kernel packages, fetched once into a cache outside the clone
//! (`/var/lib/guardian-kernels`), so a fresh clone on the same machine
//! boots them without the network. Not under /var/cache: virtme-ng mounts
//! a tmpfs there in the guest, which must read the modules (`veth`).
//!
//! ```text
//! <cache>/apt/<suite>/   a private apt state (sources.list, lists): the
//!                        system's sources are never touched
//! <cache>/<suite>.version  the kernel release fetched for the suite
//! <cache>/kernels/<release>/  `dpkg -x` of linux-image-<release>-unsigned
//! /lib/modules/<release> -> its modules (virtme-ng and modprobe look there)
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::setup::run as run_cmd;

/// Where downloads and the virtme-ng venv live.
pub const CACHE: &str = "/var/lib/guardian-kernels";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const MIRROR: &str = "http://deb.debian.org/debian";

/// A kernel ready to boot.
pub struct Kernel {
    pub release: String,
    pub vmlinuz: PathBuf,
}

/// The kernel of `suite`'s `linux-image-amd64`, fetched on first use.
pub fn kernel(suite: &str) -> Result<Kernel> {
    let cache = Path::new(CACHE);
    let marker = cache.join(format!("{suite}.version"));
    let release = match std::fs::read_to_string(&marker) {
        Ok(release) if extracted(&release).is_some() => release.trim().to_owned(),
        _ => {
            let release = download(suite)?;
            std::fs::write(&marker, &release).with_context(|| format!("writing {}", marker.display()))?;
            release
        }
    };
    let root = extracted(&release).with_context(|| format!("kernel {release} is not in {CACHE}/kernels"))?;
    link_modules(&root, &release)?;
    Ok(Kernel { vmlinuz: root.join("boot").join(format!("vmlinuz-{release}")), release })
}

/// The extracted package of `release`, when its image is there.
fn extracted(release: &str) -> Option<PathBuf> {
    let root = Path::new(CACHE).join("kernels").join(release.trim());
    root.join("boot").join(format!("vmlinuz-{}", release.trim())).is_file().then_some(root)
}

fn apt_options(state: &Path) -> Vec<String> {
    vec![
        "-q".into(),
        format!("-o=Dir::Etc::SourceList={}", state.join("sources.list").display()),
        "-o=Dir::Etc::SourceParts=-".into(),
        format!("-o=Dir::State::Lists={}", state.join("lists").display()),
        format!("-o=Dir::Cache={}", state.join("cache").display()),
        "-o=APT::Get::List-Cleanup=0".into(),
        // Downloads land in a root-owned cache folder.
        "-o=APT::Sandbox::User=root".into(),
    ]
}

/// Resolves the suite's current kernel, downloads its `-unsigned` image
/// package and extracts it. Returns the release (`5.10.0-32-amd64`).
fn download(suite: &str) -> Result<String> {
    let state = Path::new(CACHE).join("apt").join(suite);
    std::fs::create_dir_all(state.join("lists").join("partial"))?;
    std::fs::create_dir_all(state.join("cache").join("archives").join("partial"))?;
    std::fs::write(state.join("sources.list"), format!("deb [signed-by={KEYRING}] {MIRROR} {suite} main\n"))?;
    let opts = apt_options(&state);
    run_cmd(Command::new("apt-get").args(&opts).arg("update"))?;
    let show = Command::new("apt-cache").args(&opts).args(["show", "linux-image-amd64"]).output()?;
    let text = String::from_utf8_lossy(&show.stdout);
    // Depends: linux-image-5.10.0-32-amd64 (= 5.10.223-1)
    let release = text
        .lines()
        .filter_map(|l| l.strip_prefix("Depends: linux-image-"))
        .filter_map(|rest| rest.split_whitespace().next())
        .max_by(|a, b| version_key(a).cmp(&version_key(b)))
        .with_context(|| format!("{suite} has no linux-image-amd64 to follow"))?
        .to_owned();
    let debs = Path::new(CACHE).join("debs");
    std::fs::create_dir_all(&debs)?;
    run_cmd(
        Command::new("apt-get")
            .args(&opts)
            .args(["download", &format!("linux-image-{release}-unsigned")])
            .current_dir(&debs),
    )?;
    let deb = std::fs::read_dir(&debs)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("linux-image-{release}-unsigned_")))
        })
        .with_context(|| format!("apt-get download left no package for {release}"))?;
    let root = Path::new(CACHE).join("kernels").join(&release);
    std::fs::create_dir_all(&root)?;
    run_cmd(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    // The image is all that is kept of the package.
    let _ = std::fs::remove_file(&deb);
    Ok(release)
}

/// `5.10.0-32-amd64` -> [5, 10, 0, 32]: numeric order for picking the newest.
fn version_key(release: &str) -> Vec<u64> {
    release.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect()
}

/// Links `/lib/modules/<release>` to the extracted modules and indexes them
/// (`dpkg -x` runs no `depmod`), so `modprobe veth` works in the guest.
fn link_modules(root: &Path, release: &str) -> Result<()> {
    let modules = ["lib", "usr/lib"]
        .iter()
        .map(|d| root.join(d).join("modules").join(release))
        .find(|p| p.is_dir())
        .with_context(|| format!("no modules for {release} under {}", root.display()))?;
    let link = Path::new("/lib/modules").join(release);
    std::fs::create_dir_all("/lib/modules")?;
    if std::fs::read_link(&link).ok().as_deref() != Some(modules.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&modules, &link).with_context(|| format!("linking {}", link.display()))?;
    }
    if !modules.join("modules.dep").is_file() {
        let status = Command::new("depmod").args(["-a", release]).status().context("running depmod (kmod)")?;
        if !status.success() {
            bail!("depmod -a {release} failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
