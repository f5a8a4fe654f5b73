//! guardian under its systemd unit's settings, without systemd: the
//! settings are read from `packaging/guardian.service` and carried out by
//! hand around the daemon, so a change to the unit is tested as written.
//!
//! | unit setting | done here by |
//! |---|---|
//! | `DynamicUser=yes` | a uid and gid no account has ([`DYNAMIC_ID`]) |
//! | `SupplementaryGroups=` | a throw-away group standing in for it (`setpriv --groups`) |
//! | `AmbientCapabilities=`, `CapabilityBoundingSet=`, `NoNewPrivileges=` | `setpriv` |
//! | `LimitMEMLOCK=`, `UMask=` | `ulimit -l`, `umask` in `sh` |
//! | `ProtectSystem=strict` | `/` remounted read-only in a mount namespace, the test's folder writable |
//! | `ProtectKernelTunables=` | `/proc/sys` and `/sys` (with what is mounted below) read-only |
//! | `SystemCallFilter=`, `SystemCallArchitectures=native` | `seccomp-exec`: the sets expanded by `systemd-analyze syscall-filter`, numbered from the kernel headers |
//!
//! Not reproduced (namespaces systemd sets up that change nothing guardian
//! does, or could not be checked here): PrivateTmp, PrivateDevices,
//! PrivateMounts, ProtectHome, ProtectKernelModules/Logs, ProtectClock,
//! ProtectControlGroups, ProtectHostname, RestrictAddressFamilies,
//! RestrictNamespaces, RestrictRealtime, LockPersonality,
//! MemoryDenyWriteExecute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use crate::cmd;

/// The uid and gid the daemon runs as: in systemd's DynamicUser range
/// (61184-65519), with no account, as a dynamic user has none in /etc.
pub const DYNAMIC_ID: u32 = 61_184 + 4_242;

/// The repository's unit file.
pub fn unit_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../packaging/guardian.service")
}

/// `[Service]` settings: each key with its values in file order.
pub struct Unit {
    settings: BTreeMap<String, Vec<String>>,
}

impl Unit {
    pub fn load() -> Unit {
        let path = unit_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut in_service = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_service = line == "[Service]";
            } else if in_service && !line.starts_with('#') && !line.starts_with(';') {
                if let Some((key, value)) = line.split_once('=') {
                    settings.entry(key.trim().to_owned()).or_default().push(value.trim().to_owned());
                }
            }
        }
        Unit { settings }
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> &[String] {
        self.settings.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The last value of `key` (the one systemd uses for single settings).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.all(key).last().map(String::as_str)
    }

    /// `CAP_NET_ADMIN CAP_BPF` as setpriv writes them: `+net_admin,+bpf`.
    fn caps(&self, key: &str) -> String {
        let caps: Vec<String> = self
            .get(key)
            .unwrap_or_else(|| panic!("the unit sets no {key}"))
            .split_whitespace()
            .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
            .collect();
        format!("-all,{}", caps.join(","))
    }

    /// The system calls `SystemCallFilter=` allows: the lines applied in
    /// order as systemd does (a first allow list starts from `@default`;
    /// `~` removes, otherwise adds).
    pub fn syscall_allow_list(&self) -> BTreeSet<String> {
        let groups = syscall_groups();
        let lines = self.all("SystemCallFilter");
        assert!(
            lines.first().is_some_and(|l| !l.starts_with('~')),
            "the unit's first SystemCallFilter= is not an allow list: {lines:?}"
        );
        let mut allowed = expand("@default", &groups);
        for line in lines {
            let (remove, items) = match line.strip_prefix('~') {
                Some(rest) => (true, rest),
                None => (false, line.as_str()),
            };
            for item in items.split_whitespace() {
                for call in expand(item, &groups) {
                    if remove {
                        allowed.remove(&call);
                    } else {
                        allowed.insert(call);
                    }
                }
            }
        }
        allowed
    }

    /// What `SystemCallErrorNumber=` makes a denied call do, for
    /// `seccomp-exec`'s `SECCOMP_DENY`: an errno number, or `kill`.
    pub fn syscall_deny_action(&self) -> String {
        match self.get("SystemCallErrorNumber") {
            None | Some("kill") => "kill".to_owned(),
            Some("EPERM") => libc::EPERM.to_string(),
            Some(other) => panic!("SystemCallErrorNumber={other}: teach guardian_tests::unit its number"),
        }
    }

    /// Programs to put before the daemon (see [`crate::daemon::DaemonBuilder::wrapper`])
    /// so it runs as the unit would run it: `writable` stays writable under
    /// `ProtectSystem=strict`, `group` stands for `SupplementaryGroups=`.
    /// `deny` overrides what a denied system call does (`kill` makes any
    /// call outside the filter fatal, stricter than the unit).
    /// `seccomp_exec` is the helper's path (`env!("CARGO_BIN_EXE_seccomp-exec")`,
    /// which cargo sets for integration tests only). Returns the programs
    /// and the environment they need.
    pub fn wrapper(
        &self,
        writable: &std::path::Path,
        group: u32,
        deny: Option<&str>,
        seccomp_exec: &str,
    ) -> (Vec<String>, Vec<(String, String)>) {
        assert_eq!(self.get("DynamicUser"), Some("yes"), "the unit no longer uses DynamicUser=");
        assert_eq!(self.get("NoNewPrivileges"), Some("yes"), "the unit no longer sets NoNewPrivileges=");
        assert!(self.get("SupplementaryGroups").is_some(), "the unit sets no SupplementaryGroups=");
        let memlock = match self.get("LimitMEMLOCK") {
            Some("infinity") => "unlimited".to_owned(),
            Some(bytes) => (bytes.parse::<u64>().expect("LimitMEMLOCK= in bytes or infinity") / 1024).to_string(),
            None => panic!("the unit sets no LimitMEMLOCK="),
        };
        let umask = self.get("UMask").unwrap_or("0022");
        let mut mounts = Vec::new();
        if self.get("ProtectSystem") == Some("strict") {
            // The folder first becomes a mount of its own, so that making
            // `/` read-only leaves it writable (RuntimeDirectory=).
            let dir = writable.display();
            mounts.push(format!("mount --bind {dir} {dir} && mount -o remount,bind,ro /"));
        }
        if self.get("ProtectKernelTunables") == Some("yes") {
            mounts.push(
                "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && \
                 for m in $(awk '$5 == \"/sys\" || $5 ~ \"^/sys/\" {print $5}' /proc/self/mountinfo); do \
                 mount -o remount,bind,ro \"$m\" || exit 1; done"
                    .to_owned(),
            );
        }
        // A machine that does not let root raise RLIMIT_MEMLOCK (a
        // container without CAP_SYS_RESOURCE) runs a kernel that charges the
        // memory cgroup instead, or the daemon says so and the test fails.
        let sandbox = format!(
            "set -e; ulimit -l {memlock} 2>/dev/null || true; umask {umask}; {}; exec \"$@\"",
            if mounts.is_empty() { "true".to_owned() } else { mounts.join(" && ") }
        );
        let id = DYNAMIC_ID.to_string();
        let ambient = self.caps("AmbientCapabilities");
        let bounding = self.caps("CapabilityBoundingSet");
        let mut argv: Vec<String> = vec!["unshare", "--mount", "--propagation", "private", "sh", "-c", &sandbox, "sh"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        argv.extend(
            [
                "setpriv",
                &format!("--reuid={id}"),
                &format!("--regid={id}"),
                &format!("--groups={group}"),
                &format!("--inh-caps={ambient}"),
                &format!("--ambient-caps={ambient}"),
                &format!("--bounding-set={bounding}"),
                "--no-new-privs",
                seccomp_exec,
            ]
            .map(str::to_owned),
        );
        let numbers = syscall_numbers();
        let allow: Vec<String> =
            self.syscall_allow_list().iter().filter_map(|name| numbers.get(name)).map(u32::to_string).collect();
        let deny = deny.map_or_else(|| self.syscall_deny_action(), str::to_owned);
        let env = vec![("SECCOMP_ALLOW".to_owned(), allow.join(",")), ("SECCOMP_DENY".to_owned(), deny)];
        (argv, env)
    }
}

/// `systemd-analyze syscall-filter`: every `@group` with its members
/// (calls and other groups).
fn syscall_groups() -> BTreeMap<String, Vec<String>> {
    let out = cmd::run_ok(Command::new("systemd-analyze").args(["syscall-filter", "--no-pager"]));
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in out.stdout.lines() {
        if line.starts_with('@') {
            current = Some(line.trim().to_owned());
            groups.entry(line.trim().to_owned()).or_default();
        } else if line.trim().is_empty() || !line.starts_with(' ') {
            // A blank line or the closing "# Unlisted ..." section.
            if !line.starts_with(' ') {
                current = None;
            }
        } else if let Some(group) = &current {
            let item = line.trim();
            if !item.starts_with('#') {
                groups.get_mut(group).expect("group seen").push(item.to_owned());
            }
        }
    }
    assert!(groups.contains_key("@system-service"), "systemd-analyze syscall-filter gave no @system-service: {out:?}");
    groups
}

fn expand(item: &str, groups: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    match groups.get(item) {
        Some(members) => members.iter().flat_map(|m| expand(m, groups)).collect(),
        None if item.starts_with('@') => panic!("unknown system call group {item}"),
        None => BTreeSet::from([item.to_owned()]),
    }
}

/// x86_64 system call numbers by name, from the kernel's uapi header
/// (linux-libc-dev, which a Rust toolchain's C linker setup brings).
pub fn syscall_numbers() -> BTreeMap<String, u32> {
    let path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path} (linux-libc-dev): {e}"));
    text.lines()
        .filter_map(|l| {
            let mut words = l.strip_prefix("#define __NR_")?.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
        })
        .collect()
}
