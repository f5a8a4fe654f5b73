//! The port id resolver against the real kernel, as root: `ip monitor
//! route` in a network namespace of its own.

use super::{PortIdResolver, PortOwner};
use guardian_test_support::netns::Netns;
use guardian_test_support::require_netns;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

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
