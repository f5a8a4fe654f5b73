//! The current task's identity, written into a record.

use core::{ffi::c_void, ptr::addr_of};

use aya_ebpf::helpers::generated::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task,
    bpf_get_current_uid_gid, bpf_probe_read_user,
};
use guardian_common::{
    RawRecord, CMDLINE_CAPTURE, COMM_LEN, FLAG_CMDLINE_TRUNCATED, FLAG_CMDLINE_UNREADABLE, FLAG_PARENT_UNREADABLE,
};

use crate::kernel::{off, read_kernel};

/// Ids, comm, cgroup, parent and command line. The parent and the command
/// line are read here because a short-lived deleter such as `ip` is gone
/// before user space could read /proc.
#[inline(always)]
pub unsafe fn fill_task(rec: *mut RawRecord) {
    unsafe {
        let pid_tgid = bpf_get_current_pid_tgid();
        (*rec).pid = pid_tgid as u32;
        (*rec).tgid = (pid_tgid >> 32) as u32;
        let uid_gid = bpf_get_current_uid_gid();
        (*rec).uid = uid_gid as u32;
        (*rec).gid = (uid_gid >> 32) as u32;
        (*rec).cgroup_id = bpf_get_current_cgroup_id();
        bpf_get_current_comm(addr_of!((*rec).comm) as *mut c_void, COMM_LEN as u32);
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
