//! Time to repair: 200 tracked routes, each deleted once, timed from the
//! kernel's RTM_DELROUTE notification to the RTM_NEWROUTE notification of
//! the same route, both as seen by a monitor socket the bench opens in the
//! namespace (so the figure is what any observer of the kernel would see).
//!
//! Floor, side by side: a second identical namespace where a "reflex" in
//! the bench re-adds a route the moment its delete notification arrives
//! (one notification + one request, nothing else). Deletions alternate
//! between the two namespaces, one at a time, each repair awaited and
//! followed by a pause, so every repair is measured in isolation.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use guardian_test_support::Netns;
use netlink_sys::Socket;
use serde_json::json;

use super::{median, min_max, num, percentile, status_of, Ctx, Row};
use crate::config::{self, GATEWAY, PROTOCOL, TABLE};
use crate::netlink::{self, Route, RouteEvent, RTM_DELROUTE, RTM_NEWROUTE};

const ROUTES: u32 = 200;
/// Pause after each observed repair, so the next delete finds everyone idle.
const SPACING: Duration = Duration::from_millis(5);
/// A repair not seen within this is counted as missed.
const REPAIR_TIMEOUT: Duration = Duration::from_secs(2);
const TARGET_P99_MS: f64 = 2.0;

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    // guardian's namespace.
    let g_ns = Netns::tagged_with_link("repair");
    let config = ctx.dir.join("repair.toml");
    config::write_generated(&config, 0, ROUTES)?;
    let daemon = ctx.start_daemon(&g_ns, &config);
    daemon.wait_ready(Ctx::ready_timeout(ROUTES));
    println!("    guardian ready in {} with {ROUTES} routes", g_ns.name());

    // The reflex's namespace: the same interfaces and routes, installed by ip.
    let r_ns = Netns::tagged_with_link("reflex");
    let batch = ctx.dir.join("repair.batch");
    config::write_ip_batch(&batch, 0, ROUTES)?;
    r_ns.ip(&["-batch", batch.to_str().context("non-UTF-8 path")?]);
    let oif = r_ns.ifindex(config::DEVICE);
    let stop = Arc::new(AtomicBool::new(false));
    let reflex = Reflex::start(&r_ns, oif, Arc::clone(&stop))?;
    println!("    reflex ready in {} with {ROUTES} routes", r_ns.name());

    let mut g = Side::open(&g_ns, TABLE, Arc::clone(&stop))?;
    let mut r = Side::open(&r_ns, TABLE, Arc::clone(&stop))?;
    let started = Instant::now();
    for i in 0..ROUTES {
        let route =
            Route { dst: config::nth_destination(i), dst_len: 32, table: TABLE, gateway: None, oif: None, protocol: 0 };
        g.delete_and_time(&route, i, REPAIR_TIMEOUT)?;
        std::thread::sleep(SPACING);
        r.delete_and_time(&route, i, REPAIR_TIMEOUT)?;
        std::thread::sleep(SPACING);
        daemon.check_alive()?;
    }
    println!("    {} deletions in {:.1} s", 2 * ROUTES, started.elapsed().as_secs_f64());
    let status = status_of(&daemon);
    stop.store(true, Ordering::Relaxed);
    let reflex_stats = reflex.join();
    let _ = daemon.stop(Duration::from_secs(10));
    drop(g_ns);
    drop(r_ns);

    if g.samples_ms.is_empty() {
        bail!("guardian repaired none of the {ROUTES} deleted routes within {REPAIR_TIMEOUT:?}");
    }
    if r.samples_ms.is_empty() {
        bail!("the reflex repaired none of the deleted routes: the floor is broken");
    }
    let (g50, g99) = (median(&g.samples_ms), percentile(&g.samples_ms, 99.0));
    let (r50, r99) = (median(&r.samples_ms), percentile(&r.samples_ms, 99.0));
    let (gmin, gmax) = min_max(&g.samples_ms);
    let (rmin, rmax) = min_max(&r.samples_ms);
    println!(
        "    guardian: p50 {} ms, p99 {} ms, min {} max {} ms (from the delete request: p50 {} p99 {} ms), {} repaired, {} missed",
        num(g50),
        num(g99),
        num(gmin),
        num(gmax),
        num(median(&g.from_request_ms)),
        num(percentile(&g.from_request_ms, 99.0)),
        g.samples_ms.len(),
        g.missed
    );
    println!(
        "    reflex:   p50 {} ms, p99 {} ms, min {} max {} ms (from the delete request: p50 {} p99 {} ms), {} repaired, {} missed",
        num(r50),
        num(r99),
        num(rmin),
        num(rmax),
        num(median(&r.from_request_ms)),
        num(percentile(&r.from_request_ms, 99.0)),
        r.samples_ms.len(),
        r.missed
    );
    let detail = json!({
        "routes": ROUTES,
        "spacing_ms": SPACING.as_secs_f64() * 1e3,
        "guardian": {"repaired": g.samples_ms.len(), "missed": g.missed, "min_ms": gmin, "max_ms": gmax,
                     "from_delete_request_p50_ms": median(&g.from_request_ms),
                     "from_delete_request_p99_ms": percentile(&g.from_request_ms, 99.0),
                     "status_after": status},
        "reflex": {"repaired": r.samples_ms.len(), "missed": r.missed, "min_ms": rmin, "max_ms": rmax,
                   "from_delete_request_p50_ms": median(&r.from_request_ms),
                   "from_delete_request_p99_ms": percentile(&r.from_request_ms, 99.0),
                   "requests_sent": reflex_stats.ok()},
        "measured": "RTM_DELROUTE -> RTM_NEWROUTE of the same route on a monitor socket in the namespace",
    });
    let row = |figure: &str, value: f64, floor: f64, target: Option<String>, met: Option<bool>| Row {
        scenario: "repair",
        figure: figure.to_owned(),
        value,
        unit: "ms",
        target,
        met,
        floor: Some(floor),
        floor_what: Some("reflex"),
        ratio: Some(value / floor),
        detail: detail.clone(),
    };
    Ok(vec![
        row("time to repair p50", g50, r50, None, None),
        row(
            "time to repair p99",
            g99,
            r99,
            Some(format!("< {TARGET_P99_MS} ms")),
            Some(g99 < TARGET_P99_MS && g.missed == 0),
        ),
    ])
}

/// One namespace's deleter socket and monitor (of one table), with what
/// they measured. The guard scenario uses it too, for other owners' routes.
pub(super) struct Side {
    pub(super) name: String,
    deleter: Socket,
    pub(super) events: Receiver<(RouteEvent, Instant)>,
    pub(super) samples_ms: Vec<f64>,
    /// Cross-check: from sending the delete request to the RTM_NEWROUTE.
    pub(super) from_request_ms: Vec<f64>,
    pub(super) missed: usize,
    seq: u32,
}

impl Side {
    pub(super) fn open(ns: &Netns, table: u32, stop: Arc<AtomicBool>) -> Result<Side> {
        let deleter = ns.run_in(|| -> Result<Socket> {
            let s = netlink::open(&[], 0)?;
            netlink::set_recv_timeout(&s, Duration::from_secs(5))?;
            Ok(s)
        })?;
        let monitor = ns.run_in(|| -> Result<Socket> {
            let s = netlink::open(&[netlink::RTNLGRP_IPV4_ROUTE], 4 << 20)?;
            netlink::set_recv_timeout(&s, Duration::from_millis(50))?;
            Ok(s)
        })?;
        let (tx, events) = mpsc::channel();
        std::thread::Builder::new().name(format!("monitor-{}", ns.name())).spawn(move || {
            // The observer must not be the one that is late: a real-time
            // priority makes it wake as soon as each notification lands
            // (best effort; the same for both sides).
            realtime_priority();
            let mut buf = vec![0u8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                let Ok(Some(n)) = netlink::recv(&monitor, &mut buf) else {
                    continue;
                };
                let at = Instant::now();
                for (kind, _, payload) in netlink::messages(&buf[..n]) {
                    if let Some(ev) = netlink::parse_route(kind, payload) {
                        if ev.table == table && tx.send((ev, at)).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
        Ok(Side {
            name: ns.name().to_owned(),
            deleter,
            events,
            samples_ms: Vec::new(),
            from_request_ms: Vec::new(),
            missed: 0,
            seq: 1,
        })
    }

    /// Sends the delete request of `route` (waiting for its acknowledgement)
    /// and returns when it was sent.
    pub(super) fn delete(&mut self, route: &Route) -> Result<Instant> {
        self.seq += 1;
        let sent_at = Instant::now();
        netlink::request(&self.deleter, &netlink::delete_request(route, self.seq), self.seq)
            .with_context(|| format!("deleting {}/{} in {}", route.dst, route.dst_len, self.name))?;
        Ok(sent_at)
    }

    /// Deletes `route` and waits up to `timeout` for it to come back.
    pub(super) fn delete_and_time(&mut self, route: &Route, i: u32, timeout: Duration) -> Result<()> {
        while self.events.try_recv().is_ok() {}
        let sent_at = self.delete(route)?;
        let deadline = Instant::now() + timeout;
        let mut deleted_at = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((ev, at)) if ev.dst == route.dst && ev.dst_len == 32 => match (ev.kind, deleted_at) {
                    (RTM_DELROUTE, None) => deleted_at = Some(at),
                    (RTM_NEWROUTE, Some(t0)) => {
                        self.samples_ms.push(at.duration_since(t0).as_secs_f64() * 1e3);
                        self.from_request_ms.push(at.duration_since(sent_at).as_secs_f64() * 1e3);
                        return Ok(());
                    }
                    _ => {}
                },
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    self.missed += 1;
                    if self.missed <= 3 {
                        eprintln!(
                            "    {}: route #{i} {}/32 not repaired within {timeout:?} (delete {}seen)",
                            self.name,
                            route.dst,
                            if deleted_at.is_some() { "" } else { "not " }
                        );
                    }
                    return Ok(());
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("the monitor of {} stopped", self.name)
                }
            }
        }
    }
}

/// SCHED_FIFO for the calling thread, if allowed.
pub(super) fn realtime_priority() {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: plain syscall on the calling thread (tid 0), valid pointer.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
}

/// The floor: re-adds a tracked route as soon as its delete notification arrives.
pub(super) struct Reflex {
    thread: JoinHandle<Result<u64>>,
}

impl Reflex {
    pub(super) fn start(ns: &Netns, oif: u32, stop: Arc<AtomicBool>) -> Result<Reflex> {
        let sock = ns.run_in(|| -> Result<Socket> {
            let s = netlink::open(&[netlink::RTNLGRP_IPV4_ROUTE], 4 << 20)?;
            netlink::set_recv_timeout(&s, Duration::from_millis(50))?;
            Ok(s)
        })?;
        let tracked: HashSet<Ipv4Addr> = (0..ROUTES).map(config::nth_destination).collect();
        let thread = std::thread::Builder::new().name("reflex".into()).spawn(move || -> Result<u64> {
            let mut buf = vec![0u8; 64 * 1024];
            let mut seq = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let Some(n) = netlink::recv(&sock, &mut buf)? else {
                    continue;
                };
                for (kind, _, payload) in netlink::messages(&buf[..n]) {
                    let Some(ev) = netlink::parse_route(kind, payload) else {
                        continue;
                    };
                    if ev.kind == RTM_DELROUTE && ev.table == TABLE && ev.dst_len == 32 && tracked.contains(&ev.dst) {
                        seq += 1;
                        let route = Route {
                            dst: ev.dst,
                            dst_len: 32,
                            table: TABLE,
                            gateway: Some(GATEWAY),
                            oif: Some(oif),
                            protocol: PROTOCOL,
                        };
                        sock.send(&netlink::add_request(&route, seq, false), 0)?;
                    }
                }
            }
            Ok(u64::from(seq))
        })?;
        Ok(Reflex { thread })
    }

    pub(super) fn join(self) -> Result<u64> {
        self.thread.join().unwrap_or_else(|_| bail!("the reflex thread panicked"))
    }
}

#[cfg(test)]
mod netns_tests;
