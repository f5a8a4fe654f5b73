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
mod tests;
