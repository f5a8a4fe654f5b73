//! Re-reading the configuration file: one task, one implementation, for
//! SIGHUP and for `POST /v1/reload` (`guardian reload`, the unit's
//! `ExecReload=`) alike.
//!
//! ```text
//! SIGHUP ───────────────ReloadRequest (no reply)──▶ ┌────────┐ ──prepare (port)───▶ liveness
//! control API ──ReloadRequest (reply)─────────────▶ │ reload │ ──Configure────────▶ reconciler
//!              ◀──ReloadReport or ReloadError─────── │  task  │ ──SourceUpdate─────▶ reconciler
//!                                                   │        │ ──Configure────────▶ guards, BGP
//!                                                   └────────┘ ──reload (sessions)─▶ liveness
//!                                     RELOADING=1 ... READY=1 ──▶ service manager
//! ```
//!
//! Requests are handled one at a time, in order, so two reloads never
//! interleave their steps.

use crate::bgp::handle::BgpHandle;
use crate::config::Config;
use crate::liveness::task::LivenessHandle;
use crate::messages::api::ReloadReport;
use crate::messages::{ReloadError, ReloadRequest, SourceUpdate};
use crate::reconcile::{Command, Settings};
use crate::sources;
use crate::sources::guard::GuardCommand;
use crate::systemd::Notifier;
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};

pub struct Reloader {
    /// The file `run --config` named; `None` on the embedded default.
    pub path: Option<PathBuf>,
    pub commands: mpsc::Sender<Command>,
    pub routes: mpsc::Sender<SourceUpdate>,
    pub guards: mpsc::Sender<GuardCommand>,
    pub liveness: LivenessHandle,
    pub bgp: BgpHandle,
    pub notifier: Option<Notifier>,
}

impl Reloader {
    pub async fn run(self, mut requests: mpsc::Receiver<ReloadRequest>) {
        while let Some(request) = requests.recv().await {
            let result = self.reload().await;
            if let Some(reply) = request.reply {
                let _ = reply.send(result);
            }
        }
    }

    /// The file again, applied in an order that never leaves a route
    /// without its session: the liveness port is checked first, then the
    /// reconciler takes the settings and the file's routes, then liveness
    /// its sessions (whose verdicts it then sends again). Every refusal is
    /// logged here, whoever asked.
    async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let Some(path) = self.path.as_deref() else {
            tracing::warn!("configuration reload refused: running on the embedded default configuration, there is no file to re-read");
            return Err(ReloadError::NoFile);
        };
        if let Some(n) = &self.notifier {
            n.reloading();
        }
        let result = self.apply(path).await;
        if let Some(n) = &self.notifier {
            // Also after a refusal: the old configuration is running, and
            // the service manager must leave its reloading state.
            n.ready();
        }
        result
    }

    async fn apply(&self, path: &std::path::Path) -> Result<ReloadReport, ReloadError> {
        let config = match Config::load(path) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed, keeping the old configuration");
                return Err(ReloadError::Invalid(e.to_string()));
            }
        };
        for warning in &config.warnings {
            tracing::warn!(config = %path.display(), "{warning}");
        }
        let (live_config, live_routes) = (config.liveness.clone(), config.routes.liveness.clone());
        // The new configuration's liveness port first: if it is taken,
        // nothing of the new file is applied.
        if let Err(e) = self.liveness.prepare(live_config.port, live_routes.clone()).await {
            tracing::error!(error = %e, "configuration reload refused: its liveness port cannot be opened; keeping the old configuration");
            return Err(ReloadError::Refused(format!("liveness: {e}")));
        }
        let (tx, rx) = oneshot::channel();
        let settings = Box::new(Settings::of(&config));
        if self.commands.send(Command::Configure(settings, tx)).await.is_ok() {
            let _ = rx.await;
        }
        let (tx, rx) = oneshot::channel();
        let shutting_down = || ReloadError::Refused("guardian is shutting down".into());
        if self.routes.send(sources::config_file::update(config.routes, Some(tx))).await.is_err() {
            return Err(shutting_down());
        }
        let r = rx.await.map_err(|_| shutting_down())?;
        // Guards after the file's routes: a route both want stays the file's.
        let (tx, rx) = oneshot::channel();
        if self.guards.send(GuardCommand::Configure { guards: config.guards, done: Some(tx) }).await.is_err() {
            return Err(shutting_down());
        }
        if let Ok(Err(e)) = rx.await {
            return Err(ReloadError::Refused(format!("guards: {e}")));
        }
        // BGP last: its routes rank below the file's and the guards'.
        self.bgp.configure(config.bgp).await;
        let report = ReloadReport {
            config: path.display().to_string(),
            added: r.added,
            removed: r.removed,
            changed: r.changed,
            unchanged: r.unchanged,
            shadowed: r.shadowed,
        };
        // After the reconciler knows which routes are gated now: the
        // liveness task then re-sends every verdict.
        self.liveness.reload(live_config, live_routes).await;
        Ok(report)
    }
}
