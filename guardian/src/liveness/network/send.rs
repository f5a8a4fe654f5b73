//! A sending socket: shared by all sessions of a family (or, for IPv6, of
//! an interface), on one source port in 49152-65535.

use super::{
    bound_port, sockopt, udp_socket, unspecified, NetworkError, MAX_BATCH, SOURCE_PORTS, SOURCE_PORT_ATTEMPTS,
};
use crate::route::Family;
use nix::errno::Errno;
use nix::sys::socket::{
    sendmmsg, sendmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, SockaddrIn6, SockaddrLike,
};
use socket2::Socket;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, RawFd};

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
        sendmsg_one(self.socket.as_raw_fd(), &info, payload, to).map_err(|e| send_error(e, to, source, ifindex))
    }

    /// Sends many datagrams, one `sendmmsg` per run of consecutive
    /// datagrams with the same source and interface (the kernel takes one
    /// set of control messages per call in nix's API, so sort by
    /// (ifindex, source) first to make runs long). Never waits: after a
    /// full send buffer the remaining datagrams are all reported as
    /// [`NetworkError::SendWouldBlock`]; any other error fails only its own
    /// datagram and sending goes on.
    pub fn send_batch(&self, datagrams: &[Outgoing<'_>]) -> BatchSent {
        let mut out = BatchSent::default();
        let mut i = 0;
        while i < datagrams.len() {
            let d = &datagrams[i];
            let info = match self.packet_info(d.to, d.source, d.ifindex) {
                Ok(info) => info,
                Err(e) => {
                    out.failed.push((i, e));
                    i += 1;
                    continue;
                }
            };
            let run = datagrams[i..]
                .iter()
                .take(MAX_BATCH)
                .take_while(|o| o.source == d.source && o.ifindex == d.ifindex && Family::of(&o.to.ip()) == self.family)
                .count();
            match self.send_run(&info, &datagrams[i..i + run]) {
                // A short count means the next datagram failed; the next
                // call starts with it and gets its error.
                Ok(sent) => {
                    out.sent += sent;
                    i += sent;
                }
                Err(Errno::EAGAIN) => {
                    out.failed.extend(
                        datagrams[i..]
                            .iter()
                            .enumerate()
                            .map(|(k, o)| (i + k, NetworkError::SendWouldBlock { to: o.to })),
                    );
                    break;
                }
                Err(e) => {
                    out.failed.push((i, send_error(e, d.to, d.source, d.ifindex)));
                    i += 1;
                }
            }
        }
        out
    }

    /// Sends `run` (same source and interface, 1..=MAX_BATCH datagrams);
    /// returns how many were sent, at least 1, or the first one's error.
    fn send_run(&self, info: &PacketInfo, run: &[Outgoing<'_>]) -> nix::Result<usize> {
        let fd = self.socket.as_raw_fd();
        if let [one] = run {
            return sendmsg_one(fd, info, one.payload, one.to).map(|()| 1);
        }
        match info {
            PacketInfo::V4(pi) => {
                sendmmsg_run(fd, ControlMessage::Ipv4PacketInfo(pi), nix::cmsg_space!(libc::in_pktinfo), run, |to| {
                    match to {
                        SocketAddr::V4(a) => Some(SockaddrIn::from(a)),
                        SocketAddr::V6(_) => None,
                    }
                })
            }
            PacketInfo::V6(pi) => {
                sendmmsg_run(fd, ControlMessage::Ipv6PacketInfo(pi), nix::cmsg_space!(libc::in6_pktinfo), run, |to| {
                    match to {
                        SocketAddr::V6(a) => Some(SockaddrIn6::from(a)),
                        SocketAddr::V4(_) => None,
                    }
                })
            }
        }
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

/// One `sendmmsg` of `run`, all with the same control message.
fn sendmmsg_run<S: SockaddrLike + Copy>(
    fd: RawFd,
    cmsg: ControlMessage<'_>,
    // Exactly one control message's space: the kernel parses the whole
    // control length, so trailing zeroes would be an invalid message.
    cmsg_space: Vec<u8>,
    run: &[Outgoing<'_>],
    addr: impl Fn(SocketAddr) -> Option<S>,
) -> nix::Result<usize> {
    let mut headers = MultiHeaders::<S>::preallocate(run.len(), Some(cmsg_space));
    let iovs: Vec<[IoSlice<'_>; 1]> = run.iter().map(|o| [IoSlice::new(o.payload)]).collect();
    let addrs: Vec<Option<S>> = run.iter().map(|o| addr(o.to)).collect();
    let cmsgs = [cmsg];
    let sent = sendmmsg(fd, &mut headers, &iovs, &addrs, cmsgs, MsgFlags::empty())?;
    Ok(sent.count())
}

/// One `sendmsg`; `to` is of the family of `info` (checked by
/// `packet_info`).
fn sendmsg_one(fd: RawFd, info: &PacketInfo, payload: &[u8], to: SocketAddr) -> nix::Result<()> {
    let iov = [IoSlice::new(payload)];
    match (info, to) {
        (PacketInfo::V4(pi), SocketAddr::V4(a)) => {
            sendmsg(fd, &iov, &[ControlMessage::Ipv4PacketInfo(pi)], MsgFlags::empty(), Some(&SockaddrIn::from(a)))
        }
        (PacketInfo::V6(pi), SocketAddr::V6(a)) => {
            sendmsg(fd, &iov, &[ControlMessage::Ipv6PacketInfo(pi)], MsgFlags::empty(), Some(&SockaddrIn6::from(a)))
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
    .map(drop)
}

fn send_error(e: Errno, to: SocketAddr, from: IpAddr, ifindex: u32) -> NetworkError {
    if e == Errno::EAGAIN {
        NetworkError::SendWouldBlock { to }
    } else {
        NetworkError::Send { to, from, ifindex, source: e.into() }
    }
}
