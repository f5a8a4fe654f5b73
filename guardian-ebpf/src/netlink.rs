//! netlink requests to rtnetlink: the message check and record shared by
//! every hook, and the `tp_btf/consume_skb` programs that walk a request
//! skb's messages (with `bpf_loop`, or with a bounded loop where the kernel
//! lacks it).

use core::{ffi::c_void, ptr::addr_of};

use aya_ebpf::{
    helpers::generated::{bpf_ktime_get_ns, bpf_loop, bpf_probe_read_kernel},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use aya_log_ebpf::debug;
use guardian_common::{
    nl, rtm, RawRecord, FLAG_DATA_UNREADABLE, MAX_MSGS_BOUNDED, MAX_MSGS_PER_SKB, MSG_CAPTURE, SOURCE_NETLINK,
};

use crate::kernel::{count_drops, is_own_task, load, netns_id_typed, netns_wanted, off, read_kernel};
use crate::task::fill_task;
use crate::RECORDS;

/// What a record needs besides the message: shared by the message walk
/// (the `bpf_loop` callback's context) and the handler hook.
#[repr(C)]
pub struct Walk {
    pub data: u64,
    pub len: u32,
    pub off: u32,
    pub portid: u32,
    pub dropped: u32,
    pub netns_id: u64,
    pub ktime_ns: u64,
}

/// One `nlmsghdr` plus the first 16 bytes of its body.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct MsgHead {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub body: [u32; 4],
}

/// The same hook doing nothing: `cargo xtask bench` attaches it beside
/// guardian's program, so what dispatch alone costs on this kernel is
/// measured in the same flood. guardian itself never loads it.
#[btf_tracepoint(function = "consume_skb")]
pub fn bench_floor_consume_skb(_ctx: BtfTracePointContext) -> i32 {
    0
}

/// Walks the messages with `bpf_loop` (5.17+): one verification of the
/// callback, up to [`MAX_MSGS_PER_SKB`] messages.
#[btf_tracepoint(function = "consume_skb")]
pub fn guardian_consume_skb(ctx: BtfTracePointContext) -> i32 {
    // SAFETY: BTF-typed pointer from the tracepoint.
    let Some(mut walk) = (unsafe { rtnl_request(ctx.arg(0)) }) else {
        return 0;
    };
    // SAFETY: the callback gets the `Walk` on this stack.
    unsafe { bpf_loop(MAX_MSGS_PER_SKB, walk_one as *mut c_void, (&mut walk as *mut Walk).cast(), 0) };
    if walk.dropped != 0 {
        debug!(&ctx, "ring buffer full: {} records dropped", walk.dropped);
    }
    0
}

/// Walks the messages with a loop the verifier unrolls (kernels without
/// `bpf_loop`): at most [`MAX_MSGS_BOUNDED`]; messages beyond are counted
/// as drops.
#[btf_tracepoint(function = "consume_skb")]
pub fn guardian_consume_skb_bounded(ctx: BtfTracePointContext) -> i32 {
    // SAFETY: BTF-typed pointer from the tracepoint.
    let Some(mut walk) = (unsafe { rtnl_request(ctx.arg(0)) }) else {
        return 0;
    };
    let mut i = 0;
    while i < MAX_MSGS_BOUNDED {
        if walk_one(u64::from(i), (&mut walk as *mut Walk).cast()) != 0 {
            return 0;
        }
        i += 1;
    }
    // Out of iterations with messages left: say so rather than miss them.
    if walk.off < walk.len {
        count_drops(1);
    }
    0
}

/// The request in `skb` when it is one to rtnetlink from another process in
/// a namespace we watch: the start of its messages and what every record
/// of it shares.
#[inline(always)]
unsafe fn rtnl_request(skb: *const u8) -> Option<Walk> {
    // SAFETY: BTF-typed pointers; offsets from the kernel's own BTF.
    unsafe {
        // Hot path: every consumed skb on the host comes through here.
        let sk: *const u8 = load(skb, off!(skb_sk));
        if sk.is_null() {
            return None;
        }
        if load::<u16>(sk, off!(sk_family)) != nl::AF_NETLINK || load::<u16>(sk, off!(sk_protocol)) != nl::NETLINK_ROUTE
        {
            return None;
        }
        // Only NETLINK_ROUTE sockets get here. `flags` lies in the enclosing
        // netlink_sock, beyond the `struct sock` the verifier types `sk` as,
        // so it takes a helper read (the low 32 bits of an `unsigned long`
        // on newer kernels: little-endian).
        match read_kernel::<u32>(sk as u64, off!(nlk_flags)) {
            Some(flags) if flags & nl::F_KERNEL_SOCKET != 0 => {}
            _ => return None,
        }
        // A request to rtnetlink, consumed in the sender's context.
        if is_own_task() {
            return None;
        }
        let netns_id = netns_id_typed(load(sk, off!(sk_net)));
        if !netns_wanted(netns_id) {
            return None;
        }
        // netlink_rcv_skb() pulls each message it handles: walk from head.
        let head: *const u8 = load(skb, off!(skb_head));
        let data: *const u8 = load(skb, off!(skb_data));
        let pulled = (data as u64).wrapping_sub(head as u64);
        if head.is_null() || pulled > u64::from(u32::MAX) {
            return None;
        }
        let len = load::<u32>(skb, off!(skb_len)).saturating_add(pulled as u32);
        Some(Walk {
            data: head as u64,
            len,
            off: 0,
            portid: read_kernel::<u32>(skb as u64, off!(skb_nl_portid)).unwrap_or(0),
            dropped: 0,
            netns_id,
            ktime_ns: bpf_ktime_get_ns(),
        })
    }
}

/// Handles the message at `walk.off` (the `bpf_loop` callback, and the
/// bounded loop's body); 1 stops the walk.
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

/// Whether the message can remove a route: a delete, a replace, a link set
/// down, an address or nexthop removed.
#[inline(always)]
pub fn interesting(head: &MsgHead) -> bool {
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

/// One record for the message at `msg` (kernel address), with the sender's
/// identity.
#[inline(never)]
pub fn emit_netlink(walk: &mut Walk, msg: u64, head: &MsgHead) {
    let Some(mut entry) = RECORDS.reserve::<RawRecord>(0) else {
        count_drops(1);
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
        (*rec).netns_id = walk.netns_id;
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
