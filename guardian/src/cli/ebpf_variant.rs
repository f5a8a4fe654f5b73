//! `guardian ebpf-variant` (hidden): loads the eBPF programs as `run` would,
//! prints the variant this kernel gets, and exits. For the kernel matrix
//! (`cargo xtask kernels`) and for operators asking "what will run here".

use super::Failure;
use crate::ebpf::{netns, variant, Attribution, Force, Hook, Memlock, StartOptions, Walk, DEFAULT_RING_SIZE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Force choices instead of probing, as `run --ebpf-force`
    #[arg(long, env = crate::ebpf::FORCE_ENV, value_name = "CHOICES")]
    ebpf_force: Option<Force>,
}

pub fn execute(args: Args) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, format!("cannot start the runtime: {e}")))?;
    let options = StartOptions {
        own_tgid: std::process::id(),
        ring_size: DEFAULT_RING_SIZE,
        all_netns: false,
        force: args.ebpf_force.unwrap_or_default(),
    };
    let force = options.force;
    let (programs, _records) = runtime
        .block_on(async { Attribution::start(&options) })
        .map_err(|e| Failure::new(1, format!("eBPF attribution does not load here: {e}")))?;
    let v = programs.variant();
    println!("{v} ioctl={}", if programs.ioctl_attached() { "yes" } else { "no" });
    // What the kernel lacks, probed whatever was forced.
    let mut missing = Vec::new();
    if variant::probe_walk() == Walk::Bounded {
        missing.push("bpf_loop");
    }
    if netns::current_netns_cookie().is_err() {
        missing.push("SO_NETNS_COOKIE");
    }
    if variant::probe_memlock() == Memlock::Rlimit {
        missing.push("memory-cgroup accounting of BPF maps (RLIMIT_MEMLOCK raised)");
    }
    if force.hook.is_none() && v.hook == Hook::ConsumeSkb {
        missing.push("fentry (refused)");
    }
    if !programs.ioctl_attached() {
        missing.push("tracefs (ioctls unattributed)");
    }
    println!("missing: {}", if missing.is_empty() { "nothing".to_owned() } else { missing.join(", ") });
    Ok(())
}
