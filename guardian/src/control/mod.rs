//! The control API: HTTP+JSON on a Unix socket (mode 0600), and the
//! Prometheus endpoint on TCP.
//!
//! `GET /v1/status` is answered from the reconciler's published status, so
//! it works even while a long initial sync keeps the reconciler busy;
//! `GET /v1/routes` and `POST /v1/reconcile` go to the reconciler.

pub mod api;
pub mod client;

use crate::attribution::Query as AttributionQuery;
use crate::metrics::Metrics;
use crate::reconcile::Command;
use api::{ErrorBody, Status};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Clone)]
struct Control {
    status: watch::Receiver<Status>,
    commands: mpsc::Sender<Command>,
    queries: mpsc::Sender<AttributionQuery>,
}

pub fn control_router(
    status: watch::Receiver<Status>,
    commands: mpsc::Sender<Command>,
    queries: mpsc::Sender<AttributionQuery>,
) -> Router {
    Router::new()
        .route("/v1/status", get(status_handler))
        .route("/v1/routes", get(routes_handler))
        .route("/v1/reconcile", post(reconcile_handler))
        .route("/v1/deletions", get(deletions_handler))
        .with_state(Control { status, commands, queries })
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
    Json(c.status.borrow().clone())
}

async fn routes_handler(State(c): State<Control>) -> Response {
    ask(&c, Command::Routes).await
}

async fn reconcile_handler(State(c): State<Control>) -> Response {
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
    let body = ErrorBody { error: "guardian is shutting down".into() };
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
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
