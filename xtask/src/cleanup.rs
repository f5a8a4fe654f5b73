//! Everything xtask creates outside its own memory (network namespaces,
//! daemon processes, temporary folders, a Debian package installed for its
//! test) is registered here, so that it is
//! removed on every path: normal end (the owners' `Drop`), error paths
//! (`run_all` at the end of `main`) and Ctrl-C / SIGTERM (the signal
//! handler). Removing twice is harmless: each undo ignores "already gone".

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

#[derive(Default)]
struct Registry {
    netns: Vec<String>,
    pids: Vec<i32>,
    paths: Vec<PathBuf>,
    /// Files under /proc/sys changed for a while, with the text to write back.
    sysctls: Vec<(PathBuf, String)>,
    /// Debian packages installed by `cargo xtask deb --test`, purged.
    packages: Vec<String>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    netns: Vec::new(),
    pids: Vec::new(),
    paths: Vec::new(),
    sysctls: Vec::new(),
    packages: Vec::new(),
});

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    // A panic while holding the lock must not stop the cleanup.
    let mut guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

pub fn add_netns(name: &str) {
    with(|r| r.netns.push(name.to_owned()));
}

pub fn add_pid(pid: i32) {
    with(|r| r.pids.push(pid));
}

pub fn add_path(path: &Path) {
    with(|r| r.paths.push(path.to_owned()));
}

/// Writes `value` to the sysctl file `path` (e.g. /proc/sys/kernel/bpf_stats_enabled),
/// remembering the value it had the first time, to be written back by
/// `restore_sysctl` or on any exit path.
pub fn set_sysctl(path: &Path, value: &str) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path)?;
    with(|r| {
        if !r.sysctls.iter().any(|(p, _)| p == path) {
            r.sysctls.push((path.to_owned(), old.trim().to_owned()));
        }
    });
    std::fs::write(path, value)
}

/// Writes back the value `path` had before the first `set_sysctl`.
pub fn restore_sysctl(path: &Path) {
    let old = with(|r| {
        let i = r.sysctls.iter().position(|(p, _)| p == path)?;
        Some(r.sysctls.remove(i).1)
    });
    if let Some(old) = old {
        let _ = std::fs::write(path, old);
    }
}

/// Deletes a namespace now (kernel routes and interfaces go with it).
pub fn remove_netns(name: &str) {
    with(|r| r.netns.retain(|n| n != name));
    delete_netns(name);
}

pub fn add_package(name: &str) {
    with(|r| r.packages.push(name.to_owned()));
}

/// Purges a package now (if installed) and forgets it.
pub fn purge_package(name: &str) {
    with(|r| r.packages.retain(|p| p != name));
    purge(name);
}

fn purge(name: &str) {
    let _ = Command::new("dpkg").args(["--purge", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

pub fn forget_pid(pid: i32) {
    with(|r| r.pids.retain(|p| *p != pid));
}

pub fn remove_path(path: &Path) {
    with(|r| r.paths.retain(|p| p != path));
    let _ = std::fs::remove_dir_all(path);
}

fn delete_netns(name: &str) {
    let _ = Command::new("ip").args(["netns", "delete", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Kills what is still running and removes what is still there.
pub fn run_all() {
    let (pids, netns, paths, sysctls, packages) = with(|r| {
        (
            std::mem::take(&mut r.pids),
            std::mem::take(&mut r.netns),
            std::mem::take(&mut r.paths),
            std::mem::take(&mut r.sysctls),
            std::mem::take(&mut r.packages),
        )
    });
    for name in packages {
        purge(&name);
    }
    for (path, old) in sysctls {
        let _ = std::fs::write(path, old);
    }
    for pid in pids {
        // SAFETY: plain syscall; the pid is a child we spawned and have not reaped
        // (its owner forgets it before waiting for it), so it cannot be recycled.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for name in netns {
        delete_netns(&name);
    }
    for path in paths {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Ctrl-C (and SIGTERM): remove everything, then exit 130.
pub fn install_signal_handler() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: removing the namespaces and processes xtask created");
        run_all();
        std::process::exit(130);
    })
}
