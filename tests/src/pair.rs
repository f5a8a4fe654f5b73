//! Two namespaces joined by a veth pair, each running its own guardian and
//! guarding routes via the other (liveness tests: real UDP between them).
//!
//! ```text
//!   namespace A                                  namespace B
//!   pa  192.0.2.1/24  2001:db8::1/64  <-veth->  pb  192.0.2.2/24  2001:db8::2/64
//!   routes 10.20.<n>.0/24 via 192.0.2.2         routes 10.30.<n>.0/24 via 192.0.2.1
//! ```
//!
//! Declare the [`Pair`] before the daemons, so they are stopped before the
//! namespaces go.

use crate::config::{Config, RouteSpec};
use crate::daemon::Daemon;
use crate::metrics;
use crate::netns::{self, Netns, VethPair};

/// Where each side's daemon serves metrics, inside its own namespace.
pub const METRICS: &str = "127.0.0.1:9469";

/// One end: a namespace, its veth end and addresses, and its peer's.
#[derive(Debug)]
pub struct Side {
    pub ns: Netns,
    pub dev: &'static str,
    pub addr: &'static str,
    pub addr6: &'static str,
    /// The other side's addresses, this side's liveness peer.
    pub peer: &'static str,
    pub peer6: &'static str,
    /// Second octet of this side's route prefixes (10.<net>.<n>.0/24).
    net: u8,
}

impl Side {
    /// `10.<net>.<n>.0/24 via <peer> dev <dev>` with `liveness = "nexthop"`.
    pub fn route(&self, n: u8) -> RouteSpec {
        RouteSpec::new(&format!("10.{}.{n}.0/24", self.net)).via(self.peer).dev(self.dev).liveness("nexthop")
    }

    /// `2001:db8:<net>::/64 via <peer6> dev <dev>` with `liveness = "nexthop"`.
    pub fn route6(&self) -> RouteSpec {
        RouteSpec::new(&format!("2001:db8:{}::/64", self.net)).via(self.peer6).dev(self.dev).liveness("nexthop")
    }

    /// `<peer>/32 dev <dev>` with `liveness = "destination"`: the route to
    /// the peer itself, kept while the peer answers.
    pub fn host_route(&self) -> RouteSpec {
        RouteSpec::new(&format!("{}/32", self.peer)).dev(self.dev).liveness("destination")
    }

    /// [`base_config`] with [`Self::route`]`(0)`.
    pub fn config(&self) -> Config {
        base_config().route(self.route(0))
    }

    /// Starts a guardian in this namespace and waits until it is ready.
    pub fn start(&self, config: &Config) -> Daemon {
        Daemon::start(&self.ns, config)
    }

    /// The metrics text of this side's daemon.
    pub fn metrics(&self) -> String {
        metrics::fetch(&self.ns, METRICS)
    }
}

/// The two namespaces; see the module documentation.
#[derive(Debug)]
pub struct Pair {
    pub a: Side,
    pub b: Side,
}

impl Pair {
    // No `Default`: creating namespaces is a side effect.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Pair {
        let VethPair { a: ns_a, b: ns_b } = VethPair::new("pa", "pb");
        let a = Side {
            ns: ns_a,
            dev: "pa",
            addr: netns::ADDR4,
            addr6: netns::ADDR6,
            peer: netns::GW4,
            peer6: netns::GW6,
            net: 20,
        };
        let b = Side {
            ns: ns_b,
            dev: "pb",
            addr: netns::GW4,
            addr6: netns::GW6,
            peer: netns::ADDR4,
            peer6: netns::ADDR6,
            net: 30,
        };
        Pair { a, b }
    }
}

/// What the liveness tests share: metrics at [`METRICS`], no deleter
/// attribution (no eBPF to load: faster starts, nothing global), and 100 ms
/// intervals with multiplier 3 (300 ms detection once Up; the `bfd` profile
/// starts at 1 s until Up). Override a key with [`Config::liveness`].
pub fn base_config() -> Config {
    Config::new()
        .daemon("metrics_listen", &format!("\"{METRICS}\""))
        .attribution("mode", "\"off\"")
        .liveness("desired_tx", "\"100ms\"")
        .liveness("required_rx", "\"100ms\"")
        .liveness("detect_multiplier", "3")
}
