//! What /proc says about one process: ids, name, command line, cgroup.
//!
//! Everything is read through a [`Procfs`] root so tests can point it at a
//! fake tree. A process can exit between any two reads; a file that vanishes
//! (ENOENT, or ESRCH from a task being torn down) means [`ProcessError::Gone`].
//!
//! Not the procfs crate: its `cmdline()` fails on an argument that is not
//! UTF-8, which a deleter can choose, and it would add five crates for
//! these fifty lines of parsing (docs/architecture.md, "Dependencies").

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// A command line longer than this is cut (at a character boundary) and
/// ends with `…`: a deletion is kept in a ring of up to a thousand entries
/// and logged, and an argument area can be megabytes.
pub const CMDLINE_MAX: usize = 4096;

/// A process as /proc showed it when guardian looked (or as the eBPF
/// program captured it in the deleter's context).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// The id asked about (a thread id when it is not the thread group leader).
    pub pid: u32,
    /// The process (thread group) id: what `ps` shows as PID.
    pub tgid: u32,
    /// The parent's tgid.
    pub ptgid: u32,
    /// Real uid and gid, as the eBPF helper `bpf_get_current_uid_gid`
    /// reports them too; numbers as seen from guardian's user namespace.
    pub uid: u32,
    pub gid: u32,
    /// The task name (at most 15 bytes; any process can choose its own).
    pub comm: String,
    /// Arguments joined with spaces; `None` when the process has none to
    /// show (a kernel thread, a zombie, an exiting process).
    pub cmdline: Option<String>,
    /// The cgroup v2 path (`0::` line); `None` on a v1-only host.
    pub cgroup: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process {0} no longer exists")]
    Gone(u32),
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: no valid `{field}` line", path.display())]
    Field { path: PathBuf, field: &'static str },
}

/// A procfs mount: `/proc` on a live system, a temp folder in tests.
#[derive(Debug, Clone)]
pub struct Procfs {
    root: PathBuf,
}

impl Default for Procfs {
    fn default() -> Procfs {
        Procfs::new("/proc")
    }
}

impl Procfs {
    pub fn new(root: impl Into<PathBuf>) -> Procfs {
        Procfs { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of process `pid` (`<root>/<pid>`).
    pub fn pid_dir(&self, pid: u32) -> PathBuf {
        self.root.join(pid.to_string())
    }

    /// Reads what /proc knows about `pid`.
    pub fn process(&self, pid: u32) -> Result<ProcessInfo, ProcessError> {
        let dir = self.pid_dir(pid);
        let status_path = dir.join("status");
        let status = read(pid, &status_path)?;
        let field = |name: &'static str| {
            status_field(&status, name).ok_or_else(|| ProcessError::Field { path: status_path.clone(), field: name })
        };
        let tgid = first_number(field("Tgid")?).ok_or_else(|| bad(&status_path, "Tgid"))?;
        let ptgid = first_number(field("PPid")?).ok_or_else(|| bad(&status_path, "PPid"))?;
        // Real, effective, saved, filesystem: the first is the real id.
        let uid = first_number(field("Uid")?).ok_or_else(|| bad(&status_path, "Uid"))?;
        let gid = first_number(field("Gid")?).ok_or_else(|| bad(&status_path, "Gid"))?;
        let comm = read(pid, &dir.join("comm"))?.trim_end_matches('\n').to_owned();
        let cmdline = cmdline_text(&read_bytes(pid, &dir.join("cmdline"))?);
        let cgroup = cgroup_v2_path(&read(pid, &dir.join("cgroup"))?);
        Ok(ProcessInfo { pid, tgid, ptgid, uid, gid, comm, cmdline, cgroup })
    }

    /// True when `pid` is in guardian's own pid namespace, the only one in
    /// which a port id (a pid by convention) names that process.
    ///
    /// Compares the `ns/pid` links of `self` and `pid`. Reading another
    /// user's link needs ptrace rights, which guardian (CAP_NET_ADMIN only)
    /// lacks; then the `NStgid` line of the status file, readable by
    /// anyone, decides: a single id means the process lives in the pid
    /// namespace of this procfs mount, which is guardian's. False when
    /// neither can be read (the process is gone, or a kernel before 4.1).
    pub fn same_pid_namespace(&self, pid: u32) -> bool {
        let ours = std::fs::read_link(self.root.join("self/ns/pid"));
        let theirs = std::fs::read_link(self.pid_dir(pid).join("ns/pid"));
        if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
            return ours == theirs;
        }
        std::fs::read_to_string(self.pid_dir(pid).join("status"))
            .ok()
            .and_then(|status| status_field(&status, "NStgid").map(|ids| ids.split_whitespace().count() == 1))
            .unwrap_or(false)
    }

    /// The first process with a `socket:[inode]` fd, trying `candidate`
    /// (usually the socket's creator, when the caller can guess it) before
    /// the others. Processes whose `fd/` cannot be read (exited, another
    /// user's without ptrace rights) are passed over.
    pub fn socket_holder(&self, inode: u64, candidate: Option<u32>) -> Option<u32> {
        let target = PathBuf::from(format!("socket:[{inode}]"));
        if let Some(pid) = candidate.filter(|&pid| self.holds(pid, &target)) {
            return Some(pid);
        }
        let entries = std::fs::read_dir(&self.root).ok()?;
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| Some(pid) != candidate)
            .find(|&pid| self.holds(pid, &target))
    }

    fn holds(&self, pid: u32, target: &Path) -> bool {
        let Ok(fds) = std::fs::read_dir(self.pid_dir(pid).join("fd")) else {
            return false;
        };
        fds.filter_map(Result::ok).any(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link == target))
    }
}

fn bad(path: &Path, field: &'static str) -> ProcessError {
    ProcessError::Field { path: path.to_owned(), field }
}

fn read(pid: u32, path: &Path) -> Result<String, ProcessError> {
    read_bytes(pid, path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn read_bytes(pid: u32, path: &Path) -> Result<Vec<u8>, ProcessError> {
    std::fs::read(path).map_err(|e| gone_or_io(pid, path, e))
}

/// ENOENT: the folder is gone; ESRCH: the task is exiting as we read.
fn gone_or_io(pid: u32, path: &Path, e: io::Error) -> ProcessError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => ProcessError::Gone(pid),
        _ => ProcessError::Io { path: path.to_owned(), source: e },
    }
}

/// The value of `Name:\tvalue` in a status file.
fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

fn first_number(value: &str) -> Option<u32> {
    value.split_whitespace().next()?.parse().ok()
}

/// /proc/PID/cmdline holds the arguments, each ending in a NUL; they are
/// joined with spaces, as `ps` shows them.
fn cmdline_text(raw: &[u8]) -> Option<String> {
    let args: Vec<_> = raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(String::from_utf8_lossy).collect();
    if args.is_empty() {
        return None;
    }
    let mut text = args.join(" ");
    if text.len() > CMDLINE_MAX {
        let mut cut = CMDLINE_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    Some(text)
}

/// The path of the `0::PATH` line (cgroup v2, also present on hybrid hosts).
fn cgroup_v2_path(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_owned)
}

#[cfg(test)]
mod tests;
