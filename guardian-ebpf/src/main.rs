//! eBPF programs that record which process asked the kernel to delete a
//! route (or a link, address or nexthop the route depends on).
//!
//! ```text
//! tp_btf/consume_skb ── skb->sk is the kernel's NETLINK_ROUTE socket? ── no ──> return (hot path)
//!        │ yes (the request is being consumed in the sender's context)
//!        ├─ guardian's own tgid? / other netns? ──> return
//!        └─ bpf_loop over the nlmsghdrs in skb->data ──> one RawRecord per
//!           interesting message (RTM_DELROUTE, RTM_NEWROUTE+replace, link down,
//!           RTM_DELLINK, RTM_DELADDR, RTM_DELNEXTHOP) ──> RECORDS ring buffer
//!
//! tracepoint/syscalls/sys_enter_ioctl ── SIOCDELRT / SIOCSIFFLAGS clearing IFF_UP ──> RECORDS
//! ```
//!
//! Non-UAPI offsets come from user space (`GUARDIAN_OFFSETS`, read from the
//! running kernel's BTF); a full ring buffer bumps `DROPS`. Built by
//! `cargo xtask build-ebpf`; the object is committed and embedded by the
//! daemon.
#![no_std]
#![no_main]

use core::{
    ffi::c_void,
    ptr::{addr_of, read_volatile},
};

use aya_ebpf::{
    helpers::generated::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task,
        bpf_get_current_uid_gid, bpf_ktime_get_ns, bpf_loop, bpf_probe_read_kernel, bpf_probe_read_user,
    },
    macros::{btf_tracepoint, map, tracepoint},
    maps::{PerCpuArray, RingBuf},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use aya_log_ebpf::debug;
use guardian_common::{
    ioctl, nl, rtm, Filter, KernelOffsets, RawRecord, CMDLINE_CAPTURE, DEFAULT_RING_SIZE, FLAG_CMDLINE_TRUNCATED,
    FLAG_CMDLINE_UNREADABLE, FLAG_DATA_UNREADABLE, FLAG_PARENT_UNREADABLE, MAX_MSGS_PER_SKB, MSG_CAPTURE, SOURCE_IOCTL,
    SOURCE_NETLINK,
};

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
    task_real_parent: u32::MAX,
    task_tgid: u32::MAX,
    task_mm: u32::MAX,
    task_nsproxy: u32::MAX,
    nsproxy_net_ns: u32::MAX,
    mm_arg_start: u32::MAX,
    mm_arg_end: u32::MAX,
};

#[unsafe(no_mangle)]
static GUARDIAN_FILTER: Filter = Filter { own_tgid: 0, _pad: u32::MAX, netns_cookie: 0 };

macro_rules! off {
    ($field:ident) => {{
        // SAFETY: a plain read of a static; volatile so the value patched
        // into .rodata at load time is read, not the compile-time default.
        #[allow(unused_unsafe)]
        let value = unsafe { read_volatile(addr_of!(GUARDIAN_OFFSETS.$field)) };
        value as usize
    }};
}

macro_rules! filter {
    ($field:ident) => {{
        // SAFETY: as in `off!`.
        #[allow(unused_unsafe)]
        let value = unsafe { read_volatile(addr_of!(GUARDIAN_FILTER.$field)) };
        value
    }};
}

/// Direct load through a BTF-typed kernel pointer (`tp_btf` argument or a
/// pointer loaded from one): the verifier checks `off` against the kernel's
/// BTF and turns the load into a fault-safe one. No helper call.
#[inline(always)]
unsafe fn load<T: Copy>(base: *const u8, off: usize) -> T {
    unsafe { read_volatile(base.add(off).cast::<T>()) }
}

/// `bpf_probe_read_kernel` of a `T` at `base + off`.
#[inline(always)]
unsafe fn read_kernel<T: Copy + Default>(base: u64, off: usize) -> Option<T> {
    let mut value = T::default();
    let ret = unsafe {
        bpf_probe_read_kernel(
            (&mut value as *mut T).cast(),
            size_of::<T>() as u32,
            (base as usize + off) as *const c_void,
        )
    };
    (ret == 0).then_some(value)
}

#[inline(always)]
fn count_drop() {
    if let Some(counter) = DROPS.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, programs do not migrate while running.
        unsafe { *counter += 1 };
    }
}

// ---------------------------------------------------------------------------
// netlink: tp_btf/consume_skb

/// State shared with the `bpf_loop` callback.
#[repr(C)]
struct Walk {
    data: u64,
    len: u32,
    off: u32,
    portid: u32,
    dropped: u32,
    netns_cookie: u64,
    ktime_ns: u64,
}

/// The same hook doing nothing: `cargo xtask bench` attaches it beside
/// guardian's program, so what dispatch alone costs on this kernel is
/// measured in the same flood. guardian itself never loads it.
#[btf_tracepoint(function = "consume_skb")]
pub fn bench_floor_consume_skb(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "consume_skb")]
pub fn guardian_consume_skb(ctx: BtfTracePointContext) -> i32 {
    let skb: *const u8 = ctx.arg(0);
    // SAFETY: BTF-typed pointers; offsets from the kernel's own BTF.
    unsafe {
        // Hot path: every consumed skb on the host comes through here.
        let sk: *const u8 = load(skb, off!(skb_sk));
        if sk.is_null() {
            return 0;
        }
        if load::<u16>(sk, off!(sk_family)) != nl::AF_NETLINK || load::<u16>(sk, off!(sk_protocol)) != nl::NETLINK_ROUTE
        {
            return 0;
        }
        // Only NETLINK_ROUTE sockets get here. `flags` lies in the enclosing
        // netlink_sock, beyond the `struct sock` the verifier types `sk` as,
        // so it takes a helper read (the low 32 bits of an `unsigned long`
        // on newer kernels: little-endian).
        match read_kernel::<u32>(sk as u64, off!(nlk_flags)) {
            Some(flags) if flags & nl::F_KERNEL_SOCKET != 0 => {}
            _ => return 0,
        }
        // A request to rtnetlink, consumed in the sender's context.
        let own = filter!(own_tgid);
        if own != 0 && (bpf_get_current_pid_tgid() >> 32) as u32 == own {
            return 0;
        }
        let net: *const u8 = load(sk, off!(sk_net));
        let cookie: u64 = if net.is_null() { 0 } else { load(net, off!(net_cookie)) };
        let wanted = filter!(netns_cookie);
        if wanted != 0 && cookie != wanted {
            return 0;
        }
        // netlink_rcv_skb() pulls each message it handles: walk from head.
        let head: *const u8 = load(skb, off!(skb_head));
        let data: *const u8 = load(skb, off!(skb_data));
        let pulled = (data as u64).wrapping_sub(head as u64);
        if head.is_null() || pulled > u64::from(u32::MAX) {
            return 0;
        }
        let len = load::<u32>(skb, off!(skb_len)).saturating_add(pulled as u32);
        let portid = read_kernel::<u32>(skb as u64, off!(skb_nl_portid)).unwrap_or(0);
        let mut walk = Walk {
            data: head as u64,
            len,
            off: 0,
            portid,
            dropped: 0,
            netns_cookie: cookie,
            ktime_ns: bpf_ktime_get_ns(),
        };
        bpf_loop(MAX_MSGS_PER_SKB, walk_one as *mut c_void, (&mut walk as *mut Walk).cast(), 0);
        if walk.dropped != 0 {
            debug!(&ctx, "ring buffer full: {} records dropped", walk.dropped);
        }
    }
    0
}

/// One `nlmsghdr` plus the first 16 bytes of its body.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MsgHead {
    len: u32,
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    body: [u32; 4],
}

/// `bpf_loop` callback: handle the message at `walk.off`; 1 stops the loop.
#[inline(never)]
extern "C" fn walk_one(_index: u64, ctx: *mut c_void) -> i64 {
    // SAFETY: `ctx` is the `Walk` on the program's stack.
    let walk = unsafe { &mut *ctx.cast::<Walk>() };
    let off = walk.off;
    if off >= walk.len || walk.len - off < nl::HDR_LEN {
        return 1;
    }
    let msg = walk.data + u64::from(off);
    let Some(head) = (unsafe { read_kernel::<MsgHead>(msg, 0) }) else {
        return 1;
    };
    if head.len < nl::HDR_LEN {
        return 1;
    }
    if interesting(&head) {
        emit_netlink(walk, msg, &head);
    }
    let aligned = (head.len + 3) & !3;
    match off.checked_add(aligned) {
        Some(next) => walk.off = next,
        None => return 1,
    }
    0
}

#[inline(always)]
fn interesting(head: &MsgHead) -> bool {
    match head.ty {
        rtm::DELROUTE | rtm::DELLINK | rtm::DELADDR | rtm::DELNEXTHOP => true,
        rtm::NEWROUTE => head.flags & nl::F_REPLACE != 0,
        rtm::NEWLINK | rtm::SETLINK => {
            // struct ifinfomsg { u8 family, pad; u16 type; i32 index; u32 flags; u32 change; }
            if head.len < nl::HDR_LEN + 16 {
                return false;
            }
            let flags = head.body[2];
            let change = head.body[3];
            // The link ends up down: IFF_UP in the change mask and cleared in
            // flags (change == 0 means "all flags", kernel bugwards compat).
            flags & nl::IFF_UP == 0 && (change & nl::IFF_UP != 0 || (change == 0 && flags != 0))
        }
        _ => false,
    }
}

#[inline(never)]
fn emit_netlink(walk: &mut Walk, msg: u64, head: &MsgHead) {
    let Some(mut entry) = RECORDS.reserve::<RawRecord>(0) else {
        count_drop();
        walk.dropped += 1;
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` points at RAW_RECORD_LEN reserved bytes.
    unsafe {
        (*rec).source = SOURCE_NETLINK;
        (*rec).msg_type = u32::from(head.ty);
        (*rec).ktime_ns = walk.ktime_ns;
        (*rec).nl_portid = walk.portid;
        (*rec).nl_seq = head.seq;
        (*rec).nl_flags = u32::from(head.flags);
        (*rec).netns_cookie = walk.netns_cookie;
        (*rec).msg_len = head.len;
        (*rec).flags = 0;
        let mut n = head.len;
        if n > MSG_CAPTURE as u32 {
            n = MSG_CAPTURE as u32;
        }
        let ret = bpf_probe_read_kernel(
            addr_of!((*rec).data) as *mut c_void,
            n & (2 * MSG_CAPTURE as u32 - 1),
            msg as *const c_void,
        );
        if ret == 0 {
            (*rec).data_len = n;
        } else {
            (*rec).data_len = 0;
            (*rec).flags |= FLAG_DATA_UNREADABLE;
        }
        fill_task(rec);
    }
    entry.submit(0);
}

/// The current task's identity: ids, comm, cgroup, parent, command line.
#[inline(always)]
unsafe fn fill_task(rec: *mut RawRecord) {
    unsafe {
        let pid_tgid = bpf_get_current_pid_tgid();
        (*rec).pid = pid_tgid as u32;
        (*rec).tgid = (pid_tgid >> 32) as u32;
        let uid_gid = bpf_get_current_uid_gid();
        (*rec).uid = uid_gid as u32;
        (*rec).gid = (uid_gid >> 32) as u32;
        (*rec).cgroup_id = bpf_get_current_cgroup_id();
        bpf_get_current_comm(addr_of!((*rec).comm) as *mut c_void, guardian_common::COMM_LEN as u32);
        let task = bpf_get_current_task();
        (*rec).ptgid = match read_kernel::<u64>(task, off!(task_real_parent))
            .and_then(|parent| read_kernel::<u32>(parent, off!(task_tgid)))
        {
            Some(tgid) => tgid,
            None => {
                (*rec).flags |= FLAG_PARENT_UNREADABLE;
                0
            }
        };
        (*rec).cmdline_len = 0;
        let Some(mm) = read_kernel::<u64>(task, off!(task_mm)).filter(|mm| *mm != 0) else {
            (*rec).flags |= FLAG_CMDLINE_UNREADABLE;
            return;
        };
        let start = read_kernel::<u64>(mm, off!(mm_arg_start)).unwrap_or(0);
        let end = read_kernel::<u64>(mm, off!(mm_arg_end)).unwrap_or(0);
        if start == 0 || end <= start {
            (*rec).flags |= FLAG_CMDLINE_UNREADABLE;
            return;
        }
        let mut n = end - start;
        if n > CMDLINE_CAPTURE as u64 {
            n = CMDLINE_CAPTURE as u64;
            (*rec).flags |= FLAG_CMDLINE_TRUNCATED;
        }
        let n = n as u32 & (2 * CMDLINE_CAPTURE as u32 - 1);
        if bpf_probe_read_user(addr_of!((*rec).cmdline) as *mut c_void, n, start as *const c_void) == 0 {
            (*rec).cmdline_len = n;
        } else {
            (*rec).flags |= FLAG_CMDLINE_UNREADABLE;
        }
    }
}

// ---------------------------------------------------------------------------
// ioctl: tracepoint/syscalls/sys_enter_ioctl

#[tracepoint(category = "syscalls", name = "sys_enter_ioctl")]
pub fn guardian_sys_enter_ioctl(ctx: TracePointContext) -> i32 {
    let base = ctx.as_ptr() as *const u8;
    // SAFETY: tracepoint context, offsets of the syscall tracepoint ABI.
    let cmd = unsafe { load::<u64>(base, ioctl::TP_CMD_OFFSET) } as u32;
    if cmd != ioctl::SIOCDELRT && cmd != ioctl::SIOCSIFFLAGS {
        return 0;
    }
    let arg = unsafe { load::<u64>(base, ioctl::TP_ARG_OFFSET) };
    unsafe { ioctl_record(cmd, arg) };
    0
}

#[inline(never)]
unsafe fn ioctl_record(cmd: u32, arg: u64) {
    unsafe {
        let own = filter!(own_tgid);
        if own != 0 && (bpf_get_current_pid_tgid() >> 32) as u32 == own {
            return;
        }
        if cmd == ioctl::SIOCSIFFLAGS {
            // Only interfaces being set down.
            let mut flags: u16 = 0;
            if bpf_probe_read_user(
                (&mut flags as *mut u16).cast(),
                2,
                (arg as usize + ioctl::IFREQ_FLAGS_OFFSET) as *const c_void,
            ) != 0
                || u32::from(flags) & nl::IFF_UP != 0
            {
                return;
            }
        }
        let task = bpf_get_current_task();
        let cookie = read_kernel::<u64>(task, off!(task_nsproxy))
            .filter(|p| *p != 0)
            .and_then(|nsproxy| read_kernel::<u64>(nsproxy, off!(nsproxy_net_ns)))
            .filter(|p| *p != 0)
            .and_then(|net| read_kernel::<u64>(net, off!(net_cookie)))
            .unwrap_or(0);
        let wanted = filter!(netns_cookie);
        if wanted != 0 && cookie != wanted {
            return;
        }
        let Some(mut entry) = RECORDS.reserve::<RawRecord>(0) else {
            count_drop();
            return;
        };
        let rec = entry.as_mut_ptr();
        (*rec).source = SOURCE_IOCTL;
        (*rec).msg_type = cmd;
        (*rec).ktime_ns = bpf_ktime_get_ns();
        (*rec).nl_portid = 0;
        (*rec).nl_seq = 0;
        (*rec).nl_flags = 0;
        (*rec).netns_cookie = cookie;
        (*rec).flags = 0;
        let n = if cmd == ioctl::SIOCDELRT { ioctl::RTENTRY_LEN } else { ioctl::IFREQ_LEN };
        (*rec).msg_len = n;
        if bpf_probe_read_user(addr_of!((*rec).data) as *mut c_void, n, arg as *const c_void) == 0 {
            (*rec).data_len = n;
        } else {
            (*rec).data_len = 0;
            (*rec).flags |= FLAG_DATA_UNREADABLE;
        }
        fill_task(rec);
        entry.submit(0);
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
