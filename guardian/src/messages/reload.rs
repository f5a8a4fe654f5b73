//! A request to re-read the configuration file (SIGHUP or `POST
//! /v1/reload`) and why one was refused. The daemon's reload task
//! (`daemon/reload.rs`) carries out both kinds alike.

use super::api::ReloadReport;
use tokio::sync::oneshot;

/// Re-read the file; `reply` (the control API's) gets the outcome once the
/// new configuration is applied or refused. A SIGHUP has none.
#[derive(Debug)]
pub struct ReloadRequest {
    pub reply: Option<oneshot::Sender<Result<ReloadReport, ReloadError>>>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReloadError {
    /// Started without `--config`: nothing to re-read.
    #[error("guardian runs on the embedded default configuration (it was started without --config): there is no file to re-read; restart it with --config FILE")]
    NoFile,
    /// The file does not parse or validate; the old configuration runs on.
    #[error("{0}; the old configuration keeps running")]
    Invalid(String),
    /// The file is valid but cannot be applied on this host now (its
    /// liveness port is taken); the old configuration runs on.
    #[error("{0}; the old configuration keeps running")]
    Refused(String),
}
