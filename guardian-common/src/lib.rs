//! `#[repr(C)]` types shared by guardian's eBPF programs (`guardian-ebpf`)
//! and the daemon (`guardian::ebpf`).
//!
//! The kernel side fills a [`RawRecord`] in the ring buffer; user space
//! decodes it field by field (`guardian::ebpf::records`), never by
//! transmuting the bytes into an enum. Kinds are `u32` constants, flags are
//! `u32` bit sets, padding is explicit, and every layout is pinned by the
//! `const` assertions at the bottom of this file.
#![no_std]

/// Name of the ring buffer map in the object.
pub const MAP_RECORDS: &str = "RECORDS";
/// Name of the per-CPU drop counter map (one `u64` per CPU at index 0).
pub const MAP_DROPS: &str = "DROPS";
/// `tp_btf/consume_skb` program walking the messages with `bpf_loop` (5.17+).
pub const PROG_NETLINK: &str = "guardian_consume_skb";
/// `tp_btf/consume_skb` program walking the messages with a bounded loop
/// (kernels without `bpf_loop`; at most [`MAX_MSGS_BOUNDED`] per skb).
pub const PROG_NETLINK_BOUNDED: &str = "guardian_consume_skb_bounded";
/// The empty `tp_btf/consume_skb` program the benchmark measures against.
pub const PROG_BENCH_FLOOR: &str = "bench_floor_consume_skb";
/// fentry programs on the rtnetlink `doit` handlers, one per handler:
/// (program, kernel function). Each runs in the sender's context with the
/// one message it handles, so nothing on the packet path pays for them.
pub const PROG_HANDLERS: [(&str, &str); 10] = [
    ("guardian_fentry_inet_rtm_delroute", "inet_rtm_delroute"),
    ("guardian_fentry_inet6_rtm_delroute", "inet6_rtm_delroute"),
    ("guardian_fentry_inet_rtm_newroute", "inet_rtm_newroute"),
    ("guardian_fentry_inet6_rtm_newroute", "inet6_rtm_newroute"),
    ("guardian_fentry_rtnl_newlink", "rtnl_newlink"),
    ("guardian_fentry_rtnl_setlink", "rtnl_setlink"),
    ("guardian_fentry_rtnl_dellink", "rtnl_dellink"),
    ("guardian_fentry_inet_rtm_deladdr", "inet_rtm_deladdr"),
    ("guardian_fentry_inet6_rtm_deladdr", "inet6_rtm_deladdr"),
    ("guardian_fentry_rtm_del_nexthop", "rtm_del_nexthop"),
];
/// `tracepoint/syscalls/sys_enter_ioctl` program: route/interface ioctls.
pub const PROG_IOCTL: &str = "guardian_sys_enter_ioctl";
/// Read-only global: [`KernelOffsets`].
pub const GLOBAL_OFFSETS: &str = "GUARDIAN_OFFSETS";
/// Read-only global: [`Filter`].
pub const GLOBAL_FILTER: &str = "GUARDIAN_FILTER";

/// Ring buffer size used when user space does not choose one.
pub const DEFAULT_RING_SIZE: u32 = 16 << 20;

/// Bytes of each netlink message captured (header included).
pub const MSG_CAPTURE: usize = 256;
/// Bytes of the command line (the task's `mm->arg_start..arg_end`) captured.
pub const CMDLINE_CAPTURE: usize = 128;
/// `TASK_COMM_LEN`.
pub const COMM_LEN: usize = 16;
/// Upper bound on the netlink messages walked in one skb (`bpf_loop`).
pub const MAX_MSGS_PER_SKB: u32 = 4096;
/// Upper bound of the bounded loop (no `bpf_loop`): the verifier walks every
/// iteration, so this is what fits its budget on 5.10. A request skb holding
/// more messages (iproute2 sends about 60 per skb in a flush) has the rest
/// counted in `DROPS`, never silently missed.
pub const MAX_MSGS_BOUNDED: u32 = 256;

/// [`RawRecord::source`]: a netlink message sent to the kernel's
/// NETLINK_ROUTE socket; `msg_type` is `nlmsg_type`, `data` starts with the
/// `nlmsghdr`.
pub const SOURCE_NETLINK: u32 = 1;
/// [`RawRecord::source`]: an `ioctl(2)`; `msg_type` is the request, `data`
/// is the argument struct copied from user memory (`rtentry` or
/// `in6_rtmsg` for `SIOCDELRT`, `ifreq` for `SIOCSIFFLAGS`).
pub const SOURCE_IOCTL: u32 = 2;

/// The command line was longer than [`CMDLINE_CAPTURE`].
pub const FLAG_CMDLINE_TRUNCATED: u32 = 1 << 0;
/// The command line could not be read (no mm: a kernel thread, or the pages
/// were not resident).
pub const FLAG_CMDLINE_UNREADABLE: u32 = 1 << 1;
/// The message/argument bytes could not be read; `data_len` is 0.
pub const FLAG_DATA_UNREADABLE: u32 = 1 << 2;
/// The parent's tgid could not be read; `ptgid` is 0.
pub const FLAG_PARENT_UNREADABLE: u32 = 1 << 3;

/// rtnetlink message types the program records (UAPI `linux/rtnetlink.h`).
pub mod rtm {
    pub const NEWLINK: u16 = 16;
    pub const DELLINK: u16 = 17;
    pub const SETLINK: u16 = 19;
    pub const DELADDR: u16 = 21;
    pub const NEWROUTE: u16 = 24;
    pub const DELROUTE: u16 = 25;
    pub const DELNEXTHOP: u16 = 105;
}

/// UAPI netlink constants.
pub mod nl {
    /// `sizeof(struct nlmsghdr)`.
    pub const HDR_LEN: u32 = 16;
    /// `NLM_F_REPLACE`.
    pub const F_REPLACE: u16 = 0x100;
    /// `AF_NETLINK`.
    pub const AF_NETLINK: u16 = 16;
    /// `NETLINK_ROUTE`.
    pub const NETLINK_ROUTE: u16 = 0;
    /// `NETLINK_F_KERNEL_SOCKET` (net/netlink/af_netlink.h, 0x1 since 4.1).
    pub const F_KERNEL_SOCKET: u32 = 0x1;
    /// `IFF_UP`.
    pub const IFF_UP: u32 = 0x1;
}

/// ioctl requests the program records (UAPI `linux/sockios.h`).
pub mod ioctl {
    pub const SIOCDELRT: u32 = 0x890C;
    pub const SIOCSIFFLAGS: u32 = 0x8914;
    /// `sizeof(struct rtentry)` on 64-bit: the largest argument captured
    /// for `SIOCDELRT` (`struct in6_rtmsg` is 80 bytes).
    pub const RTENTRY_LEN: u32 = 120;
    /// `sizeof(struct ifreq)`.
    pub const IFREQ_LEN: u32 = 40;
    /// Offset of `ifr_flags` in `struct ifreq`.
    pub const IFREQ_FLAGS_OFFSET: usize = 16;
    /// Byte offsets of `fd`, `cmd`, `arg` in the `sys_enter_ioctl`
    /// tracepoint record (8-byte common header, `__syscall_nr` padded to 8,
    /// then one 8-byte slot per argument: the syscall tracepoint ABI).
    pub const TP_CMD_OFFSET: usize = 24;
    pub const TP_ARG_OFFSET: usize = 32;
}

/// Byte offsets of the non-UAPI kernel fields the programs read, taken from
/// the running kernel's BTF at start-up (`guardian::ebpf::btf`) and handed
/// to the programs as a read-only global. All offsets are from the start of
/// the named struct; pointer fields are 8 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    /// `sk_buff.sk` (`struct sock *`).
    pub skb_sk: u32,
    /// `sk_buff.head` (`unsigned char *`): where a netlink request starts
    /// (netlink reserves no headroom; by `consume_skb` time `data` has been
    /// pulled past every message the kernel handled).
    pub skb_head: u32,
    /// `sk_buff.data` (`unsigned char *`).
    pub skb_data: u32,
    /// `sk_buff.len` (`u32`).
    pub skb_len: u32,
    /// `sk_buff.cb` + `netlink_skb_parms.portid` (`NETLINK_CB(skb).portid`, `u32`).
    pub skb_nl_portid: u32,
    /// `sock.__sk_common.skc_family` (`u16`).
    pub sk_family: u32,
    /// `sock.sk_protocol` (`u16`).
    pub sk_protocol: u32,
    /// `sock.__sk_common.skc_net.net` (`struct net *`).
    pub sk_net: u32,
    /// `netlink_sock.flags` (`u32`).
    pub nlk_flags: u32,
    /// `net.net_cookie` (`u64`; `u32::MAX` where the kernel lacks it).
    pub net_cookie: u32,
    /// `net.ns.inum` (`unsigned int`): the namespace's inode number, what
    /// identifies it where `net_cookie` is not usable (before 5.12 the
    /// cookie is made lazily, and 0 until someone asks for it).
    pub net_inum: u32,
    /// `task_struct.real_parent` (`struct task_struct *`).
    pub task_real_parent: u32,
    /// `task_struct.tgid` (`pid_t`).
    pub task_tgid: u32,
    /// `task_struct.mm` (`struct mm_struct *`).
    pub task_mm: u32,
    /// `task_struct.nsproxy` (`struct nsproxy *`).
    pub task_nsproxy: u32,
    /// `nsproxy.net_ns` (`struct net *`).
    pub nsproxy_net_ns: u32,
    /// `mm_struct.arg_start` (`unsigned long`).
    pub mm_arg_start: u32,
    /// `mm_struct.arg_end` (`unsigned long`).
    pub mm_arg_end: u32,
}

/// [`Filter::netns_by`]: `net.net_cookie` (unique per boot).
pub const NETNS_BY_COOKIE: u32 = 0;
/// [`Filter::netns_by`]: `net.ns.inum` (what `stat /proc/self/ns/net` says).
pub const NETNS_BY_INODE: u32 = 1;

/// Read-only filter settings handed to the programs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// guardian's own tgid (as seen from the initial pid namespace): its
    /// requests are skipped. 0 skips nothing.
    pub own_tgid: u32,
    /// [`NETNS_BY_COOKIE`] or [`NETNS_BY_INODE`]: how the programs
    /// identify a network namespace (in `netns_id` and in each record).
    pub netns_by: u32,
    /// Record only requests in this network namespace (its `net_cookie`
    /// or inode number, per `netns_by`); 0 records every namespace.
    pub netns_id: u64,
}

/// One record in the ring buffer (480 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawRecord {
    /// [`SOURCE_NETLINK`] or [`SOURCE_IOCTL`].
    pub source: u32,
    /// `nlmsg_type`, or the ioctl request.
    pub msg_type: u32,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the request was seen.
    pub ktime_ns: u64,
    /// Thread id (kernel "pid"), in the initial pid namespace.
    pub pid: u32,
    /// Process id (kernel "tgid"), in the initial pid namespace.
    pub tgid: u32,
    /// Parent's tgid (`real_parent->tgid`).
    pub ptgid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Sender's netlink port id (`NETLINK_CB(skb).portid`); 0 for ioctls.
    pub nl_portid: u32,
    /// `nlmsg_seq`; 0 for ioctls.
    pub nl_seq: u32,
    /// `nlmsg_flags`; 0 for ioctls.
    pub nl_flags: u32,
    /// `bpf_get_current_cgroup_id()` (cgroup v2 inode number).
    pub cgroup_id: u64,
    /// The namespace's id ([`Filter::netns_by`]): the rtnl socket's for
    /// netlink, the task's for ioctls.
    pub netns_id: u64,
    /// Full message length (`nlmsg_len`), or the size of the ioctl argument.
    pub msg_len: u32,
    /// Valid bytes in `data`.
    pub data_len: u32,
    /// Valid bytes in `cmdline` (NUL-separated arguments).
    pub cmdline_len: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    pub comm: [u8; COMM_LEN],
    pub cmdline: [u8; CMDLINE_CAPTURE],
    pub data: [u8; MSG_CAPTURE],
}

/// Size of [`RawRecord`] in the ring buffer.
pub const RAW_RECORD_LEN: usize = core::mem::size_of::<RawRecord>();

/// Byte offsets of [`RawRecord`]'s fields, for decoders that read the raw
/// ring-buffer bytes without a transmute.
pub mod layout {
    pub const SOURCE: usize = 0;
    pub const MSG_TYPE: usize = 4;
    pub const KTIME_NS: usize = 8;
    pub const PID: usize = 16;
    pub const TGID: usize = 20;
    pub const PTGID: usize = 24;
    pub const UID: usize = 28;
    pub const GID: usize = 32;
    pub const NL_PORTID: usize = 36;
    pub const NL_SEQ: usize = 40;
    pub const NL_FLAGS: usize = 44;
    pub const CGROUP_ID: usize = 48;
    pub const NETNS_ID: usize = 56;
    pub const MSG_LEN: usize = 64;
    pub const DATA_LEN: usize = 68;
    pub const CMDLINE_LEN: usize = 72;
    pub const FLAGS: usize = 76;
    pub const COMM: usize = 80;
    pub const CMDLINE: usize = 96;
    pub const DATA: usize = 224;
    pub const END: usize = 480;
}

const _: () = {
    use core::mem::offset_of;
    assert!(RAW_RECORD_LEN == layout::END);
    assert!(offset_of!(RawRecord, source) == layout::SOURCE);
    assert!(offset_of!(RawRecord, msg_type) == layout::MSG_TYPE);
    assert!(offset_of!(RawRecord, ktime_ns) == layout::KTIME_NS);
    assert!(offset_of!(RawRecord, pid) == layout::PID);
    assert!(offset_of!(RawRecord, tgid) == layout::TGID);
    assert!(offset_of!(RawRecord, ptgid) == layout::PTGID);
    assert!(offset_of!(RawRecord, uid) == layout::UID);
    assert!(offset_of!(RawRecord, gid) == layout::GID);
    assert!(offset_of!(RawRecord, nl_portid) == layout::NL_PORTID);
    assert!(offset_of!(RawRecord, nl_seq) == layout::NL_SEQ);
    assert!(offset_of!(RawRecord, nl_flags) == layout::NL_FLAGS);
    assert!(offset_of!(RawRecord, cgroup_id) == layout::CGROUP_ID);
    assert!(offset_of!(RawRecord, netns_id) == layout::NETNS_ID);
    assert!(offset_of!(RawRecord, msg_len) == layout::MSG_LEN);
    assert!(offset_of!(RawRecord, data_len) == layout::DATA_LEN);
    assert!(offset_of!(RawRecord, cmdline_len) == layout::CMDLINE_LEN);
    assert!(offset_of!(RawRecord, flags) == layout::FLAGS);
    assert!(offset_of!(RawRecord, comm) == layout::COMM);
    assert!(offset_of!(RawRecord, cmdline) == layout::CMDLINE);
    assert!(offset_of!(RawRecord, data) == layout::DATA);
    assert!(core::mem::size_of::<KernelOffsets>() == 72);
    assert!(core::mem::size_of::<Filter>() == 16);
};

// SAFETY: plain-old-data, `#[repr(C)]`, every bit pattern valid, no implicit
// padding (checked above).
#[cfg(feature = "user")]
unsafe impl aya::Pod for KernelOffsets {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for Filter {}
