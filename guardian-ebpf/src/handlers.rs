//! fentry on the rtnetlink `doit` handlers (`inet_rtm_delroute`,
//! `rtnl_setlink`, ...): each runs in the sender's context with the one
//! message it handles, so unlike `consume_skb` nothing on the packet path
//! pays for attribution. Kernels that refuse fentry (EPERM on hardened or
//! virtualised builds) get the `consume_skb` programs instead.
//!
//! Records are the same as `consume_skb`'s: a request *made*, confirmed by
//! user space against the kernel's notification (so fentry, not fexit: the
//! failed delete is seen and never blamed, on every hook alike).

use aya_ebpf::{helpers::generated::bpf_ktime_get_ns, macros::fentry, programs::FEntryContext};

use crate::kernel::{is_own_task, load, netns_id_typed, netns_wanted, off, read_kernel};
use crate::netlink::{emit_netlink, interesting, MsgHead, Walk};

/// `int handler(struct sk_buff *skb, struct nlmsghdr *nlh, struct netlink_ext_ack *extack)`.
#[inline(always)]
fn on_handler(ctx: &FEntryContext) -> i32 {
    if is_own_task() {
        return 0;
    }
    let skb: *const u8 = ctx.arg(0);
    let nlh: *const u8 = ctx.arg(1);
    // SAFETY: BTF-typed pointers; offsets from the kernel's own BTF. The
    // request skb belongs to the namespace's rtnl socket.
    unsafe {
        let sk: *const u8 = load(skb, off!(skb_sk));
        if sk.is_null() {
            return 0;
        }
        let netns_id = netns_id_typed(load(sk, off!(sk_net)));
        if !netns_wanted(netns_id) {
            return 0;
        }
        let Some(head) = read_kernel::<MsgHead>(nlh as u64, 0) else {
            return 0;
        };
        if !interesting(&head) {
            return 0;
        }
        let mut walk = Walk {
            data: nlh as u64,
            len: head.len,
            off: 0,
            portid: read_kernel::<u32>(skb as u64, off!(skb_nl_portid)).unwrap_or(0),
            dropped: 0,
            netns_id,
            ktime_ns: bpf_ktime_get_ns(),
        };
        emit_netlink(&mut walk, nlh as u64, &head);
    }
    0
}

/// One fentry program per handler (a program attaches to one function);
/// names and functions are `guardian_common::PROG_HANDLERS`.
macro_rules! handlers {
    ($($name:ident => $function:literal),* $(,)?) => {$(
        #[fentry(function = $function)]
        pub fn $name(ctx: FEntryContext) -> i32 {
            on_handler(&ctx)
        }
    )*};
}

handlers! {
    guardian_fentry_inet_rtm_delroute => "inet_rtm_delroute",
    guardian_fentry_inet6_rtm_delroute => "inet6_rtm_delroute",
    guardian_fentry_inet_rtm_newroute => "inet_rtm_newroute",
    guardian_fentry_inet6_rtm_newroute => "inet6_rtm_newroute",
    guardian_fentry_rtnl_newlink => "rtnl_newlink",
    guardian_fentry_rtnl_setlink => "rtnl_setlink",
    guardian_fentry_rtnl_dellink => "rtnl_dellink",
    guardian_fentry_inet_rtm_deladdr => "inet_rtm_deladdr",
    guardian_fentry_inet6_rtm_deladdr => "inet6_rtm_deladdr",
    guardian_fentry_rtm_del_nexthop => "rtm_del_nexthop",
}
