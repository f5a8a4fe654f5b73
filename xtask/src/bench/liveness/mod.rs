//! Route liveness (issue 4): guardian's BFD-style sessions, against BIRD 2's
//! `protocol bfd` where BIRD can be measured the same way.
//!
//! Topology (one per daemon pair, each in its own two namespaces): a veth
//! pair `va` (namespace A) / `vb` (namespace B); A holds N addresses
//! 10.200.0.1.., B holds N addresses 10.200.128.1..; session i runs between
//! A_i and B_i. (BIRD 2 keys a BFD session by peer address and interface
//! only, so N sessions need N distinct peer addresses on both sides; the
//! same topology serves guardian.) guardian in A keeps 198.18.x.y/32 via
//! B_i src A_i dev va, liveness = "nexthop"; guardian in B keeps
//! 198.19.x.y/32 via A_i src B_i dev vb. BIRD gets `neighbor B_i dev "va"
//! local A_i` and the mirror image. Every address has a permanent neighbour
//! entry on the other side (the neighbour table is small and shared), so
//! ARP never runs. Intervals 100 ms both ways, multiplier 3.
//!
//! 1. CPU at 1,000 sessions: a guardian pair and a BIRD pair, one after the
//!    other (two cores), two rounds in alternating order. Once every session
//!    is Up at the fast rate, utime+stime of each daemon (/proc/PID/stat)
//!    over 3 windows of 10 s, as a fraction of one core; the machine's other
//!    load in the same windows beside it. Target: guardian <= 0.2x BIRD.
//!    Then the same with meticulous keyed SHA1 on every packet: guardian
//!    with it, guardian without it and BIRD with it, in one run (two
//!    rounds, the order rotating).
//! 2. Detection: one nftables rule dropping UDP dport 3784 on A's input,
//!    added by an `nft -e -a -i` already running in A (the cut instant is
//!    taken just before the command is written; the kernel's echo bounds
//!    it). Per session: Down time (guardian's `liveness session down` JSON
//!    log line, BIRD's `changed state from Up to Down` trace line) minus the
//!    cut, minus the bound (3 x 100 ms). At 100 sessions beside BIRD, and at
//!    10,000 (all cut at once; only sessions whose detection time, read from
//!    the control API just before the cut, is the bound are timed), then
//!    again at 10,000 on the 1 s pair below (bound 3 s).
//! 3. 10,000 sessions between two guardians for 60 s: flaps (transitions
//!    out of Up, from the metrics; every session's uptime from the control
//!    API), CPU per daemon, control packets per second.
//!    Then the same pair at guardian's default 1 s intervals for 30 s.
//! 4. Memory: VmRSS of A's guardian with 10,000 sessions minus that of
//!    the same daemon with no routes, per session (also against 10,000
//!    routes without liveness, to separate the session from the route); at
//!    100 ms after the 60 s window, and at 1 s with every session Up and idle
//!    (on a machine where 100 ms does not hold, that is the idle figure).
//!
//! One file per job: `topology` (namespaces, addresses), `guardian` and
//! `bird` (the two daemons as the bench drives them), `cpu` (measuring a
//! process's CPU), then one file per part: `compare`, `detection`, `scale`.

mod auth;
mod bird;
mod compare;
/// Also the bgp scenario's CPU figures.
pub(super) mod cpu;
mod detection;
mod guardian;
mod scale;
mod topology;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use guardian_test_support::bird::Bird;
use guardian_test_support::cmd::{self, Exited};
use guardian_test_support::metrics::{self, Sample};
use guardian_test_support::{logs, Daemon, Netns};
use serde_json::{json, Value};

use super::{count_label, median, min_max, num, parse_rfc3339, percentile, status_of, Ctx, Row};

use auth::*;
use bird::*;
use compare::*;
use cpu::*;
use detection::*;
use guardian::*;
use scale::*;
use topology::*;

pub(super) const INTERVAL_MS: u32 = 100;
pub(super) const MULTIPLIER: u32 = 3;
/// Detect multiplier x agreed interval.
pub(super) const BOUND_MS: f64 = (MULTIPLIER * INTERVAL_MS) as f64;
/// guardian and BIRD side by side.
pub(super) const COMPARE_SESSIONS: u32 = 1_000;
/// guardian alone.
pub(super) const SCALE_SESSIONS: u32 = 10_000;
/// Detection beside BIRD.
pub(super) const DETECT_SESSIONS: u32 = 100;
/// CPU windows per daemon pair at 1,000 sessions.
pub(super) const CPU_WINDOWS: usize = 3;
pub(super) const CPU_WINDOW: Duration = Duration::from_secs(10);
pub(super) const SCALE_WINDOW: Duration = Duration::from_secs(60);
/// The same sessions at guardian's default rate, for memory with every session Up and idle.
pub(super) const SLOW_INTERVAL_MS: u32 = 1_000;
pub(super) const SLOW_WINDOW: Duration = Duration::from_secs(30);
/// After every session is Up at the fast rate, before measuring.
pub(super) const SETTLE: Duration = Duration::from_secs(3);
/// Inside each namespace (its own loopback).
pub(super) const METRICS: &str = "127.0.0.1:9469";
pub(super) const MAC_A: &str = "02:00:5e:10:00:0a";
pub(super) const MAC_B: &str = "02:00:5e:10:00:0b";
pub(super) const TABLE: u32 = 100;
pub(super) const CPU_RATIO_TARGET: f64 = 0.2;
/// BIRD and FRR land within about this much of the bound.
pub(super) const DETECT_SLACK_MS: f64 = 3.0;
pub(super) const SCENARIO: &str = "liveness";
/// The key both ends share when a run authenticates (BIRD's `password`,
/// guardian's secret file).
pub(super) const AUTH_SECRET: &str = "guardian-bench";

/// BFD authentication in a run: none, or meticulous keyed SHA1 (RFC 5880
/// 6.7.4), the variant operators pick, with key id 1 and [`AUTH_SECRET`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Auth {
    Off,
    MeticulousSha1,
}

impl Auth {
    pub(super) fn label(self) -> &'static str {
        match self {
            Auth::Off => "no authentication",
            Auth::MeticulousSha1 => "meticulous keyed SHA1",
        }
    }
}

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    super::require_bird(SCENARIO)?;
    super::require(SCENARIO, "nft", &["--version"], "nftables")?;
    let parts: [(&str, super::Bench); 4] = [
        ("cpu beside BIRD", compare),
        ("cpu with authentication", compare_auth),
        ("detection beside BIRD", detection),
        ("scale", scale),
    ];
    super::run_parts(ctx, "liveness", &parts)
}

#[cfg(test)]
mod tests;
