//! Network namespaces and veth pairs.
//!
//! Every namespace is named `gt-<pid>-<n>` (or `gt-<pid>-<n>-<tag>`), so
//! test processes running side by side never collide and a later run can
//! tell the leftovers of a dead process ([`remove_leftovers`]). Dropping a
//! [`Netns`] deletes it, which also removes the veths and routes inside.
//!
//! Inside a namespace: [`Netns::ip`] (`ip -n`), [`Netns::exec`] (a command
//! whose process enters the namespace), [`Netns::run_in`] (a closure on a
//! thread that joined it: the sockets it opens stay in the namespace).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

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

/// Namespaces of this process not dropped yet.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a fresh namespace `gt-<pid>-<n>` with `lo` up.
    // No `Default`: creating a namespace is a side effect, not a default value.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Netns {
        Netns::create(None)
    }

    /// Like [`Netns::new`], named `gt-<pid>-<n>-<tag>` so that `ip netns`
    /// says what it is for (e.g. `demo`, `repair`).
    pub fn tagged(tag: &str) -> Netns {
        Netns::create(Some(tag))
    }

    fn create(tag: Option<&str>) -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = format!("{PREFIX}{}-{n}", std::process::id());
        if let Some(tag) = tag {
            name = format!("{name}-{tag}");
        }
        cmd::run_ok(Command::new("ip").args(["netns", "add", &name]));
        live().push(name.clone());
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A namespace with a veth pair [`DEV`]/[`PEER`] up and [`ADDR4`]/24 and
    /// [`ADDR6`]/64 on [`DEV`], so routes via the on-link gateways [`GW4`],
    /// [`GW4_OTHER`], [`GW6`] dev [`DEV`] can be installed. (The gateways are
    /// deliberately not assigned to [`PEER`]: in the same namespace they
    /// would be local addresses, which the kernel refuses as gateways.)
    /// Nothing answers at the gateways: for tests and benchmarks that only
    /// talk netlink.
    pub fn with_link() -> Netns {
        Netns::with_link_from(Netns::new())
    }

    /// [`Netns::with_link`], named like [`Netns::tagged`].
    pub fn tagged_with_link(tag: &str) -> Netns {
        Netns::with_link_from(Netns::tagged(tag))
    }

    fn with_link_from(ns: Netns) -> Netns {
        ns.veth(DEV, PEER);
        ns.addr_add(DEV, &format!("{ADDR4}/24"));
        ns.addr_add(DEV, &format!("{ADDR6}/64"));
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
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

    /// A `Command` running `program` inside the namespace: the child joins
    /// it (setns, the network namespace only) between fork and exec, so its
    /// pid is the program's. Not `ip netns exec`, which also gives the
    /// program a mount namespace with a fresh /sys: that hides tracefs from
    /// guardian's eBPF loader, and no operator runs guardian that way.
    ///
    /// The child also gets SIGKILL when the thread that spawned it exits
    /// (`PR_SET_PDEATHSIG`), so a test binary or `xtask` killed outright
    /// leaves no process behind. Spawn a long-lived process from the thread
    /// that owns its guard (a test's own thread, xtask's main thread).
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let file = self.open();
        let mut c = Command::new(program);
        // SAFETY: only async-signal-safe syscalls between fork and exec; the
        // fd stays open in the closure until the child execs.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
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

    /// The interface index of `dev` inside this namespace; panics when
    /// there is no such interface.
    pub fn ifindex(&self, dev: &str) -> u32 {
        let c = std::ffi::CString::new(dev).expect("an interface name without NUL");
        // SAFETY: c is a valid NUL-terminated string.
        let index = self.run_in(move || unsafe { libc::if_nametoindex(c.as_ptr()) });
        assert_ne!(index, 0, "no interface {dev} in namespace {}", self.name);
        index
    }

    /// Runs `f` on a new thread that has joined this namespace (setns), and
    /// returns its result (a panic in `f` goes on in the caller). Sockets
    /// created by `f` belong to the namespace and keep belonging to it
    /// after they are returned to the caller; so does what
    /// /proc/thread-self/net shows to `f`.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = self.open();
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns on a valid fd; affects only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {}: {}", path.display(), std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    fn open(&self) -> File {
        let path = self.path();
        File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        live().retain(|n| n != &self.name);
        let out = Command::new("ip").args(["netns", "del", &self.name]).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!("warning: ip netns del {}: {}", self.name, String::from_utf8_lossy(&o.stderr)),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}

/// Two namespaces joined by one veth pair, both ends up, with the same
/// addresses as [`Netns::with_link`] but this time on two hosts: `a_dev`
/// in `a` holds [`ADDR4`]/24 and [`ADDR6`]/64, `b_dev` in `b` holds
/// [`GW4`]/24 and [`GW6`]/64, so packets really flow (liveness sessions,
/// a demo's next hop).
///
/// ```text
///   a: a_dev 192.0.2.1/24 2001:db8::1/64  <-veth->  b: b_dev 192.0.2.2/24 2001:db8::2/64
/// ```
#[derive(Debug)]
pub struct VethPair {
    pub a: Netns,
    pub b: Netns,
}

impl VethPair {
    pub fn new(a_dev: &str, b_dev: &str) -> VethPair {
        VethPair::build(Netns::new(), a_dev, Netns::new(), b_dev)
    }

    /// [`VethPair::new`] with namespaces named like [`Netns::tagged`]
    /// (`<tag>-a`, `<tag>-b`).
    pub fn tagged(tag: &str, a_dev: &str, b_dev: &str) -> VethPair {
        VethPair::build(Netns::tagged(&format!("{tag}-a")), a_dev, Netns::tagged(&format!("{tag}-b")), b_dev)
    }

    fn build(a: Netns, a_dev: &str, b: Netns, b_dev: &str) -> VethPair {
        a.veth_to(a_dev, &b, b_dev);
        for (ns, dev, v4, v6) in [(&a, a_dev, ADDR4, ADDR6), (&b, b_dev, GW4, GW6)] {
            ns.addr_add(dev, &format!("{v4}/24"));
            ns.addr_add(dev, &format!("{v6}/64"));
        }
        VethPair { a, b }
    }
}

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    // A panic while holding the lock must not stop the cleanup.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Deletes every namespace of this process not dropped yet.
pub(crate) fn remove_all() {
    for name in std::mem::take(&mut *live()) {
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
    }
}

/// Deletes namespaces `gt-<pid>-*` left behind by processes that no longer
/// exist (e.g. killed with SIGKILL, so no Drop ran).
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
