//! The programs against the running kernel: load, attach, and see real
//! requests. Root only (and BTF); without it each test prints `SKIPPED:
//! <test>: <reason>` (and fails when `CI` is set).

use guardian_test_support::netns::Netns;
use guardian_test_support::{require_ebpf, skip};
use std::time::{Duration, Instant};

use guardian_common::{ioctl, rtm};
use tokio::sync::mpsc;

use super::{Attribution, Force, NetnsBy, Record, Request, StartOptions, DEFAULT_RING_SIZE, FORCE_ENV};

/// Receives until `want` matches or the deadline passes.
async fn wait_for(rx: &mut mpsc::Receiver<Record>, what: &str, want: impl Fn(&Record) -> bool) -> Record {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(r)) if want(&r) => return r,
            Ok(Some(r)) => seen.push(r),
            Ok(None) => panic!("record channel closed while waiting for {what}"),
            Err(_) => panic!("no record for {what} within 10 s; saw {seen:#?}"),
        }
    }
}

/// Starts the programs, in the variant `GUARDIAN_EBPF_FORCE` asks for (so
/// `cargo xtask test` covers each), or the one probed.
fn start(own_tgid: u32) -> (Attribution, mpsc::Receiver<Record>) {
    let force = match std::env::var(FORCE_ENV) {
        Ok(value) => value.parse().unwrap_or_else(|e| panic!("{FORCE_ENV}: {e}")),
        Err(_) => Force::default(),
    };
    let options = StartOptions { own_tgid, ring_size: DEFAULT_RING_SIZE, all_netns: true, force };
    match Attribution::start(&options) {
        Ok(started) => started,
        Err(err) => panic!("attribution did not start: {err}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn route_delete_in_another_netns_is_recorded_with_the_deleter() {
    require_ebpf!();
    let (attribution, mut rx) = start(std::process::id());
    let ns = Netns::new();
    ns.ip(&["route", "add", "10.9.0.0/24", "dev", "lo", "table", "100"]);
    ns.ip(&["-6", "route", "add", "2001:db8:9::/64", "dev", "lo"]);
    let pid = ns.ip(&["route", "del", "10.9.0.0/24", "dev", "lo", "table", "100"]).pid;
    let pid6 = ns.ip(&["-6", "route", "del", "2001:db8:9::/64", "dev", "lo"]).pid;
    let down = ns.ip(&["link", "set", "lo", "down"]).pid;

    let r = wait_for(&mut rx, "RTM_DELROUTE (IPv4) from ip", |r| {
        r.task.tgid == pid && matches!(r.request, Request::DelRoute(_))
    })
    .await;
    assert_eq!(r.task.comm, "ip");
    assert_eq!(r.task.pid, pid);
    assert_eq!(r.task.ptgid, std::process::id());
    assert!(
        r.task.cmdline.starts_with(&format!("ip -n {} route del 10.9.0.0/24", ns.name())),
        "cmdline {:?}",
        r.task.cmdline
    );
    let Request::DelRoute(msg) = &r.request else { unreachable!() };
    assert_eq!(msg.msg_type, rtm::DELROUTE);
    assert_eq!(msg.family(), Some(libc::AF_INET as u8));
    assert_ne!(msg.port_id, 0);
    assert!(msg.body().len() >= 12, "rtmsg captured");
    assert_eq!(msg.body()[4], 100, "rtm_table");
    assert_ne!(r.netns_id, 0);
    let mine = match attribution.variant().netns {
        NetnsBy::Cookie => super::netns::current_netns_cookie().ok(),
        NetnsBy::Inode => super::netns::current_netns_inode().ok(),
    };
    assert_ne!(Some(r.netns_id), mine, "another namespace's id");

    let r6 = wait_for(&mut rx, "RTM_DELROUTE (IPv6) from ip", |r| {
        r.task.tgid == pid6 && matches!(r.request, Request::DelRoute(_))
    })
    .await;
    let Request::DelRoute(msg6) = &r6.request else { unreachable!() };
    assert_eq!(msg6.family(), Some(libc::AF_INET6 as u8));
    assert_eq!(r6.netns_id, r.netns_id);

    wait_for(&mut rx, "link down from ip", |r| r.task.tgid == down && matches!(r.request, Request::LinkDown(_))).await;
    assert_eq!(attribution.drops(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn ioctl_route_delete_is_recorded_and_own_requests_are_skipped() {
    require_ebpf!();
    if !skip::tracefs_ready() {
        return;
    }
    let me = std::process::id();
    let (seeing_me, mut rx_all) = start(0);
    assert!(seeing_me.ioctl_attached(), "the ioctl tracepoint did not attach");
    let (_skipping_me, mut rx_skip) = start(me);

    // SIOCDELRT for a route that does not exist (fails with ESRCH, changes
    // nothing): the program records the request at syscall entry.
    // SAFETY: a socket, a zeroed rtentry with an AF_INET destination, close.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let mut rt: libc::rtentry = std::mem::zeroed();
        let dst = &mut rt.rt_dst as *mut libc::sockaddr as *mut libc::sockaddr_in;
        (*dst).sin_family = libc::AF_INET as u16;
        (*dst).sin_addr.s_addr = u32::from_ne_bytes([10, 254, 253, 0]);
        let mask = &mut rt.rt_genmask as *mut libc::sockaddr as *mut libc::sockaddr_in;
        (*mask).sin_family = libc::AF_INET as u16;
        (*mask).sin_addr.s_addr = u32::from_ne_bytes([255, 255, 255, 0]);
        libc::ioctl(fd, libc::SIOCDELRT as _, &rt);
        libc::close(fd);
    }
    let r = wait_for(&mut rx_all, "SIOCDELRT from this test", |r| {
        r.task.tgid == me && matches!(r.request, Request::IoctlDelRoute(_))
    })
    .await;
    let Request::IoctlDelRoute(arg) = &r.request else { unreachable!() };
    assert_eq!(arg.request, ioctl::SIOCDELRT);
    assert_eq!(arg.bytes.len(), ioctl::RTENTRY_LEN as usize);
    assert_eq!(&arg.bytes[8..10], &(libc::AF_INET as u16).to_ne_bytes(), "rt_dst family");
    assert_eq!(&arg.bytes[12..16], &[10, 254, 253, 0], "rt_dst address");

    // A marker from another process, then nothing of ours must have come first.
    let ns = Netns::new();
    let marker = ns.ip(&["link", "set", "lo", "down"]).pid;
    let first = wait_for(&mut rx_skip, "the marker", |r| r.task.tgid == marker || r.task.tgid == me).await;
    assert_eq!(first.task.tgid, marker, "guardian's own request was recorded: {first:#?}");
}
