//! Which program variant runs on this kernel, chosen by probing what the
//! kernel has (distribution kernels backport BPF features, so version
//! numbers say little), or forced for tests (`GUARDIAN_EBPF_FORCE`).
//!
//! | choice  | probe                                   | values |
//! |---------|-----------------------------------------|--------|
//! | hook    | do the fentry programs load and attach? | `fentry` (rtnetlink handlers), `consume_skb` |
//! | walk    | `bpf_loop` helper (5.17+)               | `bpf_loop`, `bounded` (only with `consume_skb`) |
//! | netns   | `SO_NETNS_COOKIE` (5.14+)               | `cookie`, `inode` |
//! | memlock | `bpf_ktime_get_coarse_ns` (5.11+, like libbpf) | `cgroup` (maps charged to the memory cgroup), `rlimit` (RLIMIT_MEMLOCK raised) |
//!
//! Nothing here loads the object: probes and the forced choices only.

use std::fmt;

/// Where the netlink program hooks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// fentry on the rtnetlink `doit` handlers: nothing on the packet path.
    Fentry,
    /// `tp_btf/consume_skb`: every freed skb runs the filter.
    ConsumeSkb,
}

/// How the `consume_skb` program walks the messages of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    BpfLoop,
    Bounded,
}

/// How the programs identify a network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsBy {
    /// `net_cookie`, read from user space with `SO_NETNS_COOKIE`.
    Cookie,
    /// The namespace's inode number (`stat /proc/thread-self/ns/net`).
    Inode,
}

/// How BPF maps are paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memlock {
    /// Charged to the memory cgroup (5.11+): RLIMIT_MEMLOCK is left alone.
    Cgroup,
    /// Charged to RLIMIT_MEMLOCK: guardian raises it before loading.
    Rlimit,
}

/// The variant that runs. `walk` matters only with [`Hook::ConsumeSkb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub hook: Hook,
    pub walk: Walk,
    pub netns: NetnsBy,
    pub memlock: Memlock,
}

impl fmt::Display for Variant {
    /// `hook=fentry netns=cookie memlock=cgroup`, with `walk=` for `consume_skb`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hook {
            Hook::Fentry => write!(f, "hook=fentry")?,
            Hook::ConsumeSkb => write!(f, "hook=consume_skb walk={}", self.walk.name())?,
        }
        write!(f, " netns={} memlock={}", self.netns.name(), self.memlock.name())
    }
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Fentry => "fentry",
            Hook::ConsumeSkb => "consume_skb",
        }
    }
}

impl Walk {
    pub fn name(self) -> &'static str {
        match self {
            Walk::BpfLoop => "bpf_loop",
            Walk::Bounded => "bounded",
        }
    }
}

impl NetnsBy {
    pub fn name(self) -> &'static str {
        match self {
            NetnsBy::Cookie => "cookie",
            NetnsBy::Inode => "inode",
        }
    }
}

impl Memlock {
    pub fn name(self) -> &'static str {
        match self {
            Memlock::Cgroup => "cgroup",
            Memlock::Rlimit => "rlimit",
        }
    }
}

/// Choices forced instead of probed: `hook=consume_skb,walk=bounded,netns=inode,memlock=rlimit`
/// (any subset). A hidden option of `guardian run` and the environment
/// variable [`FORCE_ENV`]: for tests and benchmarks that need the variant
/// of a kernel they do not run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Force {
    pub hook: Option<Hook>,
    pub walk: Option<Walk>,
    pub netns: Option<NetnsBy>,
    pub memlock: Option<Memlock>,
}

/// Environment variable holding a [`Force`] (also `guardian run --ebpf-force`).
pub const FORCE_ENV: &str = "GUARDIAN_EBPF_FORCE";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad eBPF variant choice {0:?}: expected a comma-separated list of hook=fentry|consume_skb, walk=bpf_loop|bounded, netns=cookie|inode, memlock=cgroup|rlimit")]
pub struct ForceError(pub String);

impl std::str::FromStr for Force {
    type Err = ForceError;

    fn from_str(s: &str) -> Result<Self, ForceError> {
        let mut force = Force::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || ForceError(item.to_owned());
            let (key, value) = item.split_once('=').ok_or_else(bad)?;
            match (key.trim(), value.trim()) {
                ("hook", "fentry") => force.hook = Some(Hook::Fentry),
                ("hook", "consume_skb") => force.hook = Some(Hook::ConsumeSkb),
                ("walk", "bpf_loop") => force.walk = Some(Walk::BpfLoop),
                ("walk", "bounded") => force.walk = Some(Walk::Bounded),
                ("netns", "cookie") => force.netns = Some(NetnsBy::Cookie),
                ("netns", "inode") => force.netns = Some(NetnsBy::Inode),
                ("memlock", "cgroup") => force.memlock = Some(Memlock::Cgroup),
                ("memlock", "rlimit") => force.memlock = Some(Memlock::Rlimit),
                _ => return Err(bad()),
            }
        }
        Ok(force)
    }
}

/// Whether the kernel has `bpf_loop` (asks the verifier with a two-insn program).
pub fn probe_walk() -> Walk {
    use aya::{programs::ProgramType, sys::BpfHelper};
    match aya::sys::is_helper_supported(ProgramType::TracePoint, BpfHelper::BPF_FUNC_loop) {
        Ok(true) => Walk::BpfLoop,
        _ => Walk::Bounded,
    }
}

/// Whether BPF memory is charged to the memory cgroup. No interface says
/// so; like libbpf (`probe_memcg_account`), look for the helper that came
/// in the same release (5.11), `bpf_ktime_get_coarse_ns`.
pub fn probe_memlock() -> Memlock {
    use aya::{programs::ProgramType, sys::BpfHelper};
    match aya::sys::is_helper_supported(ProgramType::SocketFilter, BpfHelper::BPF_FUNC_ktime_get_coarse_ns) {
        Ok(true) => Memlock::Cgroup,
        _ => Memlock::Rlimit,
    }
}

/// Raises RLIMIT_MEMLOCK to unlimited, for kernels that charge BPF maps
/// (a 16 MiB ring) to it. Fails when the hard limit is lower and guardian
/// may not raise it (no CAP_SYS_RESOURCE): `LimitMEMLOCK=infinity` in the
/// unit is the fix.
pub fn raise_memlock() -> std::io::Result<()> {
    let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: a valid rlimit for the calling process.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } == 0 {
        return Ok(());
    }
    let raise_err = std::io::Error::last_os_error();
    // Not allowed past the hard limit: take what the hard limit allows.
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Err(raise_err);
    }
    if limit.rlim_max != libc::RLIM_INFINITY {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) };
    }
    Err(raise_err)
}

/// The current soft RLIMIT_MEMLOCK, for messages.
pub fn memlock_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid out-pointer.
    (unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0).then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests;
