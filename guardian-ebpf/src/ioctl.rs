//! ioctl: tracepoint/syscalls/sys_enter_ioctl (net-tools `route del`,
//! `ifconfig down`).

use core::{ffi::c_void, ptr::addr_of};

use aya_ebpf::{
    helpers::generated::{bpf_get_current_task, bpf_ktime_get_ns, bpf_probe_read_user},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext,
};
use guardian_common::{ioctl, nl, RawRecord, FLAG_DATA_UNREADABLE, SOURCE_IOCTL};

use crate::kernel::{count_drops, is_own_task, load, netns_id_read, netns_wanted, off, read_kernel};
use crate::task::fill_task;
use crate::RECORDS;

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
        if is_own_task() {
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
        let netns = read_kernel::<u64>(task, off!(task_nsproxy))
            .filter(|p| *p != 0)
            .and_then(|nsproxy| read_kernel::<u64>(nsproxy, off!(nsproxy_net_ns)))
            .filter(|p| *p != 0)
            .and_then(|net| netns_id_read(net))
            .unwrap_or(0);
        if !netns_wanted(netns) {
            return;
        }
        let Some(mut entry) = RECORDS.reserve::<RawRecord>(0) else {
            count_drops(1);
            return;
        };
        let rec = entry.as_mut_ptr();
        (*rec).source = SOURCE_IOCTL;
        (*rec).msg_type = cmd;
        (*rec).ktime_ns = bpf_ktime_get_ns();
        (*rec).nl_portid = 0;
        (*rec).nl_seq = 0;
        (*rec).nl_flags = 0;
        (*rec).netns_id = netns;
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
