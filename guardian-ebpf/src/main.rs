//! eBPF programs that record which process asked the kernel to delete a
//! route (or a link, address or nexthop the route depends on).
//!
//! ```text
//! fentry on the rtnetlink doit handlers (inet_rtm_delroute, rtnl_setlink, ...)
//!        │ one message, in the sender's context; nothing on the packet path
//!        └─ guardian's own tgid? / other netns? / not interesting? ──> return
//!           else one RawRecord ──> RECORDS ring buffer
//!
//! tp_btf/consume_skb (kernels that refuse fentry) ── skb->sk is the kernel's
//!        │ NETLINK_ROUTE socket? ── no ──> return (hot path: every freed skb)
//!        ├─ guardian's own tgid? / other netns? ──> return
//!        └─ walk the nlmsghdrs in skb->data (bpf_loop, or a bounded loop where
//!           the kernel lacks it) ──> one RawRecord per interesting message
//!           (RTM_DELROUTE, RTM_NEWROUTE+replace, link down, RTM_DELLINK,
//!           RTM_DELADDR, RTM_DELNEXTHOP) ──> RECORDS ring buffer
//!
//! tracepoint/syscalls/sys_enter_ioctl ── SIOCDELRT / SIOCSIFFLAGS clearing IFF_UP ──> RECORDS
//! ```
//!
//! Every variant is in this one object; user space probes the kernel and
//! loads the ones that fit (`guardian::ebpf::variant`). Non-UAPI offsets
//! come from user space (`GUARDIAN_OFFSETS`, read from the running kernel's
//! BTF); a full ring buffer bumps `DROPS`. Built by `cargo xtask
//! build-ebpf`; the object is committed and embedded by the daemon.
#![no_std]
#![no_main]

mod handlers;
mod ioctl;
mod kernel;
mod netlink;
mod task;

use aya_ebpf::{
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use guardian_common::{Filter, KernelOffsets, DEFAULT_RING_SIZE, NETNS_BY_COOKIE};

#[map]
static RECORDS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_SIZE, 0);

#[map]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Set by user space before load (read-only, so the verifier sees constants).
/// The `u32::MAX` defaults make an un-set program fail verification instead
/// of reading the wrong field.
#[unsafe(no_mangle)]
static GUARDIAN_OFFSETS: KernelOffsets = KernelOffsets {
    skb_sk: u32::MAX,
    skb_head: u32::MAX,
    skb_data: u32::MAX,
    skb_len: u32::MAX,
    skb_nl_portid: u32::MAX,
    sk_family: u32::MAX,
    sk_protocol: u32::MAX,
    sk_net: u32::MAX,
    nlk_flags: u32::MAX,
    net_cookie: u32::MAX,
    net_inum: u32::MAX,
    task_real_parent: u32::MAX,
    task_tgid: u32::MAX,
    task_mm: u32::MAX,
    task_nsproxy: u32::MAX,
    nsproxy_net_ns: u32::MAX,
    mm_arg_start: u32::MAX,
    mm_arg_end: u32::MAX,
};

#[unsafe(no_mangle)]
static GUARDIAN_FILTER: Filter = Filter { own_tgid: 0, netns_by: NETNS_BY_COOKIE, netns_id: 0 };

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
