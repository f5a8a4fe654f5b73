//! Deleter attribution, kernel side: the eBPF programs of `guardian-ebpf`
//! (embedded, see [`loader::OBJECT`]) record who asked the kernel to delete
//! a route, a link, an address or a nexthop; this module loads them and
//! turns their ring-buffer records into [`Record`]s.
//!
//! ```text
//! kernel: tp_btf/consume_skb, tracepoint sys_enter_ioctl
//!    │ RawRecord (guardian-common)
//!    ▼
//! RECORDS ring buffer ──AsyncFd──> reader task ──records::Record──> mpsc::Receiver<Record>
//! AYA_LOGS ring buffer ──AsyncFd──> log task ──> tracing (target guardian::ebpf::program, DEBUG)
//! DROPS per-CPU counter <── Attribution::drops()
//! ```
//!
//! A record says a request was *made*; whether it succeeded is confirmed by
//! the kernel's notification (same netns, port id and sequence number), see
//! `shared/design/attribution.md`.

pub mod btf;
pub mod loader;
pub mod records;

use std::io;
use std::os::fd::AsRawFd;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use guardian_common::DEFAULT_RING_SIZE;
pub use records::{DecodeError, IoctlArg, NetlinkMsg, Record, Request, Task};

/// tracing target of the program's own aya-log diagnostics (DEBUG).
pub const PROGRAM_LOG_TARGET: &str = "guardian::ebpf::program";

/// Why attribution could not start. Every variant is a reason to fall back
/// (netlink port id attribution), never to stop guarding routes.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error(
        "not permitted to load eBPF programs ({what}): guardian needs CAP_BPF and CAP_PERFMON \
         (or root) for deleter attribution"
    )]
    NotPermitted {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "the kernel's BTF is missing or not what the program expects ({reason}): deleter attribution needs a kernel with CONFIG_DEBUG_INFO_BTF"
    )]
    NoBtf { reason: String },
    #[error("the kernel refused the eBPF program {program}: {source}\n{log}")]
    ProgramRefused {
        program: &'static str,
        #[source]
        source: io::Error,
        /// The verifier log's tail ([`loader::VERIFIER_LOG_MAX`] bytes at most).
        log: String,
    },
    #[error("the embedded eBPF object has no {0}: rebuild it with `cargo xtask build-ebpf`")]
    MissingInObject(&'static str),
    #[error("deleter attribution: {what}: {source}")]
    Other {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The running programs. Dropping it detaches them and stops the reader.
pub struct Attribution {
    drops: PerCpuArray<MapData, u64>,
    tasks: Vec<JoinHandle<()>>,
    ioctl_attached: bool,
    // Last: the programs and links live as long as this.
    _ebpf: aya::Ebpf,
}

impl Attribution {
    /// Loads and attaches the programs and starts the reader (call inside a
    /// tokio runtime). `own_tgid` is skipped in the program; `ring_size` in
    /// bytes ([`DEFAULT_RING_SIZE`]); `all_netns` records requests in every
    /// network namespace, otherwise only in the caller's.
    pub fn start(own_tgid: u32, ring_size: u32, all_netns: bool) -> Result<(Self, mpsc::Receiver<Record>), EbpfError> {
        let netns_cookie = if all_netns {
            0
        } else {
            current_netns_cookie().map_err(|source| EbpfError::Other {
                what: "reading this network namespace's cookie (SO_NETNS_COOKIE)",
                source: Box::new(source),
            })?
        };
        let program_log = tracing::enabled!(target: PROGRAM_LOG_TARGET, tracing::Level::DEBUG);
        let loader::Loaded { mut ebpf, records, drops, ioctl } =
            loader::load(&loader::LoadOptions { own_tgid, ring_size, netns_cookie, program_log })?;
        if let Err(err) = &ioctl {
            tracing::warn!(error = %err, "ioctl attribution unavailable (route del / ifconfig down stay unattributed)");
        }
        let async_error = |source: io::Error| EbpfError::Other {
            what: "registering the ring buffer with the runtime",
            source: Box::new(source),
        };
        // Deep enough that a mass flush is drained from the ring into memory
        // while the attribution task catches up, instead of dropping in the kernel.
        let (tx, rx) = mpsc::channel(1 << 16);
        // SAFETY: the ring buffer owns its map fd and keeps it open while
        // the AsyncFd holds it.
        let records = unsafe { AsyncFd::register(records) }.map_err(|e| async_error(e.into()))?;
        let mut tasks = vec![tokio::spawn(read_records(records, tx))];
        if program_log {
            match aya_log::EbpfLogger::init_with_logger(&mut ebpf, TracingLog) {
                Ok(logger) => {
                    // SAFETY: as above, the logger owns its ring buffer's fd.
                    let logger = unsafe { AsyncFd::register(logger) }.map_err(|e| async_error(e.into()))?;
                    tasks.push(tokio::spawn(forward_program_log(logger)));
                }
                Err(err) => tracing::warn!(error = %err, "eBPF program log unavailable"),
            }
        }
        Ok((Attribution { drops, tasks, ioctl_attached: ioctl.is_ok(), _ebpf: ebpf }, rx))
    }

    /// Whether `SIOCDELRT`/`SIOCSIFFLAGS` ioctls are recorded too (the
    /// tracepoint needs tracefs).
    pub fn ioctl_attached(&self) -> bool {
        self.ioctl_attached
    }

    /// Records the program could not write because the ring buffer was full.
    pub fn drops(&self) -> u64 {
        loader::read_drops(&self.drops)
    }
}

impl Drop for Attribution {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// `SO_NETNS_COOKIE` of a throw-away socket: this thread's network namespace.
pub fn current_netns_cookie() -> io::Result<u64> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").or_else(|_| std::net::UdpSocket::bind("[::1]:0"))?;
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: valid fd, out-pointer and length for an 8-byte option.
    let ret = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}

/// Drains the ring buffer whenever it is readable; decoded records go to
/// `tx` (awaiting when the consumer is behind: the ring buffer absorbs the
/// burst and the program counts what does not fit).
async fn read_records(mut fd: AsyncFd<RingBuf<MapData>>, tx: mpsc::Sender<Record>) {
    loop {
        let mut guard = match fd.readable_mut().await {
            Ok(guard) => guard,
            Err(err) => {
                tracing::error!(error = %err, "eBPF ring buffer unreadable, attribution stopped");
                return;
            }
        };
        let mut batch = Vec::new();
        {
            let ring = guard.get_inner_mut();
            while let Some(item) = ring.next() {
                match Record::try_from(&*item) {
                    Ok(record) => batch.push(record),
                    Err(err) => tracing::warn!(error = %err, "undecodable eBPF record skipped"),
                }
                if batch.len() >= 256 {
                    break;
                }
            }
        }
        let drained = batch.len() < 256;
        for record in batch {
            if tx.send(record).await.is_err() {
                return; // receiver gone: nobody wants records
            }
        }
        if drained {
            guard.clear_ready();
        }
    }
}

async fn forward_program_log(mut fd: AsyncFd<aya_log::EbpfLogger<TracingLog>>) {
    loop {
        match fd.readable_mut().await {
            Ok(mut guard) => {
                guard.get_inner_mut().flush();
                guard.clear_ready();
            }
            Err(_) => return,
        }
    }
}

/// aya-log speaks `log`; guardian speaks `tracing`.
struct TracingLog;

impl log::Log for TracingLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        tracing::debug!(target: "guardian::ebpf::program", level = %record.level(), "{}", record.args());
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod live_tests;
