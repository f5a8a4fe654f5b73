//! What xtask changes outside its own memory is undone on every path:
//! normal end (the owners' `Drop`), error paths (`run_all` at the end of
//! `main`) and Ctrl-C / SIGTERM (the signal handler). Namespaces and
//! temporary folders are guardian-test-support's guards, which keep their
//! own list ([`guardian_test_support::remove_all`]); the processes xtask
//! starts in them die with it (`Netns::exec` sets PR_SET_PDEATHSIG). What
//! is left is sysctls, and the Debian package `cargo xtask deb --test`
//! installs. Undoing twice is harmless.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Files under /proc/sys changed for a while, with the text to write back.
static SYSCTLS: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

fn sysctls() -> std::sync::MutexGuard<'static, Vec<(PathBuf, String)>> {
    // A panic while holding the lock must not stop the cleanup.
    SYSCTLS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes `value` to the sysctl file `path` (e.g. /proc/sys/kernel/bpf_stats_enabled),
/// remembering the value it had the first time, to be written back by
/// `restore_sysctl` or on any exit path.
pub fn set_sysctl(path: &Path, value: &str) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path)?;
    {
        let mut saved = sysctls();
        if !saved.iter().any(|(p, _)| p == path) {
            saved.push((path.to_owned(), old.trim().to_owned()));
        }
    }
    std::fs::write(path, value)
}

/// Writes back the value `path` had before the first `set_sysctl`.
pub fn restore_sysctl(path: &Path) {
    let old = {
        let mut saved = sysctls();
        saved.iter().position(|(p, _)| p == path).map(|i| saved.remove(i).1)
    };
    if let Some(old) = old {
        let _ = std::fs::write(path, old);
    }
}

/// Debian packages installed by `cargo xtask deb --test`, to purge.
static PACKAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn packages() -> std::sync::MutexGuard<'static, Vec<String>> {
    PACKAGES.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn add_package(name: &str) {
    packages().push(name.to_owned());
}

/// Purges a package now (if installed) and forgets it.
pub fn purge_package(name: &str) {
    packages().retain(|p| p != name);
    purge(name);
}

fn purge(name: &str) {
    let _ = Command::new("dpkg").args(["--purge", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Writes back every sysctl, purges the packages, removes every namespace
/// and temporary folder.
pub fn run_all() {
    for (path, old) in std::mem::take(&mut *sysctls()) {
        let _ = std::fs::write(path, old);
    }
    for name in std::mem::take(&mut *packages()) {
        purge(&name);
    }
    guardian_test_support::remove_all();
}

/// Ctrl-C (and SIGTERM): remove everything, then exit 130.
pub fn install_signal_handler() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: removing the namespaces and processes xtask created");
        run_all();
        std::process::exit(130);
    })
}
