use super::Failure;
use crate::config::{AttributionMode, Config};
use crate::logging::{self, LogFormat};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file; without it guardian runs on an embedded default (no routes)
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Override [attribution] mode: auto, ebpf, netlink (port ids only) or off
    #[arg(long, value_enum, value_name = "MODE")]
    attribution: Option<AttributionMode>,
    /// Force eBPF variant choices instead of probing the kernel (tests and
    /// benchmarks): e.g. `hook=consume_skb,walk=bounded,netns=inode,memlock=rlimit`
    #[arg(long, hide = true, env = crate::ebpf::FORCE_ENV, value_name = "CHOICES")]
    ebpf_force: Option<crate::ebpf::Force>,
}

pub fn execute(args: Args, control_socket: Option<PathBuf>, format: LogFormat) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    logging::init(format);
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| Failure::new(2, e))?,
        None => Config::embedded_default(),
    };
    if let Some(path) = control_socket {
        config.daemon.control_socket = path;
    }
    if let Some(mode) = args.attribution {
        config.attribution.mode = mode;
    }
    tracing::info!(config = %config.origin, version = env!("CARGO_PKG_VERSION"), revision = crate::GIT_REVISION, routes = config.routes.specs.len(), "guardian starting");
    for warning in &config.warnings {
        tracing::warn!(config = %config.origin, "{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(crate::daemon::run(config, args.config, started, args.ebpf_force.unwrap_or_default()))
        .map_err(|e| Failure::new(e.exit_code(), e))
}
