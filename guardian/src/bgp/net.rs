//! The TCP sockets of the BGP speaker: bytes in, bytes out. Framing is
//! `message.rs`, sessions are `session.rs`; the BGP task calls these two:
//!
//! ```text
//!  active neighbor:   connect(peer, interface, md5, timeout) ──► TcpStream
//!  passive neighbors: Listener::bind(179) ── set_md5(peer, key) per neighbor
//!                              └── accept() ──► (TcpStream, canonical peer address)
//! ```
//!
//! - [`connect`]: one socket per attempt, TCP_NODELAY (a KEEPALIVE is 19
//!   bytes and must not wait for Nagle), tied to the neighbor's
//!   `interface` (a link-local peer through its scope id, any other
//!   through SO_BINDTODEVICE), its TCP MD5 key set before the SYN.
//! - [`Listener`]: one socket for all passive neighbors, `[::]:179` with
//!   IPV6_V6ONLY off, so IPv4 peers arrive as `::ffff:a.b.c.d` (which
//!   [`Listener::accept`] turns back into `a.b.c.d`); `0.0.0.0:179` when
//!   the host has no IPv6. The BGP task binds it only when a neighbor is
//!   passive: port 179 needs CAP_NET_BIND_SERVICE.
//!
//! TCP MD5 (RFC 2385, Linux's TCP_MD5SIG) is a key per peer address on a
//! socket. Linux checks an incoming SYN against the keys of the listening
//! socket and copies the matching key to the accepted one, so the keys of
//! passive neighbors live on the [`Listener`]. A segment from a peer with a
//! key but without the right signature is dropped, and so is a signed
//! segment from a peer without one: a key mismatch is never an error, only
//! a connection that does not come up (the connect times out, the listener
//! accepts nothing).
//!
//! Two kernel details decide how keys are written (both pinned by
//! `netns_tests.rs`): on an IPv6 socket the key's address must be an IPv6
//! one (an AF_INET address is EINVAL), and an IPv4 peer's key is given as
//! its IPv4-mapped address, which the kernel stores as the IPv4 key its
//! SYNs are checked against. The key ignores the scope: two link-local
//! neighbors with the same address on two interfaces share one listener key
//! (TCP_MD5SIG_FLAG_IFINDEX only takes a VRF device).

use crate::config::TCP_MD5_MAX_KEY_LEN;
use nix::net::if_::if_nametoindex;
use nix::sys::socket::{setsockopt, sockopt};
use socket2::{SockAddr, SockAddrStorage};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

#[cfg(test)]
mod netns_tests;
#[cfg(test)]
mod tests;

/// TCP port 179, or another for tests.
pub const BGP_PORT: u16 = 179;

/// Connections the kernel queues for [`Listener::accept`]: a few per
/// passive neighbor is plenty.
const BACKLOG: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot open a TCP socket: {source}")]
    Socket { source: io::Error },

    #[error("cannot set {option} on the TCP socket to {peer}: {source}")]
    SetSockOpt { option: &'static str, peer: SocketAddr, source: io::Error },

    #[error("cannot reach {peer} through interface {interface:?}: {source}")]
    Interface { peer: SocketAddr, interface: String, source: io::Error },

    /// An IPv6 link-local address means nothing without its interface.
    #[error("{peer} is link-local: name the interface it is reached through")]
    LinkLocalWithoutInterface { peer: SocketAddr },

    #[error("cannot set the TCP MD5 key for {peer}: {source}")]
    Md5 { peer: IpAddr, source: io::Error },

    /// setsockopt(TCP_MD5SIG) said ENOPROTOOPT.
    #[error(
        "this kernel has no TCP MD5 signatures (built without CONFIG_TCP_MD5SIG): a neighbor with a \
         secret_file cannot be reached; run a kernel that has them, or drop the key on both ends"
    )]
    Md5NotInKernel,

    #[error("cannot connect to {peer}: {source}")]
    Connect { peer: SocketAddr, source: io::Error },

    #[error(
        "no connection to {peer} within {timeout:?}{}",
        if *md5 { " (with a TCP MD5 key this is also how a key the neighbor does not share looks: \
                    the kernel drops its segments)" } else { "" }
    )]
    ConnectTimeout { peer: SocketAddr, timeout: Duration, md5: bool },

    /// EACCES: a port below net.ipv4.ip_unprivileged_port_start (1024).
    #[error(
        "listening on TCP port {port} needs CAP_NET_BIND_SERVICE: add it to AmbientCapabilities= \
         and CapabilityBoundingSet= in guardian's systemd unit (AmbientCapabilities=CAP_NET_BIND_SERVICE), \
         or make no neighbor passive"
    )]
    PortPrivileged { port: u16 },

    #[error(
        "TCP port {port} is already in use, likely by another BGP daemon (`ss -ltnp 'sport = :{port}'` \
         names it): stop it, or make no neighbor passive so that guardian does not listen"
    )]
    PortInUse { port: u16 },

    #[error("cannot listen on TCP {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

/// Connects to a neighbor. `interface` ties the connection to that device:
/// required for an IPv6 link-local `peer` (it becomes the scope id, from
/// if_nametoindex), SO_BINDTODEVICE for any other. `md5` is the TCP MD5
/// key (RFC 2385, at most 80 bytes), set for `peer` before the SYN leaves.
/// TCP_NODELAY is on. Fails with [`NetError::ConnectTimeout`] when the
/// connection is not up after `timeout`; the socket is closed then.
pub async fn connect(
    peer: SocketAddr,
    interface: Option<&str>,
    md5: Option<&[u8]>,
    timeout: Duration,
) -> Result<TcpStream, NetError> {
    let mut peer = canonical(peer);
    let socket = match peer {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|source| NetError::Socket { source })?;
    socket.set_nodelay(true).map_err(|source| NetError::SetSockOpt { option: "TCP_NODELAY", peer, source })?;
    let interface_error = move |name: &str, source| NetError::Interface { peer, interface: name.to_owned(), source };
    match binding(peer, interface)? {
        Binding::None => {}
        Binding::ScopeId(name) => {
            let index = if_nametoindex(name).map_err(|e| interface_error(name, e.into()))?;
            if let SocketAddr::V6(v6) = &mut peer {
                v6.set_scope_id(index);
            }
        }
        Binding::Device(name) => socket.bind_device(Some(name.as_bytes())).map_err(|e| interface_error(name, e))?,
    }
    if let Some(key) = md5 {
        set_key(socket.as_fd(), peer.is_ipv6(), peer.ip(), Some(key))?;
    }
    match tokio::time::timeout(timeout, socket.connect(peer)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(NetError::Connect { peer, source }),
        Err(_elapsed) => Err(NetError::ConnectTimeout { peer, timeout, md5: md5.is_some() }),
    }
}

/// How [`connect`] applies its `interface`.
#[derive(Debug, PartialEq, Eq)]
enum Binding<'a> {
    None,
    /// The link-local peer's scope id.
    ScopeId(&'a str),
    /// SO_BINDTODEVICE.
    Device(&'a str),
}

fn binding(peer: SocketAddr, interface: Option<&str>) -> Result<Binding<'_>, NetError> {
    let link_local = matches!(peer, SocketAddr::V6(v6) if v6.ip().is_unicast_link_local());
    Ok(match interface {
        Some(name) if link_local => Binding::ScopeId(name),
        Some(name) => Binding::Device(name),
        // A scope id the caller already set is as good as a name.
        None if link_local && matches!(peer, SocketAddr::V6(v6) if v6.scope_id() == 0) => {
            return Err(NetError::LinkLocalWithoutInterface { peer });
        }
        None => Binding::None,
    })
}

/// The passive side: one listening socket for every passive neighbor,
/// with the TCP MD5 key of each neighbor that has one.
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
    /// `[::]` with IPV6_V6ONLY off; false for the IPv4-only fallback.
    dual_stack: bool,
}

impl Listener {
    /// Listens on `[::]:port` for IPv6 and IPv4 peers alike, or on
    /// `0.0.0.0:port` when the host has no IPv6. `port` 0 lets the kernel
    /// choose (tests). SO_REUSEADDR is on, so a restart does not wait for
    /// the old connections' TIME_WAIT; it never lets two listeners share
    /// the port ([`NetError::PortInUse`]).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like [`TcpListener::bind`].
    pub fn bind(port: u16) -> Result<Listener, NetError> {
        let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
        match listen(any6) {
            Ok(inner) => Ok(Listener { inner, dual_stack: true }),
            Err(e) if ipv6_unavailable(&e) => {
                let any4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
                let inner = listen(any4).map_err(|e| listen_error(any4, e))?;
                Ok(Listener { inner, dual_stack: false })
            }
            Err(e) => Err(listen_error(any6, e)),
        }
    }

    /// Sets the TCP MD5 key that connections from `peer` must carry, or
    /// with `None` removes it (no key is fine). Applies to connections
    /// accepted from then on.
    pub fn set_md5(&self, peer: IpAddr, key: Option<&[u8]>) -> Result<(), NetError> {
        set_key(self.inner.as_fd(), self.dual_stack, peer, key)
    }

    /// The next connection, TCP_NODELAY on, with its peer's address in
    /// canonical form (an IPv4 peer as IPv4, not IPv4-mapped IPv6). It may
    /// come from anyone: telling neighbors from strangers is the caller's
    /// (a link-local peer's interface is the scope id of the stream's
    /// `peer_addr()`).
    pub async fn accept(&self) -> io::Result<(TcpStream, IpAddr)> {
        let (stream, from) = self.inner.accept().await?;
        stream.set_nodelay(true)?;
        Ok((stream, canonical(from).ip()))
    }

    /// The bound address (its port is the kernel's choice after
    /// `bind(0)`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => {
            let socket = TcpSocket::new_v6()?;
            setsockopt(&socket, sockopt::Ipv6V6Only, &false)?;
            socket
        }
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The host has no IPv6 (booted with ipv6.disable=1): fall back to IPv4.
fn ipv6_unavailable(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL))
}

fn listen_error(addr: SocketAddr, source: io::Error) -> NetError {
    match source.raw_os_error() {
        Some(libc::EACCES) => NetError::PortPrivileged { port: addr.port() },
        Some(libc::EADDRINUSE) => NetError::PortInUse { port: addr.port() },
        _ => NetError::Listen { addr, source },
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 one it is; any other as it is
/// (with its scope id).
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip().to_canonical() {
        IpAddr::V4(v4) => SocketAddr::from((v4, addr.port())),
        IpAddr::V6(_) => addr,
    }
}

/// The address a key for `peer` is written with on a socket of the given
/// kind: an IPv4 peer's on an IPv6 socket is IPv4-mapped (the kernel
/// refuses an AF_INET address there). `None`: an IPv6 peer on an IPv4
/// socket, which no key can name.
fn key_address(ipv6_socket: bool, peer: IpAddr) -> Option<SocketAddr> {
    let ip = match (ipv6_socket, peer.to_canonical()) {
        (true, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (false, IpAddr::V6(_)) => return None,
        (_, ip) => ip,
    };
    Some(SocketAddr::new(ip, 0))
}

fn set_key(fd: BorrowedFd<'_>, ipv6_socket: bool, peer: IpAddr, key: Option<&[u8]>) -> Result<(), NetError> {
    let md5_error = |source| NetError::Md5 { peer, source };
    let addr = key_address(ipv6_socket, peer).ok_or_else(|| {
        md5_error(io::Error::new(io::ErrorKind::Unsupported, "an IPv6 peer on an IPv4 socket (this host has no IPv6)"))
    })?;
    let sig = TcpMd5Sig::new(addr, key).map_err(md5_error)?;
    match set_md5sig(fd, &sig) {
        Ok(()) => Ok(()),
        // Removing a key that is not there.
        Err(e) if key.is_none() && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Err(NetError::Md5NotInKernel),
        Err(e) => Err(md5_error(e)),
    }
}

/// `struct tcp_md5sig` of linux/tcp.h. Written here: libc has TCP_MD5SIG
/// but not the struct, and neither nix nor socket2 has the option;
/// socket2's `SockAddrStorage` (a `sockaddr_storage`) fills the address
/// without unsafe code. The asserts below pin the kernel's layout.
#[repr(C)]
struct TcpMd5Sig {
    /// sockaddr_in / sockaddr_in6 of the peer; the port is ignored.
    addr: SockAddrStorage,
    /// TCP_MD5SIG_FLAG_*: read only by TCP_MD5SIG_EXT, not used here.
    flags: u8,
    /// With TCP_MD5SIG_FLAG_PREFIX only.
    prefixlen: u8,
    /// 0 removes the key.
    keylen: u16,
    /// With TCP_MD5SIG_FLAG_IFINDEX only.
    ifindex: i32,
    key: [u8; TCP_MD5_MAX_KEY_LEN],
}

const _: () = assert!(TCP_MD5_MAX_KEY_LEN == libc::TCP_MD5SIG_MAXKEYLEN);
const _: () = assert!(size_of::<TcpMd5Sig>() == 216);
const _: () = assert!(std::mem::offset_of!(TcpMd5Sig, flags) == 128);
const _: () = assert!(std::mem::offset_of!(TcpMd5Sig, key) == 136);

impl TcpMd5Sig {
    /// The key `key` for `addr`, or with `None` its removal.
    fn new(addr: SocketAddr, key: Option<&[u8]>) -> io::Result<TcpMd5Sig> {
        let bytes = key.unwrap_or_default();
        if key.is_some_and(|k| k.is_empty() || k.len() > TCP_MD5_MAX_KEY_LEN) {
            let message = format!("a TCP MD5 key is 1-{TCP_MD5_MAX_KEY_LEN} bytes (got {})", bytes.len());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        let mut sig = TcpMd5Sig {
            addr: SockAddr::from(addr).as_storage(),
            flags: 0,
            prefixlen: 0,
            keylen: bytes.len() as u16,
            ifindex: 0,
            key: [0; TCP_MD5_MAX_KEY_LEN],
        };
        sig.key[..bytes.len()].copy_from_slice(bytes);
        Ok(sig)
    }
}

fn set_md5sig(fd: BorrowedFd<'_>, sig: &TcpMd5Sig) -> io::Result<()> {
    // SAFETY: `sig` is a live `struct tcp_md5sig` (layout asserted above)
    // and the length is its size; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (sig as *const TcpMd5Sig).cast(),
            size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
