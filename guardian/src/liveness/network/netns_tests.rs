//! Does `IP_PKTINFO` / `IPV6_PKTINFO` with an ifindex really force the
//! egress device when the routing table prefers another one? Two network
//! namespaces of this test, joined by two veth pairs:
//!
//! ```text
//!   guardian side (G)                      peer side (P)
//!   g0 10.0.0.1/24  2001:db8::1/64   ----  p0 10.0.0.2  2001:db8::2
//!                                             + 192.0.2.9/32  2001:db8:ff::9/128
//!   g1 10.1.0.1/24  2001:db8:1::1/64 ----  p1 10.1.0.2  2001:db8:1::2
//!
//!   G's only route to the peer: 192.0.2.9 / 2001:db8:ff::9 via P's p1 (dev g1)
//! ```
//!
//! The liveness route via g0 is "withdrawn" (absent); a probe sent with
//! ifindex g0 must still leave through g0 (and arrive on p0), never through
//! g1. Needs root (namespaces and veth pairs); skips loudly without it.

use super::*;
use guardian_test_support::{netns::Netns, skip};
use nix::net::if_::if_nametoindex;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `ip -n <ns> <args>` with the arguments in one string.
fn ip(ns: &Netns, args: &str) {
    ns.ip(&args.split_whitespace().collect::<Vec<_>>());
}

struct Peer {
    v4: IpAddr,
    v6: IpAddr,
}

/// Builds the two namespaces of the module diagram.
fn topology(g: &Netns, p: &Netns) -> Peer {
    ip(g, &format!("link add g0 type veth peer name p0 netns {}", p.name()));
    ip(g, &format!("link add g1 type veth peer name p1 netns {}", p.name()));
    for (ns, prefix) in [(g, 'g'), (p, 'p')] {
        let host = if prefix == 'g' { 1 } else { 2 };
        for n in 0..2 {
            ip(ns, &format!("addr add 10.{n}.0.{host}/24 dev {prefix}{n}"));
            let net6 = if n == 0 { "2001:db8:" } else { "2001:db8:1:" };
            ip(ns, &format!("addr add {net6}:{host}/64 dev {prefix}{n} nodad"));
            ip(ns, &format!("link set {prefix}{n} up"));
        }
    }
    ip(p, "addr add 192.0.2.9/32 dev p0");
    ip(p, "addr add 2001:db8:ff::9/128 dev p0 nodad");
    ip(g, "route add 192.0.2.9/32 via 10.1.0.2 dev g1");
    ip(g, "-6 route add 2001:db8:ff::9/128 via 2001:db8:1::2 dev g1");
    Peer { v4: "192.0.2.9".parse().unwrap(), v6: "2001:db8:ff::9".parse().unwrap() }
}

/// The two namespaces, their topology, a runtime, and the indexes of the
/// four veth ends; `None` (after a loud skip) without the prerequisites.
struct Lab {
    // Sockets of the tests are dropped before the namespaces (declared
    // later in the test functions), so `ip netns del` frees everything.
    g: Netns,
    p: Netns,
    rt: tokio::runtime::Runtime,
    peer: Peer,
    g0: u32,
    g1: u32,
    p0: u32,
    p1: u32,
}

impl Lab {
    fn new() -> Option<Lab> {
        if !skip::netns_ready() {
            return None;
        }
        let (g, p) = (Netns::new(), Netns::new());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let peer = topology(&g, &p);
        let (g0, g1) = g.run_in(|| (if_nametoindex("g0").unwrap(), if_nametoindex("g1").unwrap()));
        let (p0, p1) = p.run_in(|| (if_nametoindex("p0").unwrap(), if_nametoindex("p1").unwrap()));
        Some(Lab { g, p, rt, peer, g0, g1, p0, p1 })
    }

    fn receiver(&self, family: Family) -> ReceiveSocket {
        let handle = self.rt.handle().clone();
        self.p.run_in(|| {
            let _rt = handle.enter();
            ReceiveSocket::open(family, 0).unwrap()
        })
    }

    fn dst(&self, family: Family) -> IpAddr {
        match family {
            Family::V4 => self.peer.v4,
            Family::V6 => self.peer.v6,
        }
    }
}

/// The guardian side's addresses on g0 and g1.
fn sources(family: Family) -> (IpAddr, IpAddr) {
    let (a, b) = match family {
        Family::V4 => ("10.0.0.1", "10.1.0.1"),
        Family::V6 => ("2001:db8::1", "2001:db8:1::1"),
    };
    (a.parse().unwrap(), b.parse().unwrap())
}

/// What the kernel does with one shared, unbound socket and no route to
/// the peer through g0. Pinned here because the sending design depends on
/// it: IPv4 honours the pktinfo interface (and takes the peer as on-link
/// there); IPv6 honours it only without a source address, and then needs a
/// route through it.
#[test]
fn pktinfo_forces_the_egress_device_for_ipv4_but_not_for_ipv6_with_a_source() {
    let Some(lab) = Lab::new() else { return };
    for family in [Family::V4, Family::V6] {
        let label = family.label();
        let (src_g0, src_g1) = sources(family);
        let receiver = lab.receiver(family);
        let sender = lab.g.run_in(|| SendSocket::open(family, GTSM_TTL).unwrap());
        let to = SocketAddr::new(lab.dst(family), receiver.local_port());
        let any = unspecified(family);
        lab.rt.block_on(async {
            // The routing table's own choice: g1.
            let got = probe_with(&sender, &receiver, b"table", to, any, 0).await;
            assert_eq!((got.ifindex, got.from.ip()), (lab.p1, src_g1), "{label}: unforced");

            // Interface g0 without a source address.
            match family {
                // On-link through g0 (ARP there), g0's address as source.
                Family::V4 => {
                    let got = probe_with(&sender, &receiver, b"dev only", to, any, lab.g0).await;
                    assert_eq!((got.ifindex, got.from.ip()), (lab.p0, src_g0), "{label}: interface only");
                }
                // Strict interface, and no route through it.
                Family::V6 => {
                    let err = sender.send(b"dev only", to, any, lab.g0).unwrap_err();
                    assert_eq!(errno(&err), Some(libc::ENETUNREACH), "{label}: {err}");
                }
            }

            // Interface g0 and its source address: IPv4 still leaves
            // through g0; IPv6 follows the table out of g1, with g0's
            // address as source (the false-Up path).
            let got = probe_with(&sender, &receiver, b"dev+src", to, src_g0, lab.g0).await;
            let expected = match family {
                Family::V4 => lab.p0,
                Family::V6 => lab.p1,
            };
            assert_eq!((got.ifindex, got.from.ip()), (expected, src_g0), "{label}: interface and source");
        });
    }
}

/// What the session layer relies on: through [`SendSockets`], a probe with
/// the route's interface and source leaves through that interface in both
/// families (IPv6 once a route goes through it), arrives with TTL 255 from
/// the socket's source port; with the interface down it fails at once
/// instead of taking the other path.
#[test]
fn send_sockets_force_the_route_device_and_source_in_both_families() {
    let Some(lab) = Lab::new() else { return };
    let mut all = Vec::new();
    for family in [Family::V4, Family::V6] {
        let label = family.label();
        let (src_g0, src_g1) = sources(family);
        let receiver = lab.receiver(family);
        let mut sockets = lab.g.run_in(|| {
            let mut sockets = SendSockets::open(family, GTSM_TTL).unwrap();
            // Device sockets must be opened in the namespace.
            sockets.open_device(lab.g0).unwrap();
            sockets.open_device(lab.g1).unwrap();
            sockets
        });
        let to = SocketAddr::new(lab.dst(family), receiver.local_port());
        lab.rt.block_on(async {
            // No route to the peer through g0.
            match family {
                Family::V4 => {
                    let got = probe(&mut sockets, &receiver, b"on-link", to, src_g0, lab.g0).await;
                    assert_eq!((got.ifindex, got.from.ip()), (lab.p0, src_g0), "{label}: on-link g0");
                }
                Family::V6 => {
                    let err = sockets.send(b"no route", to, src_g0, lab.g0).unwrap_err();
                    assert_eq!(errno(&err), Some(libc::ENETUNREACH), "{label}: {err}");
                }
            }
            // A covering route through g0, less specific than the host
            // route through g1 that the table prefers.
            match family {
                Family::V4 => ip(&lab.g, "route add 192.0.2.0/24 via 10.0.0.2 dev g0"),
                Family::V6 => ip(&lab.g, "-6 route add 2001:db8:ff::/64 via 2001:db8::2 dev g0"),
            }
            let got = probe(&mut sockets, &receiver, b"g0", to, src_g0, lab.g0).await;
            assert_eq!(
                (got.ifindex, got.from.ip(), got.local, got.ttl),
                (lab.p0, src_g0, lab.dst(family), Some(255)),
                "{label}: through g0"
            );
            assert_eq!(Some(got.from.port()), sockets.local_port(lab.g0), "{label}");
            let got = probe(&mut sockets, &receiver, b"g1", to, src_g1, lab.g1).await;
            assert_eq!((got.ifindex, got.from.ip()), (lab.p1, src_g1), "{label}: through g1");
            let port_g1 = sockets.local_port(lab.g1).unwrap();
            assert_eq!(got.from.port(), port_g1, "{label}");
            assert!(SOURCE_PORTS.contains(&port_g1));
        });
        let expected_device_sockets = match family {
            Family::V4 => 0,
            Family::V6 => 2,
        };
        assert_eq!(sockets.device_sockets(), expected_device_sockets, "{label}");
        if family == Family::V6 {
            // Device sockets share one port when it is free on both.
            assert_eq!(sockets.local_port(lab.g0), sockets.local_port(lab.g1));
        }
        all.push(sockets);
    }

    // With g0 down, a probe through it fails at once (a `send` error)
    // instead of leaving through g1: ENETUNREACH for IPv4; for IPv6 EINVAL,
    // as the kernel removes g0's global addresses with the link (unless
    // keep_addr_on_down), or ENETUNREACH where they stay.
    ip(&lab.g, "link set g0 down");
    for (sockets, family) in all.iter_mut().zip([Family::V4, Family::V6]) {
        let (src_g0, _) = sources(family);
        let to = SocketAddr::new(lab.dst(family), 9);
        let err = sockets.send(b"down", to, src_g0, lab.g0).unwrap_err();
        assert_eq!(err.op(), "send", "{err}");
        let expected: &[i32] = match family {
            Family::V4 => &[libc::ENETUNREACH],
            Family::V6 => &[libc::EINVAL, libc::ENETUNREACH],
        };
        assert!(errno(&err).is_some_and(|e| expected.contains(&e)), "{}: {err}", family.label());
    }

    // g1 deleted: the IPv6 socket bound to it reports ENODEV and is closed,
    // so that a later interface with the same index gets a fresh one.
    ip(&lab.g, "link del g1");
    let (_, src_g1) = sources(Family::V6);
    let v6 = &mut all[1];
    let err = v6.send(b"gone", SocketAddr::new(lab.peer.v6, 9), src_g1, lab.g1).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENODEV), "{err}");
    assert_eq!(v6.device_sockets(), 1);
    assert_eq!(v6.local_port(lab.g1), None);
}

fn errno(e: &NetworkError) -> Option<i32> {
    e.io_error().and_then(std::io::Error::raw_os_error)
}

/// Sends `payload` every 100 ms (the first may wait for ARP / ND) until it
/// arrives, and returns how it arrived. Other payloads (stragglers of an
/// earlier step) are skipped.
async fn probe_until_received(
    mut send: impl FnMut() -> Result<(), NetworkError>,
    receiver: &ReceiveSocket,
    payload: &[u8],
) -> Received {
    let what = String::from_utf8_lossy(payload).into_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 64];
    loop {
        send().unwrap_or_else(|e| panic!("{what}: {e}"));
        let wait = tokio::time::timeout(Duration::from_millis(100), receiver.recv(&mut buf));
        if let Ok(got) = wait.await {
            let got = got.unwrap();
            if &buf[..got.payload_len] == payload {
                return got;
            }
        }
        assert!(Instant::now() < deadline, "{what} never arrived");
    }
}

async fn probe_with(
    sender: &SendSocket,
    receiver: &ReceiveSocket,
    payload: &[u8],
    to: SocketAddr,
    source: IpAddr,
    ifindex: u32,
) -> Received {
    probe_until_received(|| sender.send(payload, to, source, ifindex), receiver, payload).await
}

async fn probe(
    sockets: &mut SendSockets,
    receiver: &ReceiveSocket,
    payload: &[u8],
    to: SocketAddr,
    source: IpAddr,
    ifindex: u32,
) -> Received {
    probe_until_received(|| sockets.send(payload, to, source, ifindex), receiver, payload).await
}
