use super::*;
use crate::attribution::fakeproc::FakeProc;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const LIBNL_SECOND: u32 = 4242 | (1 << 22);
/// Port id -4096, the first the kernel picks when the pid is taken.
const AUTOBOUND: u32 = -4096i32 as u32;

fn resolver(fake: &FakeProc) -> PortIdResolver {
    PortIdResolver::new(Procfs::new(fake.root()))
}

fn resolved(owner: PortOwner) -> (u32, String, bool) {
    match owner {
        PortOwner::Resolved { process, exact } => (process.pid, process.comm, exact),
        other => panic!("not resolved: {other:?}"),
    }
}

#[test]
fn port_id_zero_is_the_kernel() {
    let fake = FakeProc::new();
    assert_eq!(resolver(&fake).resolve(0).unwrap(), PortOwner::Kernel);
}

#[test]
fn an_open_socket_names_its_holder_exactly() {
    let fake = FakeProc::new();
    fake.netlink(&[(0, 0, 4), (0, 4242, 555)]);
    fake.process(4242, 4242, 1, "ip", b"ip\0route\0del\x0010.9.0.0/24\0", "0::/user.slice\n");
    fake.socket_fd(4242, 3, 555);
    assert_eq!(resolved(resolver(&fake).resolve(4242).unwrap()), (4242, "ip".into(), true));
}

#[test]
fn a_socket_the_kernel_bound_elsewhere_is_still_found_by_inode() {
    let fake = FakeProc::new();
    fake.netlink(&[(0, AUTOBOUND, 777)]);
    fake.process(300, 300, 1, "bird", b"bird\0", "0::/\n");
    fake.socket_fd(300, 9, 777);
    assert_eq!(resolved(resolver(&fake).resolve(AUTOBOUND).unwrap()), (300, "bird".into(), true));
}

#[test]
fn the_creator_is_preferred_when_a_child_shares_the_socket() {
    let fake = FakeProc::new();
    fake.netlink(&[(0, 4242, 555)]);
    for (pid, comm) in [(4242, "parent"), (1, "child0"), (9999, "child1"), (50, "child2")] {
        fake.process(pid, pid, 4242, comm, b"x\0", "0::/\n");
        fake.socket_fd(pid, 3, 555);
    }
    assert_eq!(resolved(resolver(&fake).resolve(4242).unwrap()), (4242, "parent".into(), true));
}

#[test]
fn only_route_sockets_count() {
    let fake = FakeProc::new();
    fake.netlink(&[(16, 4242, 555)]); // NETLINK_GENERIC
    fake.process(300, 300, 1, "other", b"other\0", "0::/\n");
    fake.socket_fd(300, 3, 555);
    assert_eq!(resolver(&fake).resolve(4242).unwrap(), PortOwner::Exited);
}

#[test]
fn a_closed_libnl_socket_falls_back_to_the_pid_in_the_low_bits() {
    let fake = FakeProc::new();
    fake.netlink(&[]);
    fake.process(4242, 4242, 1, "NetworkManager", b"/usr/sbin/NetworkManager\0--no-daemon\0", "0::/\n");
    assert_eq!(resolved(resolver(&fake).resolve(LIBNL_SECOND).unwrap()), (4242, "NetworkManager".into(), false));
}

#[test]
fn a_closed_socket_whose_pid_is_gone_is_exited_not_guessed() {
    let fake = FakeProc::new();
    fake.netlink(&[(0, 0, 4)]);
    fake.process(4243, 4243, 1, "neighbour", b"x\0", "0::/\n");
    assert_eq!(resolver(&fake).resolve(4242).unwrap(), PortOwner::Exited);
    assert_eq!(resolver(&fake).resolve(LIBNL_SECOND).unwrap(), PortOwner::Exited);
}

#[test]
fn an_open_socket_without_a_visible_holder_falls_back_to_the_pid_or_is_hidden() {
    let fake = FakeProc::new();
    fake.netlink(&[(0, 4242, 555), (0, AUTOBOUND, 556)]);
    // 4242's fd/ shows no link, as when it belongs to another user.
    fake.process(4242, 4242, 1, "ip", b"ip\0", "0::/\n");
    assert_eq!(resolved(resolver(&fake).resolve(4242).unwrap()), (4242, "ip".into(), false));
    assert_eq!(resolver(&fake).resolve(AUTOBOUND).unwrap(), PortOwner::Hidden);
}

#[test]
fn a_guess_must_be_a_process_leader_of_our_pid_namespace() {
    let fake = FakeProc::new();
    fake.netlink(&[]);
    fake.process(4242, 4000, 1, "worker", b"x\0", "0::/\n"); // a thread
    assert_eq!(resolver(&fake).resolve(4242).unwrap(), PortOwner::Exited);
    fake.process(4343, 4343, 1, "inner", b"x\0", "0::/\n");
    fake.write("4343/status", FakeProc::status(4343, 4343, 1).replace("NStgid:\t4343", "NStgid:\t4343\t7"));
    assert_eq!(resolver(&fake).resolve(4343).unwrap(), PortOwner::Exited);
}

#[test]
fn a_kernel_chosen_port_id_is_no_pid() {
    assert_eq!(pid_guess(AUTOBOUND), None);
    assert_eq!(pid_guess(LIBNL_SECOND), Some(4242));
    assert_eq!(pid_guess(1 << 22), None);
    assert_eq!(pid_guess(17), Some(17));
}

#[test]
fn a_missing_or_malformed_table_is_an_error() {
    let fake = FakeProc::new();
    assert!(matches!(resolver(&fake).resolve(1), Err(PortIdError::Table { .. })));
    fake.write("thread-self/net/netlink", "sk Protocol Port\n");
    assert!(matches!(resolver(&fake).resolve(1), Err(PortIdError::Format { .. })));
    fake.write("thread-self/net/netlink", "sk Eth Pid Inode\nffff 0 zz 5\n");
    assert!(matches!(resolver(&fake).resolve(1), Err(PortIdError::Format { .. })));
}

#[test]
fn the_real_table_parses() {
    // Every namespace has the kernel's own rtnetlink socket, port id 0.
    let text = std::fs::read_to_string("/proc/thread-self/net/netlink").unwrap();
    assert!(find_socket(&text, NETLINK_ROUTE, 0).unwrap().is_some(), "{text}");
}

// ---- this process's own netlink sockets (the real kernel, no root needed) ----

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
