//! A liveness peer that behaves like the DoubleZero client's (doublezerod),
//! for the `doublezero` profile tests: a thread in a namespace with one UDP
//! socket on port 44880, written from the facts of doublezerod's public
//! source (`client/doublezerod/internal/liveness/`: `packet.go` for the
//! 40-byte layout, `session.go` for the state machine, `scheduler.go` for
//! when it sends), not from guardian's code, so that the two meet as
//! independent implementations.
//!
//! The rules that matter here, as doublezerod has them:
//! - it learns the peer's discriminator only while it has none, or while
//!   Up (a new one is adopted without going Down), and never forgets it:
//!   not on a timeout, not on the peer's Down or AdminDown;
//! - a packet naming a discriminator that is not its own is ignored;
//! - peer AdminDown: Down. Peer Down while Up or Init: Down, except a Down
//!   within one detection time of coming Up (a stale one);
//! - Down: with a known peer discriminator, Up if the packet is Init or Up
//!   and names it, else Init. Init: Up on the same condition;
//! - detection (Init, Up) = detect mult x max(peer TX, own RX); expiry: Down;
//! - TX every interval (max(own TX, peer RX)), +/-10 % jitter, doubling
//!   while Down up to a cap; a state change is sent at once, but not sooner
//!   than the last TX plus the interval.
//!
//! So after guardian restarts with a new discriminator, this peer keeps
//! naming the old one while Down and Init: the case guardian must recover.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// The profile's port.
pub const PORT: u16 = 44880;
const LEN: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(b: u8) -> State {
        match b & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }
}

/// What the peer's session looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub state: State,
    /// Its own discriminator.
    pub local: u32,
    /// The discriminator it names in its packets (its `peerDiscr`).
    pub peer: u32,
    /// Packets it accepted and sent.
    pub received: u64,
    pub sent: u64,
}

/// One received packet, the fields the session reads.
struct Packet {
    state: State,
    local: u32,
    peer: u32,
    tx_us: u32,
    rx_us: u32,
}

/// The peer, running until dropped.
pub struct Doublezerod {
    view: Arc<Mutex<View>>,
    /// Every (state, named discriminator) the session went through, in order.
    history: Arc<Mutex<Vec<(State, u32)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Doublezerod {
    /// Starts a session with `peer` from `local` in `ns`, at `interval`
    /// (own desired TX and required RX) and detect multiplier 3.
    pub fn start(ns: &Netns, local: Ipv4Addr, peer: Ipv4Addr, interval: Duration) -> Doublezerod {
        let path = format!("/run/netns/{}", ns.name());
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        let discriminator = loop {
            let d = rand_u32();
            if d != 0 {
                break d;
            }
        };
        let view =
            Arc::new(Mutex::new(View { state: State::Down, local: discriminator, peer: 0, received: 0, sent: 0 }));
        let stop = Arc::new(AtomicBool::new(false));
        let history = Arc::new(Mutex::new(vec![(State::Down, 0)]));
        let (view2, stop2, history2) = (view.clone(), stop.clone(), history.clone());
        let thread = std::thread::spawn(move || {
            // SAFETY: setns on a valid fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            let socket = UdpSocket::bind((local, PORT)).unwrap_or_else(|e| panic!("bind {local}:{PORT}: {e}"));
            socket.set_read_timeout(Some(Duration::from_millis(5))).expect("read timeout");
            let mut session = Session::new(discriminator, interval);
            let to = SocketAddr::from((peer, PORT));
            let mut buf = [0u8; 128];
            while !stop2.load(Ordering::Relaxed) {
                let now = Instant::now();
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    if from.ip() == peer {
                        if let Some(p) = decode(&buf[..n]) {
                            session.received(&p, now);
                        }
                    }
                }
                let now = Instant::now();
                session.expire(now);
                if session.tx_due(now) {
                    let _ = socket.send_to(&session.encode(), to);
                    session.sent(now);
                }
                let now = session.view();
                let mut history = history2.lock().unwrap();
                if history.last() != Some(&(now.state, now.peer)) {
                    history.push((now.state, now.peer));
                }
                *view2.lock().unwrap() = now;
            }
        });
        Doublezerod { view, history, stop, thread: Some(thread) }
    }

    pub fn view(&self) -> View {
        *self.view.lock().unwrap()
    }

    /// The (state, named discriminator) pairs the session went through.
    pub fn history(&self) -> Vec<(State, u32)> {
        self.history.lock().unwrap().clone()
    }
}

impl Drop for Doublezerod {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The session, as doublezerod's `Session` keeps it.
struct Session {
    state: State,
    local: u32,
    peer: u32,
    detect_mult: u8,
    local_tx: Duration,
    local_rx: Duration,
    peer_tx: Duration,
    peer_rx: Duration,
    up_since: Option<Instant>,
    detect_deadline: Option<Instant>,
    next_tx: Option<Instant>,
    last_tx: Option<Instant>,
    backoff: u32,
    received: u64,
    sent: u64,
}

const FLOOR: Duration = Duration::from_millis(50);
const CEIL: Duration = Duration::from_secs(3);

impl Session {
    fn new(local: u32, interval: Duration) -> Session {
        Session {
            state: State::Down,
            local,
            peer: 0,
            detect_mult: 3,
            local_tx: interval,
            local_rx: interval,
            peer_tx: Duration::ZERO,
            peer_rx: Duration::ZERO,
            up_since: None,
            detect_deadline: None,
            // New sessions send at once.
            next_tx: Some(Instant::now()),
            last_tx: None,
            backoff: 1,
            received: 0,
            sent: 0,
        }
    }

    fn tx_interval(&self) -> Duration {
        self.local_tx.max(self.peer_rx).clamp(FLOOR, CEIL)
    }

    fn detect_time(&self) -> Duration {
        let rx = if self.peer_tx.is_zero() { self.local_rx } else { self.peer_tx.max(self.local_rx) };
        rx.clamp(FLOOR, CEIL) * u32::from(self.detect_mult)
    }

    fn received(&mut self, p: &Packet, now: Instant) {
        let before = self.state;
        if self.state == State::AdminDown || (p.peer != 0 && p.peer != self.local) {
            return;
        }
        self.received += 1;
        if p.state == State::AdminDown {
            self.go(State::Down, now);
        } else if p.state == State::Down && matches!(self.state, State::Up | State::Init) {
            let stale = self.state == State::Up && self.up_since.is_some_and(|at| now - at < self.detect_time());
            if !stale {
                self.go(State::Down, now);
            }
        } else {
            if self.peer == 0 {
                self.peer = p.local;
            }
            let clamp = |us: u32| Duration::from_micros(u64::from(us)).clamp(FLOOR, CEIL);
            (self.peer_tx, self.peer_rx) = (clamp(p.tx_us), clamp(p.rx_us));
            self.detect_deadline = Some(now + self.detect_time());
            let echoes = p.peer == self.local && matches!(p.state, State::Init | State::Up);
            match self.state {
                State::Down if self.peer != 0 => self.go(if echoes { State::Up } else { State::Init }, now),
                State::Init if echoes => self.go(State::Up, now),
                State::Up if p.local != self.peer => self.peer = p.local,
                _ => {}
            }
        }
        if self.state != before {
            self.tx_now(now);
        }
    }

    fn go(&mut self, to: State, now: Instant) {
        if to == self.state {
            return;
        }
        self.state = to;
        self.backoff = 1;
        match to {
            State::Up => self.up_since = Some(now),
            State::Down => {
                self.up_since = None;
                self.detect_deadline = None;
            }
            _ => {}
        }
    }

    fn expire(&mut self, now: Instant) {
        if matches!(self.state, State::Up | State::Init) && self.detect_deadline.is_some_and(|at| now >= at) {
            self.go(State::Down, now);
            self.tx_now(now);
        }
    }

    /// A state change goes out now, but not sooner than last TX + interval.
    fn tx_now(&mut self, now: Instant) {
        let earliest = self.last_tx.map_or(now, |at| at + self.tx_interval());
        self.next_tx = Some(earliest.max(now));
    }

    fn tx_due(&self, now: Instant) -> bool {
        self.next_tx.is_some_and(|at| now >= at)
    }

    fn sent(&mut self, now: Instant) {
        self.sent += 1;
        self.last_tx = Some(now);
        let base = self.tx_interval();
        let mut interval = base;
        if self.state == State::Down {
            interval = (base * self.backoff).min(base * 4);
            self.backoff = (self.backoff * 2).min(4);
        }
        let tenth = interval / 10;
        let jitter = Duration::from_nanos(u64::from(rand_u32()) % (2 * tenth.as_nanos() as u64 + 1));
        self.next_tx = Some(now + interval - tenth + jitter);
    }

    /// The 40 bytes as doublezerod's `Marshal` lays them out.
    fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = 1 << 5;
        b[1] = (self.state as u8) << 6;
        b[2] = self.detect_mult;
        b[3] = LEN as u8;
        b[4..8].copy_from_slice(&self.local.to_be_bytes());
        b[8..12].copy_from_slice(&self.peer.to_be_bytes());
        b[12..16].copy_from_slice(&(self.local_tx.as_micros() as u32).to_be_bytes());
        b[16..20].copy_from_slice(&(self.local_rx.as_micros() as u32).to_be_bytes());
        // Flags 0 (active); client version 0.8.1, channel 0 (stable).
        b[21..25].copy_from_slice(&[0, 8, 1, 0]);
        b
    }

    fn view(&self) -> View {
        View { state: self.state, local: self.local, peer: self.peer, received: self.received, sent: self.sent }
    }
}

/// doublezerod's `UnmarshalControlPacket`: at least 40 bytes, length 40,
/// version 1.
fn decode(b: &[u8]) -> Option<Packet> {
    if b.len() < LEN || usize::from(b[3]) != LEN || b[0] >> 5 != 1 {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    Some(Packet { state: State::from_bits(b[1] >> 6), local: word(4), peer: word(8), tx_us: word(12), rx_us: word(16) })
}

/// A random u32 from the kernel (the tests crate has no RNG dependency).
fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    // SAFETY: getrandom writes at most 4 bytes into `b`.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    assert_eq!(n, 4, "getrandom: {}", std::io::Error::last_os_error());
    u32::from_ne_bytes(b)
}
