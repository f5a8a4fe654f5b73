//! nftables rules in a namespace, to cut or thin out traffic (liveness
//! control packets) the way an operator's firewall or a lossy link would.
//!
//! Each [`Rule`] lives in a base chain of its own (hook input, table `inet
//! guardian_tests`), so removing it is deleting its chain and its counter
//! is the only one in that chain. Deleting the namespace removes them all,
//! so a failing test leaves nothing behind.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::cmd::{self, Output};
use crate::netns::Netns;

const TABLE: &str = "guardian_tests";

/// `nft <args>` inside `ns` (the network namespace only); panics (with
/// stderr) unless it exits 0.
pub fn nft(ns: &Netns, args: &[&str]) -> Output {
    cmd::run_ok(ns.exec("nft").args(args))
}

/// One rule on the input hook of a namespace, with a counter.
#[derive(Debug)]
pub struct Rule {
    netns: String,
    chain: String,
}

impl Rule {
    /// Adds `<matches> counter drop` on input in `ns`, e.g.
    /// `udp dport 3784` (drop all of it) or
    /// `udp dport 3784 numgen random mod 100 < 1` (drop 1 %).
    pub fn drop_input(ns: &Netns, matches: &str) -> Rule {
        Rule::input(ns, matches, "drop")
    }

    /// Adds `<matches> counter` on input in `ns`: counts, lets everything
    /// through (e.g. `udp dport 3784 @th,64,8 0x23`: BFD packets whose
    /// first byte says version 1, diagnostic 3).
    pub fn count_input(ns: &Netns, matches: &str) -> Rule {
        Rule::input(ns, matches, "")
    }

    fn input(ns: &Netns, matches: &str, verdict: &str) -> Rule {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let chain = format!("in{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        nft(ns, &["add", "table", "inet", TABLE]);
        nft(
            ns,
            &[&format!("add chain inet {TABLE} {chain} {{ type filter hook input priority 0 ; policy accept ; }}")],
        );
        nft(ns, &[&format!("add rule inet {TABLE} {chain} {matches} counter {verdict}")]);
        Rule { netns: ns.name().to_owned(), chain }
    }

    /// Packets the rule has matched (dropped or counted) so far.
    pub fn packets(&self, ns: &Netns) -> u64 {
        self.assert_in(ns);
        let out = nft(ns, &["-j", "list", "chain", "inet", TABLE, &self.chain]);
        let v: Value = out.json();
        let counters: Vec<u64> = v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.get("rule")?.get("expr")?.as_array())
            .flatten()
            .filter_map(|e| e.get("counter")?.get("packets")?.as_u64())
            .collect();
        assert_eq!(counters.len(), 1, "expected one counter in chain {}: {v}", self.chain);
        counters[0]
    }

    /// Removes the rule: traffic flows again.
    pub fn remove(self, ns: &Netns) {
        self.assert_in(ns);
        nft(ns, &["delete", "chain", "inet", TABLE, &self.chain]);
    }

    fn assert_in(&self, ns: &Netns) {
        assert_eq!(ns.name(), self.netns, "rule {} belongs to namespace {}", self.chain, self.netns);
    }
}
