//! From a netlink port id to the process that sent the request.
//!
//! The kernel's RTM_DELROUTE notification carries the requesting socket's
//! port id in `nlmsg_pid` (0 when the kernel itself removed the route). The
//! socket is found in `thread-self/net/netlink`, the table of the network
//! namespace of the thread that reads it, which is guardian's, the one whose
//! routes were deleted; the process holding it is the one whose
//! `fd/` has a `socket:[inode]` link. This works in any pid namespace, but
//! only while the socket is open: a short-lived `ip` has often exited by
//! the time the notification is read, and is then reported as
//! [`PortOwner::Exited`] rather than guessed.
//!
//! When the socket is gone, or its holder cannot be seen (reading another
//! user's `fd/` needs ptrace rights guardian lacks), the port id is taken
//! as a pid, by convention: the kernel binds a process's first netlink
//! socket to its tgid, libnl to `pid | n << 22`. Such an answer is weaker
//! (`exact: false`), and is kept only if that pid is a process leader in
//! guardian's own pid namespace, the only one in which the number means it.

use super::process::{ProcessError, ProcessInfo, Procfs};
use std::io;
use std::path::PathBuf;

/// `NETLINK_ROUTE`, the protocol column of rtnetlink sockets.
const NETLINK_ROUTE: u32 = 0;
/// libnl's port ids are `pid | n << 22`: pids fit in the low 22 bits
/// (`PID_MAX_LIMIT` is 2^22).
const PID_BITS: u32 = 22;

/// Who holds the socket a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOwner {
    /// Port id 0: no process asked; the kernel removed the route itself
    /// (its link went down, its address or nexthop was removed).
    Kernel,
    /// `exact`: found through the socket itself; otherwise the port id was
    /// taken as a pid (see the module documentation).
    Resolved { process: ProcessInfo, exact: bool },
    /// The socket is closed and the port id names no live process: the
    /// requester has exited.
    Exited,
    /// The socket is still open, but the process holding it could not be
    /// seen and the port id names none of ours: the requester lives, unnamed.
    Hidden,
}

#[derive(Debug, thiserror::Error)]
pub enum PortIdError {
    #[error("cannot read the netlink socket table {}: {source}", path.display())]
    Table { path: PathBuf, source: io::Error },
    #[error("{}: unexpected format: {line:?}", path.display())]
    Format { path: PathBuf, line: String },
    #[error(transparent)]
    Process(#[from] ProcessError),
}

#[derive(Debug, Clone, Default)]
pub struct PortIdResolver {
    procfs: Procfs,
}

impl PortIdResolver {
    pub fn new(procfs: Procfs) -> PortIdResolver {
        PortIdResolver { procfs }
    }

    /// Resolves the `nlmsg_pid` of a notification. Blocking file I/O that
    /// walks every process's `fd/` (milliseconds on a busy host): call it
    /// off the reconciler's task, once per port id of a batch.
    pub fn resolve(&self, port_id: u32) -> Result<PortOwner, PortIdError> {
        if port_id == 0 {
            return Ok(PortOwner::Kernel);
        }
        let guess = pid_guess(port_id);
        let inode = self.socket_inode(port_id)?;
        if let Some(inode) = inode {
            if let Some(pid) = self.procfs.socket_holder(inode, guess) {
                match self.procfs.process(pid) {
                    Ok(process) => return Ok(PortOwner::Resolved { process, exact: true }),
                    Err(ProcessError::Gone(_)) => {} // it exited since: try the guess
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(pid) = guess {
            match self.procfs.process(pid) {
                // A thread's id is no port id, and a number from another
                // pid namespace names someone else here.
                Ok(process) if process.tgid == pid && self.procfs.same_pid_namespace(pid) => {
                    return Ok(PortOwner::Resolved { process, exact: false });
                }
                Ok(_) | Err(ProcessError::Gone(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(if inode.is_some() { PortOwner::Hidden } else { PortOwner::Exited })
    }

    fn table_path(&self) -> PathBuf {
        self.procfs.root().join("thread-self/net/netlink")
    }

    /// The inode of the NETLINK_ROUTE socket bound to `port_id`, if open.
    fn socket_inode(&self, port_id: u32) -> Result<Option<u64>, PortIdError> {
        let path = self.table_path();
        let text =
            std::fs::read_to_string(&path).map_err(|source| PortIdError::Table { path: path.clone(), source })?;
        find_socket(&text, NETLINK_ROUTE, port_id).map_err(|line| PortIdError::Format { path, line })
    }
}

/// The pid a port id names by convention, if any: its low 22 bits. A
/// negative port id (as the kernel's `s32`) is one the kernel chose when
/// the process's pid was taken (-4096 downwards): it names no pid.
fn pid_guess(port_id: u32) -> Option<u32> {
    if (port_id as i32) < 0 {
        return None;
    }
    Some(port_id & ((1 << PID_BITS) - 1)).filter(|&pid| pid != 0)
}

/// Finds the inode of the socket of `protocol` bound to `port_id` in the
/// text of /proc/net/netlink (`sk Eth Pid Groups Rmem Wmem Dump Locks Drops
/// Inode`; columns found by their header names). Err: the offending line.
fn find_socket(table: &str, protocol: u32, port_id: u32) -> Result<Option<u64>, String> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let names: Vec<&str> = header.split_whitespace().collect();
    let column = |name| names.iter().position(|&n| n == name).ok_or_else(|| header.to_owned());
    let (eth, pid, ino) = (column("Eth")?, column("Pid")?, column("Inode")?);
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| cols.get(i).and_then(|c| c.parse::<u64>().ok()).ok_or_else(|| line.to_owned());
        if number(eth)? == u64::from(protocol) && number(pid)? == u64::from(port_id) {
            return Ok(Some(number(ino)?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod netns_tests;
#[cfg(test)]
mod tests;
