//! The sockets on a real kernel: two namespaces of this test joined by a
//! veth pair, `connect` in a, the `Listener` in b.
//!
//! ```text
//!   a: ga 192.0.2.1/24 2001:db8::1/64 fe80::1/64  <-veth->  b: gb 192.0.2.2/24 2001:db8::2/64 fe80::2/64
//! ```
//!
//! A key mismatch shows as nothing happening, so the tests that expect one
//! wait a short while for a connection that must not come, check that
//! b's kernel counted the dropped SYNs for the expected reason, and then
//! show that the right key connects. Needs root; skips loudly without it.

use super::*;
use guardian_test_support::netns::{Netns, VethPair, ADDR4, ADDR6, GW4, GW6};
use guardian_test_support::skip;
use std::future::Future;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &[u8] = b"guardian test key";
const WRONG: &[u8] = b"guardian test kez";
/// Deadline for what must happen (a connection, bytes).
const UP: Duration = Duration::from_secs(20);
/// How long a connection that must not come up is given. Short: on this
/// veth a good handshake takes well under a millisecond, and a slow
/// machine can only make the test pass without proving anything, never
/// fail it (the positive check after each one uses [`UP`]).
const REFUSED: Duration = Duration::from_secs(1);

struct Lab {
    pair: VethPair,
    rt: tokio::runtime::Runtime,
}

impl Lab {
    fn new() -> Option<Lab> {
        if !skip::netns_ready() {
            return None;
        }
        let pair = VethPair::new("ga", "gb");
        for (ns, dev, link_local) in [(&pair.a, "ga", "fe80::1/64"), (&pair.b, "gb", "fe80::2/64")] {
            // Only a fixed link-local address: the kernel's own would be a
            // second candidate source once its DAD ends.
            ns.ip(&["link", "set", "dev", dev, "addrgenmode", "none"]);
            ns.ip(&["-6", "addr", "flush", "dev", dev, "scope", "link"]);
            ns.addr_add(dev, link_local);
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Some(Lab { pair, rt })
    }

    /// A listener in b on a port of the kernel's choice.
    fn listener(&self) -> Listener {
        self.in_b(|| Listener::bind(0).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Runs `f` on a thread inside b with the runtime entered, so that the
    /// listeners it binds are b's and registered with the runtime.
    fn in_b<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let handle = self.rt.handle().clone();
        self.pair.b.run_in(move || {
            let _rt = handle.enter();
            f()
        })
    }

    /// [`Lab::listener`], or `None` after a loud skip when the kernel has
    /// no TCP MD5.
    fn md5_listener(&self) -> Option<Listener> {
        let listener = self.listener();
        match listener.set_md5(ip("192.0.2.99"), Some(KEY)) {
            Err(NetError::Md5NotInKernel) => {
                skip::skip("the kernel has no TCP MD5 signatures (CONFIG_TCP_MD5SIG)");
                None
            }
            other => {
                other.unwrap_or_else(|e| panic!("{e}"));
                Some(listener)
            }
        }
    }

    /// Runs the future `f` makes on a thread inside a, so that the sockets
    /// `connect` opens are a's.
    fn in_a<T: Send, F: Future<Output = T>>(&self, f: impl FnOnce() -> F + Send) -> T {
        self.pair.a.run_in(|| self.rt.block_on(f()))
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// (a's address, b's address) per family.
fn families() -> [(&'static str, IpAddr, IpAddr); 2] {
    [("IPv4", ip(ADDR4), ip(GW4)), ("IPv6", ip(ADDR6), ip(GW6))]
}

/// Connects from a to `to` with `key` while b's listener accepts: both
/// ends, and the address the listener saw.
async fn connect_and_accept(
    listener: &Listener,
    to: SocketAddr,
    interface: Option<&str>,
    key: Option<&[u8]>,
) -> (TcpStream, TcpStream, IpAddr) {
    let (connected, accepted) =
        tokio::join!(connect(to, interface, key, UP), tokio::time::timeout(UP, listener.accept()));
    let connected = connected.unwrap_or_else(|e| panic!("connect to {to}: {e}"));
    let (accepted, from) = accepted.expect("the listener accepted nothing").expect("accept");
    (connected, accepted, from)
}

/// A few bytes each way.
async fn exchange(mut ours: TcpStream, mut theirs: TcpStream) {
    let mut buf = [0u8; 4];
    tokio::time::timeout(UP, async {
        ours.write_all(b"OPEN").await.unwrap();
        theirs.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"OPEN");
        theirs.write_all(b"KEEP").await.unwrap();
        ours.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"KEEP");
    })
    .await
    .expect("bytes did not cross");
}

/// A connect that must never come up: it times out, and the listener has
/// nothing to accept.
async fn never_connects(listener: &Listener, to: SocketAddr, key: Option<&[u8]>, what: String) {
    match connect(to, None, key, REFUSED).await {
        Err(NetError::ConnectTimeout { .. }) => {}
        other => panic!("{what}: expected a connect timeout, got {other:?}"),
    }
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(accepted.is_err(), "{what}: the listener accepted {accepted:?}");
}

/// TcpExt counter `name` of namespace `ns` (what `nstat` reads).
fn tcp_ext(ns: &Netns, name: &str) -> u64 {
    let text = ns.run_in(|| std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap());
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next().unwrap(), lines.next().unwrap());
    let found = names.split_whitespace().zip(values.split_whitespace()).find(|(n, _)| *n == name);
    found.unwrap_or_else(|| panic!("no TcpExt counter {name}")).1.parse().unwrap()
}

#[test]
fn the_same_key_on_both_ends_connects_and_carries_bytes_over_ipv4_and_ipv6() {
    let Some(lab) = Lab::new() else { return };
    let Some(listener) = lab.md5_listener() else { return };
    let port = listener.local_addr().unwrap().port();
    for (label, ours, theirs) in families() {
        listener.set_md5(ours, Some(KEY)).unwrap();
        lab.in_a(|| async {
            let (connected, accepted, from) =
                connect_and_accept(&listener, SocketAddr::new(theirs, port), None, Some(KEY)).await;
            assert_eq!(from, ours, "{label}");
            assert!(connected.nodelay().unwrap() && accepted.nodelay().unwrap(), "{label}: TCP_NODELAY");
            exchange(connected, accepted).await;
        });
    }
}

#[test]
fn a_wrong_key_or_none_never_establishes_and_the_right_key_then_does() {
    let Some(lab) = Lab::new() else { return };
    let Some(listener) = lab.md5_listener() else { return };
    let port = listener.local_addr().unwrap().port();
    let b = &lab.pair.b;
    for (label, ours, theirs) in families() {
        let to = SocketAddr::new(theirs, port);
        listener.set_md5(ours, Some(KEY)).unwrap();

        let failures = tcp_ext(b, "TCPMD5Failure");
        lab.in_a(|| never_connects(&listener, to, Some(WRONG), format!("{label}, wrong key")));
        assert!(tcp_ext(b, "TCPMD5Failure") > failures, "{label}: b dropped the SYNs for their signature");

        let not_found = tcp_ext(b, "TCPMD5NotFound");
        lab.in_a(|| never_connects(&listener, to, None, format!("{label}, no key")));
        assert!(tcp_ext(b, "TCPMD5NotFound") > not_found, "{label}: b dropped the SYNs for lacking one");

        // A key the listener does not expect is refused too; removing the
        // listener's key lets an unsigned peer in.
        listener.set_md5(ours, None).unwrap();
        let unexpected = tcp_ext(b, "TCPMD5Unexpected");
        lab.in_a(|| never_connects(&listener, to, Some(KEY), format!("{label}, unexpected key")));
        assert!(tcp_ext(b, "TCPMD5Unexpected") > unexpected, "{label}: b dropped the signed SYNs");
        lab.in_a(|| async {
            let (connected, accepted, _) = connect_and_accept(&listener, to, None, None).await;
            exchange(connected, accepted).await;
        });

        listener.set_md5(ours, Some(KEY)).unwrap();
        lab.in_a(|| async {
            let (connected, accepted, _) = connect_and_accept(&listener, to, None, Some(KEY)).await;
            exchange(connected, accepted).await;
        });
    }
}

#[test]
fn accept_names_an_ipv4_peer_of_the_dual_stack_listener_by_its_ipv4_address() {
    let Some(lab) = Lab::new() else { return };
    let listener = lab.listener();
    assert!(listener.local_addr().unwrap().is_ipv6(), "dual-stack [::]");
    let to = SocketAddr::new(ip(GW4), listener.local_addr().unwrap().port());
    lab.in_a(|| async {
        let (_connected, accepted, from) = connect_and_accept(&listener, to, None, None).await;
        assert_eq!(accepted.peer_addr().unwrap().ip(), ip("::ffff:192.0.2.1"), "what the kernel says");
        assert_eq!(from, ip(ADDR4));
    });
}

#[test]
fn a_link_local_peer_is_reached_through_the_named_interface() {
    let Some(lab) = Lab::new() else { return };
    let Some(listener) = lab.md5_listener() else { return };
    let port = listener.local_addr().unwrap().port();
    let to = SocketAddr::new(ip("fe80::2"), port);
    listener.set_md5(ip("fe80::1"), Some(KEY)).unwrap();
    lab.in_a(|| async {
        match connect(to, None, Some(KEY), UP).await {
            Err(NetError::LinkLocalWithoutInterface { .. }) => {}
            other => panic!("without an interface: {other:?}"),
        }
        match connect(to, Some("nosuch0"), Some(KEY), UP).await {
            Err(NetError::Interface { interface, .. }) => assert_eq!(interface, "nosuch0"),
            other => panic!("with an interface that is not there: {other:?}"),
        }
        let (connected, accepted, from) = connect_and_accept(&listener, to, Some("ga"), Some(KEY)).await;
        assert_eq!(from, ip("fe80::1"));
        let SocketAddr::V6(peer) = connected.peer_addr().unwrap() else { panic!("an IPv6 peer") };
        assert_eq!(peer.scope_id(), if_nametoindex("ga").unwrap(), "through ga");
        exchange(connected, accepted).await;
    });
}

#[test]
fn a_global_peer_with_an_interface_is_reached_through_that_device() {
    let Some(lab) = Lab::new() else { return };
    let listener = lab.listener();
    let port = listener.local_addr().unwrap().port();
    for (label, ours, theirs) in families() {
        lab.in_a(|| async {
            let to = SocketAddr::new(theirs, port);
            let (connected, accepted, from) = connect_and_accept(&listener, to, Some("ga"), None).await;
            assert_eq!(from, ours, "{label}");
            exchange(connected, accepted).await;
            // Bound to a device with no route to the peer: no connection.
            match connect(to, Some("lo"), None, REFUSED).await {
                Err(NetError::Connect { .. } | NetError::ConnectTimeout { .. }) => {}
                other => panic!("{label} through lo: {other:?}"),
            }
        });
    }
}

#[test]
fn binding_a_port_another_socket_listens_on_is_port_in_use() {
    let Some(lab) = Lab::new() else { return };
    lab.in_b(|| {
        // An IPv4-only listener, as another BGP daemon may have.
        let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let err = Listener::bind(port).unwrap_err();
        assert!(matches!(err, NetError::PortInUse { port: p } if p == port), "{err:?}");
        assert!(err.to_string().contains("already in use"), "{err}");
        // And guardian's own dual-stack one.
        let first = Listener::bind(0).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = Listener::bind(port).unwrap_err();
        assert!(matches!(err, NetError::PortInUse { port: p } if p == port), "{err:?}");
    });
}

#[test]
fn listening_on_179_needs_cap_net_bind_service_and_the_error_names_the_fix() {
    let Some(lab) = Lab::new() else { return };
    lab.in_b(|| {
        Listener::bind(BGP_PORT).unwrap_or_else(|e| panic!("with the capability: {e}"));
        // Capabilities are per thread, and this one ends with the closure.
        caps::drop(None, caps::CapSet::Effective, caps::Capability::CAP_NET_BIND_SERVICE).unwrap();
        let err = Listener::bind(BGP_PORT).unwrap_err();
        assert!(matches!(err, NetError::PortPrivileged { port: BGP_PORT }), "{err:?}");
        assert!(err.to_string().contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"), "{err}");
    });
}

/// Pins why [`key_address`] maps IPv4 peers: the kernel refuses an AF_INET
/// key address on an IPv6 socket, and the mapped one is the key an IPv4
/// peer's SYN is checked against (the tests above connect with it).
#[test]
fn the_dual_stack_listener_takes_an_ipv4_peer_key_only_as_ipv4_mapped() {
    let Some(lab) = Lab::new() else { return };
    let Some(listener) = lab.md5_listener() else { return };
    let v4 = TcpMd5Sig::new(SocketAddr::new(ip(ADDR4), 0), Some(KEY)).unwrap();
    let err = set_md5sig(listener.inner.as_fd(), &v4).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    let mapped = TcpMd5Sig::new(SocketAddr::new(ip("::ffff:192.0.2.1"), 0), Some(KEY)).unwrap();
    set_md5sig(listener.inner.as_fd(), &mapped).unwrap();
    // Removing twice: the second finds no key, which is not an error.
    listener.set_md5(ip(ADDR4), None).unwrap();
    listener.set_md5(ip(ADDR4), None).unwrap();
}
