//! The floor for the hook's cost: an empty program on the same hook.
//!
//! `bench_floor_consume_skb` in the committed eBPF object returns at once;
//! attached beside guardian's program during the same floods, its
//! `run_time_ns / run_cnt` is what the kernel's dispatch and bpf_stats'
//! own clock reads cost here, which no filter can go below.

use anyhow::{Context, Result};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf};

const OBJECT: &str = "guardian/ebpf/guardian.bpf.o";
const PROGRAM: &str = "bench_floor_consume_skb";

/// Holds the program attached until dropped; its fd is in this process.
pub struct Floor {
    _ebpf: Ebpf,
}

impl Floor {
    pub fn attach() -> Result<Floor> {
        let path = crate::cargo::workspace_root().join(OBJECT);
        let object = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut ebpf = Ebpf::load(&object).with_context(|| format!("loading {}", path.display()))?;
        let btf = Btf::from_sys_fs().context("reading the kernel's BTF")?;
        let program: &mut BtfTracePoint = ebpf
            .program_mut(PROGRAM)
            .with_context(|| format!("{PROGRAM} is not in {OBJECT}: cargo xtask build-ebpf"))?
            .try_into()?;
        program.load("consume_skb", &btf).with_context(|| format!("loading {PROGRAM}"))?;
        program.attach().with_context(|| format!("attaching {PROGRAM}"))?;
        Ok(Floor { _ebpf: ebpf })
    }
}
