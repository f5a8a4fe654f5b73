//! The control API: HTTP+JSON on a Unix socket, and the Prometheus
//! endpoint on TCP.
//!
//! `GET /v1/status` is answered from the reconciler's published status, so
//! it works even while a long initial sync keeps the reconciler busy;
//! `GET /v1/routes` and `POST /v1/reconcile` go to the reconciler;
//! `POST /v1/reload` to the daemon's reload task, answered once the file is
//! applied or refused; `GET /v1/bgp` and `POST /v1/bgp/reset[/NEIGHBOR]`
//! to the BGP task.
//!
//! Who may ask: whoever can open the socket (mode 0600, or 0660 with
//! `daemon.control_socket_group`) may read (`GET`). Requests that change
//! the daemon's state (every `POST`) are refused with 403 unless the peer
//! (SO_PEERCRED) is root or the daemon's own user: a member of the
//! socket's group watches, it does not steer.

pub mod client;

use crate::attribution::Query as AttributionQuery;
use crate::bgp::handle::BgpHandle;
use crate::liveness::engine::SessionView;
use crate::liveness::task::LivenessHandle;
use crate::messages::api::{AdminReport, BgpResetReport, ErrorBody, SessionInfo, Status};
use crate::messages::{ReloadError, ReloadRequest};
use crate::metrics::Metrics;
use crate::reconcile::Command;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Clone)]
struct Control {
    status: watch::Receiver<Status>,
    commands: mpsc::Sender<Command>,
    queries: mpsc::Sender<AttributionQuery>,
    liveness: LivenessHandle,
    bgp: BgpHandle,
    /// When the process started: the status's uptime is computed per answer
    /// (the published status is only as fresh as the reconciler's last cycle).
    started: std::time::Instant,
    /// How deleters are attributed (`ebpf (hook=...)`): fixed at start.
    attribution: String,
    reloads: mpsc::Sender<ReloadRequest>,
    /// The daemon's effective uid: its own user may change its state.
    own_uid: u32,
}

/// Who is on the other end of a control connection (SO_PEERCRED);
/// `uid` is `None` when the kernel could not say.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub uid: Option<u32>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::UnixListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Peer {
        Peer { uid: stream.io().peer_cred().ok().map(|c| c.uid()) }
    }
}

impl Control {
    /// `None` when `peer` may change the daemon's state, else the 403.
    fn refuse_unless_privileged(&self, peer: Peer, what: &str) -> Option<Response> {
        match peer.uid {
            Some(uid) if uid == 0 || uid == self.own_uid => None,
            uid => {
                let who = uid.map_or("an unknown user".to_owned(), |u| format!("uid {u}"));
                let body = ErrorBody {
                    error: format!(
                        "{what} changes the daemon's state, which only root or guardian's own user may do ({who} may only read: status, routes, sessions, deletions, bgp)"
                    ),
                };
                Some((StatusCode::FORBIDDEN, Json(body)).into_response())
            }
        }
    }
}

// One argument per task it talks to, each of its own type: a swap does
// not compile, and the daemon is the only caller.
#[allow(clippy::too_many_arguments)]
pub fn control_router(
    status: watch::Receiver<Status>,
    commands: mpsc::Sender<Command>,
    queries: mpsc::Sender<AttributionQuery>,
    liveness: LivenessHandle,
    bgp: BgpHandle,
    reloads: mpsc::Sender<ReloadRequest>,
    started: std::time::Instant,
    attribution: String,
) -> Router {
    // SAFETY: geteuid has no preconditions.
    let own_uid = unsafe { libc::geteuid() };
    Router::new()
        .route("/v1/status", get(status_handler))
        .route("/v1/routes", get(routes_handler))
        .route("/v1/reconcile", post(reconcile_handler))
        .route("/v1/deletions", get(deletions_handler))
        .route("/v1/sessions", get(sessions_handler))
        .route("/v1/sessions/{peer}/admin-down", post(admin_down_handler))
        .route("/v1/sessions/{peer}/admin-up", post(admin_up_handler))
        .route("/v1/reload", post(reload_handler))
        .route("/v1/bgp", get(bgp_handler))
        .route("/v1/bgp/reset", post(bgp_reset_all_handler))
        .route("/v1/bgp/reset/{neighbor}", post(bgp_reset_handler))
        .with_state(Control { status, commands, queries, liveness, bgp, started, attribution, reloads, own_uid })
}

async fn reload_handler(State(c): State<Control>, ConnectInfo(peer): ConnectInfo<Peer>) -> Response {
    if let Some(refused) = c.refuse_unless_privileged(peer, "reload") {
        return refused;
    }
    let (reply, rx) = oneshot::channel();
    if c.reloads.send(ReloadRequest { reply: Some(reply) }).await.is_err() {
        return unavailable();
    }
    match rx.await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => {
            // The CLI turns 400 and 422 into exit 2 (usage, configuration)
            // and 409 into 1 (the host refused: a port in use).
            let status = match e {
                ReloadError::NoFile => StatusCode::BAD_REQUEST,
                ReloadError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                ReloadError::Refused(_) => StatusCode::CONFLICT,
            };
            (status, Json(ErrorBody { error: e.to_string() })).into_response()
        }
        Err(_) => unavailable(),
    }
}

async fn sessions_handler(State(c): State<Control>) -> Response {
    match c.liveness.sessions().await {
        Some(views) => Json(views.iter().map(session_info).collect::<Vec<SessionInfo>>()).into_response(),
        None => unavailable(),
    }
}

async fn admin_down_handler(
    State(c): State<Control>,
    ConnectInfo(who): ConnectInfo<Peer>,
    Path(peer): Path<String>,
) -> Response {
    admin(&c, who, &peer, false).await
}

async fn admin_up_handler(
    State(c): State<Control>,
    ConnectInfo(who): ConnectInfo<Peer>,
    Path(peer): Path<String>,
) -> Response {
    admin(&c, who, &peer, true).await
}

async fn admin(c: &Control, who: Peer, peer: &str, up: bool) -> Response {
    if let Some(refused) = c.refuse_unless_privileged(who, if up { "admin-up" } else { "admin-down" }) {
        return refused;
    }
    let addr = match address(peer) {
        Ok(addr) => addr,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match c.liveness.admin(addr, up).await {
        Some(0) => error(StatusCode::NOT_FOUND, format!("no liveness session with peer {addr}")),
        Some(sessions) => Json(AdminReport { peer: addr.to_string(), sessions }).into_response(),
        None => unavailable(),
    }
}

/// A peer or neighbor named in the path; the error is the 400's sentence.
fn address(text: &str) -> Result<IpAddr, String> {
    text.parse().map_err(|_| format!("{text:?} is not an IP address"))
}

async fn bgp_handler(State(c): State<Control>) -> Response {
    match c.bgp.view().await {
        Some(view) => Json(view).into_response(),
        None => unavailable(),
    }
}

async fn bgp_reset_all_handler(State(c): State<Control>, ConnectInfo(who): ConnectInfo<Peer>) -> Response {
    bgp_reset(&c, who, None).await
}

async fn bgp_reset_handler(
    State(c): State<Control>,
    ConnectInfo(who): ConnectInfo<Peer>,
    Path(neighbor): Path<String>,
) -> Response {
    bgp_reset(&c, who, Some(&neighbor)).await
}

async fn bgp_reset(c: &Control, who: Peer, neighbor: Option<&str>) -> Response {
    if let Some(refused) = c.refuse_unless_privileged(who, "bgp reset") {
        return refused;
    }
    let neighbor = match neighbor.map(address).transpose() {
        Ok(neighbor) => neighbor,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    reset_neighbors(&c.bgp, neighbor).await
}

/// `bgp reset` once the caller may: 400 without a `[bgp]` section (the CLI
/// exits 2, as for a reload with no file), 404 for an address no neighbor
/// has (exit 1, as admin-down's unknown peer).
async fn reset_neighbors(bgp: &BgpHandle, neighbor: Option<IpAddr>) -> Response {
    let Some(view) = bgp.view().await else { return unavailable() };
    if !view.enabled {
        return error(StatusCode::BAD_REQUEST, "BGP is not configured: add a [bgp] section (docs/bgp.md)".into());
    }
    let no_such = |addr: IpAddr| error(StatusCode::NOT_FOUND, format!("no BGP neighbor {addr}"));
    if let Some(addr) = neighbor {
        if !view.neighbors.iter().any(|n| n.address == addr) {
            return no_such(addr);
        }
    }
    match (bgp.reset(neighbor).await, neighbor) {
        // Gone between the two questions (a reload took it out).
        (Some(0), Some(addr)) => no_such(addr),
        (Some(neighbors), _) => Json(BgpResetReport { neighbor, neighbors }).into_response(),
        (None, _) => unavailable(),
    }
}

fn session_info(v: &SessionView) -> SessionInfo {
    SessionInfo {
        profile: v.key.profile.label().to_owned(),
        peer: v.key.peer.to_string(),
        local: v.key.local.to_string(),
        interface: v.ifname.clone(),
        state: v.state.label().to_owned(),
        uptime_seconds: v.up_for.map(|d| d.as_secs_f64()),
        state_seconds: v.state_for.as_secs_f64(),
        last_down_reason: v.last_down_reason.map(str::to_owned),
        detect_time_seconds: v.detection_time.as_secs_f64(),
        tx_interval_seconds: v.tx_interval.as_secs_f64(),
        local_discriminator: v.local_discriminator,
        remote_discriminator: v.remote_discriminator,
        remote_state: v.remote_state.label().to_owned(),
        peer_mode: if v.peer_passive { "passive" } else { "active" }.to_owned(),
        peer_version: v.peer_version.map(|p| {
            // docs/liveness.md names channel 0 stable, 4 dev, 5 other.
            let channel = match p.channel {
                0 => "stable".to_owned(),
                4 => "dev".to_owned(),
                5 => "other".to_owned(),
                n => format!("channel {n}"),
            };
            format!("{}.{}.{} {channel}", p.major, p.minor, p.patch)
        }),
        routes: v.routes,
        in_grace: v.in_grace,
    }
}

#[derive(serde::Deserialize)]
struct DeletionsParams {
    limit: Option<usize>,
}

async fn deletions_handler(State(c): State<Control>, Query(params): Query<DeletionsParams>) -> Response {
    let (reply, rx) = oneshot::channel();
    if c.queries.send(AttributionQuery::Deletions { limit: params.limit, reply }).await.is_err() {
        return unavailable();
    }
    match rx.await {
        Ok(deletions) => Json(deletions).into_response(),
        Err(_) => unavailable(),
    }
}

async fn status_handler(State(c): State<Control>) -> Json<Status> {
    let mut status = c.status.borrow().clone();
    status.uptime_seconds = c.started.elapsed().as_secs_f64();
    status.attribution.clone_from(&c.attribution);
    Json(status)
}

async fn routes_handler(State(c): State<Control>) -> Response {
    ask(&c, Command::Routes).await
}

async fn reconcile_handler(State(c): State<Control>, ConnectInfo(peer): ConnectInfo<Peer>) -> Response {
    if let Some(refused) = c.refuse_unless_privileged(peer, "reconcile") {
        return refused;
    }
    ask(&c, Command::Reconcile).await
}

async fn ask<T: serde::Serialize>(c: &Control, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Response {
    let (tx, rx) = oneshot::channel();
    if c.commands.send(make(tx)).await.is_err() {
        return unavailable();
    }
    match rx.await {
        Ok(answer) => Json(answer).into_response(),
        Err(_) => unavailable(),
    }
}

fn unavailable() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "guardian is shutting down".into())
}

fn error(status: StatusCode, error: String) -> Response {
    (status, Json(ErrorBody { error })).into_response()
}

pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                    metrics.encode(),
                )
            }
        }),
    )
}

#[cfg(test)]
mod tests;
