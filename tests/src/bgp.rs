//! BIRD 2 as a BGP peer of guardian: a namespace pair (guardian in `a`,
//! BIRD in `b`), BIRD's static routes exported over `protocol bgp`, and
//! guardian's `[bgp]` section to match.

use crate::netns::{ADDR4, GW4, GW6};
use std::fmt::Write as _;

pub const LOCAL_AS: u32 = 65001;
pub const PEER_AS: u32 = 65002;
/// The table guardian installs learned routes into.
pub const TABLE: u32 = 100;

/// What BIRD announces, and how its BGP protocol is set up.
#[derive(Debug, Clone, Default)]
pub struct Announce {
    /// IPv4 /24s 10.a.b.0/24, the first `v4` of them.
    pub v4: usize,
    /// IPv6 /64s 2001:db8:64:0::/64, 2001:db8:64:1::/64... the first `v6` of them.
    pub v6: usize,
    /// Lines added inside `protocol bgp` (`graceful restart on;`, `password "x";`, `bfd on;`).
    pub bgp: String,
    /// Lines added at the top level (`protocol bfd { ... }`).
    pub top: String,
}

/// The i-th IPv4 prefix BIRD announces.
pub fn v4_prefix(i: usize) -> String {
    format!("10.{}.{}.0/24", 100 + i / 256, i % 256)
}

/// The i-th IPv6 prefix BIRD announces.
pub fn v6_prefix(i: usize) -> String {
    let addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, 100 + (i / 65536) as u16, (i % 65536) as u16, 0, 0, 0, 0);
    format!("{addr}/64")
}

impl Announce {
    pub fn bird_config(&self) -> String {
        let mut s = format!("router id {GW4};\nlog stderr all;\nprotocol device {{ }}\n{}\n", self.top);
        s.push_str("protocol static s4 {\n  ipv4;\n");
        for i in 0..self.v4 {
            let _ = writeln!(s, "  route {} blackhole;", v4_prefix(i));
        }
        s.push_str("}\nprotocol static s6 {\n  ipv6;\n");
        for i in 0..self.v6 {
            let _ = writeln!(s, "  route {} blackhole;", v6_prefix(i));
        }
        let _ = write!(
            s,
            "}}\nprotocol bgp guardian {{\n  local {GW4} as {PEER_AS};\n  neighbor {ADDR4} as {LOCAL_AS};\n  \
             connect retry time 1;\n  error wait time 1, 5;\n{}\n  \
             ipv4 {{ import none; export all; }};\n  \
             ipv6 {{ import none; export all; next hop address {GW6}; }};\n}}\n",
            self.bgp
        );
        s
    }
}

/// guardian's `[bgp]` with BIRD as its one neighbor; `neighbor` adds keys.
pub fn guardian_bgp(neighbor: &str) -> String {
    format!(
        "[bgp]\nlocal_as = {LOCAL_AS}\nrouter_id = \"{ADDR4}\"\ntable = {TABLE}\n\n\
         [[bgp.neighbor]]\naddress = \"{GW4}\"\nremote_as = {PEER_AS}\n{neighbor}\n"
    )
}
