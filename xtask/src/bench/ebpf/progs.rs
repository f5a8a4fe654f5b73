//! guardian's BPF programs as /proc/PID/fdinfo shows them: run time and run count per program.

use super::*;

/// One BPF program held by guardian, as its fdinfo shows it.
#[derive(Clone, Debug)]
pub(super) struct ProgStat {
    pub(super) id: u32,
    pub(super) kind: u32,
    pub(super) run_time_ns: u64,
    pub(super) run_cnt: u64,
}

pub(super) fn prog_label(kind: u32) -> String {
    match kind {
        BPF_PROG_TYPE_TRACING => "consume_skb (tp_btf)".into(),
        BPF_PROG_TYPE_TRACEPOINT => "sys_enter_ioctl (tracepoint)".into(),
        k => format!("program of type {k}"),
    }
}

/// guardian's BPF programs: its fds whose fdinfo has `prog_type`, by program id.
pub(super) fn prog_stats(pid: i32) -> Result<BTreeMap<u32, ProgStat>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut progs = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(text) = std::fs::read_to_string(entry?.path()) else { continue };
        let get = |key: &str| -> Option<u64> {
            text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.trim().parse().ok())
        };
        let (Some(kind), Some(id)) = (get("prog_type"), get("prog_id")) else { continue };
        progs.insert(
            id as u32,
            ProgStat {
                id: id as u32,
                kind: kind as u32,
                run_time_ns: get("run_time_ns").unwrap_or(0),
                run_cnt: get("run_cnt").unwrap_or(0),
            },
        );
    }
    Ok(progs)
}

/// One program over one flood.
#[derive(Clone)]
pub(super) struct ProgDelta {
    pub(super) label: String,
    pub(super) ns_per_run: Option<f64>,
    pub(super) runs: u64,
    pub(super) runs_per_sec: f64,
}

/// Run time per run of each program between two reads of its stats.
pub(super) fn deltas(before: &BTreeMap<u32, ProgStat>, after: &BTreeMap<u32, ProgStat>, secs: f64) -> Vec<ProgDelta> {
    after
        .values()
        .map(|a| {
            let b = before.get(&a.id);
            let runs = a.run_cnt - b.map_or(0, |b| b.run_cnt);
            let time = a.run_time_ns - b.map_or(0, |b| b.run_time_ns);
            ProgDelta {
                label: prog_label(a.kind),
                ns_per_run: (runs > 0).then(|| time as f64 / runs as f64),
                runs,
                runs_per_sec: runs as f64 / secs,
            }
        })
        .collect()
}
