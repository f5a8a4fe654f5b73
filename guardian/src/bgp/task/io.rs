//! A BGP connection's bytes: one reader task per connection cuts the stream
//! into messages ([`message::frame`]) and hands them to the BGP task in
//! batches; one writer task sends what the BGP task queues, in order, and
//! closes the connection once the queue's sender is dropped (so a
//! NOTIFICATION queued before a close still goes out).

use crate::bgp::message::{self, Notification, HEADER_LEN, MAX_LEN};
use crate::bgp::net;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A connection's number, unique for the life of the daemon: what the
/// reader reports under, so that news of a connection already closed is
/// recognised and dropped.
pub type ConnId = u64;

/// What the connection tasks tell the BGP task.
pub enum Inbound {
    Connected {
        peer: IpAddr,
        conn: ConnId,
        stream: TcpStream,
    },
    ConnectFailed {
        peer: IpAddr,
        conn: ConnId,
        error: String,
    },
    Messages {
        conn: ConnId,
        msgs: Vec<Vec<u8>>,
    },
    /// The stream is not BGP: send this and close.
    Framing {
        conn: ConnId,
        notification: Notification,
    },
    Closed {
        conn: ConnId,
        error: Option<String>,
    },
}

/// How long a TCP connect may take before the attempt is dropped (the
/// session's ConnectRetry timer also ends it).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a connect; its result comes back as [`Inbound::Connected`] or
/// [`Inbound::ConnectFailed`].
pub fn connect(
    peer: IpAddr,
    interface: Option<String>,
    md5: Option<Vec<u8>>,
    conn: ConnId,
    tx: mpsc::Sender<Inbound>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let to = SocketAddr::new(peer, net::BGP_PORT);
        let result = net::connect(to, interface.as_deref(), md5.as_deref(), CONNECT_TIMEOUT).await;
        let news = match result {
            Ok(stream) => Inbound::Connected { peer, conn, stream },
            Err(e) => Inbound::ConnectFailed { peer, conn, error: e.to_string() },
        };
        let _ = tx.send(news).await;
    })
}

/// How long a closed connection is still read (and what comes discarded)
/// for the peer to close its side: a socket closed with unread data sends
/// a reset, which may destroy the NOTIFICATION sent just before.
const LINGER: Duration = Duration::from_secs(3);

/// A connection in use: dropping it closes it (after what was queued).
pub struct Connection {
    pub id: ConnId,
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Dropped with the connection: the reader stops handing messages on.
    _closing: oneshot::Sender<()>,
}

impl Connection {
    pub fn start(id: ConnId, stream: TcpStream, tx: mpsc::Sender<Inbound>) -> Connection {
        let (read, write) = stream.into_split();
        let (out, queue) = mpsc::unbounded_channel();
        let (closing, closed) = oneshot::channel();
        tokio::spawn(write_loop(write, queue));
        tokio::spawn(read_loop(read, id, tx, closed));
        Connection { id, out, _closing: closing }
    }

    pub fn send(&self, bytes: Vec<u8>) {
        let _ = self.out.send(bytes);
    }
}

async fn write_loop(mut write: OwnedWriteHalf, mut queue: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = queue.recv().await {
        if write.write_all(&bytes).await.is_err() {
            return; // the reader sees the connection end
        }
    }
    let _ = write.shutdown().await;
}

/// Reads until the connection ends, or until the session lets go of it
/// (`closed`): then it drains what still comes for [`LINGER`], so the
/// close is a FIN after our last message, not a reset.
async fn read_loop(
    mut read: OwnedReadHalf,
    conn: ConnId,
    tx: mpsc::Sender<Inbound>,
    mut closed: oneshot::Receiver<()>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(4 * MAX_LEN);
    loop {
        if buf.capacity() - buf.len() < MAX_LEN {
            buf.reserve(MAX_LEN);
        }
        let result = tokio::select! {
            r = read.read_buf(&mut buf) => r,
            _ = &mut closed => return drain(read).await,
        };
        let error = match result {
            Ok(0) => None,
            Ok(_) => {
                let (msgs, error) = cut(&mut buf);
                if !msgs.is_empty() && tx.send(Inbound::Messages { conn, msgs }).await.is_err() {
                    return;
                }
                if let Some(notification) = error {
                    let _ = tx.send(Inbound::Framing { conn, notification }).await;
                    let _ = closed.await;
                    return drain(read).await;
                }
                continue;
            }
            Err(e) => Some(e.to_string()),
        };
        let _ = tx.send(Inbound::Closed { conn, error }).await;
        return;
    }
}

async fn drain(mut read: OwnedReadHalf) {
    let mut sink = vec![0u8; 16 << 10];
    let until_eof = async { while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, until_eof).await;
}

/// Takes the whole messages off the front of `buf`, and the framing error
/// that stopped it, if one did (the messages before it still count).
fn cut(buf: &mut Vec<u8>) -> (Vec<Vec<u8>>, Option<Notification>) {
    let mut msgs = Vec::new();
    let mut at = 0;
    let mut error = None;
    while buf.len() - at >= HEADER_LEN {
        match message::frame(&buf[at..]) {
            Ok(Some((_, len))) => {
                msgs.push(buf[at..at + len].to_vec());
                at += len;
            }
            Ok(None) => break,
            Err(n) => {
                error = Some(n);
                break;
            }
        }
    }
    buf.drain(..at);
    (msgs, error)
}

#[cfg(test)]
mod tests;
