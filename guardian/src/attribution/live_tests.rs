//! The port id resolver against the real kernel: netlink sockets of this
//! process, and `ip monitor route` in a network namespace of its own.

use super::portid::{PortIdResolver, PortOwner};
use guardian_test_support::netns::Netns;
use guardian_test_support::require_netns;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A NETLINK_ROUTE socket bound to `port_id`; `None` when the port id is
/// taken in this network namespace.
fn route_socket(port_id: u32) -> Option<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd was just created and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_pid = port_id;
    let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_nl of `len` bytes.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) };
    (rc == 0).then_some(fd)
}

/// A socket bound the libnl way, `pid | n << 22`, with an `n` no other
/// test in this process uses.
fn libnl_socket() -> (u32, OwnedFd) {
    static N: AtomicU32 = AtomicU32::new(100);
    loop {
        let n = N.fetch_add(1, Ordering::Relaxed);
        assert!(n < 512, "no free libnl-style port id");
        let port_id = std::process::id() | (n << 22);
        if let Some(fd) = route_socket(port_id) {
            return (port_id, fd);
        }
    }
}

#[test]
fn an_open_libnl_socket_names_this_process_exactly_and_a_closed_one_by_guess() {
    let me = std::process::id();
    let (port_id, socket) = libnl_socket();
    match PortIdResolver::default().resolve(port_id).unwrap() {
        PortOwner::Resolved { process, exact: true } => assert_eq!(process.tgid, me),
        other => panic!("port id {port_id:#x}: {other:?}"),
    }
    drop(socket);
    // Another test of this binary may fork (to run `ip`) just then: until
    // that child execs, it holds a copy of every fd, CLOEXEC ones too, so
    // the socket can outlive our drop by a moment. Wait for it to go.
    let deadline = Instant::now() + Duration::from_secs(5);
    let closed = loop {
        match PortIdResolver::default().resolve(port_id).unwrap() {
            PortOwner::Resolved { exact: true, process } if process.tgid != me && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match closed {
        PortOwner::Resolved { process, exact: false } => assert_eq!(process.tgid, me),
        other => panic!("closed port id {port_id:#x}: {other:?}"),
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The port ids of the namespace's rtnetlink sockets other than the kernel's.
fn route_port_ids() -> Vec<u32> {
    let table = std::fs::read_to_string("/proc/thread-self/net/netlink").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.get(1) == Some(&"0")).then(|| cols.get(2)?.parse().ok()).flatten()
        })
        .filter(|&p| p != 0)
        .collect()
}

#[test]
fn ip_monitor_in_a_namespace_is_resolved_from_its_port_id_then_exited() {
    require_netns!();
    let ns = Netns::new();
    let child = ns
        .exec("ip")
        .args(["monitor", "route"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn ip monitor");
    let mut child = Killed(child);
    let pid = child.0.id();
    // The child joins the namespace and execs `ip`, so the monitor has this
    // pid, and the kernel binds a process's first netlink socket to its pid.
    let port_ids = ns.run_in(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ids = route_port_ids();
            if ids.contains(&pid) {
                break ids;
            }
            assert!(Instant::now() < deadline, "no socket with port id {pid} (ip monitor's pid); found {ids:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    // `ip monitor` opens a second socket, which the kernel binds to a
    // random negative port id: found through its inode alone.
    for &port_id in &port_ids {
        match ns.run_in(|| PortIdResolver::default().resolve(port_id).unwrap()) {
            PortOwner::Resolved { process, exact } => {
                assert!(exact, "port id {port_id}: found through the socket, not by guess: {process:?}");
                assert_eq!((process.pid, process.tgid, process.comm.as_str()), (pid, pid, "ip"));
                assert_eq!(process.cmdline.as_deref(), Some("ip monitor route"));
                assert_eq!(process.ptgid, std::process::id());
            }
            other => panic!("port id {port_id} of ip monitor (pid {pid}) not resolved: {other:?}"),
        }
    }

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    for &port_id in &port_ids {
        assert_eq!(ns.run_in(|| PortIdResolver::default().resolve(port_id).unwrap()), PortOwner::Exited);
    }
}
