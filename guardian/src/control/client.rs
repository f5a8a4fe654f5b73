//! The command line's side of the control API.

use crate::messages::api::ErrorBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach guardian at {path}: {source} (is the daemon running? choose it with --control-socket or GUARDIAN_SOCKET)")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("permission denied on {0}: run this as root (or the daemon's user), or as a member of the group daemon.control_socket_group names (e.g. guardian-ctl) for read-only commands")]
    Permission(PathBuf),
    #[error("control request failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("guardian answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected answer from guardian: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Sends `method path` to the daemon and decodes its JSON answer.
pub async fn call<T: serde::de::DeserializeOwned>(socket: &Path, method: &str, path: &str) -> Result<T, ClientError> {
    let stream = UnixStream::connect(socket).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            ClientError::Permission(socket.to_owned())
        } else {
            ClientError::Connect { path: socket.to_owned(), source }
        }
    })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "guardian")
        .body(Empty::<Bytes>::new())
        .expect("a static request is valid");
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        // The daemon's errors are an ErrorBody: show its sentence, not the JSON.
        let body = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => e.error,
            Err(_) => String::from_utf8_lossy(&body).into_owned(),
        };
        return Err(ClientError::Status { status: status.as_u16(), body });
    }
    Ok(serde_json::from_slice(&body)?)
}
