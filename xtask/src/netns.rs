//! Throw-away network namespaces (`ip netns add`), removed on drop, on
//! error paths and on Ctrl-C (see `cleanup`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cleanup;

pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `name` with its loopback up. A leftover namespace of the same
    /// name (from a run that was killed) is replaced.
    pub fn create(name: &str) -> Result<Self> {
        cleanup::remove_netns(name);
        cleanup::add_netns(name);
        let ns = Netns { name: name.to_owned() };
        run_ip(&["netns", "add", name]).with_context(|| format!("creating network namespace {name}"))?;
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `ip -n <ns> args...`; returns stdout, fails with ip's own message.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// A command that will run inside this namespace: the child enters it
    /// with setns(2) between fork and exec, and gets SIGKILL if xtask dies
    /// (so spawn it from the main thread: PDEATHSIG follows the spawning thread).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Result<Command> {
        let file = self.open()?;
        let mut cmd = Command::new(program);
        // SAFETY: only async-signal-safe syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    fn open(&self) -> Result<File> {
        File::open(self.path()).with_context(|| format!("opening network namespace {}", self.name))
    }

    /// Runs `f` on a new thread that has entered this namespace; sockets it
    /// opens belong to the namespace for good, whichever thread uses them later.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let file = self.open()?;
        std::thread::scope(|s| {
            s.spawn(move || {
                enter(&file)?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| bail!("a thread inside namespace {} panicked", self.name))
        })
    }

    /// The interface index of `ifname` inside this namespace.
    pub fn ifindex(&self, ifname: &str) -> Result<u32> {
        let c = std::ffi::CString::new(ifname)?;
        // SAFETY: c is a valid NUL-terminated string.
        let index = self.run(move || unsafe { libc::if_nametoindex(c.as_ptr()) })?;
        if index == 0 {
            bail!("no interface {ifname} in namespace {}", self.name);
        }
        Ok(index)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        cleanup::remove_netns(&self.name);
    }
}

fn enter(file: &File) -> Result<()> {
    // SAFETY: plain syscall on a valid fd; affects only the calling thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setns into the network namespace");
    }
    Ok(())
}

/// Runs `ip args...`; returns stdout, or fails with the command and ip's message.
pub fn run_ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip").args(args).output().context("running `ip` (is iproute2 installed?)")?;
    if !out.status.success() {
        bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A unique-per-run namespace name, e.g. `gx-repair-1234`.
pub fn unique_name(tag: &str) -> String {
    format!("gx-{tag}-{}", std::process::id())
}

/// One namespace holding both ends of a veth pair: `veth0` (192.0.2.1/24,
/// 2001:db8::1/64) and `veth1` (up, no address), so that routes via
/// 192.0.2.2 / 2001:db8::2 dev veth0 are valid without a second namespace.
/// No packet is ever sent: the benchmarks only talk netlink.
pub fn bench_namespace(tag: &str) -> Result<Netns> {
    let ns = Netns::create(&unique_name(tag))?;
    ns.ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"])?;
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "veth0"])?;
    ns.ip(&["-6", "addr", "add", "2001:db8::1/64", "dev", "veth0", "nodad"])?;
    ns.ip(&["link", "set", "veth0", "up"])?;
    ns.ip(&["link", "set", "veth1", "up"])?;
    Ok(ns)
}
