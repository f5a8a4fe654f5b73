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
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A connection's number, unique for the life of the daemon: what the
/// reader reports under, so that news of a connection already closed is
/// recognised and dropped.
pub type ConnId = u64;

/// What the connection tasks tell the BGP task.
pub enum Inbound {
    Connected { peer: IpAddr, conn: ConnId, stream: TcpStream },
    ConnectFailed { peer: IpAddr, conn: ConnId, error: String },
    Messages { conn: ConnId, msgs: Vec<Vec<u8>> },
    /// The stream is not BGP: send this and close.
    Framing { conn: ConnId, notification: Notification },
    Closed { conn: ConnId, error: Option<String> },
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

/// A connection in use: dropping it closes it (after what was queued).
pub struct Connection {
    pub id: ConnId,
    out: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
}

impl Connection {
    pub fn start(id: ConnId, stream: TcpStream, tx: mpsc::Sender<Inbound>) -> Connection {
        let (read, write) = stream.into_split();
        let (out, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(write, queue));
        let reader = tokio::spawn(read_loop(read, id, tx));
        Connection { id, out, reader }
    }

    pub fn send(&self, bytes: Vec<u8>) {
        let _ = self.out.send(bytes);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Nothing more is read from a connection the session let go of;
        // the writer ends (and closes) once its queue is empty.
        self.reader.abort();
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

async fn read_loop(mut read: OwnedReadHalf, conn: ConnId, tx: mpsc::Sender<Inbound>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4 * MAX_LEN);
    loop {
        if buf.capacity() - buf.len() < MAX_LEN {
            buf.reserve(MAX_LEN);
        }
        let error = match read.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => {
                let (msgs, error) = cut(&mut buf);
                if !msgs.is_empty() && tx.send(Inbound::Messages { conn, msgs }).await.is_err() {
                    return;
                }
                if let Some(notification) = error {
                    let _ = tx.send(Inbound::Framing { conn, notification }).await;
                    return;
                }
                continue;
            }
            Err(e) => Some(e.to_string()),
        };
        let _ = tx.send(Inbound::Closed { conn, error }).await;
        return;
    }
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
