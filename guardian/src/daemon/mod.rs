//! `guardian run`: checks what it needs, opens its sockets, starts the tasks
//! and handles signals.
//!
//! ```text
//! sources (config file, guards, BGP task) ──desired routes──▶ Reconciler task
//! Monitor task ──events──▶ Reconciler task ◀──commands── control server (Unix socket)
//! Liveness task ──gates──────────▶│ watch<Status> ──────▶ control server, notify task
//!                                └ metrics ────────────▶ metrics server (TCP)
//! SIGHUP, POST /v1/reload ──▶ reload task ──▶ liveness, reconciler (reload.rs)
//! SIGTERM/SIGINT -> shutdown; the service manager hears READY/STATUS (notify.rs),
//! RELOADING, STOPPING, and WATCHDOG from the reconciler's loop
//! ```

mod notify;
mod reload;

use crate::attribution::{Attribution, Attributor, DeleterLabels};
use crate::bgp::handle::BgpHandle;
use crate::bgp::task::BgpTask;
use crate::config::{AttributionConfig, AttributionMode, Config, ConfigError};
use crate::control;
use crate::ebpf;
use crate::kernel::monitor::{Monitor, WatchedProtocols};
use crate::kernel::routes::RouteWriter;
use crate::kernel::KernelError;
use crate::liveness::task::LivenessTask;
use crate::messages::api::Status;
use crate::messages::ReloadRequest;
use crate::metrics::Metrics;
use crate::privileges;
use crate::reconcile::{Command, Reconciler, Settings};
use crate::sources;
use crate::sources::guard::{GuardCommand, GuardTask};
use crate::systemd::{self, Notifier, Watchdog};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("guardian needs CAP_NET_ADMIN to manage routes: run it as root or grant the capability (AmbientCapabilities=CAP_NET_ADMIN in its systemd unit)")]
    MissingNetAdmin,
    #[error("another guardian is already listening on {0}: stop it, or give this one another --control-socket")]
    AlreadyRunning(PathBuf),
    #[error("cannot create control socket {path}: {source}")]
    ControlSocket { path: PathBuf, source: std::io::Error },
    #[error("daemon.control_socket_group: there is no group {0:?} on this system: create it (`groupadd --system {0}`; the Debian package creates guardian-ctl) or leave the key out")]
    NoSuchGroup(String),
    #[error("cannot give the control socket {path} to group {group:?}: {source} (guardian must be root or a member of the group: SupplementaryGroups={group} in its unit)")]
    ControlGroup { path: PathBuf, group: String, source: std::io::Error },
    #[error("cannot listen for metrics on {addr}: {source} (set daemon.metrics_listen to a free address, or \"off\")")]
    Metrics { addr: SocketAddr, source: std::io::Error },
    #[error("cannot open netlink sockets: {0}")]
    Netlink(#[from] KernelError),
    #[error("liveness: {0}")]
    Liveness(crate::liveness::network::NetworkError),
    #[error("attribution mode \"ebpf\" needs the eBPF programs, which did not load: {0} (use mode \"auto\" to fall back to netlink port ids)")]
    Ebpf(ebpf::EbpfError),
}

impl DaemonError {
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Config(_) | DaemonError::NoSuchGroup(_) => 2,
            DaemonError::MissingNetAdmin | DaemonError::ControlGroup { .. } => 3,
            DaemonError::Ebpf(ebpf::EbpfError::NotPermitted { .. } | ebpf::EbpfError::MemlockTooLow { .. }) => 3,
            _ => 1,
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT. `config_path` is what SIGHUP re-reads.
/// `ebpf_force` forces eBPF variant choices instead of probing (tests).
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    started: std::time::Instant,
    ebpf_force: ebpf::Force,
) -> Result<(), DaemonError> {
    if !privileges::has_net_admin() {
        return Err(DaemonError::MissingNetAdmin);
    }
    let control_path = config.daemon.control_socket.clone();
    let control_listener = bind_control(&control_path, config.daemon.control_socket_group.as_deref())?;
    let result = serve(config, config_path, started, control_listener, ebpf_force).await;
    // Also when the start-up failed half-way: no socket file is left behind.
    let _ = std::fs::remove_file(&control_path);
    result
}

/// Everything after the control socket is bound, until shutdown.
async fn serve(
    config: Config,
    config_path: Option<PathBuf>,
    started: std::time::Instant,
    control_listener: UnixListener,
    ebpf_force: ebpf::Force,
) -> Result<(), DaemonError> {
    let metrics_listener = match config.daemon.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| DaemonError::Metrics { addr, source })?),
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let notifier = Notifier::from_env();
    // Before anything else touches the host: a liveness port another daemon
    // holds ends the start-up here.
    let (gate_tx, gate_rx) = mpsc::unbounded_channel();
    let (liveness, liveness_handle, liveness_rx) =
        LivenessTask::new(config.liveness.clone(), config.routes.liveness.clone(), metrics.clone(), gate_tx)
            .map_err(DaemonError::Liveness)?;

    let protocol = config.daemon.route_protocol;
    let writer = RouteWriter::new(protocol)?;
    // Subscribed before the reconciler's first dump, so nothing falls between the two.
    let monitor = Monitor::subscribe(config.daemon.netlink_rcvbuf as usize).map_err(KernelError::from)?;
    let (status_tx, status_rx) = watch::channel(Status { config: config.origin.clone(), ..Default::default() });
    let (event_tx, event_rx) = mpsc::channel(64);
    let (command_tx, command_rx) = mpsc::channel(16);

    let watched = WatchedProtocols::default();
    tokio::spawn(monitor.run(writer.port_id(), protocol, watched.clone(), event_tx));
    let (repair_tx, repair_rx) = mpsc::unbounded_channel();
    let (query_tx, query_rx) = mpsc::channel(16);
    let (source, programs, records) = start_attribution(&config.attribution, ebpf_force)?;
    let attribution = match &programs {
        Some(programs) => format!("{} ({})", source.label(), programs.variant()),
        None => source.label().to_owned(),
    };
    let labels = DeleterLabels::new(config.attribution.deleter_labels.iter().cloned())
        .expect("deleter labels are validated with the configuration");
    let attribution_label = source.label();
    // Who caused each repaired loss goes back to the reconciler: fights.
    let (deleted_tx, deleted_rx) = mpsc::unbounded_channel();
    let attributor = Attributor::new(source, programs, labels.clone(), metrics.clone()).with_feedback(deleted_tx);
    tokio::spawn(attributor.run(repair_rx, records, query_rx));
    if config.routes.excluded > 0 {
        tracing::info!(routes = config.routes.excluded, "routes left out by liveness.exclude");
    }
    tokio::spawn(liveness.run(liveness_rx));
    let settings = Settings::of(&config);
    let (source_tx, source_rx) = mpsc::channel(16);
    // In the channel before the reconciler starts: its start-up scan covers them.
    let _ = source_tx.try_send(sources::config_file::update(config.routes, None));
    // Guards: the task takes their routes under guard and judges each loss
    // the reconciler hands it.
    let (notice_tx, notice_rx) = mpsc::unbounded_channel();
    let (guard_tx, guard_rx) = mpsc::channel(4);
    let guards = GuardTask::new(source_tx.clone(), query_tx.clone(), watched, metrics.clone(), labels);
    let _ = guard_tx.try_send(GuardCommand::Configure { guards: config.guards, done: None });
    tokio::spawn(guards.run(guard_rx, notice_rx));
    // BGP: the task runs (idle) also without a [bgp] section, so that a
    // reload can start it.
    let (bgp_tx, bgp_rx) = mpsc::channel(16);
    let bgp_handle = BgpHandle::new(bgp_tx);
    let adopt = config.bgp.as_ref().is_some_and(|b| !b.neighbors.is_empty());
    let bgp = BgpTask::new(source_tx.clone(), liveness_handle.clone(), metrics.clone(), adopt);
    tokio::spawn(bgp.run(config.bgp, bgp_rx));
    let mut reconciler = Reconciler::new(settings, writer, metrics.clone(), status_tx, repair_tx, started)
        .with_watchdog(Watchdog::from_env(notifier.as_ref()))
        .with_guards(notice_tx);
    if adopt {
        reconciler = reconciler.with_bgp_adoption();
    }
    let reconciler = tokio::spawn(reconciler.run(event_rx, command_rx, gate_rx, source_rx, deleted_rx));
    if let Some(notifier) = notifier.clone() {
        let watchdog = systemd::watchdog_interval();
        tokio::spawn(notify::run(notifier, status_rx.clone(), metrics.clone(), attribution_label, watchdog));
    }

    // A few requests may wait; a SIGHUP that finds the queue full is one
    // too many: a reload still queued reads the file after it anyway.
    let (reload_tx, reload_rx) = mpsc::channel(4);
    let reloader = reload::Reloader {
        path: config_path,
        commands: command_tx.clone(),
        routes: source_tx,
        guards: guard_tx,
        liveness: liveness_handle.clone(),
        bgp: bgp_handle.clone(),
        notifier: notifier.clone(),
    };
    tokio::spawn(reloader.run(reload_rx));

    let control = control::control_router(
        status_rx,
        command_tx.clone(),
        query_tx,
        liveness_handle.clone(),
        bgp_handle,
        reload_tx.clone(),
        started,
        attribution,
    );
    tokio::spawn(async move {
        let control = control.into_make_service_with_connect_info::<control::Peer>();
        if let Err(e) = axum::serve(control_listener, control).await {
            tracing::error!(error = %e, "control socket server stopped");
        }
    });
    if let Some(listener) = metrics_listener {
        let router = control::metrics_router(metrics);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }

    let mut hangup = signal(SignalKind::hangup()).expect("installing a signal handler");
    let mut terminate = signal(SignalKind::terminate()).expect("installing a signal handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("installing a signal handler");
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: re-reading the configuration");
                let _ = reload_tx.try_send(ReloadRequest { reply: None });
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    if let Some(n) = &notifier {
        n.stopping();
    }
    let (done_tx, done_rx) = oneshot::channel();
    if command_tx.send(Command::Shutdown(done_tx)).await.is_ok() {
        let _ = done_rx.await;
    }
    reconciler.abort();
    tracing::info!("guardian stopped");
    Ok(())
}

type Started = (Attribution, Option<ebpf::Attribution>, Option<mpsc::Receiver<ebpf::Record>>);

/// Loads the eBPF programs when the mode asks for them. `auto` falls back
/// to netlink port ids with one warning; `ebpf` refuses to start without.
fn start_attribution(config: &AttributionConfig, force: ebpf::Force) -> Result<Started, DaemonError> {
    let try_ebpf = || {
        let options = ebpf::StartOptions {
            own_tgid: std::process::id(),
            ring_size: u32::try_from(config.ring_buffer_size).unwrap_or(u32::MAX),
            all_netns: config.all_netns,
            force,
        };
        let (programs, records) = ebpf::Attribution::start(&options)?;
        let v = programs.variant();
        tracing::info!(
            hook = v.hook.name(),
            walk = v.walk.name(),
            netns = v.netns.name(),
            memlock = v.memlock.name(),
            ioctl = programs.ioctl_attached(),
            "deleter attribution: eBPF, variant {v}"
        );
        Ok((programs, records))
    };
    match config.mode {
        AttributionMode::Off => Ok((Attribution::None, None, None)),
        AttributionMode::Netlink => Ok((Attribution::NetlinkPortid, None, None)),
        AttributionMode::Ebpf => match try_ebpf() {
            Ok((programs, records)) => Ok((Attribution::Ebpf, Some(programs), Some(records))),
            Err(e) => Err(DaemonError::Ebpf(e)),
        },
        AttributionMode::Auto => match try_ebpf() {
            Ok((programs, records)) => Ok((Attribution::Ebpf, Some(programs), Some(records))),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "eBPF attribution unavailable; naming deleters from netlink port ids instead (weaker: short-lived processes show as exited)"
                );
                Ok((Attribution::NetlinkPortid, None, None))
            }
        },
    }
}

/// Binds the control socket, refusing to steal it from a live daemon and
/// replacing one left behind by a dead one. Mode 0600, or 0660 with `group`
/// (whose members may then read the daemon's state; control/mod.rs says
/// what they may not do).
fn bind_control(path: &Path, group: Option<&str>) -> Result<UnixListener, DaemonError> {
    let err = |source| DaemonError::ControlSocket { path: path.to_owned(), source };
    let gid = match group {
        None => None,
        Some(name) => match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => Some(g.gid.as_raw()),
            Ok(None) => return Err(DaemonError::NoSuchGroup(name.to_owned())),
            Err(e) => return Err(err(e.into())),
        },
    };
    if path.exists() {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(DaemonError::AlreadyRunning(path.to_owned())),
            Err(_) => {
                use std::os::unix::fs::FileTypeExt;
                let is_socket = std::fs::symlink_metadata(path).map(|m| m.file_type().is_socket()).unwrap_or(false);
                if !is_socket {
                    return Err(err(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "the path exists and is not a socket",
                    )));
                }
                std::fs::remove_file(path).map_err(err)?;
            }
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    let restrict = || -> Result<(), DaemonError> {
        if let (Some(gid), Some(group)) = (gid, group) {
            std::os::unix::fs::chown(path, None, Some(gid)).map_err(|source| DaemonError::ControlGroup {
                path: path.to_owned(),
                group: group.to_owned(),
                source,
            })?;
        }
        let mode = if gid.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)
    };
    if let Err(e) = restrict() {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(listener)
}
