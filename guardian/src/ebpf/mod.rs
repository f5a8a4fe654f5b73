//! Deleter attribution, kernel side: the eBPF programs of `guardian-ebpf`
//! (embedded, see [`loader::OBJECT`]) record who asked the kernel to delete
//! a route, a link, an address or a nexthop; this module loads them and
//! turns their ring-buffer records into [`Record`]s.
//!
//! ```text
//! kernel: tp_btf/consume_skb, tracepoint sys_enter_ioctl
//!    │ RawRecord (guardian-common)
//!    ▼
//! RECORDS ring buffer ──poll──> reader thread ──records::Record──> mpsc::Receiver<Record>
//! AYA_LOGS ring buffer ──AsyncFd──> log task ──> tracing (target guardian::ebpf::program, DEBUG)
//! DROPS per-CPU counter <── Attribution::drops()
//! ```
//!
//! A record says a request was *made*; whether it succeeded is confirmed by
//! the kernel's notification (same netns, port id and sequence number), see
//! docs/attribution.md.

pub mod btf;
pub mod loader;
pub mod netns;
pub mod records;
pub mod variant;

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;

pub use guardian_common::DEFAULT_RING_SIZE;
pub use records::{DecodeError, Decoder, IoctlArg, NetlinkMsg, Record, Request, Task};
pub use variant::{Force, Hook, Memlock, NetnsBy, Variant, Walk, FORCE_ENV};

/// What [`Attribution::start`] needs.
#[derive(Debug, Clone, Copy)]
pub struct StartOptions {
    /// guardian's own tgid: skipped in the program.
    pub own_tgid: u32,
    /// Ring buffer size in bytes ([`DEFAULT_RING_SIZE`]).
    pub ring_size: u32,
    /// Record requests in every network namespace, not only the caller's.
    pub all_netns: bool,
    /// Choices forced instead of probed.
    pub force: Force,
}

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
    #[error(
        "not permitted to load eBPF programs ({what}): this kernel charges BPF maps to RLIMIT_MEMLOCK, which is {limit}; \
         run guardian with LimitMEMLOCK=infinity (systemd) or `ulimit -l unlimited`"
    )]
    MemlockTooLow {
        what: &'static str,
        /// The soft limit, in words (`65536 bytes`).
        limit: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "the kernel refuses {hook} programs (on {function}): {source} (hardened or virtualised kernels do; unless the hook is forced, guardian uses consume_skb)"
    )]
    HookRefused {
        hook: &'static str,
        function: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot tell which network namespace guardian runs in: {0}")]
    Netns(#[source] io::Error),
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
    /// The ring buffer reader thread and its stop flag.
    reader: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    ioctl_attached: bool,
    variant: Variant,
    // Last: the programs and links live as long as this.
    _ebpf: aya::Ebpf,
}

impl Attribution {
    /// Loads and attaches the programs and starts the reader (call inside a
    /// tokio runtime), choosing the variant this kernel supports unless
    /// `options.force` says otherwise.
    pub fn start(options: &StartOptions) -> Result<(Self, mpsc::Receiver<Record>), EbpfError> {
        let force = options.force;
        let memlock = force.memlock.unwrap_or_else(variant::probe_memlock);
        if memlock == Memlock::Rlimit {
            // Before the maps are created; a failure is reported if loading
            // then fails for want of locked memory.
            if let Err(err) = variant::raise_memlock() {
                tracing::warn!(error = %err, limit = ?variant::memlock_limit(), "cannot raise RLIMIT_MEMLOCK, which this kernel charges BPF maps to (set LimitMEMLOCK=infinity in the unit)");
            }
        }
        let (netns_by, netns_id) = netns::choose(force.netns, options.all_netns)?;
        let walk = force.walk.unwrap_or_else(variant::probe_walk);
        let program_log = tracing::enabled!(target: PROGRAM_LOG_TARGET, tracing::Level::DEBUG);
        let loaded = loader::load(&loader::LoadOptions {
            own_tgid: options.own_tgid,
            ring_size: options.ring_size,
            netns_by,
            netns_id,
            hook: force.hook,
            walk,
            program_log,
        })
        .map_err(|err| match err {
            EbpfError::NotPermitted { what, source } if memlock == Memlock::Rlimit => {
                let limit = match variant::memlock_limit() {
                    Some(libc::RLIM_INFINITY) => "unlimited".to_owned(),
                    Some(bytes) => format!("{bytes} bytes"),
                    None => "unknown".to_owned(),
                };
                EbpfError::MemlockTooLow { what, limit, source }
            }
            other => other,
        })?;
        let loader::Loaded { mut ebpf, records, drops, hook, fentry_refused, ioctl } = loaded;
        let variant = Variant { hook, walk, netns: netns_by, memlock };
        if let Some(err) = &fentry_refused {
            tracing::debug!(error = %err, "fentry on the rtnetlink handlers refused; hooking consume_skb");
        }
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
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("guardian-ebpf-ring".into())
                .spawn(move || read_records(records, tx, &stop))
                .map_err(|source| EbpfError::Other {
                    what: "starting the ring buffer reader thread",
                    source: Box::new(source),
                })?
        };
        let mut tasks = Vec::new();
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
        Ok((
            Attribution {
                drops,
                tasks,
                reader: Some((stop, reader)),
                ioctl_attached: ioctl.is_ok(),
                variant,
                _ebpf: ebpf,
            },
            rx,
        ))
    }

    /// The program variant running on this kernel.
    pub fn variant(&self) -> Variant {
        self.variant
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
        if let Some((stop, reader)) = self.reader.take() {
            stop.store(true, Ordering::Relaxed);
            // It notices within one poll timeout.
            let _ = reader.join();
        }
    }
}

/// How long the reader thread sleeps in `poll` before looking at its stop
/// flag, and how long while records wait for room in the channel.
const READER_POLL_MS: libc::c_int = 100;
const BACKLOG_POLL_MS: libc::c_int = 1;
/// Records the reader thread keeps while the channel is full (a few hundred
/// bytes each). A mass flush is drained from the kernel's ring at once and
/// waits here until the attribution task catches up; beyond this the reader
/// leaves records in the ring, and the program counts what does not fit.
pub const READER_BACKLOG_MAX: usize = 1 << 18;

/// The reader thread: drains the ring buffer whenever it is readable and
/// hands the decoded records to `tx`, keeping up to [`READER_BACKLOG_MAX`]
/// of them when the channel is full. A thread of its own, not a task on
/// the runtime: during a mass flush the runtime is busy reinstalling
/// routes and logging them, and a reader that waits for a worker, or for
/// room in the channel, lets the ring fill up.
fn read_records(mut ring: RingBuf<MapData>, tx: mpsc::Sender<Record>, stop: &AtomicBool) {
    let fd = ring.as_raw_fd();
    let mut decoder = records::Decoder::default();
    let mut backlog = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        // Oldest first: the attribution task relies on the ring's order.
        while let Some(record) = backlog.pop_front() {
            match tx.try_send(record) {
                Ok(()) => {}
                Err(TrySendError::Full(record)) => {
                    backlog.push_front(record);
                    break;
                }
                Err(TrySendError::Closed(_)) => return, // nobody wants records
            }
        }
        while backlog.len() < READER_BACKLOG_MAX {
            let Some(item) = ring.next() else { break };
            let decoded = decoder.decode(&item);
            drop(item); // hands the space back to the program
            match decoded {
                Ok(record) if backlog.is_empty() => match tx.try_send(record) {
                    Ok(()) => {}
                    Err(TrySendError::Full(record)) => backlog.push_back(record),
                    Err(TrySendError::Closed(_)) => return,
                },
                Ok(record) => backlog.push_back(record),
                Err(err) => tracing::warn!(error = %err, "undecodable eBPF record skipped"),
            }
        }
        if backlog.len() >= READER_BACKLOG_MAX {
            // The ring stays readable: poll would return at once.
            std::thread::sleep(std::time::Duration::from_millis(BACKLOG_POLL_MS as u64));
            continue;
        }
        let timeout = if backlog.is_empty() { READER_POLL_MS } else { BACKLOG_POLL_MS };
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd; the ring buffer keeps its fd open.
        let ret = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                tracing::error!(error = %err, "eBPF ring buffer unreadable, attribution stopped");
                return;
            }
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
mod netns_tests;
