//! The liveness sockets over real UDP on loopback (127.0.0.1 and ::1 only).
//! Ports come from the kernel (bind to port 0), never 3784 / 44880, so a
//! running daemon is not disturbed. No capability is needed.

use super::*;
use nix::net::if_::if_nametoindex;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

const LOCAL4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCAL6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
const DEADLINE: Duration = Duration::from_secs(5);

fn lo() -> u32 {
    if_nametoindex("lo").expect("loopback interface index")
}

fn family(addr: IpAddr) -> Family {
    Family::of(&addr)
}

/// The next datagram, or a panic after [`DEADLINE`].
async fn next(socket: &ReceiveSocket, buf: &mut [u8]) -> Received {
    tokio::time::timeout(DEADLINE, socket.recv(buf)).await.expect("no datagram within the deadline").expect("recv")
}

fn sysctl(path: &str) -> u8 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn send_socket_probe_arrives_with_its_metadata(local: IpAddr) {
    let receiver = ReceiveSocket::open(family(local), 0).unwrap();
    let sender = SendSocket::open(family(local), GTSM_TTL).unwrap();
    let to = SocketAddr::new(local, receiver.local_port());
    sender.send(b"probe", to, local, lo()).unwrap();

    let mut buf = [0u8; 64];
    let got = next(&receiver, &mut buf).await;
    assert_eq!(&buf[..got.payload_len], b"probe");
    assert!(!got.truncated);
    assert_eq!(got.from.ip(), local);
    assert_eq!(got.from.port(), sender.local_port());
    assert!(SOURCE_PORTS.contains(&got.from.port()), "source port {} outside 49152-65535", got.from.port());
    assert_eq!(got.local, local);
    assert_eq!(got.ifindex, lo());
    assert_eq!(got.ttl, Some(255));
}

#[tokio::test]
async fn an_ipv4_probe_arrives_with_local_address_lo_ttl_255_and_a_high_source_port() {
    send_socket_probe_arrives_with_its_metadata(LOCAL4).await;
}

#[tokio::test]
async fn an_ipv6_probe_arrives_with_local_address_lo_hop_limit_255_and_a_high_source_port() {
    send_socket_probe_arrives_with_its_metadata(LOCAL6).await;
}

async fn plain_socket_datagram_reports_the_default_ttl(local: IpAddr, default_ttl: &str) {
    let receiver = ReceiveSocket::open(family(local), 0).unwrap();
    let plain = UdpSocket::bind(SocketAddr::new(local, 0)).unwrap();
    plain.send_to(b"not gtsm", SocketAddr::new(local, receiver.local_port())).unwrap();

    let mut buf = [0u8; 64];
    let got = next(&receiver, &mut buf).await;
    assert_eq!(&buf[..got.payload_len], b"not gtsm");
    assert_eq!(got.from, plain.local_addr().unwrap());
    // 64 unless the host changed the sysctl; either way not 255, so a
    // `bfd` receiver applying GTSM drops it.
    assert_eq!(got.ttl, Some(sysctl(default_ttl)));
    assert_ne!(got.ttl, Some(GTSM_TTL));
}

#[tokio::test]
async fn an_ipv4_datagram_from_a_plain_socket_reports_ttl_64_so_gtsm_can_reject_it() {
    plain_socket_datagram_reports_the_default_ttl(LOCAL4, "/proc/sys/net/ipv4/ip_default_ttl").await;
}

#[tokio::test]
async fn an_ipv6_datagram_from_a_plain_socket_reports_hop_limit_64_so_gtsm_can_reject_it() {
    plain_socket_datagram_reports_the_default_ttl(LOCAL6, "/proc/sys/net/ipv6/conf/lo/hop_limit").await;
}

/// A socket that asks for address reuse, as BIRD's BFD socket does.
fn reusing_socket(family: Family, port: u16) -> std::io::Result<socket2::Socket> {
    let socket = udp_socket(family)?;
    socket.set_reuse_address(true)?;
    if family == Family::V6 {
        socket.set_only_v6(true)?;
    }
    socket.bind(&SocketAddr::new(unspecified(family), port).into())?;
    Ok(socket)
}

fn udp_socket(family: Family) -> std::io::Result<socket2::Socket> {
    let domain = if family == Family::V4 { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    socket2::Socket::new(domain, socket2::Type::DGRAM, None)
}

/// Another daemon holds the port (with SO_REUSEADDR, as BIRD does): the
/// bind fails, and the error names this very process as the holder.
async fn a_port_held_by_another_socket_is_refused_and_its_holder_named(family: Family) {
    let other = reusing_socket(family, 0).unwrap();
    let port = bound_port(&other).unwrap();
    match ReceiveSocket::open(family, port) {
        Err(NetworkError::PortInUse { addr, holder }) => {
            assert_eq!(addr.port(), port);
            let holder = holder.expect("the holder of the port");
            let (pid, _) = holder.process.clone().expect("our own fds are readable");
            assert_eq!(pid, std::process::id(), "{holder}");
        }
        other => panic!("expected PortInUse, got {other:?}"),
    }
}

#[tokio::test]
async fn an_ipv4_port_held_by_another_socket_is_refused_and_its_holder_named() {
    a_port_held_by_another_socket_is_refused_and_its_holder_named(Family::V4).await;
}

#[tokio::test]
async fn an_ipv6_port_held_by_another_socket_is_refused_and_its_holder_named() {
    a_port_held_by_another_socket_is_refused_and_its_holder_named(Family::V6).await;
}

/// Once guardian holds the port, nobody binds it after, whatever reuse
/// option they ask for or address they name: they would take its packets.
async fn nobody_binds_the_port_after_guardian(local: IpAddr) {
    let ours = ReceiveSocket::open(family(local), 0).unwrap();
    let port = ours.local_port();
    assert!(reusing_socket(family(local), port).is_err(), "a SO_REUSEADDR wildcard bind succeeded");
    let specific = udp_socket(family(local)).unwrap();
    specific.set_reuse_address(true).unwrap();
    assert!(specific.bind(&SocketAddr::new(local, port).into()).is_err(), "a bind to {local}:{port} succeeded");
    let reuse_port = udp_socket(family(local)).unwrap();
    reuse_port.set_reuse_port(true).unwrap();
    assert!(reuse_port.bind(&SocketAddr::new(local, port).into()).is_err(), "a SO_REUSEPORT bind succeeded");
    assert!(ReceiveSocket::open(family(local), port).is_err(), "a second guardian socket bound the port");

    // And the datagrams still reach guardian's socket.
    let sender = SendSocket::open(family(local), GTSM_TTL).unwrap();
    sender.send(b"ours", SocketAddr::new(local, port), local, lo()).unwrap();
    let mut buf = [0u8; 8];
    let got = next(&ours, &mut buf).await;
    assert_eq!(&buf[..got.payload_len], b"ours");
}

#[tokio::test]
async fn nobody_binds_the_ipv4_port_after_guardian() {
    nobody_binds_the_port_after_guardian(LOCAL4).await;
}

#[tokio::test]
async fn nobody_binds_the_ipv6_port_after_guardian() {
    nobody_binds_the_port_after_guardian(LOCAL6).await;
}

#[tokio::test]
async fn the_ipv6_receive_socket_is_v6_only_and_leaves_the_ipv4_port_free() {
    let v6 = ReceiveSocket::open(Family::V6, 0).unwrap();
    // Without reuse options, a dual-stack socket would hold the IPv4 port too.
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, v6.local_port())).expect("IPv4 wildcard on the port of a V6ONLY socket");
}

#[tokio::test]
async fn try_recv_drains_the_datagrams_queued_behind_the_first() {
    let receiver = ReceiveSocket::open(Family::V4, 0).unwrap();
    let sender = SendSocket::open(Family::V4, GTSM_TTL).unwrap();
    let to = SocketAddr::new(LOCAL4, receiver.local_port());
    for i in 0..20u8 {
        sender.send(&[i], to, LOCAL4, lo()).unwrap();
    }
    let mut buf = [0u8; 8];
    let first = next(&receiver, &mut buf).await;
    let mut seen = vec![buf[..first.payload_len].to_vec()];
    let mut drained = 0;
    while seen.len() < 20 {
        match receiver.try_recv(&mut buf).unwrap() {
            Some(got) => {
                drained += 1;
                seen.push(buf[..got.payload_len].to_vec());
            }
            None => {
                let got = next(&receiver, &mut buf).await;
                seen.push(buf[..got.payload_len].to_vec());
            }
        }
    }
    assert_eq!(seen, (0..20u8).map(|i| vec![i]).collect::<Vec<_>>());
    assert!(drained > 0, "try_recv never returned a queued datagram");
    assert_eq!(receiver.try_recv(&mut buf).unwrap(), None);
    assert_eq!(receiver.recv_now(&mut buf).unwrap(), None);
}

#[tokio::test]
async fn a_datagram_longer_than_the_buffer_is_marked_truncated() {
    let receiver = ReceiveSocket::open(Family::V4, 0).unwrap();
    let sender = SendSocket::open(Family::V4, GTSM_TTL).unwrap();
    let to = SocketAddr::new(LOCAL4, receiver.local_port());
    sender.send(&[7; 100], to, LOCAL4, lo()).unwrap();
    let mut buf = [0u8; 24];
    let got = next(&receiver, &mut buf).await;
    assert_eq!(got.payload_len, 24);
    assert!(got.truncated);
}

/// 150 datagrams in one `send_batch`: 100 from `local`, one of the wrong
/// family, then 49 from `other_source`, which the receiver sees as
/// `other_seen_as`. The 149 valid ones take three `sendmmsg` calls (64 +
/// 64 + 21) whatever their sources.
async fn batches_move_many_datagrams(
    local: IpAddr,
    other_source: IpAddr,
    other_seen_as: IpAddr,
    wrong: SocketAddr,
    batch_capacity: usize,
) {
    let receiver = ReceiveSocket::open(family(local), 0).unwrap();
    let sender = SendSocket::open(family(local), GTSM_TTL).unwrap();
    let to = SocketAddr::new(local, receiver.local_port());
    let payloads: Vec<[u8; 2]> = (0..150u8).map(|i| [i, !i]).collect();
    let outgoing: Vec<Outgoing<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| Outgoing {
            payload: p,
            to: if i == 100 { wrong } else { to },
            source: if i > 100 { other_source } else { local },
            ifindex: lo(),
        })
        .collect();
    let result = sender.send_batch(&outgoing);
    assert_eq!(result.sent, 149, "{:?}", result.failed);
    assert_eq!(result.failed.len(), 1);
    assert_eq!(result.failed[0].0, 100);
    assert!(matches!(result.failed[0].1, NetworkError::WrongFamily { .. }));
    assert_eq!(result.calls, 3);

    let mut batch = RecvBatch::new(batch_capacity, 64);
    let mut got = Vec::new();
    let mut calls = 0;
    while got.len() < 149 {
        let n = tokio::time::timeout(DEADLINE, receiver.recv_batch(&mut batch))
            .await
            .expect("no datagram within the deadline")
            .unwrap();
        calls += 1;
        assert_eq!(n, batch.len());
        assert!(n <= batch_capacity);
        assert!(batch.errors().is_empty());
        for (meta, payload) in batch.iter() {
            assert_eq!(meta.ttl, Some(255));
            assert_eq!(meta.ifindex, lo());
            assert_eq!(meta.local, local);
            assert_eq!(meta.from.port(), sender.local_port());
            let i = payload[0];
            assert_eq!(payload, [i, !i]);
            let source = if i > 100 { other_seen_as } else { local };
            assert_eq!(meta.from.ip(), source, "datagram {i}");
            got.push(i);
        }
    }
    let expected: Vec<u8> = (0..150u8).filter(|&i| i != 100).collect();
    assert_eq!(got, expected);
    assert!(calls < 149, "recvmmsg took one datagram per call");
    assert_eq!(receiver.try_recv_batch(&mut batch).unwrap(), 0);
    assert!(batch.is_empty());
}

#[tokio::test]
async fn ipv4_batches_are_sent_and_received_in_few_calls() {
    // 127.0.0.2 is on lo too (127.0.0.0/8).
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let wrong = "[::1]:9".parse().unwrap();
    batches_move_many_datagrams(LOCAL4, other, other, wrong, MAX_BATCH).await;
}

#[tokio::test]
async fn ipv6_batches_are_sent_and_received_in_few_calls() {
    // ::1 is the only IPv6 address lo is sure to have: the others leave the
    // source to the kernel, which picks ::1.
    let other = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let wrong = "127.0.0.1:9".parse().unwrap();
    batches_move_many_datagrams(LOCAL6, other, LOCAL6, wrong, 16).await;
}

/// Sends `sources.len()` datagrams to `to` in one `send_batch`, datagram
/// `i` from `sources[i]`, and checks that exactly those at `bad` fail (with
/// `errno`), that the others all arrive, in order, each from its own
/// source, and that `sendmmsg` was called `calls` times.
async fn a_batch_arrives_from_each_datagrams_own_source(
    to: IpAddr,
    sources: &[IpAddr],
    bad: &[usize],
    errno: i32,
    calls: usize,
) {
    let receiver = ReceiveSocket::open(family(to), 0).unwrap();
    let sender = SendSocket::open(family(to), GTSM_TTL).unwrap();
    let to = SocketAddr::new(to, receiver.local_port());
    let payloads: Vec<[u8; 2]> = (0..sources.len()).map(|i| [i as u8, !(i as u8)]).collect();
    let outgoing: Vec<Outgoing<'_>> =
        payloads.iter().zip(sources).map(|(p, &source)| Outgoing { payload: p, to, source, ifindex: lo() }).collect();
    let result = sender.send_batch(&outgoing);

    let failed: Vec<usize> = result.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, bad, "{:?}", result.failed);
    for (i, e) in &result.failed {
        match e {
            NetworkError::Send { from, source, .. } => {
                assert_eq!(*from, sources[*i]);
                assert_eq!(source.raw_os_error(), Some(errno), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(result.sent, sources.len() - bad.len());
    assert_eq!(result.calls, calls, "sendmmsg calls");

    let mut batch = RecvBatch::new(MAX_BATCH, 8);
    let mut got = Vec::new();
    while got.len() < result.sent {
        tokio::time::timeout(DEADLINE, receiver.recv_batch(&mut batch)).await.expect("deadline").unwrap();
        for (meta, payload) in batch.iter() {
            let i = usize::from(payload[0]);
            assert_eq!(payload, [i as u8, !(i as u8)]);
            assert_eq!(meta.from.ip(), sources[i], "datagram {i}");
            assert_eq!(meta.from.port(), sender.local_port());
            assert_eq!(meta.ttl, Some(GTSM_TTL));
            got.push(i);
        }
    }
    let expected: Vec<usize> = (0..sources.len()).filter(|i| !bad.contains(i)).collect();
    assert_eq!(got, expected);
    assert_eq!(receiver.recv_now(&mut [0; 8]).unwrap(), None);
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[tokio::test]
async fn an_ipv4_batch_with_alternating_sources_goes_out_in_two_calls_each_from_its_source() {
    // 127.0.0.0/8 is all local on lo: no setup needed for .2 and .3.
    let sources: Vec<IpAddr> = (0..100).map(|i| v4(1 + (i % 3) as u8)).collect();
    a_batch_arrives_from_each_datagrams_own_source(LOCAL4, &sources, &[], 0, 2).await;
}

#[tokio::test]
async fn an_ipv6_batch_goes_out_in_two_calls() {
    let sources = [LOCAL6; 100];
    a_batch_arrives_from_each_datagrams_own_source(LOCAL6, &sources, &[], 0, 2).await;
}

/// `sendmmsg` stops at a datagram the kernel refuses and returns how many
/// it sent before; the next call starts with the refused one, which then
/// fails alone (-1 and its errno), and the call after resumes behind it.
async fn an_unknown_source_fails_only_its_own_datagram(to: IpAddr, good: &[IpAddr], unknown: IpAddr, errno: i32) {
    // First of the batch, in the middle, twice in a row, last and first
    // of a MAX_BATCH chunk, last of all.
    let bad = [0, 10, 30, 31, 63, 64, 99];
    let sources: Vec<IpAddr> =
        (0..100).map(|i| if bad.contains(&i) { unknown } else { good[i % good.len()] }).collect();
    // Chunk 0..64: 0 fails; 1..10 sent; 10 fails; 11..30; 30; 31; 32..63;
    // 63: 8 calls. Chunk 64..100: 64; 65..99; 99: 3 calls.
    a_batch_arrives_from_each_datagrams_own_source(to, &sources, &bad, errno, 11).await;
}

#[tokio::test]
async fn an_ipv4_source_the_host_lacks_fails_only_its_own_datagram_in_a_batch() {
    let unknown = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    an_unknown_source_fails_only_its_own_datagram(LOCAL4, &[v4(1), v4(2), v4(3)], unknown, libc::ENETUNREACH).await;
}

#[tokio::test]
async fn an_ipv6_source_the_host_lacks_fails_only_its_own_datagram_in_a_batch() {
    let unknown = "2001:db8::1".parse().unwrap();
    an_unknown_source_fails_only_its_own_datagram(LOCAL6, &[LOCAL6], unknown, libc::EINVAL).await;
}

#[test]
fn wrong_family_datagrams_among_valid_ones_fail_by_index_and_do_not_split_the_call() {
    let sender = SendSocket::open(Family::V4, GTSM_TTL).unwrap();
    let sink = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let to = sink.local_addr().unwrap();
    let wrong: SocketAddr = "[::1]:9".parse().unwrap();
    let outgoing: Vec<Outgoing<'_>> = (0..70)
        .map(|i| match i {
            5 => Outgoing { payload: b"x", to: wrong, source: LOCAL4, ifindex: 0 },
            6 => Outgoing { payload: b"x", to, source: LOCAL6, ifindex: 0 },
            _ => Outgoing { payload: b"x", to, source: v4(1 + (i % 2) as u8), ifindex: 0 },
        })
        .collect();
    let result = sender.send_batch(&outgoing);
    let failed: Vec<usize> = result.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [5, 6]);
    assert!(result.failed.iter().all(|(_, e)| matches!(e, NetworkError::WrongFamily { .. })), "{:?}", result.failed);
    assert_eq!((result.sent, result.calls), (68, 2));
    for _ in 0..68 {
        sink.recv(&mut [0; 8]).unwrap();
    }
}

#[test]
fn no_free_source_port_is_a_bind_error_naming_the_range() {
    let taken = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = SendSocket::open_with(Family::V4, GTSM_TTL, None, None, port..=port, 3).unwrap_err();
    assert!(
        matches!(err, NetworkError::NoSourcePort { attempts: 3, ref source, .. }
            if source.kind() == std::io::ErrorKind::AddrInUse),
        "{err:?}"
    );
    assert_eq!(err.op(), "bind");
    assert!(err.to_string().contains(&format!("{port}-{port}")), "{err}");
}

#[test]
fn the_send_socket_takes_a_port_in_the_rfc_5881_range() {
    for family in [Family::V4, Family::V6] {
        let s = SendSocket::open(family, GTSM_TTL).unwrap();
        assert!(SOURCE_PORTS.contains(&s.local_port()), "{}", s.local_port());
    }
}

#[test]
fn sending_to_or_from_the_other_family_is_refused_before_the_kernel() {
    let sender = SendSocket::open(Family::V4, GTSM_TTL).unwrap();
    let err = sender.send(b"x", "[::1]:9".parse().unwrap(), LOCAL4, 0).unwrap_err();
    assert!(matches!(err, NetworkError::WrongFamily { .. }), "{err:?}");
    assert_eq!(err.op(), "send");
    let err = sender.send(b"x", "127.0.0.1:9".parse().unwrap(), LOCAL6, 0).unwrap_err();
    assert!(matches!(err, NetworkError::WrongFamily { .. }), "{err:?}");
}

#[test]
fn sending_through_an_interface_that_does_not_exist_fails_at_once() {
    for local in [LOCAL4, LOCAL6] {
        let sender = SendSocket::open(family(local), GTSM_TTL).unwrap();
        let err = sender.send(b"x", SocketAddr::new(local, 9), local, 999_999).unwrap_err();
        match &err {
            NetworkError::Send { source, .. } => {
                assert_eq!(source.raw_os_error(), Some(libc::ENODEV), "{err}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.op(), "send");
    }
}

#[test]
fn sending_from_an_address_this_host_lacks_fails_at_once() {
    // TEST-NET addresses are never configured on a test host. IPv4 says
    // "network unreachable" (the route lookup finds no local source),
    // IPv6 "invalid argument" (the pktinfo source is checked first).
    let cases = [
        (LOCAL4, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), libc::ENETUNREACH),
        (LOCAL6, "2001:db8::1".parse().unwrap(), libc::EINVAL),
    ];
    for (to, source, errno) in cases {
        let sender = SendSocket::open(family(to), GTSM_TTL).unwrap();
        let err = sender.send(b"x", SocketAddr::new(to, 9), source, lo()).unwrap_err();
        match &err {
            NetworkError::Send { source, .. } => {
                assert_eq!(source.raw_os_error(), Some(errno), "{err}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn every_error_names_its_operation() {
    let io = || std::io::Error::from(std::io::ErrorKind::Other);
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let cases = [
        (NetworkError::Open { family: Family::V4, source: io() }, "open"),
        (NetworkError::Register { family: Family::V4, source: io() }, "open"),
        (NetworkError::SetSockOpt { family: Family::V6, option: "IPV6_V6ONLY", source: io() }, "setsockopt"),
        (NetworkError::Bind { addr: to, source: io() }, "bind"),
        (NetworkError::PortInUse { addr: to, holder: None }, "bind"),
        (NetworkError::NoSourcePort { family: Family::V4, first: 1, last: 2, attempts: 1, source: io() }, "bind"),
        (NetworkError::Send { to, from: LOCAL4, ifindex: 1, source: io() }, "send"),
        (NetworkError::SendWouldBlock { to }, "send"),
        (NetworkError::WrongFamily { family: Family::V4, addr: LOCAL6 }, "send"),
        (NetworkError::Recv { family: Family::V4, source: io() }, "recv"),
        (NetworkError::Incomplete { missing: "packet info" }, "recv"),
    ];
    for (err, op) in cases {
        assert_eq!(err.op(), op, "{err}");
    }
}

#[test]
fn the_control_message_room_fits_pktinfo_and_ttl() {
    let needed = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int).capacity();
    assert!(needed <= receive::CMSG_BYTES, "{needed}");
}

#[test]
fn opening_a_receive_socket_outside_a_runtime_is_an_error_not_a_panic() {
    let err = ReceiveSocket::open(Family::V4, 0).unwrap_err();
    assert!(matches!(err, NetworkError::Register { .. }), "{err:?}");
    assert_eq!(err.op(), "open");
}

#[tokio::test]
async fn send_sockets_use_the_shared_socket_for_ipv4_and_one_per_device_for_ipv6() {
    for local in [LOCAL4, LOCAL6] {
        let receiver = ReceiveSocket::open(family(local), 0).unwrap();
        let mut sockets = SendSockets::open(family(local), GTSM_TTL).unwrap();
        let to = SocketAddr::new(local, receiver.local_port());
        sockets.send(b"via lo", to, local, lo()).unwrap();
        let mut buf = [0u8; 16];
        let got = next(&receiver, &mut buf).await;
        assert_eq!((&buf[..got.payload_len], got.ifindex, got.ttl), (&b"via lo"[..], lo(), Some(255)));
        assert_eq!(Some(got.from.port()), sockets.local_port(lo()));
        let device_sockets = if local.is_ipv6() { 1 } else { 0 };
        assert_eq!(sockets.device_sockets(), device_sockets, "{local}");
        assert_eq!(sockets.close_device(lo()), local.is_ipv6());
    }
}

#[tokio::test]
async fn a_send_sockets_batch_fails_only_the_datagrams_of_a_missing_interface() {
    let receiver = ReceiveSocket::open(Family::V6, 0).unwrap();
    let mut sockets = SendSockets::open(Family::V6, GTSM_TTL).unwrap();
    let to = SocketAddr::new(LOCAL6, receiver.local_port());
    let any = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let payloads: Vec<[u8; 1]> = (0..32u8).map(|i| [i]).collect();
    // 0..10 through lo, 10..15 with no interface, 15..18 through an
    // interface that does not exist, 18..20 through an index the kernel
    // refuses to bind to, 20..32 through lo again.
    let outgoing: Vec<Outgoing<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (source, ifindex) = match i {
                0..10 | 20.. => (LOCAL6, lo()),
                10..15 => (any, 0),
                15..18 => (LOCAL6, 999_999),
                _ => (LOCAL6, u32::MAX),
            };
            Outgoing { payload: p, to, source, ifindex }
        })
        .collect();
    let result = sockets.send_batch(&outgoing);
    assert_eq!(result.sent, 27, "{:?}", result.failed);
    let failed: Vec<usize> = result.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [15, 16, 17, 18, 19]);
    // SO_BINDTOIFINDEX does not check that the index exists; the sends say
    // ENODEV, and the pool closes that socket again.
    for (_, e) in &result.failed[..3] {
        assert!(matches!(e, NetworkError::Send { ifindex: 999_999, .. }), "{e:?}");
        assert_eq!(e.io_error().and_then(std::io::Error::raw_os_error), Some(libc::ENODEV), "{e}");
    }
    // It does refuse a negative one: the socket cannot be opened, the first
    // datagram carries that error, the next one the same cause.
    let (open_failed, next) = (&result.failed[3].1, &result.failed[4].1);
    assert!(matches!(open_failed, NetworkError::SetSockOpt { option: "SO_BINDTOIFINDEX", .. }), "{open_failed:?}");
    assert_eq!(open_failed.op(), "setsockopt");
    assert!(matches!(next, NetworkError::Send { ifindex: u32::MAX, .. }), "{next:?}");
    assert_eq!(next.io_error().and_then(std::io::Error::raw_os_error), Some(libc::EINVAL), "{next}");
    assert_eq!(sockets.device_sockets(), 1);

    let mut batch = RecvBatch::new(MAX_BATCH, 8);
    let mut got = Vec::new();
    while got.len() < 27 {
        tokio::time::timeout(DEADLINE, receiver.recv_batch(&mut batch)).await.expect("deadline").unwrap();
        got.extend(batch.iter().map(|(_, p)| p[0]));
    }
    let expected: Vec<u8> = (0..32u8).filter(|i| !(15..20).contains(i)).collect();
    assert_eq!(got, expected);
}
