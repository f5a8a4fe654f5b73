//! Who holds a UDP port, for the error that says the liveness port is taken.
//!
//! The socket is found in `thread-self/net/udp` (or `udp6`), the table of
//! the network namespace guardian runs in, by its local port; the process
//! holding it is the one whose `fd/` has a `socket:[inode]` link. Reading
//! another user's `fd/` needs ptrace rights, which guardian under its
//! systemd unit lacks: then the error names the socket's uid instead.

use crate::attribution::Procfs;
use crate::route::Family;
use std::fmt;

/// The process (or, failing that, the user) holding a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    /// The socket's owner, from the table.
    pub uid: u32,
    /// The holding process and its name, when /proc showed it.
    pub process: Option<(u32, String)>,
}

impl fmt::Display for PortHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.process {
            Some((pid, comm)) => write!(f, "{comm} (pid {pid}, uid {})", self.uid),
            None => write!(
                f,
                "a process of uid {} (which one is hidden: reading its /proc/PID/fd needs root or CAP_SYS_PTRACE)",
                self.uid
            ),
        }
    }
}

/// The holder of the UDP `port` of `family` in guardian's namespace, if
/// the table lists a socket bound to it.
pub fn udp_port_holder(procfs: &Procfs, family: Family, port: u16) -> Option<PortHolder> {
    let table = match family {
        Family::V4 => "thread-self/net/udp",
        Family::V6 => "thread-self/net/udp6",
    };
    let text = std::fs::read_to_string(procfs.root().join(table)).ok()?;
    let (uid, inode) = bound_to(&text, port)?;
    let process = procfs.socket_holder(inode, None).and_then(|pid| procfs.process(pid).ok().map(|p| (p.tgid, p.comm)));
    Some(PortHolder { uid, process })
}

/// The (uid, inode) of the first socket bound to local `port` in the text
/// of /proc/net/udp or udp6: `sl local_address rem_address st tx:rx tr:tm
/// retrnsmt uid timeout inode ...`, the address as `HEX:PORTHEX`. The
/// header's names do not line up with the columns, so columns are counted.
fn bound_to(table: &str, port: u16) -> Option<(u32, u64)> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let local_port = cols.get(1)?.rsplit_once(':')?.1;
        if u16::from_str_radix(local_port, 16).ok()? != port {
            return None;
        }
        Some((cols.get(7)?.parse().ok()?, cols.get(9)?.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::fakeproc::FakeProc;

    /// Two rows of a real /proc/net/udp (BIRD's BFD socket on 3784 = 0x0EC8).
    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
        \x20 68: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 10962 2 0000000000000000 0\n\
        \x20 229: 00000000:0EC8 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 48311 2 0000000000000000 0\n";

    #[test]
    fn the_socket_bound_to_the_port_is_found_by_its_hex_port() {
        assert_eq!(bound_to(TABLE, 3784), Some((108, 48311)));
        assert_eq!(bound_to(TABLE, 68), Some((0, 10962)));
        assert_eq!(bound_to(TABLE, 44880), None);
        assert_eq!(bound_to("", 3784), None);
    }

    #[test]
    fn the_holder_is_named_when_its_fds_can_be_read() {
        let fake = FakeProc::new();
        fake.write("thread-self/net/udp", TABLE);
        fake.process(4242, 4242, 1, "bird", b"bird\0-f\0", "0::/system.slice/bird.service\n");
        fake.socket_fd(4242, 7, 48311);
        let holder = udp_port_holder(&Procfs::new(fake.root()), Family::V4, 3784).expect("a holder");
        assert_eq!(holder, PortHolder { uid: 108, process: Some((4242, "bird".into())) });
        assert_eq!(holder.to_string(), "bird (pid 4242, uid 108)");
    }

    #[test]
    fn a_holder_whose_fds_are_hidden_is_named_by_its_uid() {
        let fake = FakeProc::new();
        fake.write("thread-self/net/udp6", TABLE);
        let holder = udp_port_holder(&Procfs::new(fake.root()), Family::V6, 3784).expect("a holder");
        assert_eq!(holder, PortHolder { uid: 108, process: None });
        assert!(holder.to_string().starts_with("a process of uid 108"), "{holder}");
    }

    #[test]
    fn no_table_or_no_socket_names_nobody() {
        let fake = FakeProc::new();
        assert_eq!(udp_port_holder(&Procfs::new(fake.root()), Family::V4, 3784), None);
        fake.write("thread-self/net/udp", TABLE);
        assert_eq!(udp_port_holder(&Procfs::new(fake.root()), Family::V4, 3785), None);
    }
}
