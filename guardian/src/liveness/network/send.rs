//! A sending socket: shared by all sessions of a family (or, for IPv6, of
//! an interface), on one source port in 49152-65535.

use super::{
    bound_port, sockopt, udp_socket, unspecified, NetworkError, MAX_BATCH, SOURCE_PORTS, SOURCE_PORT_ATTEMPTS,
};
use crate::route::Family;
use socket2::{SockAddr, Socket};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::{mem, ptr};

/// One datagram for [`SendSocket::send_batch`].
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub payload: &'a [u8],
    pub to: SocketAddr,
    /// Source address; unspecified lets the kernel choose.
    pub source: IpAddr,
    /// Egress interface; 0 lets the routing table choose.
    pub ifindex: u32,
}

/// What [`SendSocket::send_batch`] did: every datagram was either sent or
/// is listed in `failed` with its index.
#[derive(Debug, Default)]
pub struct BatchSent {
    pub sent: usize,
    /// (index in the batch, why), in index order.
    pub failed: Vec<(usize, NetworkError)>,
    /// `sendmmsg` calls made: one per [`MAX_BATCH`] datagrams, plus about
    /// one per datagram the kernel refused.
    pub calls: usize,
}

/// A UDP socket bound to `[::]` / `0.0.0.0` on one source port from
/// [`SOURCE_PORTS`] (and optionally to one interface), sending with a fixed
/// TTL / hop limit. Sends never wait. Sessions should go through
/// [`SendSockets`](super::SendSockets), which picks the right one.
#[derive(Debug)]
pub struct SendSocket {
    socket: Socket,
    family: Family,
    port: u16,
    device: Option<u32>,
}

/// Per-send `IP_PKTINFO` / `IPV6_PKTINFO`: source address and interface.
enum PacketInfo {
    V4(libc::in_pktinfo),
    V6(libc::in6_pktinfo),
}

impl SendSocket {
    /// Opens the socket with TTL / hop limit `ttl` ([`GTSM_TTL`] for `bfd`)
    /// on a random free port of [`SOURCE_PORTS`], not bound to a device.
    ///
    /// [`GTSM_TTL`]: super::GTSM_TTL
    pub fn open(family: Family, ttl: u8) -> Result<Self, NetworkError> {
        Self::open_with(family, ttl, None, None, SOURCE_PORTS, SOURCE_PORT_ATTEMPTS)
    }

    /// Like [`open`](Self::open), but bound to interface `ifindex`
    /// (`SO_BINDTOIFINDEX`): every datagram leaves through it, whatever the
    /// routing table says. IPv6 needs this (see [`SendSockets`]). Tries
    /// `preferred_port` first when given, so that all devices can share
    /// one source port.
    ///
    /// [`SendSockets`]: super::SendSockets
    pub fn open_on_device(
        family: Family,
        ttl: u8,
        ifindex: NonZeroU32,
        preferred_port: Option<u16>,
    ) -> Result<Self, NetworkError> {
        Self::open_with(family, ttl, Some(ifindex), preferred_port, SOURCE_PORTS, SOURCE_PORT_ATTEMPTS)
    }

    /// The general form: the port is `preferred` if free, else drawn from
    /// `ports`, trying up to `attempts` random ports that are in use before
    /// giving up.
    pub fn open_with(
        family: Family,
        ttl: u8,
        device: Option<NonZeroU32>,
        preferred: Option<u16>,
        ports: RangeInclusive<u16>,
        attempts: u32,
    ) -> Result<Self, NetworkError> {
        let socket = udp_socket(family)?;
        match family {
            Family::V4 => sockopt(family, "IP_TTL", socket.set_ttl_v4(ttl.into()))?,
            Family::V6 => {
                sockopt(family, "IPV6_V6ONLY", socket.set_only_v6(true))?;
                sockopt(family, "IPV6_UNICAST_HOPS", socket.set_unicast_hops_v6(ttl.into()))?;
            }
        }
        if let Some(dev) = device {
            let bound = match family {
                Family::V4 => socket.bind_device_by_index_v4(Some(dev)),
                Family::V6 => socket.bind_device_by_index_v6(Some(dev)),
            };
            sockopt(family, "SO_BINDTOIFINDEX", bound)?;
        }
        // No SO_REUSEADDR here: the port must be ours alone, and an
        // EADDRINUSE is what tells us to draw another one.
        let mut last = io::Error::from(io::ErrorKind::AddrInUse);
        let candidates = preferred.into_iter().chain((0..attempts).map(|_| fastrand::u16(ports.clone())));
        for port in candidates {
            let addr = SocketAddr::new(unspecified(family), port);
            match socket.bind(&addr.into()) {
                Ok(()) => {
                    let port = bound_port(&socket).map_err(|source| NetworkError::Bind { addr, source })?;
                    return Ok(SendSocket { socket, family, port, device: device.map(NonZeroU32::get) });
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
                Err(source) => return Err(NetworkError::Bind { addr, source }),
            }
        }
        Err(NetworkError::NoSourcePort { family, first: *ports.start(), last: *ports.end(), attempts, source: last })
    }

    /// The interface this socket is bound to, if any.
    pub fn device(&self) -> Option<u32> {
        self.device
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The source port of every datagram this socket sends.
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Asks for `SO_SNDBUF` of `bytes` (doubled by the kernel, capped at
    /// `net.core.wmem_max`); returns the size the kernel actually set.
    pub fn set_send_buffer_size(&self, bytes: usize) -> Result<usize, NetworkError> {
        let family = self.family;
        sockopt(family, "SO_SNDBUF", self.socket.set_send_buffer_size(bytes))?;
        self.socket.send_buffer_size().map_err(|source| NetworkError::SetSockOpt {
            family,
            option: "SO_SNDBUF",
            source,
        })
    }

    /// Sends one datagram to `to` from `source` with interface `ifindex`
    /// (`IP_PKTINFO` / `IPV6_PKTINFO`). An unspecified `source` or
    /// `ifindex` 0 leaves that choice to the kernel.
    ///
    /// IPv4 then only uses routes through that interface, or takes `to` as
    /// on-link there, even when its routing table prefers another device.
    /// IPv6 does so only if `source` is unspecified or this socket is bound
    /// to the device ([`open_on_device`](Self::open_on_device)); otherwise
    /// the interface is a mere hint. [`SendSockets`] hides the difference.
    ///
    /// For an IPv6 link-local `to`, its scope id and `ifindex` must agree.
    /// Never waits: a full send buffer is [`NetworkError::SendWouldBlock`].
    ///
    /// [`SendSockets`]: super::SendSockets
    pub fn send(&self, payload: &[u8], to: SocketAddr, source: IpAddr, ifindex: u32) -> Result<(), NetworkError> {
        let info = self.packet_info(to, source, ifindex)?;
        let name = SockAddr::from(to);
        let mut iov = iovec(payload);
        let mut cmsg = Cmsg::ZERO;
        let msg = message(&name, &mut iov, &mut cmsg, &info);
        // SAFETY: `msg` points at `name`, `iov` (and through it `payload`)
        // and `cmsg`, all alive and unmoved until this call returns; the
        // kernel only reads them.
        let rc = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &msg, 0) };
        if rc < 0 {
            return Err(send_error(io::Error::last_os_error(), to, source, ifindex));
        }
        Ok(())
    }

    /// Sends many datagrams, up to [`MAX_BATCH`] per `sendmmsg`, each with
    /// its own source and interface (its own control message), so their
    /// order does not matter. Never waits: after a full send buffer the
    /// remaining datagrams are all reported as
    /// [`NetworkError::SendWouldBlock`]; any other error fails only its own
    /// datagram and sending goes on.
    pub fn send_batch(&self, datagrams: &[Outgoing<'_>]) -> BatchSent {
        let mut out = BatchSent::default();
        let mut batch: Vec<(usize, PacketInfo)> = Vec::with_capacity(datagrams.len().min(MAX_BATCH));
        let mut rest = datagrams.iter().enumerate();
        loop {
            batch.clear();
            for (i, d) in rest.by_ref() {
                match self.packet_info(d.to, d.source, d.ifindex) {
                    Ok(info) => {
                        batch.push((i, info));
                        if batch.len() == MAX_BATCH {
                            break;
                        }
                    }
                    Err(e) => out.failed.push((i, e)),
                }
            }
            if batch.is_empty() {
                break;
            }
            if let Some(blocked) = self.send_many(datagrams, &batch, &mut out) {
                let unsent = batch[blocked..].iter().map(|&(i, _)| i).chain(rest.map(|(i, _)| i));
                out.failed.extend(unsent.map(|i| (i, NetworkError::SendWouldBlock { to: datagrams[i].to })));
                break;
            }
        }
        // Datagrams refused before the kernel were listed while their batch
        // was being filled, ahead of earlier ones the kernel failed.
        out.failed.sort_by_key(|&(i, _)| i);
        out
    }

    /// Sends `batch` (1..=MAX_BATCH checked datagrams: their index in
    /// `datagrams` and packet info) with as few `sendmmsg` calls as errors
    /// allow, counting in `out`. Returns the position in `batch` of the
    /// first datagram refused for a full send buffer, if any: it and the
    /// rest are unsent and not yet in `out`.
    fn send_many(
        &self,
        datagrams: &[Outgoing<'_>],
        batch: &[(usize, PacketInfo)],
        out: &mut BatchSent,
    ) -> Option<usize> {
        let names: Vec<SockAddr> = batch.iter().map(|&(i, _)| SockAddr::from(datagrams[i].to)).collect();
        let mut iovs: Vec<libc::iovec> = batch.iter().map(|&(i, _)| iovec(datagrams[i].payload)).collect();
        let mut cmsgs = vec![Cmsg::ZERO; batch.len()];
        // Built after the vectors above are complete, which never move
        // again: the headers point into them.
        let mut headers: Vec<libc::mmsghdr> = names
            .iter()
            .zip(&mut iovs)
            .zip(&mut cmsgs)
            .zip(batch)
            .map(|(((name, iov), cmsg), (_, info))| libc::mmsghdr {
                msg_hdr: message(name, iov, cmsg, info),
                msg_len: 0,
            })
            .collect();
        let fd = self.socket.as_raw_fd();
        let mut next = 0;
        while next < headers.len() {
            let pending = &mut headers[next..];
            // SAFETY: `pending` is a live slice of `pending.len()` (at most
            // MAX_BATCH) headers, each pointing at its own entry of `names`,
            // `iovs` (and through it the caller's payload) and `cmsgs`,
            // which stay alive and unmoved until this function returns. The
            // kernel reads them and writes only each header's `msg_len`.
            let rc = unsafe { libc::sendmmsg(fd, pending.as_mut_ptr(), pending.len() as libc::c_uint, 0) };
            out.calls += 1;
            // A count short of `pending.len()` means the datagram after the
            // last one sent failed: the next call starts with it and, as its
            // first, gets its error as -1 / errno.
            match usize::try_from(rc) {
                Ok(sent) if sent > 0 => {
                    out.sent += sent;
                    next += sent;
                }
                _ => {
                    let (i, _) = batch[next];
                    let d = &datagrams[i];
                    let e = if rc < 0 { io::Error::last_os_error() } else { io::Error::other("sendmmsg sent nothing") };
                    if e.raw_os_error() == Some(libc::EAGAIN) {
                        return Some(next);
                    }
                    out.failed.push((i, send_error(e, d.to, d.source, d.ifindex)));
                    next += 1;
                }
            }
        }
        None
    }

    /// Checks both addresses' families and builds the packet info.
    fn packet_info(&self, to: SocketAddr, source: IpAddr, ifindex: u32) -> Result<PacketInfo, NetworkError> {
        for addr in [to.ip(), source] {
            if Family::of(&addr) != self.family {
                return Err(NetworkError::WrongFamily { family: self.family, addr });
            }
        }
        Ok(match source {
            IpAddr::V4(src) => PacketInfo::V4(libc::in_pktinfo {
                ipi_ifindex: libc::c_int::try_from(ifindex).map_err(|_| NetworkError::Send {
                    to,
                    from: source,
                    ifindex,
                    source: io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"),
                })?,
                // The source address of the datagram.
                ipi_spec_dst: libc::in_addr { s_addr: u32::from_ne_bytes(src.octets()) },
                // Ignored on send.
                ipi_addr: libc::in_addr { s_addr: 0 },
            }),
            IpAddr::V6(src) => PacketInfo::V6(libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr { s6_addr: src.octets() },
                ipi6_ifindex: ifindex,
            }),
        })
    }
}

/// Room for one pktinfo control message: `CMSG_SPACE(in6_pktinfo)`, the
/// larger of the two.
// SAFETY: CMSG_SPACE is plain arithmetic on its argument.
const PKTINFO_SPACE: usize = unsafe { libc::CMSG_SPACE(mem::size_of::<libc::in6_pktinfo>() as libc::c_uint) } as usize;

/// One datagram's control-message buffer, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C)]
union Cmsg {
    _align: libc::cmsghdr,
    bytes: [u8; PKTINFO_SPACE],
}

impl Cmsg {
    const ZERO: Cmsg = Cmsg { bytes: [0; PKTINFO_SPACE] };
}

fn iovec(payload: &[u8]) -> libc::iovec {
    // The kernel only reads a send's buffer: `*mut` is what the type wants.
    libc::iovec { iov_base: payload.as_ptr().cast_mut().cast(), iov_len: payload.len() }
}

/// A `msghdr` for one datagram to `name` with the payload of `iov`, and
/// `info` written into `cmsg` as its only control message. The header
/// points at all three: they must outlive its use and not move.
fn message(name: &SockAddr, iov: &mut libc::iovec, cmsg: &mut Cmsg, info: &PacketInfo) -> libc::msghdr {
    let (level, kind, data, len) = match info {
        PacketInfo::V4(pi) => {
            (libc::IPPROTO_IP, libc::IP_PKTINFO, ptr::from_ref(pi).cast::<u8>(), mem::size_of_val(pi))
        }
        PacketInfo::V6(pi) => {
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, ptr::from_ref(pi).cast::<u8>(), mem::size_of_val(pi))
        }
    };
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths), and
    // also covers padding fields some C libraries have.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = name.as_ptr().cast_mut().cast();
    msg.msg_namelen = name.len();
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ptr::from_mut(cmsg).cast();
    // Exactly one message's space: the kernel parses the whole control
    // length, so trailing bytes could read as a malformed message.
    // SAFETY: CMSG_SPACE / CMSG_LEN are plain arithmetic.
    let (space, cmsg_len) = unsafe { (libc::CMSG_SPACE(len as libc::c_uint), libc::CMSG_LEN(len as libc::c_uint)) };
    debug_assert!(space as usize <= PKTINFO_SPACE);
    msg.msg_controllen = space as _;
    // SAFETY: `msg_control` points at `cmsg`, which is aligned for cmsghdr
    // and at least `msg_controllen` = CMSG_SPACE(len) bytes long, so
    // CMSG_FIRSTHDR returns that (non-null) pointer, and the header plus
    // `len` bytes at CMSG_DATA lie inside it. `data` points at the `len`
    // bytes of the pktinfo; the copy is unaligned-safe.
    unsafe {
        let hdr = libc::CMSG_FIRSTHDR(&msg);
        assert!(!hdr.is_null());
        (*hdr).cmsg_level = level;
        (*hdr).cmsg_type = kind;
        (*hdr).cmsg_len = cmsg_len as _;
        ptr::copy_nonoverlapping(data, libc::CMSG_DATA(hdr), len);
    }
    msg
}

fn send_error(e: io::Error, to: SocketAddr, from: IpAddr, ifindex: u32) -> NetworkError {
    if e.raw_os_error() == Some(libc::EAGAIN) {
        NetworkError::SendWouldBlock { to }
    } else {
        NetworkError::Send { to, from, ifindex, source: e }
    }
}
