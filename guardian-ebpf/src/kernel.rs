//! Reading kernel memory and the read-only globals user space patches in.

use core::{
    ffi::c_void,
    ptr::{addr_of, read_volatile},
};

use aya_ebpf::helpers::generated::{bpf_get_current_pid_tgid, bpf_probe_read_kernel};
use guardian_common::NETNS_BY_INODE;

use crate::{DROPS, GUARDIAN_FILTER};

/// A field of `GUARDIAN_OFFSETS`, as `usize`.
macro_rules! off {
    ($field:ident) => {{
        // SAFETY: a plain read of a static; volatile so the value patched
        // into .rodata at load time is read, not the compile-time default.
        #[allow(unused_unsafe)]
        let value = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(crate::GUARDIAN_OFFSETS.$field)) };
        value as usize
    }};
}
pub(crate) use off;

/// Direct load through a BTF-typed kernel pointer (`tp_btf`/fentry argument
/// or a pointer loaded from one): the verifier checks `off` against the
/// kernel's BTF and turns the load into a fault-safe one. No helper call.
#[inline(always)]
pub unsafe fn load<T: Copy>(base: *const u8, off: usize) -> T {
    unsafe { read_volatile(base.add(off).cast::<T>()) }
}

/// `bpf_probe_read_kernel` of a `T` at `base + off`.
#[inline(always)]
pub unsafe fn read_kernel<T: Copy + Default>(base: u64, off: usize) -> Option<T> {
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
fn filter_netns_by() -> u32 {
    // SAFETY: as in `off!`.
    unsafe { read_volatile(addr_of!(GUARDIAN_FILTER.netns_by)) }
}

/// Whether the current task is guardian itself (its own requests are skipped).
#[inline(always)]
pub fn is_own_task() -> bool {
    // SAFETY: as in `off!`.
    let own = unsafe { read_volatile(addr_of!(GUARDIAN_FILTER.own_tgid)) };
    // SAFETY: a helper without preconditions.
    own != 0 && (unsafe { bpf_get_current_pid_tgid() } >> 32) as u32 == own
}

/// Whether `id` is a namespace the programs record (0: every one).
#[inline(always)]
pub fn netns_wanted(id: u64) -> bool {
    // SAFETY: as in `off!`.
    let wanted = unsafe { read_volatile(addr_of!(GUARDIAN_FILTER.netns_id)) };
    wanted == 0 || id == wanted
}

/// The id of `struct net *net` through a BTF-typed pointer: its cookie, or
/// its inode number where user space chose that (a constant: the verifier
/// drops the other branch, so a kernel without `net_cookie` never sees it).
#[inline(always)]
pub unsafe fn netns_id_typed(net: *const u8) -> u64 {
    if net.is_null() {
        return 0;
    }
    unsafe {
        if filter_netns_by() == NETNS_BY_INODE {
            u64::from(load::<u32>(net, off!(net_inum)))
        } else {
            load::<u64>(net, off!(net_cookie))
        }
    }
}

/// [`netns_id_typed`] through helper reads (an untyped `struct net *`).
#[inline(always)]
pub unsafe fn netns_id_read(net: u64) -> Option<u64> {
    unsafe {
        if filter_netns_by() == NETNS_BY_INODE {
            read_kernel::<u32>(net, off!(net_inum)).map(u64::from)
        } else {
            read_kernel::<u64>(net, off!(net_cookie))
        }
    }
}

/// Counts a record the full ring buffer could not take.
#[inline(always)]
pub fn count_drops(n: u64) {
    if let Some(counter) = DROPS.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, programs do not migrate while running.
        unsafe { *counter += n };
    }
}
