//! The BGP task's end of the control API: what `guardian bgp` shows and
//! asks, and the reload's way in.

use crate::config::BgpConfig;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use tokio::sync::{mpsc, oneshot};

/// One neighbor as `guardian bgp` shows it (`GET /v1/bgp`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NeighborView {
    pub address: IpAddr,
    pub interface: Option<String>,
    pub remote_as: u32,
    pub passive: bool,
    /// `idle`, `connect`, `active`, `opensent`, `openconfirm`, `established`.
    pub state: String,
    /// Seconds in Established, while it is.
    pub uptime_seconds: Option<u64>,
    /// The peer's BGP identifier, once an OPEN was accepted.
    pub peer_id: Option<Ipv4Addr>,
    /// Why the session last went down or failed, in words
    /// ("received NOTIFICATION cease: administrative reset (6/4)").
    pub last_error: Option<String>,
    /// Idle after max_prefixes (or a failure): seconds until it starts again.
    pub idle_for_seconds: Option<u64>,
    /// Graceful restart: the families whose routes are kept as stale now.
    pub graceful_restart: bool,
    pub liveness: bool,
    pub install: bool,
    pub prefixes_received: u64,
    pub prefixes_accepted: u64,
    pub prefixes_filtered: u64,
    pub prefixes_installed: u64,
    pub prefixes_stale: u64,
    pub prefixes_unresolvable: u64,
    pub updates_received: u64,
}

/// `GET /v1/bgp`: BGP's settings and its neighbors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct BgpView {
    /// False when the configuration has no `[bgp]` section.
    pub enabled: bool,
    pub local_as: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    pub table: Option<u32>,
    pub neighbors: Vec<NeighborView>,
}

pub enum BgpCommand {
    View(oneshot::Sender<BgpView>),
    /// `guardian bgp reset [NEIGHBOR]`: close and start again (also out of
    /// a max_prefixes idle); replies with the number of neighbors reset.
    Reset {
        neighbor: Option<IpAddr>,
        reply: oneshot::Sender<usize>,
    },
    /// A reload's `[bgp]` (None: the section is gone).
    Configure {
        config: Option<BgpConfig>,
        done: oneshot::Sender<()>,
    },
}

/// A handle on the BGP task; when BGP is not configured the task still
/// runs, idle, so that a reload can start it.
#[derive(Clone)]
pub struct BgpHandle {
    tx: mpsc::Sender<BgpCommand>,
}

impl BgpHandle {
    pub fn new(tx: mpsc::Sender<BgpCommand>) -> BgpHandle {
        BgpHandle { tx }
    }

    pub async fn view(&self) -> Option<BgpView> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(BgpCommand::View(reply)).await.ok()?;
        rx.await.ok()
    }

    pub async fn reset(&self, neighbor: Option<IpAddr>) -> Option<usize> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(BgpCommand::Reset { neighbor, reply }).await.ok()?;
        rx.await.ok()
    }

    pub async fn configure(&self, config: Option<BgpConfig>) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(BgpCommand::Configure { config, done }).await.is_ok() {
            let _ = rx.await;
        }
    }
}
