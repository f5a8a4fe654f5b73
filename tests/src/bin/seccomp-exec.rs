//! `seccomp-exec PROGRAM ARGS...`: installs a system call allow list, then
//! execs PROGRAM under it. What systemd's `SystemCallFilter=` does for a
//! service, for the tests that run guardian under its unit's settings
//! (`guardian_tests::unit`), where no systemd is there to do it.
//!
//! `SECCOMP_ALLOW`: the allowed system call numbers (x86_64), comma
//! separated. `SECCOMP_DENY`: `kill` (the process dies of SIGSYS, the test
//! sees which run broke) or an errno number (the call fails with it, as
//! `SystemCallErrorNumber=` makes it). Like `SystemCallArchitectures=native`,
//! calls of another ABI (x32, i386) are denied too.

use std::ffi::CString;

#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// BPF_LD | BPF_W | BPF_ABS (the first two are 0).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

fn fail(message: &str) -> ! {
    eprintln!("seccomp-exec: {message}");
    std::process::exit(127);
}

fn main() {
    if !cfg!(target_arch = "x86_64") {
        fail("only x86_64 is supported");
    }
    let args: Vec<CString> = std::env::args_os()
        .skip(1)
        .map(|a| CString::new(a.into_encoded_bytes()).expect("no NUL in arguments"))
        .collect();
    if args.is_empty() {
        fail("usage: seccomp-exec PROGRAM ARGS... (SECCOMP_ALLOW=nr,nr,... SECCOMP_DENY=kill|ERRNO)");
    }
    let allow: Vec<u32> = std::env::var("SECCOMP_ALLOW")
        .unwrap_or_else(|_| fail("SECCOMP_ALLOW is not set"))
        .split(',')
        .map(|n| n.trim().parse().unwrap_or_else(|_| fail(&format!("not a system call number: {n:?}"))))
        .collect();
    let deny = match std::env::var("SECCOMP_DENY").as_deref() {
        Ok("kill") | Err(_) => RET_KILL_PROCESS,
        Ok(errno) => RET_ERRNO | errno.parse::<u32>().unwrap_or_else(|_| fail("SECCOMP_DENY: kill or an errno number")),
    };
    let mut filter = vec![
        stmt(BPF_LD_W_ABS, ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, NR),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, deny),
    ];
    // Two instructions per call keep every jump within the 8-bit offset.
    for nr in allow {
        filter.push(jump(BPF_JMP_JEQ_K, nr, 0, 1));
        filter.push(stmt(BPF_RET_K, RET_ALLOW));
    }
    filter.push(stmt(BPF_RET_K, deny));
    let prog = SockFprog { len: u16::try_from(filter.len()).expect("a filter that fits"), filter: filter.as_ptr() };
    // SAFETY: prctl with plain integer arguments, then with a pointer to a
    // filter program that outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail(&format!("PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error()));
        }
        if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const SockFprog, 0, 0) != 0 {
            fail(&format!("PR_SET_SECCOMP: {}", std::io::Error::last_os_error()));
        }
    }
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: a NUL-terminated program name and argument vector.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    fail(&format!("cannot exec {:?}: {}", args[0], std::io::Error::last_os_error()));
}
