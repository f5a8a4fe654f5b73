//! `cargo xtask deb --test`: the package through dpkg on this machine, as an
//! operator would take it: install, upgrade (a bumped version, with a local
//! change to the configuration that must survive), reinstall, remove
//! (the configuration stays), purge (nothing of it stays). Needs root; CI
//! runs it as root. A guardian package already installed here is left
//! alone: the test refuses to start rather than replace it.
//!
//! On a host where systemd runs, the install starts guardian.service (on the
//! sample configuration: no routes) until the test removes it; where it
//! does not (CI, containers), the scripts only enable the unit.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use super::{output, pack, Staged, PACKAGE};
use crate::cleanup;
use guardian_test_support::netns::Netns;

/// What systemd's helpers leave while the package is installed or removed
/// (enablement, its state, the mask), all gone after a purge.
const SYSTEMD_LEFTOVERS: [&str; 4] = [
    "/etc/systemd/system/multi-user.target.wants/guardian.service",
    "/var/lib/systemd/deb-systemd-helper-enabled/guardian.service.dsh-also",
    "/etc/systemd/system/guardian.service",
    "/var/lib/systemd/deb-systemd-helper-masked/guardian.service",
];

const CONFIG: &str = "/etc/guardian/guardian.toml";

pub fn run(staged: &Staged, deb: &Path, out: &Path) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("`cargo xtask deb --test` installs the package with dpkg and so must run as root");
    }
    if let Some(version) = installed_version()? {
        bail!(
            "a {PACKAGE} package ({version}) is installed on this machine; the test installs and purges \
             its own: remove it first (`dpkg --purge {PACKAGE}`), or run the test elsewhere"
        );
    }
    // A version above this one, from the same files, for the upgrade.
    let bumped_version = format!("{}+upgradetest", staged.version);
    let bumped = pack(staged, &bumped_version, &out.join("test"))?;
    // pack() rewrote the staged control file: put this version's back.
    pack(staged, &staged.version, out)?;

    cleanup::add_package(PACKAGE);
    let result = steps(staged, deb, &bumped, &bumped_version);
    cleanup::purge_package(PACKAGE);
    result?;
    ensure!(installed_version()?.is_none(), "{PACKAGE} is still known to dpkg after the test");
    println!("ok: installed, upgraded, reinstalled, removed and purged; nothing left behind");
    Ok(())
}

fn steps(staged: &Staged, deb: &Path, bumped: &Path, bumped_version: &str) -> Result<()> {
    step("install", || {
        dpkg(&["--install"], deb)?;
        check_installed(staged, &staged.version)
    })?;
    step("upgrade, keeping a local change to the configuration", || {
        let local = format!("{}# a local change\n", std::fs::read_to_string(CONFIG)?);
        std::fs::write(CONFIG, &local)?;
        dpkg(&["--install", "--force-confold"], bumped)?;
        check_installed(staged, bumped_version)?;
        ensure!(std::fs::read_to_string(CONFIG)? == local, "the upgrade did not keep the local change to {CONFIG}");
        Ok(())
    })?;
    step("reinstall the same version", || {
        dpkg(&["--install", "--force-confold"], bumped)?;
        check_installed(staged, bumped_version)
    })?;
    step("remove (the configuration stays)", || {
        dpkg_name(&["--remove"])?;
        let status = output(Command::new("dpkg-query").args(["-W", "-f", "${Status}", PACKAGE]))?;
        ensure!(status == "deinstall ok config-files", "after removal dpkg says {status:?}");
        for file in staged.files.iter().filter(|f| !f.starts_with("/etc")) {
            ensure!(!file.exists(), "{} is still there after removal", file.display());
        }
        ensure!(Path::new(CONFIG).exists(), "removal deleted {CONFIG} (only a purge may)");
        Ok(())
    })?;
    step("purge (nothing stays)", || {
        dpkg_name(&["--purge"])?;
        ensure!(installed_version()?.is_none(), "dpkg still knows {PACKAGE} after the purge");
        let mut left: Vec<PathBuf> = staged.files.iter().filter(|f| f.exists()).cloned().collect();
        left.extend(SYSTEMD_LEFTOVERS.iter().map(PathBuf::from).filter(|p| p.exists() || p.is_symlink()));
        left.extend(["/etc/guardian", "/usr/share/doc/guardian"].iter().map(PathBuf::from).filter(|p| p.exists()));
        ensure!(left.is_empty(), "left behind after the purge: {left:?}");
        ensure!(!group_exists()?, "the guardian-ctl group is still there after the purge");
        Ok(())
    })
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("==> {name}");
    f().with_context(|| format!("package test, step `{name}`"))
}

fn dpkg(args: &[&str], deb: &Path) -> Result<()> {
    let out = output(Command::new("dpkg").args(args).arg(deb).env("DEBIAN_FRONTEND", "noninteractive"))?;
    print!("{out}");
    Ok(())
}

fn dpkg_name(args: &[&str]) -> Result<()> {
    print!("{}", output(Command::new("dpkg").args(args).arg(PACKAGE))?);
    Ok(())
}

/// The installed version, if dpkg has the package installed (not merely
/// its configuration).
fn installed_version() -> Result<Option<String>> {
    let out = Command::new("dpkg-query").args(["-W", "-f", "${Status}|${Version}", PACKAGE]).output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(match text.split_once('|') {
        Some((status, version)) if out.status.success() && status != "unknown ok not-installed" => {
            Some(format!("{version} ({status})"))
        }
        _ => None,
    })
}

fn group_exists() -> Result<bool> {
    Ok(Command::new("getent").args(["group", "guardian-ctl"]).output()?.status.success())
}

/// After an install or upgrade: dpkg's status, every file, what the scripts
/// did, and that the installed pieces work together.
fn check_installed(staged: &Staged, version: &str) -> Result<()> {
    let status = output(Command::new("dpkg-query").args(["-W", "-f", "${Status} ${Version}", PACKAGE]))?;
    ensure!(status == format!("install ok installed {version}"), "dpkg says {status:?}");
    for file in &staged.files {
        ensure!(file.is_file(), "{} was not installed", file.display());
    }
    let conffiles = output(Command::new("dpkg-query").args(["-W", "-f", "${Conffiles}", PACKAGE]))?;
    for conffile in [CONFIG, "/etc/iproute2/rt_protos.d/guardian.conf"] {
        ensure!(conffiles.contains(conffile), "{conffile} is not a conffile: {conffiles}");
    }
    ensure!(group_exists()?, "postinst did not create the guardian-ctl group");
    if Path::new("/usr/bin/deb-systemd-helper").exists() {
        let wants = Path::new(SYSTEMD_LEFTOVERS[0]);
        ensure!(wants.is_symlink(), "postinst did not enable guardian.service ({} missing)", wants.display());
    }
    // The unit starts the binary the package installed.
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/guardian.service")?;
    ensure!(unit.contains("ExecStart=/usr/bin/guardian "), "the unit does not start /usr/bin/guardian");

    let guardian = |args: &[&str]| output(Command::new("/usr/bin/guardian").args(args));
    let shown = guardian(&["--version"])?;
    ensure!(shown.starts_with("guardian ") && shown.contains("(git "), "guardian --version: {shown}");
    // The sample configuration is valid and keeps nothing.
    let checked = guardian(&["check-config", CONFIG])?;
    ensure!(checked.contains("valid, 0 routes"), "check-config of the sample: {checked}");
    // The protocol's name, as the file may spell it and as `ip` shows it.
    let named = std::env::temp_dir().join(format!("guardian-deb-test-{}.toml", std::process::id()));
    std::fs::write(&named, "[daemon]\nroute_protocol = \"guardian\"\n")?;
    let checked = guardian(&["check-config", named.to_str().expect("UTF-8 path")]);
    let _ = std::fs::remove_file(&named);
    checked.context("route_protocol = \"guardian\" is refused")?;
    let ns = Netns::tagged("deb");
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ns.ip(&["link", "set", "d0", "up"]);
    ns.ip(&["link", "set", "d1", "up"]);
    ns.ip(&["route", "add", "10.99.0.0/24", "dev", "d0", "proto", "201"]);
    let routes = ns.ip(&["route", "show", "10.99.0.0/24"]).stdout;
    ensure!(routes.contains("proto guardian"), "`ip route` does not name protocol 201 guardian: {routes}");
    drop(ns);
    // The man pages are where man looks, and the completions answer.
    let pages = output(Command::new("dpkg").args(["-L", PACKAGE]))?;
    ensure!(pages.contains("/usr/share/man/man1/guardian.1.gz"), "no guardian.1.gz in the package's files");
    Ok(())
}
