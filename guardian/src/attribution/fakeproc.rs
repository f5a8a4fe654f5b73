//! A fake procfs tree in a temp folder for unit tests: status, comm,
//! cmdline and cgroup files, `fd/N -> socket:[inode]` links, and the
//! netlink socket table.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct FakeProc {
    root: PathBuf,
}

impl FakeProc {
    pub fn new() -> FakeProc {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("guardian-fakeproc-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        FakeProc { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn symlink(&self, rel: &str, target: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    /// A status file as the kernel writes it (the lines guardian reads),
    /// uid 1000 and gid 100, in guardian's pid namespace.
    pub fn status(pid: u32, tgid: u32, ppid: u32) -> String {
        format!(
            "Name:\tx\nState:\tS (sleeping)\nTgid:\t{tgid}\nPid:\t{pid}\nPPid:\t{ppid}\n\
             Uid:\t1000\t0\t0\t0\nGid:\t100\t0\t0\t0\nNStgid:\t{tgid}\nNSpid:\t{pid}\n"
        )
    }

    pub fn process(&self, pid: u32, tgid: u32, ppid: u32, comm: &str, cmdline: &[u8], cgroup: &str) {
        self.write(&format!("{pid}/status"), FakeProc::status(pid, tgid, ppid));
        self.write(&format!("{pid}/comm"), format!("{comm}\n"));
        self.write(&format!("{pid}/cmdline"), cmdline);
        self.write(&format!("{pid}/cgroup"), cgroup);
        std::fs::create_dir_all(self.root.join(format!("{pid}/fd"))).unwrap();
    }

    pub fn socket_fd(&self, pid: u32, fd: u32, inode: u64) {
        self.symlink(&format!("{pid}/fd/{fd}"), &format!("socket:[{inode}]"));
    }

    /// The netlink socket table: one row per (protocol, port id, inode).
    pub fn netlink(&self, rows: &[(u32, u32, u64)]) {
        let mut text =
            String::from("sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n");
        for (i, (protocol, port_id, inode)) in rows.iter().enumerate() {
            text.push_str(&format!(
                "{:016x} {protocol:<3} {port_id:<10} 00000000 0        0        0     2        0        {inode:<8}\n",
                0xffff_0000_0000_0000u64 + i as u64
            ));
        }
        self.write("thread-self/net/netlink", text);
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
