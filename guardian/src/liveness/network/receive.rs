//! The receiving socket: one per family and profile, on the profile's port.

use super::{bound_port, sockopt, udp_socket, unspecified, NetworkError, MAX_BATCH};
use crate::attribution::Procfs;
use crate::route::Family;
use nix::sys::socket::{
    recvmmsg, recvmsg, setsockopt, sockopt as opt, CmsgIterator, ControlMessageOwned, MsgFlags, MultiHeaders,
    SockaddrStorage,
};
use socket2::Socket;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// What the kernel said about one received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written to the caller's buffer.
    pub payload_len: usize,
    /// The datagram was longer than the buffer; the rest is lost.
    pub truncated: bool,
    /// The peer's address and port.
    pub from: SocketAddr,
    /// The datagram's destination address (`ipi_addr` / `ipi6_addr`).
    pub local: IpAddr,
    /// The interface it arrived on.
    pub ifindex: u32,
    /// TTL / hop limit it arrived with (`None` only if the kernel did not
    /// say, which it always does once the socket option is on).
    pub ttl: Option<u8>,
}

/// Control-message room for one datagram. Needed: pktinfo (32 bytes for
/// IPv4, 40 for IPv6) plus TTL (24) on 64-bit Linux; the rest is headroom
/// so that an unexpected extra message does not truncate the ones we need.
pub(super) const CMSG_BYTES: usize = 128;

/// Control-message buffer with the alignment `cmsghdr` needs.
#[repr(C, align(8))]
struct CmsgBuf([u8; CMSG_BYTES]);

/// A UDP socket bound to `[::]:port` or `0.0.0.0:port` that reports each
/// datagram's interface, destination address and TTL.
///
/// Bound without `SO_REUSEADDR` or `SO_REUSEPORT`: with either on both
/// sides, Linux lets a second socket bind the same port and then hands
/// each unicast datagram to only one of them (the one bound last), so two
/// BFD daemons on a host would silently take each other's packets (seen
/// with BIRD: its sessions went Down). Without them the bind fails while
/// another process holds the port ([`NetworkError::PortInUse`], naming it
/// when /proc tells), and any later bind of that port, even by a process
/// that asks for reuse, fails while guardian holds it.
#[derive(Debug)]
pub struct ReceiveSocket {
    fd: AsyncFd<Socket>,
    family: Family,
    port: u16,
}

impl ReceiveSocket {
    /// Opens and binds the socket. `port` 0 lets the kernel choose (tests).
    /// Must run inside a tokio runtime.
    pub fn open(family: Family, port: u16) -> Result<Self, NetworkError> {
        let socket = udp_socket(family)?;
        match family {
            Family::V4 => {
                sockopt(family, "IP_PKTINFO", setsockopt(&socket, opt::Ipv4PacketInfo, &true))?;
                sockopt(family, "IP_RECVTTL", setsockopt(&socket, opt::Ipv4RecvTtl, &true))?;
            }
            Family::V6 => {
                sockopt(family, "IPV6_V6ONLY", socket.set_only_v6(true))?;
                sockopt(family, "IPV6_RECVPKTINFO", setsockopt(&socket, opt::Ipv6RecvPacketInfo, &true))?;
                sockopt(family, "IPV6_RECVHOPLIMIT", setsockopt(&socket, opt::Ipv6RecvHopLimit, &true))?;
            }
        }
        let addr = SocketAddr::new(unspecified(family), port);
        socket.bind(&addr.into()).map_err(|source| match source.raw_os_error() {
            Some(libc::EADDRINUSE) => NetworkError::PortInUse {
                addr,
                holder: super::holder::udp_port_holder(&Procfs::default(), family, port),
            },
            _ => NetworkError::Bind { addr, source },
        })?;
        let port = bound_port(&socket).map_err(|source| NetworkError::Bind { addr, source })?;
        tokio::runtime::Handle::try_current()
            .map_err(|e| NetworkError::Register { family, source: io::Error::other(e) })?;
        // SAFETY: the AsyncFd owns the socket, whose fd stays open and the
        // same until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| NetworkError::Register { family, source: e.into() })?;
        Ok(ReceiveSocket { fd, family, port })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The bound port (the one the kernel chose when opened with 0).
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Asks for `SO_RCVBUF` of `bytes` (the kernel doubles it and caps it at
    /// `net.core.rmem_max`); returns the size the kernel actually set. A
    /// burst from thousands of sessions overflows the default (about 200
    /// queued datagrams).
    pub fn set_recv_buffer_size(&self, bytes: usize) -> Result<usize, NetworkError> {
        let family = self.family;
        let socket = self.fd.get_ref();
        sockopt(family, "SO_RCVBUF", socket.set_recv_buffer_size(bytes))?;
        socket.recv_buffer_size().map_err(|source| NetworkError::SetSockOpt { family, option: "SO_RCVBUF", source })
    }

    /// Waits for one datagram and writes its payload to `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Received, NetworkError> {
        loop {
            let mut guard = self.fd.readable().await.map_err(|e| self.error(e))?;
            match guard.try_io(|fd| recv_one(fd.get_ref(), &mut *buf)) {
                Ok(Ok(parsed)) => return parsed,
                Ok(Err(e)) => return Err(self.error(e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// One datagram if one is waiting, without awaiting: drains the socket
    /// after [`recv`](Self::recv) returned. Like tokio's own `try_recv`, it
    /// answers `None` until the reactor has seen the socket readable.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<Received>, NetworkError> {
        match self.fd.try_io(Interest::READABLE, |fd| recv_one(fd, &mut *buf)) {
            Ok(parsed) => parsed.map(Some),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Waits until datagrams are waiting, then takes up to the batch's
    /// capacity in one `recvmmsg`. Returns how many were taken (at least
    /// one): the usable ones are in [`RecvBatch::iter`], the others in
    /// [`RecvBatch::errors`].
    pub async fn recv_batch(&self, batch: &mut RecvBatch) -> Result<usize, NetworkError> {
        loop {
            let mut guard = self.fd.readable().await.map_err(|e| self.error(e))?;
            match guard.try_io(|fd| recv_many(fd.get_ref(), &mut *batch)) {
                Ok(Ok(n)) => return Ok(n),
                Ok(Err(e)) => return Err(self.error(e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// [`recv_batch`](Self::recv_batch) without awaiting: 0 when nothing is
    /// waiting (or the reactor has not seen the socket readable yet).
    pub fn try_recv_batch(&self, batch: &mut RecvBatch) -> Result<usize, NetworkError> {
        match self.fd.try_io(Interest::READABLE, |fd| recv_many(fd, &mut *batch)) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                batch.clear();
                Ok(0)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// One `recvmsg` whatever tokio believes about readiness: lets tests
    /// assert that nothing is queued.
    #[cfg(test)]
    pub(super) fn recv_now(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        match recv_one(self.fd.get_ref(), buf) {
            Ok(parsed) => Ok(Some(parsed.map_err(io::Error::other)?)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn error(&self, source: io::Error) -> NetworkError {
        NetworkError::Recv { family: self.family, source }
    }
}

/// Buffers for up to `capacity` datagrams taken by one `recvmmsg`, and what
/// the kernel said about each. Reused from call to call.
#[derive(Debug)]
pub struct RecvBatch {
    /// `capacity` slots of `slot` bytes each.
    buffers: Vec<u8>,
    slot: usize,
    /// (slot, metadata) of the usable datagrams of the last call.
    received: Vec<(usize, Received)>,
    /// Datagrams of the last call that came without their ancillary data.
    errors: Vec<NetworkError>,
}

impl RecvBatch {
    /// Room for `capacity` datagrams (at most [`MAX_BATCH`]) of up to
    /// `datagram_size` bytes each; longer ones are marked `truncated`.
    pub fn new(capacity: usize, datagram_size: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_BATCH);
        let slot = datagram_size.max(1);
        RecvBatch {
            buffers: vec![0; capacity * slot],
            slot,
            received: Vec::with_capacity(capacity),
            errors: Vec::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.buffers.len() / self.slot
    }

    /// Usable datagrams of the last call.
    pub fn len(&self) -> usize {
        self.received.len()
    }

    pub fn is_empty(&self) -> bool {
        self.received.is_empty()
    }

    /// The usable datagrams of the last call, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&Received, &[u8])> + '_ {
        self.received.iter().map(|(slot, r)| {
            let start = slot * self.slot;
            (r, &self.buffers[start..start + r.payload_len])
        })
    }

    /// Datagrams of the last call that were consumed but are unusable
    /// (count them under their [`NetworkError::op`]).
    pub fn errors(&self) -> &[NetworkError] {
        &self.errors
    }

    fn clear(&mut self) {
        self.received.clear();
        self.errors.clear();
    }
}

/// One `recvmsg`. The outer error is the system call's (WouldBlock included,
/// for tokio's readiness); the inner one a datagram without its metadata.
fn recv_one(socket: &Socket, buf: &mut [u8]) -> io::Result<Result<Received, NetworkError>> {
    let mut cmsg = CmsgBuf([0; CMSG_BYTES]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut cmsg.0), MsgFlags::empty())?;
    Ok(parse(msg.bytes, msg.flags, msg.address, msg.cmsgs()))
}

/// One `recvmmsg` into `batch`; returns the number of datagrams consumed.
fn recv_many(socket: &Socket, batch: &mut RecvBatch) -> io::Result<usize> {
    batch.clear();
    // Fresh headers each call: nix's `MultiHeaders` is not `Send` (it holds
    // raw pointers) and the kernel shrinks each header's control length, so
    // reusing them would need resetting anyway. Allocating 64 headers costs
    // about 0.2 us, against about 2 us per datagram saved in system calls.
    let mut headers =
        MultiHeaders::<SockaddrStorage>::preallocate(batch.capacity(), Some(Vec::with_capacity(CMSG_BYTES)));
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
        batch.buffers.chunks_exact_mut(batch.slot).map(|slot| [IoSliceMut::new(slot)]).collect();
    let results = recvmmsg(socket.as_raw_fd(), &mut headers, iovs.iter_mut(), MsgFlags::empty(), None)?;
    let mut consumed = 0;
    for (slot, msg) in results.enumerate() {
        consumed += 1;
        match parse(msg.bytes, msg.flags, msg.address, msg.cmsgs()) {
            Ok(received) => batch.received.push((slot, received)),
            Err(e) => batch.errors.push(e),
        }
    }
    Ok(consumed)
}

fn parse(
    bytes: usize,
    flags: MsgFlags,
    address: Option<SockaddrStorage>,
    cmsgs: nix::Result<CmsgIterator<'_>>,
) -> Result<Received, NetworkError> {
    let from = address.as_ref().and_then(socket_addr).ok_or(NetworkError::Incomplete { missing: "source address" })?;
    let cmsgs = cmsgs.map_err(|_| NetworkError::Incomplete { missing: "ancillary data (truncated)" })?;
    let mut info = None;
    let mut ttl = None;
    for cmsg in cmsgs {
        match cmsg {
            ControlMessageOwned::Ipv4PacketInfo(p) => {
                let local = Ipv4Addr::from(p.ipi_addr.s_addr.to_ne_bytes());
                info = Some((IpAddr::V4(local), u32::try_from(p.ipi_ifindex).unwrap_or(0)));
            }
            ControlMessageOwned::Ipv6PacketInfo(p) => {
                let local = Ipv6Addr::from(p.ipi6_addr.s6_addr);
                info = Some((IpAddr::V6(local), p.ipi6_ifindex));
            }
            ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                ttl = u8::try_from(t).ok();
            }
            _ => {}
        }
    }
    let (local, ifindex) =
        info.ok_or(NetworkError::Incomplete { missing: "packet info (interface and destination address)" })?;
    Ok(Received { payload_len: bytes, truncated: flags.contains(MsgFlags::MSG_TRUNC), from, local, ifindex, ttl })
}

fn socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}
