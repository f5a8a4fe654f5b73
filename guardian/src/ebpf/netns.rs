//! Which network namespace guardian runs in, as the programs see it: its
//! `net_cookie` (`SO_NETNS_COOKIE`, 5.14+) or, where that is missing, its
//! inode number (unique while the namespace lives).

use std::io;
use std::os::fd::AsRawFd;

use super::variant::NetnsBy;
use super::EbpfError;

/// The namespace identity to use and the id to filter on (0 with
/// `all_netns`): forced, or the cookie where the kernel reports it.
pub fn choose(forced: Option<NetnsBy>, all_netns: bool) -> Result<(NetnsBy, u64), EbpfError> {
    let (by, id) = match forced {
        Some(NetnsBy::Cookie) => (NetnsBy::Cookie, current_netns_cookie().map_err(EbpfError::Netns)?),
        Some(NetnsBy::Inode) => (NetnsBy::Inode, current_netns_inode().map_err(EbpfError::Netns)?),
        None => match current_netns_cookie() {
            Ok(cookie) => (NetnsBy::Cookie, cookie),
            Err(_) => (NetnsBy::Inode, current_netns_inode().map_err(EbpfError::Netns)?),
        },
    };
    Ok((by, if all_netns { 0 } else { id }))
}

/// `SO_NETNS_COOKIE` of a throw-away socket: this thread's network namespace.
pub fn current_netns_cookie() -> io::Result<u64> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").or_else(|_| std::net::UdpSocket::bind("[::1]:0"))?;
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: valid fd, out-pointer and length for an 8-byte option.
    let ret = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}

/// The inode number of this thread's network namespace (`net->ns.inum`).
pub fn current_netns_inode() -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
}

#[cfg(test)]
mod tests;
