//! Network namespace guard and veth helpers.
//!
//! Every test works in namespaces of its own, named `gt-<pid>-<n>` so tests
//! running in parallel (and other test processes) never collide. Dropping a
//! [`Netns`] deletes it, which also removes the veths inside.

use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::cmd::{self, Output, CMD_TIMEOUT};

/// Name of the veth end guardian's routes use in [`Netns::with_link`].
pub const DEV: &str = "va";
/// Its peer, in the same namespace.
pub const PEER: &str = "vb";
/// Address of [`DEV`] and the IPv4 gateway reachable through it.
pub const ADDR4: &str = "192.0.2.1";
pub const GW4: &str = "192.0.2.2";
/// A second on-link IPv4 gateway (for "someone replaced the route" tests).
pub const GW4_OTHER: &str = "192.0.2.3";
/// Address of [`DEV`] and the IPv6 gateway reachable through it.
pub const ADDR6: &str = "2001:db8::1";
pub const GW6: &str = "2001:db8::2";

const PREFIX: &str = "gt-";

#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a fresh namespace with `lo` up.
    // No `Default`: creating a namespace is a side effect, not a default value.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}", std::process::id());
        cmd::run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A namespace with a veth pair [`DEV`]/[`PEER`] up and [`ADDR4`]/24 and
    /// [`ADDR6`]/64 on [`DEV`], so routes via the on-link gateways [`GW4`],
    /// [`GW4_OTHER`], [`GW6`] dev [`DEV`] can be installed. (The gateways are
    /// deliberately not assigned to [`PEER`]: in the same namespace they
    /// would be local addresses, which the kernel refuses as gateways.)
    pub fn with_link() -> Netns {
        let ns = Netns::new();
        ns.veth(DEV, PEER);
        ns.addr_add(DEV, &format!("{ADDR4}/24"));
        ns.addr_add(DEV, &format!("{ADDR6}/64"));
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> <args>`; panics (with stderr) unless it exits 0.
    pub fn ip(&self, args: &[&str]) -> Output {
        cmd::run_ok(&mut self.ip_cmd(args))
    }

    /// `ip -n <ns> <args>`, whatever its exit status.
    pub fn ip_try(&self, args: &[&str]) -> Output {
        cmd::run(&mut self.ip_cmd(args), CMD_TIMEOUT)
    }

    /// A `Command` for `ip -n <ns> <args>` (to spawn it yourself).
    pub fn ip_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name]).args(args);
        c
    }

    /// A `Command` running `program` inside the namespace (`nsenter` execs
    /// it, so the child's pid is the program's pid). It enters the network
    /// namespace only. `nsenter`
    /// rather than `ip netns exec`: the latter also gives the program a mount
    /// namespace with a fresh /sys, which hides tracefs from guardian's
    /// eBPF loader (and from an operator's setup it would not match either).
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.name)).arg("--").arg(program);
        c
    }

    /// A veth pair with both ends in this namespace, both up.
    pub fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", "name", a, "type", "veth", "peer", "name", b]);
        self.ip(&["link", "set", a, "up"]);
        self.ip(&["link", "set", b, "up"]);
    }

    /// A veth pair from `a` in this namespace to `b` in `other`, both up.
    pub fn veth_to(&self, a: &str, other: &Netns, b: &str) {
        self.ip(&["link", "add", "name", a, "type", "veth", "peer", "name", b, "netns", &other.name]);
        self.ip(&["link", "set", a, "up"]);
        other.ip(&["link", "set", b, "up"]);
    }

    /// Adds an address (IPv6 ones with `nodad`, usable at once).
    pub fn addr_add(&self, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["-6", "addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev]);
        }
    }

    pub fn link_set(&self, dev: &str, state: &str) {
        self.ip(&["link", "set", dev, state]);
    }

    /// Runs `f` on a new thread that has joined this namespace (setns), and
    /// returns its result. Sockets created by `f` belong to the namespace and
    /// keep belonging to it after they are returned to the caller.
    pub fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        std::thread::spawn(move || {
            // SAFETY: setns on a valid fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = Command::new("ip").args(["netns", "del", &self.name]).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!("warning: ip netns del {}: {}", self.name, String::from_utf8_lossy(&o.stderr)),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}

/// Deletes namespaces `gt-<pid>-*` left behind by test processes that no
/// longer exist (e.g. killed with SIGKILL, so no Drop ran).
pub fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) =
            name.strip_prefix(PREFIX).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive =
            unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}
