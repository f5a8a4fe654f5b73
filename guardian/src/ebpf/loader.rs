//! Loading the embedded object: read-only globals, ring size, load, attach.

use std::io;

use aya::{
    maps::{MapData, MapError, PerCpuArray, RingBuf},
    programs::{BtfTracePoint, FEntry, ProgramError, TracePoint},
    Ebpf, EbpfError as AyaError, EbpfLoader,
};
use guardian_common::{
    Filter, GLOBAL_FILTER, GLOBAL_OFFSETS, MAP_DROPS, MAP_RECORDS, NETNS_BY_COOKIE, NETNS_BY_INODE, PROG_HANDLERS,
    PROG_IOCTL, PROG_NETLINK, PROG_NETLINK_BOUNDED,
};

use super::variant::{Hook, NetnsBy, Walk};
use super::{btf, EbpfError};

/// The eBPF object built by `cargo xtask build-ebpf` (committed, so the
/// daemon builds with stable Rust alone). Aligned: aya parses it in place.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!("../../ebpf/guardian.bpf.o");

/// Longest verifier log kept in an error: the tail, where the kernel says
/// why it refused (a full log can be hundreds of thousands of lines).
pub const VERIFIER_LOG_MAX: usize = 4096;

/// What [`load`] needs.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// guardian's own tgid: its requests are skipped in the program.
    pub own_tgid: u32,
    /// Ring buffer size in bytes (rounded up to a power of two of pages).
    pub ring_size: u32,
    /// How namespaces are identified, and the one to restrict records to
    /// (0 records every namespace).
    pub netns_by: NetnsBy,
    pub netns_id: u64,
    /// The hook to use; `None` tries fentry, then `consume_skb`.
    pub hook: Option<Hook>,
    /// How the `consume_skb` program walks a request's messages.
    pub walk: Walk,
    /// Let the program emit aya-log diagnostics.
    pub program_log: bool,
}

/// The loaded, attached programs and the maps user space reads.
pub struct Loaded {
    pub ebpf: Ebpf,
    pub records: RingBuf<MapData>,
    pub drops: PerCpuArray<MapData, u64>,
    /// The hook the netlink programs use.
    pub hook: Hook,
    /// Why fentry was not used, when it was tried and refused.
    pub fentry_refused: Option<EbpfError>,
    /// Whether the ioctl program is attached (it needs tracefs).
    pub ioctl: Result<(), EbpfError>,
}

/// Keeps the last `max` bytes of a verifier log (on a char boundary).
pub fn truncate_log(log: &str, max: usize) -> String {
    let log = log.trim_end();
    if log.len() <= max {
        return log.to_owned();
    }
    let mut start = log.len() - max;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    let dropped = log[..start].lines().count();
    format!("[... {dropped} earlier lines cut ...]\n{}", &log[start..])
}

/// Rounds a requested ring size to what the kernel accepts: a power of two,
/// at least one page.
pub fn ring_size(requested: u32) -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    requested.max(page).checked_next_power_of_two().unwrap_or(1 << 31)
}

fn is_eperm(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EPERM)
}

fn program_error(program: &'static str, err: ProgramError) -> EbpfError {
    match err {
        ProgramError::LoadError { io_error, verifier_log } => {
            let log = format!("{verifier_log:?}");
            if is_eperm(&io_error) && log.trim().is_empty() {
                EbpfError::NotPermitted { what: program, source: io_error }
            } else {
                EbpfError::ProgramRefused { program, source: io_error, log: truncate_log(&log, VERIFIER_LOG_MAX) }
            }
        }
        ProgramError::SyscallError(e) if is_eperm(&e.io_error) => {
            EbpfError::NotPermitted { what: program, source: e.io_error }
        }
        other => EbpfError::Other { what: program, source: Box::new(other) },
    }
}

fn loader_error(err: AyaError) -> EbpfError {
    match err {
        AyaError::MapError(MapError::CreateError { io_error, .. }) if is_eperm(&io_error) => {
            EbpfError::NotPermitted { what: "creating the maps", source: io_error }
        }
        AyaError::ProgramError(e) => program_error("the object", e),
        other => EbpfError::Other { what: "loading the eBPF object", source: Box::new(other) },
    }
}

/// Loads the object, patches the globals and attaches both programs.
pub fn load(options: &LoadOptions) -> Result<Loaded, EbpfError> {
    let data = std::fs::read(btf::VMLINUX_BTF)
        .map_err(|source| EbpfError::NoBtf { reason: format!("cannot read {}: {source}", btf::VMLINUX_BTF) })?;
    let offsets = btf::Btf::parse(&data)
        .and_then(|b| b.kernel_offsets())
        .map_err(|e| EbpfError::NoBtf { reason: e.to_string() })?;
    if options.netns_by == NetnsBy::Cookie && offsets.net_cookie == u32::MAX {
        return Err(EbpfError::NoBtf { reason: "struct net has no net_cookie (identify namespaces by inode)".into() });
    }
    let kernel_btf =
        aya::Btf::parse(&data, aya::Endianness::Little).map_err(|e| EbpfError::NoBtf { reason: e.to_string() })?;
    drop(data);
    let netns_by = match options.netns_by {
        NetnsBy::Cookie => NETNS_BY_COOKIE,
        NetnsBy::Inode => NETNS_BY_INODE,
    };
    let filter = Filter { own_tgid: options.own_tgid, netns_by, netns_id: options.netns_id };
    let log_level: u8 = if options.program_log { 0xff } else { 0 };

    let mut ebpf = EbpfLoader::new()
        .btf(Some(&kernel_btf))
        .override_global(GLOBAL_OFFSETS, &offsets, true)
        .override_global(GLOBAL_FILTER, &filter, true)
        .override_global(aya_log::LEVEL, &log_level, true)
        .map_max_entries(MAP_RECORDS, ring_size(options.ring_size))
        .load(OBJECT)
        .map_err(loader_error)?;

    let mut fentry_refused = None;
    let hook = match options.hook {
        Some(Hook::Fentry) => {
            attach_handlers(&mut ebpf, &kernel_btf)?;
            Hook::Fentry
        }
        Some(Hook::ConsumeSkb) => {
            attach_consume_skb(&mut ebpf, &kernel_btf, options.walk)?;
            Hook::ConsumeSkb
        }
        None => match attach_handlers(&mut ebpf, &kernel_btf) {
            Ok(()) => Hook::Fentry,
            Err(refused) => {
                fentry_refused = Some(refused);
                attach_consume_skb(&mut ebpf, &kernel_btf, options.walk)?;
                Hook::ConsumeSkb
            }
        },
    };

    let ioctl = attach_ioctl(&mut ebpf);

    let map_error = |what: &'static str| move |e: MapError| EbpfError::Other { what, source: Box::new(e) };
    let records = ebpf.take_map(MAP_RECORDS).ok_or(EbpfError::MissingInObject(MAP_RECORDS))?;
    let records = RingBuf::try_from(records).map_err(map_error("opening the ring buffer"))?;
    let drops = ebpf.take_map(MAP_DROPS).ok_or(EbpfError::MissingInObject(MAP_DROPS))?;
    let drops = PerCpuArray::try_from(drops).map_err(map_error("opening the drop counter"))?;
    Ok(Loaded { ebpf, records, drops, hook, fentry_refused, ioctl })
}

/// The `consume_skb` program of the chosen walk.
fn attach_consume_skb(ebpf: &mut Ebpf, kernel_btf: &aya::Btf, walk: Walk) -> Result<(), EbpfError> {
    let name = match walk {
        Walk::BpfLoop => PROG_NETLINK,
        Walk::Bounded => PROG_NETLINK_BOUNDED,
    };
    let program = ebpf.program_mut(name).ok_or(EbpfError::MissingInObject(name))?;
    let tp_btf: &mut BtfTracePoint = program.try_into().map_err(|e| program_error(name, e))?;
    tp_btf.load("consume_skb", kernel_btf).map_err(|e| program_error(name, e))?;
    tp_btf.attach().map_err(|e| program_error(name, e))?;
    Ok(())
}

/// Every handler program, or none: a handler left out would leave its
/// requests unattributed, so one refusal unloads those already attached.
fn attach_handlers(ebpf: &mut Ebpf, kernel_btf: &aya::Btf) -> Result<(), EbpfError> {
    let result = PROG_HANDLERS.iter().try_for_each(|&(name, function)| {
        let program = ebpf.program_mut(name).ok_or(EbpfError::MissingInObject(name))?;
        // The maps exist by now, so EPERM here is the kernel refusing
        // fentry itself (hardened or virtualised builds), not a missing
        // capability.
        let refused = |e| match program_error(name, e) {
            EbpfError::NotPermitted { source, .. } => EbpfError::HookRefused { hook: "fentry", function, source },
            other => other,
        };
        let fentry: &mut FEntry = program.try_into().map_err(refused)?;
        fentry.load(function, kernel_btf).map_err(refused)?;
        fentry.attach().map_err(refused)?;
        Ok(())
    });
    if result.is_err() {
        for (name, _) in PROG_HANDLERS {
            if let Some(fentry) = ebpf.program_mut(name).and_then(|p| <&mut FEntry>::try_from(p).ok()) {
                // Not loaded is fine: unloading is all that is wanted here.
                let _ = fentry.unload();
            }
        }
    }
    result
}

/// The ioctl program is optional: its tracepoint is found through tracefs,
/// which is not mounted everywhere (containers).
fn attach_ioctl(ebpf: &mut Ebpf) -> Result<(), EbpfError> {
    let program = ebpf.program_mut(PROG_IOCTL).ok_or(EbpfError::MissingInObject(PROG_IOCTL))?;
    let tp: &mut TracePoint = program.try_into().map_err(|e| program_error(PROG_IOCTL, e))?;
    tp.load().map_err(|e| program_error(PROG_IOCTL, e))?;
    tp.attach("syscalls", "sys_enter_ioctl").map_err(|e| program_error(PROG_IOCTL, e))?;
    Ok(())
}

/// Sum of the per-CPU drop counters.
pub fn read_drops(drops: &PerCpuArray<MapData, u64>) -> u64 {
    drops.get(&0, 0).map(|values| values.iter().sum()).unwrap_or(0)
}

#[cfg(test)]
mod tests;
