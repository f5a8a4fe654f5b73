//! An rtnetlink socket driven by tokio: non-blocking, with the kernel
//! buffers sized for bulk work.

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

pub struct NetlinkSocket {
    inner: AsyncFd<Socket>,
    port_id: u32,
}

/// rtnetlink multicast groups (RTNLGRP_*).
pub mod groups {
    pub const LINK: u32 = 1;
    pub const IPV4_IFADDR: u32 = 5;
    pub const IPV4_ROUTE: u32 = 7;
    pub const IPV6_IFADDR: u32 = 9;
    pub const IPV6_ROUTE: u32 = 11;
}

impl NetlinkSocket {
    /// A socket for requests and dumps. Strict checking makes the kernel
    /// apply a dump's table and protocol filters instead of ignoring them.
    pub fn request() -> io::Result<NetlinkSocket> {
        let socket = Self::open()?;
        let s = socket.inner.get_ref();
        s.set_netlink_get_strict_chk(true)?;
        // Errors come back with the kernel's explanation and without the
        // whole request echoed, so a failed batch does not fill the buffer.
        s.set_ext_ack(true)?;
        s.set_cap_ack(true)?;
        set_buffer(s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, 4 << 20)?;
        set_buffer(s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 16 << 20)?;
        Ok(socket)
    }

    /// A socket subscribed to `groups`, with a receive buffer of `rcvbuf` bytes.
    pub fn monitor(groups: &[u32], rcvbuf: usize) -> io::Result<NetlinkSocket> {
        let socket = Self::open()?;
        let s = socket.inner.get_ref();
        set_buffer(s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, rcvbuf)?;
        for group in groups {
            s.add_membership(*group)?;
        }
        Ok(socket)
    }

    fn open() -> io::Result<NetlinkSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        let addr = socket.bind_auto()?;
        socket.set_non_blocking(true)?;
        let port_id = addr.port_number();
        // SAFETY: the AsyncFd owns the socket, whose fd stays open and the
        // same until the AsyncFd is dropped.
        let inner = unsafe { AsyncFd::register(socket)? };
        Ok(NetlinkSocket { inner, port_id })
    }

    /// The port id the kernel puts in `nlmsg_pid` of notifications caused
    /// by this socket's requests.
    pub fn port_id(&self) -> u32 {
        self.port_id
    }

    pub async fn send(&self, buf: &[u8]) -> io::Result<()> {
        let kernel = SocketAddr::new(0, 0);
        loop {
            let mut guard = self.inner.writable().await?;
            match guard.try_io(|s| s.get_ref().send_to(buf, &kernel, 0)) {
                Ok(result) => {
                    let n = result?;
                    if n != buf.len() {
                        return Err(io::Error::other(format!("netlink sent {n} of {} bytes", buf.len())));
                    }
                    return Ok(());
                }
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one datagram into `buf` (cleared first). An overrun of the
    /// socket's buffer is reported as `ENOBUFS`.
    pub async fn recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            match guard.try_io(|s| recv_into(s.get_ref(), buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one datagram if one is queued, without waiting.
    pub fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
        match recv_into(self.inner.get_ref(), buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn recv_into(socket: &Socket, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    let n = socket.recv(buf, 0)?;
    Ok(n)
}

/// Sets a socket buffer size, forcing past `net.core.*mem_max` when the
/// process may (CAP_NET_ADMIN), else as large as the limit allows.
fn set_buffer(socket: &Socket, force: libc::c_int, plain: libc::c_int, size: usize) -> io::Result<()> {
    let value = size.min(i32::MAX as usize) as libc::c_int;
    let set = |opt| {
        // SAFETY: a valid fd and a pointer to a c_int of the given length.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &value as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    set(force).or_else(|_| set(plain))
}
