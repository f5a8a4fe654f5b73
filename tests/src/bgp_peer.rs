//! A BGP peer written by the test, byte by byte, for what BIRD will not
//! send: malformed UPDATEs. It listens on TCP 179 in its namespace, takes
//! guardian's connection, and speaks just enough BGP to get Established.

use crate::netns::{Netns, GW4};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub struct CraftedPeer {
    stream: TcpStream,
}

/// A message: marker, length, type, body.
pub fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&u16::try_from(19 + body.len()).expect("short message").to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

/// An OPEN of AS `asn` (4-byte AS capability, IPv4 unicast), hold time 90 s.
pub fn open(asn: u32, id: Ipv4Addr) -> Vec<u8> {
    let mut caps = vec![1, 4, 0, 1, 0, 1]; // MP: IPv4 unicast
    caps.extend_from_slice(&[65, 4]);
    caps.extend_from_slice(&asn.to_be_bytes());
    let mut body = vec![4];
    body.extend_from_slice(&u16::try_from(asn).unwrap_or(23456).to_be_bytes());
    body.extend_from_slice(&90u16.to_be_bytes());
    body.extend_from_slice(&id.octets());
    body.push(u8::try_from(caps.len() + 2).expect("few capabilities"));
    body.push(2); // capabilities
    body.push(u8::try_from(caps.len()).expect("few capabilities"));
    body.extend_from_slice(&caps);
    message(1, &body)
}

/// An UPDATE: withdrawn routes, path attributes and NLRI as given (already encoded).
pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(withdrawn.len()).expect("short").to_be_bytes());
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&u16::try_from(attrs.len()).expect("short").to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

/// ORIGIN `origin`, AS_PATH (one AS_SEQUENCE of 4-byte `path`), NEXT_HOP `next_hop`.
pub fn attrs(origin: u8, path: &[u32], next_hop: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0x40, 1, 1, origin];
    let seg_len = 2 + 4 * path.len();
    a.extend_from_slice(&[
        0x40,
        2,
        u8::try_from(seg_len).expect("short path"),
        2,
        u8::try_from(path.len()).expect("short"),
    ]);
    for asn in path {
        a.extend_from_slice(&asn.to_be_bytes());
    }
    a.extend_from_slice(&[0x40, 3, 4]);
    a.extend_from_slice(&next_hop.octets());
    a
}

impl CraftedPeer {
    /// Listens on [`GW4`]:179 in `ns` and waits for guardian's connection.
    pub fn accept(ns: &Netns, timeout: Duration) -> CraftedPeer {
        let listener = ns.run_in(|| TcpListener::bind((GW4, 179)).expect("bind 179 in the peer's namespace"));
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = Instant::now() + timeout;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking");
                    stream.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
                    return CraftedPeer { stream };
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("guardian never connected to the crafted peer: {e}"),
            }
        }
    }

    pub fn send(&mut self, msg: &[u8]) {
        self.stream.write_all(msg).expect("send to guardian");
    }

    /// The next message from guardian (type, body), or `None` if none
    /// came before `timeout` or the connection closed.
    pub fn recv(&mut self, timeout: Duration) -> Option<(u8, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        let mut header = [0u8; 19];
        self.read_exact(&mut header, deadline)?;
        let len = usize::from(u16::from_be_bytes([header[16], header[17]]));
        let mut body = vec![0u8; len.saturating_sub(19)];
        self.read_exact(&mut body, deadline)?;
        Some((header[18], body))
    }

    /// Reads guardian's messages until one of `kind` comes (skipping
    /// KEEPALIVEs and the like); `None` when none came in time.
    pub fn recv_kind(&mut self, kind: u8, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Some((k, body)) if k == kind => return Some(body),
                Some(_) => continue,
                None => return None,
            }
        }
        None
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Option<()> {
        let mut at = 0;
        while at < buf.len() {
            match self.stream.read(&mut buf[at..]) {
                Ok(0) => return None,
                Ok(n) => at += n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
        Some(())
    }

    /// OPEN, KEEPALIVE both ways: Established.
    pub fn establish(&mut self, asn: u32, timeout: Duration) {
        self.recv_kind(1, timeout).expect("guardian's OPEN");
        self.send(&open(asn, GW4.parse().expect("address")));
        self.send(&message(4, &[]));
        self.recv_kind(4, timeout).expect("guardian's KEEPALIVE");
    }
}
