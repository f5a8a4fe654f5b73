//! The attribution task: joins each repair with who caused it, then writes
//! the `route reinstalled` line, counts it, and keeps it for `guardian
//! deletions`.
//!
//! ```text
//!  reconcile ──Repaired──▶ ┌────────────┐ ──▶ log line, guardian_route_reinstalls_total{deleter}
//!  ebpf reader ──Record──▶ │ Attributor │ ──▶ Recent (guardian deletions)
//!  control API ──Query───▶ └────────────┘ ──Deleted──▶ reconcile (damping: is it a fight?)
//! ```
//!
//! A deletion is joined with the eBPF record of the request the kernel's
//! notification names (its port id and sequence number), so a request that
//! failed is never blamed. The record may reach user space a little after
//! the notification: a repair waits for it up to [`RECORD_WAIT`], then falls
//! back to the port id. A route found missing by a scan (after an overrun,
//! say) is joined with a recent delete record for that very route, and one
//! flushed with its link with the record that set the link down.

use super::{Attribution, Deleter, DeleterLabels, Deletion, PortIdResolver, ProcessInfo, Procfs, Recent, Who};
use crate::ebpf::{self, Record, Request};
use crate::kernel::wire;
use crate::messages::{Cause, Deleted, DeleterId, Repaired};
use crate::metrics::{Metrics, ModeLabels, RepairLabels};
use crate::route::RouteKey;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a repair waits for the eBPF record of its deletion.
pub const RECORD_WAIT: Duration = Duration::from_millis(200);
/// How long records are kept for joining (a repair waits at most
/// [`RECORD_WAIT`]; a resync after an overrun comes within seconds).
const RECORD_TTL: Duration = Duration::from_secs(10);
/// At most this many records are kept (a mass flush is a record per route).
const MAX_RECORDS: usize = 1 << 20;

/// Requests from the control API and the guards.
pub enum Query {
    Deletions {
        limit: Option<usize>,
        reply: oneshot::Sender<Vec<Deletion>>,
    },
    /// Who caused a loss, for a guard deciding about it: answered the way a
    /// repair is attributed (waiting for the eBPF record up to
    /// [`RECORD_WAIT`]), without logging or counting anything. Records are
    /// not used up, so the repair that may follow finds its deleter again.
    Who {
        loss: Lost,
        reply: oneshot::Sender<Option<Deleter>>,
    },
    /// A guard's decision to keep in `guardian deletions`.
    Note(Deletion),
}

/// What attribution needs to know about a loss.
#[derive(Debug, Clone)]
pub struct Lost {
    pub key: RouteKey,
    pub cause: Cause,
    pub requester: Option<crate::messages::Requester>,
    pub link_index: Option<u32>,
}

impl Lost {
    pub fn of(r: &Repaired) -> Lost {
        Lost { key: r.key, cause: r.cause.clone(), requester: r.requester, link_index: r.link_index }
    }

    pub fn of_loss(l: &crate::messages::OwnedLoss) -> Lost {
        Lost { key: l.key, cause: l.cause.clone(), requester: l.requester, link_index: l.link_index }
    }
}

/// What waits for an eBPF record: a repair to report, or a guard's question.
enum Waiter {
    Repair(Repaired),
    Who(Lost, oneshot::Sender<Option<Deleter>>),
}

pub struct Attributor {
    source: Attribution,
    labels: DeleterLabels,
    recent: Recent,
    metrics: Arc<Metrics>,
    procfs: Procfs,
    resolver: PortIdResolver,
    /// The loaded programs: they stay attached while this lives.
    programs: Option<ebpf::Attribution>,
    /// The programs' drop counter when last read, so that
    /// `guardian_attribution_drops_total` adds only what it gained.
    drops_seen: u64,
    records: Records,
    /// Repairs waiting for their record.
    waiting: HashMap<WaitKey, Vec<Waiter>>,
    deadlines: VecDeque<(Instant, WaitKey)>,
    cgroups: CgroupPaths,
    /// Port ids resolved lately: a flush is thousands of deletions from one
    /// socket, and each resolution reads every process's fds.
    owners: Recently<Option<Deleter>>,
    /// /proc facts of deleters seen lately, by tgid: a batch of deletions
    /// from one process would otherwise read its /proc files per route.
    processes: Recently<Option<ProcessInfo>>,
    /// Where each repair's deleter goes back to (the reconciler's damping).
    feedback: Option<mpsc::UnboundedSender<Deleted>>,
}

/// How long a resolved port id, or a process's /proc facts, are trusted.
const OWNER_TTL: Duration = Duration::from_secs(1);

/// Answers looked up lately, by port id or tgid, trusted for [`OWNER_TTL`].
struct Recently<V> {
    entries: HashMap<u32, (Instant, V)>,
}

impl<V: Clone> Recently<V> {
    fn new() -> Self {
        Recently { entries: HashMap::new() }
    }

    fn get_or_insert_with(&mut self, key: u32, look_up: impl FnOnce() -> V) -> V {
        let now = Instant::now();
        if let Some((at, value)) = self.entries.get(&key) {
            if now.duration_since(*at) <= OWNER_TTL {
                return value.clone();
            }
        }
        let value = look_up();
        if self.entries.len() > 1024 {
            self.entries.retain(|_, (at, _)| now.duration_since(*at) <= OWNER_TTL);
        }
        self.entries.insert(key, (now, value.clone()));
        value
    }
}

impl Attributor {
    pub fn new(
        source: Attribution,
        programs: Option<ebpf::Attribution>,
        labels: DeleterLabels,
        metrics: Arc<Metrics>,
    ) -> Attributor {
        for mode in [Attribution::Ebpf, Attribution::NetlinkPortid, Attribution::None] {
            let active = i64::from(mode == source);
            metrics.attribution_mode.get_or_create(&ModeLabels { mode: mode.label() }).set(active);
        }
        Attributor {
            source,
            labels,
            recent: Recent::default(),
            metrics,
            procfs: Procfs::default(),
            resolver: PortIdResolver::default(),
            programs,
            drops_seen: 0,
            records: Records::default(),
            waiting: HashMap::new(),
            deadlines: VecDeque::new(),
            cgroups: CgroupPaths::default(),
            owners: Recently::new(),
            processes: Recently::new(),
            feedback: None,
        }
    }

    /// Tells `feedback` who caused each repaired loss, once known.
    pub fn with_feedback(mut self, feedback: mpsc::UnboundedSender<Deleted>) -> Attributor {
        self.feedback = Some(feedback);
        self
    }

    pub async fn run(
        mut self,
        mut repairs: mpsc::UnboundedReceiver<Repaired>,
        records: Option<mpsc::Receiver<Record>>,
        mut queries: mpsc::Receiver<Query>,
    ) {
        let mut records = records;
        let mut drops_tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            let next_deadline = self.deadlines.front().map(|(at, _)| tokio::time::Instant::from_std(*at));
            tokio::select! {
                repaired = repairs.recv() => match repaired {
                    Some(repaired) => {
                        // Its record is usually already read: handle records first.
                        self.drain_records(&mut records);
                        self.on_repaired(repaired);
                    }
                    None => break,
                },
                record = recv_record(&mut records) => match record {
                    Some(record) => self.on_record(record),
                    None => records = None,
                },
                query = queries.recv() => match query {
                    Some(Query::Deletions { limit, reply }) => {
                        let _ = reply.send(self.recent.newest(limit).cloned().collect());
                    }
                    Some(Query::Who { loss, reply }) => {
                        self.drain_records(&mut records);
                        self.on_who(loss, reply);
                    }
                    Some(Query::Note(deletion)) => self.recent.push(deletion),
                    None => {}
                },
                _ = crate::time::sleep_until(next_deadline), if next_deadline.is_some() => {
                    // Records already read but not yet handled may be the ones
                    // the expiring repairs wait for: take them first.
                    self.drain_records(&mut records);
                    self.expire_waiting();
                }
                _ = drops_tick.tick() => {
                    if let Some(programs) = &self.programs {
                        // The program's per-CPU counter only grows: the
                        // metric counts up by what it gained since last time.
                        let drops = programs.drops();
                        self.metrics.attribution_drops.inc_by(drops.saturating_sub(self.drops_seen));
                        self.drops_seen = self.drops_seen.max(drops);
                    }
                }
            }
        }
        // Stopping: whatever still waits is reported with what is known.
        let waiting: Vec<Waiter> = self.waiting.drain().flat_map(|(_, v)| v).collect();
        for waiter in waiting {
            self.answer_without_record(waiter);
        }
    }

    fn drain_records(&mut self, records: &mut Option<mpsc::Receiver<Record>>) {
        while let Some(Ok(record)) = records.as_mut().map(|rx| rx.try_recv()) {
            self.on_record(record);
        }
    }

    fn on_repaired(&mut self, repaired: Repaired) {
        let lost = Lost::of(&repaired);
        self.attribute(&lost, Waiter::Repair(repaired));
    }

    fn on_who(&mut self, lost: Lost, reply: oneshot::Sender<Option<Deleter>>) {
        self.attribute(&lost.clone(), Waiter::Who(lost, reply));
    }

    /// Answers `waiter` now, or once its eBPF record arrives.
    fn attribute(&mut self, lost: &Lost, waiter: Waiter) {
        match self.source {
            Attribution::None => self.answer(waiter, None),
            Attribution::NetlinkPortid => self.answer_without_record(waiter),
            Attribution::Ebpf => {
                if let Some(record) = self.record_for(lost) {
                    let deleter = self.deleter_from_record(&record);
                    self.answer(waiter, Some(deleter));
                    return;
                }
                // The record may still be on its way: a request's by its port
                // id and sequence, an ioctl's (done by the kernel's own
                // socket, port 0) by the route it names.
                let key = match lost.requester {
                    Some(req) if req.port_id != 0 => Some(WaitKey::Request(req.port_id, req.seq)),
                    Some(_) if self.programs.as_ref().is_some_and(|p| p.ioctl_attached()) => {
                        ioctl_key(&lost.key).map(|(dst, len)| WaitKey::Ioctl(dst, len))
                    }
                    _ => None,
                };
                match key {
                    Some(key) => {
                        self.waiting.entry(key).or_default().push(waiter);
                        self.deadlines.push_back((Instant::now() + RECORD_WAIT, key));
                    }
                    None => self.answer_without_record(waiter),
                }
            }
        }
    }

    fn answer(&mut self, waiter: Waiter, deleter: Option<Deleter>) {
        match waiter {
            Waiter::Repair(repaired) => self.report(&repaired, deleter),
            Waiter::Who(_, reply) => {
                let _ = reply.send(deleter);
            }
        }
    }

    /// Falls back on the notification's port id.
    fn answer_without_record(&mut self, waiter: Waiter) {
        let requester = match &waiter {
            Waiter::Repair(r) => r.requester,
            Waiter::Who(lost, _) => lost.requester,
        };
        let deleter = self.fallback(requester);
        self.answer(waiter, deleter);
    }

    fn on_record(&mut self, record: Record) {
        self.metrics.attribution_records.inc();
        let request = match &record.request {
            Request::DelRoute(m) | Request::ReplaceRoute(m) => Some(WaitKey::Request(m.port_id, m.seq)),
            Request::IoctlDelRoute(arg) => rtentry_route(&arg.bytes).map(|(dst, len)| WaitKey::Ioctl(dst, len)),
            _ => None,
        };
        if let Some(waiting) = request.and_then(|key| self.waiting.remove(&key)) {
            let deleter = self.deleter_from_record(&record);
            for waiter in waiting {
                self.answer(waiter, Some(deleter.clone()));
            }
        }
        self.records.push(record);
    }

    fn expire_waiting(&mut self) {
        let now = Instant::now();
        while let Some((at, key)) = self.deadlines.front().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            for waiter in self.waiting.remove(&key).unwrap_or_default() {
                self.answer_without_record(waiter);
            }
        }
    }

    /// The eBPF record that explains a loss, if one has arrived.
    fn record_for(&mut self, r: &Lost) -> Option<Arc<Record>> {
        self.records.expire();
        match (&r.cause, r.requester) {
            // The kernel's own socket (port 0) carries out ioctl deletions.
            (Cause::Deleted, Some(req)) if req.port_id == 0 => self.records.by_ioctl.get(&ioctl_key(&r.key)?).cloned(),
            (Cause::Deleted | Cause::Replaced, Some(req)) => {
                self.records.by_request.get(&(req.port_id, req.seq)).cloned()
            }
            (Cause::Deleted, None) => self.records.by_route.get(&r.key).cloned(),
            (Cause::LinkDown { dev }, _) => self.records.link_down(r.link_index, dev),
            _ => None,
        }
    }

    /// Without a record: the notification's port id, resolved through /proc.
    fn fallback(&mut self, requester: Option<crate::messages::Requester>) -> Option<Deleter> {
        if self.source == Attribution::None {
            return None;
        }
        let req = requester?;
        let resolver = &self.resolver;
        self.owners.get_or_insert_with(req.port_id, || {
            match tokio::task::block_in_place(|| resolver.resolve(req.port_id)) {
                Ok(owner) => Deleter::from_port_owner(owner),
                Err(e) => {
                    tracing::debug!(error = %e, port_id = req.port_id, "cannot resolve a netlink port id");
                    None
                }
            }
        })
    }

    fn deleter_from_record(&mut self, record: &Record) -> Deleter {
        let t = &record.task;
        let mut process = ProcessInfo {
            pid: t.pid,
            tgid: t.tgid,
            ptgid: t.ptgid,
            uid: t.uid,
            gid: t.gid,
            comm: t.comm.clone(),
            cmdline: (!t.cmdline.is_empty()).then(|| t.cmdline.clone()),
            cgroup: None,
        };
        // While the process lives, /proc has its whole command line and
        // cgroup path; the record keeps what a short-lived one left behind.
        if let Some(live) = self.live_process(t.tgid) {
            if live.comm == t.comm {
                if t.cmdline_truncated && live.cmdline.is_some() {
                    process.cmdline = live.cmdline;
                }
                process.cgroup = live.cgroup;
            }
        }
        if process.cgroup.is_none() {
            process.cgroup = self.cgroups.path(t.cgroup_id);
        }
        Deleter { attribution: Attribution::Ebpf, who: Who::Process { process, exact: true } }
    }

    fn live_process(&mut self, tgid: u32) -> Option<ProcessInfo> {
        let procfs = &self.procfs;
        self.processes.get_or_insert_with(tgid, || procfs.process(tgid).ok())
    }

    fn report(&mut self, r: &Repaired, deleter: Option<Deleter>) {
        // Counted before the line is written: whoever reads the line (a
        // test, an operator's tail) then finds the counter already up.
        let labels = RepairLabels {
            family: r.family.label(),
            noticed: r.noticed.label(),
            deleter: self.labels.label(deleter.as_ref()).to_owned(),
        };
        self.metrics.reinstalls.get_or_create(&labels).inc();
        super::log_reinstalled(r, deleter.as_ref());
        if let Some(feedback) = &self.feedback {
            let label = labels.deleter.clone();
            let _ =
                feedback.send(Deleted { key: r.key, lost_at: r.lost_at, deleter: deleter_id(deleter.as_ref()), label });
        }
        self.recent.push(Deletion::new(r, deleter));
    }
}

/// A deleter as fights know it: a process by name, user and cgroup; `None`
/// for the kernel and for a process that could not be named.
fn deleter_id(deleter: Option<&Deleter>) -> Option<DeleterId> {
    match &deleter?.who {
        Who::Process { process, .. } => {
            Some(DeleterId { comm: process.comm.clone(), uid: process.uid, cgroup: process.cgroup.clone() })
        }
        Who::Kernel | Who::Exited => None,
    }
}

async fn recv_record(records: &mut Option<mpsc::Receiver<Record>>) -> Option<Record> {
    match records {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What a repair waiting for its record is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum WaitKey {
    /// A netlink request: the sender's port id and sequence number.
    Request(u32, u32),
    /// A SIOCDELRT ioctl: IPv4 destination and prefix length.
    Ioctl([u8; 4], u8),
}

/// Recent records, indexed the ways repairs look them up.
#[derive(Default)]
struct Records {
    // One copy of each record, shared by the indexes: a mass flush keeps a
    // million of them for a while.
    order: VecDeque<(Instant, Arc<Record>)>,
    by_request: HashMap<(u32, u32), Arc<Record>>,
    by_route: HashMap<RouteKey, Arc<Record>>,
    /// SIOCDELRT records by (IPv4 destination, prefix length).
    by_ioctl: HashMap<([u8; 4], u8), Arc<Record>>,
}

/// What SIOCDELRT can name: an IPv4 route in the main table.
fn ioctl_key(key: &RouteKey) -> Option<([u8; 4], u8)> {
    (key.family == crate::route::Family::V4 && key.table == crate::route::MAIN_TABLE)
        .then(|| (key.dst.0[..4].try_into().unwrap(), key.dst_len))
}

/// Destination and prefix length of a `struct rtentry` (x86_64/aarch64
/// layout: `rt_pad1`, then `rt_dst`, `rt_gateway`, `rt_genmask` as
/// `sockaddr_in`, then `rt_flags`).
fn rtentry_route(bytes: &[u8]) -> Option<([u8; 4], u8)> {
    const RTF_HOST: u16 = 0x4;
    let family = u16::from_ne_bytes(bytes.get(8..10)?.try_into().ok()?);
    if family != libc::AF_INET as u16 {
        return None;
    }
    let dst: [u8; 4] = bytes.get(12..16)?.try_into().ok()?;
    let mask = u32::from_be_bytes(bytes.get(44..48)?.try_into().ok()?);
    let flags = u16::from_ne_bytes(bytes.get(56..58)?.try_into().ok()?);
    let len = if flags & RTF_HOST != 0 { 32 } else { mask.count_ones() as u8 };
    Some((dst, len))
}

impl Records {
    fn push(&mut self, record: Record) {
        self.expire();
        let record = Arc::new(record);
        match &record.request {
            Request::DelRoute(m) | Request::ReplaceRoute(m) => {
                self.by_request.insert((m.port_id, m.seq), record.clone());
                if let Some(route) = wire::parse_route(m.body()) {
                    if matches!(record.request, Request::DelRoute(_)) {
                        self.by_route.insert(route.key, record.clone());
                    }
                }
            }
            Request::IoctlDelRoute(arg) => {
                if let Some(key) = rtentry_route(&arg.bytes) {
                    self.by_ioctl.insert(key, record.clone());
                }
            }
            _ => {}
        }
        self.order.push_back((Instant::now(), record));
        while self.order.len() > MAX_RECORDS {
            self.evict_front();
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        while self.order.front().is_some_and(|(at, _)| now.duration_since(*at) > RECORD_TTL) {
            self.evict_front();
        }
    }

    fn evict_front(&mut self) {
        let Some((_, record)) = self.order.pop_front() else { return };
        if let Request::IoctlDelRoute(arg) = &record.request {
            if let Some(key) = rtentry_route(&arg.bytes) {
                if self.by_ioctl.get(&key).is_some_and(|r| Arc::ptr_eq(r, &record)) {
                    self.by_ioctl.remove(&key);
                }
            }
        }
        if let Request::DelRoute(m) | Request::ReplaceRoute(m) = &record.request {
            if self.by_request.get(&(m.port_id, m.seq)).is_some_and(|r| Arc::ptr_eq(r, &record)) {
                self.by_request.remove(&(m.port_id, m.seq));
            }
            if let Some(route) = wire::parse_route(m.body()) {
                if self.by_route.get(&route.key).is_some_and(|r| Arc::ptr_eq(r, &record)) {
                    self.by_route.remove(&route.key);
                }
            }
        }
    }

    /// The newest record that set this link down or deleted it.
    fn link_down(&self, index: Option<u32>, dev: &str) -> Option<Arc<Record>> {
        self.order
            .iter()
            .rev()
            .find(|(_, record)| match &record.request {
                Request::LinkDown(m) | Request::DelLink(m) => {
                    // struct ifinfomsg: family, pad, type (u16), index (i32).
                    let body = m.body();
                    let ifindex = body.get(4..8).map(|b| u32::from_ne_bytes(b.try_into().unwrap()));
                    (index.is_some() && ifindex == index) || link_name(body) == Some(dev)
                }
                Request::IoctlLinkDown(arg) => arg.ifname().as_deref() == Some(dev),
                _ => false,
            })
            .map(|(_, record)| record.clone())
    }
}

/// IFLA_IFNAME of an ifinfomsg body, when the request named the link.
fn link_name(body: &[u8]) -> Option<&str> {
    const IFINFOMSG_LEN: usize = 16;
    const IFLA_IFNAME: u16 = 3;
    let (_, value) = wire::attributes(body.get(IFINFOMSG_LEN..)?).find(|(ty, _)| *ty == IFLA_IFNAME)?;
    std::str::from_utf8(value.split(|b| *b == 0).next()?).ok()
}

/// cgroup v2 ids are directory inode numbers: a short-lived deleter's
/// cgroup is found by walking the cgroup2 hierarchy once per id.
#[derive(Default)]
struct CgroupPaths {
    known: HashMap<u64, Option<String>>,
}

impl CgroupPaths {
    /// A walk stops after this many directories (a busy host has thousands).
    const MAX_DIRS: usize = 20_000;

    fn path(&mut self, id: u64) -> Option<String> {
        if id == 0 {
            return None;
        }
        if let Some(known) = self.known.get(&id) {
            return known.clone();
        }
        // Only inside the cgroup2 mount: inode numbers repeat across filesystems
        // (on a hybrid host /sys/fs/cgroup itself is a tmpfs).
        let root = cgroup2_mount()?;
        let found = tokio::task::block_in_place(|| find_inode(&root, id, Self::MAX_DIRS));
        let found = found.map(|p| {
            let relative = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
            format!("/{}", relative.trim_start_matches('/'))
        });
        if self.known.len() > 4096 {
            self.known.clear();
        }
        self.known.insert(id, found.clone());
        found
    }
}

/// Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup, or
/// /sys/fs/cgroup/unified on a hybrid host).
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, path, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| std::path::PathBuf::from(path))
    })
}

fn find_inode(root: &Path, inode: u64, budget: usize) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut queue = VecDeque::from([root.to_path_buf()]);
    let mut visited = 0;
    while let Some(dir) = queue.pop_front() {
        visited += 1;
        if visited > budget {
            return None;
        }
        if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == inode) {
            return Some(dir);
        }
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                queue.push_back(entry.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
