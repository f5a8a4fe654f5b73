//! When a receiver's kernel table holds every route: the kernel's own
//! route notifications (RTNLGRP_IPV4_ROUTE), counted by a thread of the
//! bench in the receiver's namespace, with the wall-clock time of the
//! last addition; a dump of the table that only counts confirms the
//! total once the notifications say it is there. Dumping 1M routes over
//! and over while the daemons fill the table would take the CPU they
//! are timed on; a notification costs the bench a few header reads.
//!
//! A notification lost to an overrun (ENOBUFS, counted) makes the count
//! short: the bench then confirms by dumping once a second, and the
//! instant is the start of the confirming dump (an upper bound).

use super::*;

/// The notification socket's buffer: a burst of 1M additions never fills it.
const RCVBUF: usize = 256 << 20;
/// Between two confirming dumps that found the table short.
const REDUMP: Duration = Duration::from_secs(1);

#[derive(Default, Clone, Copy)]
struct Seen {
    added: u64,
    removed: u64,
    last_added: Option<SystemTime>,
    overruns: u64,
}

/// A receiver's table being watched; [`TableWatch::check`] says when it is full.
pub(super) struct TableWatch {
    name: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
    dumper: Socket,
    buf: Vec<u8>,
    seq: u32,
    last_dump: Option<(Instant, u64)>,
}

/// What a full table tells.
#[derive(Clone, Copy)]
pub(super) struct Full {
    pub(super) at: SystemTime,
    /// The notifications missed some additions: `at` is an upper bound.
    pub(super) overruns: u64,
    /// Route additions notified (replacements count again).
    pub(super) notified: u64,
}

impl TableWatch {
    /// Starts watching table [`TABLE`] in `ns`; call before the routes come.
    pub(super) fn start(ns: &Netns, name: &str) -> Result<TableWatch> {
        let (sock, dumper) = ns.run_in(|| -> Result<(Socket, Socket)> {
            let s = netlink::open(&[netlink::RTNLGRP_IPV4_ROUTE], RCVBUF)?;
            netlink::set_recv_timeout(&s, Duration::from_millis(50))?;
            let d = netlink::open(&[], 0)?;
            netlink::set_recv_timeout(&d, Duration::from_secs(60))?;
            Ok((s, d))
        })?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("bgp-watch-{name}"))
            .spawn(move || count_notifications(&sock, &seen2, &stop2))?;
        Ok(TableWatch {
            name: name.to_owned(),
            seen,
            stop,
            thread: Some(thread),
            dumper,
            buf: vec![0u8; 1 << 20],
            seq: 0,
            last_dump: None,
        })
    }

    /// `Some` once table [`TABLE`] holds `n` routes (a dump says so).
    pub(super) fn check(&mut self, n: u64) -> Result<Option<Full>> {
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            let result = self.thread.take().expect("checked").join();
            result.unwrap_or_else(|_| bail!("the watch thread panicked"))?;
            bail!("the watch of {}'s table ended early", self.name);
        }
        let seen = *self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let net = seen.added.saturating_sub(seen.removed);
        let worth_dumping = if seen.overruns == 0 {
            // The notifications say full, and more came since the last dump.
            net >= n && self.last_dump.is_none_or(|(_, added)| added != seen.added)
        } else {
            self.last_dump.is_none_or(|(t, _)| t.elapsed() >= REDUMP)
        };
        if !worth_dumping {
            return Ok(None);
        }
        let started = SystemTime::now();
        self.seq += 1;
        let counted = netlink::count_dump(&self.dumper, TABLE, self.seq, &mut self.buf)?;
        self.last_dump = Some((Instant::now(), seen.added));
        if (counted as u64) < n {
            return Ok(None);
        }
        let at = match (seen.overruns, seen.last_added) {
            (0, Some(at)) => at,
            _ => started,
        };
        Ok(Some(Full { at, overruns: seen.overruns, notified: seen.added }))
    }
}

impl Drop for TableWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The watch thread: counts IPv4 additions and removals in [`TABLE`].
fn count_notifications(sock: &Socket, seen: &Mutex<Seen>, stop: &AtomicBool) -> Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let n = match netlink::recv(sock, &mut buf) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                seen.lock().unwrap_or_else(|e| e.into_inner()).overruns += 1;
                continue;
            }
            Err(e) => return Err(e).context("reading route notifications"),
        };
        let at = SystemTime::now();
        let (mut added, mut removed) = (0, 0);
        for (kind, _, payload) in netlink::messages(&buf[..n]) {
            match netlink::parse_route(kind, payload) {
                Some(ev) if ev.table == TABLE && ev.kind == netlink::RTM_NEWROUTE => added += 1,
                Some(ev) if ev.table == TABLE && ev.kind == netlink::RTM_DELROUTE => removed += 1,
                _ => {}
            }
        }
        if added + removed > 0 {
            let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
            s.added += added;
            s.removed += removed;
            if added > 0 {
                s.last_added = Some(at);
            }
        }
    }
    Ok(())
}
