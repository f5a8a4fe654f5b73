//! `[bgp]` and `[[bgp.neighbor]]`: guardian as a receive-only BGP speaker
//! (issue 12, docs/bgp.md), validated into a [`BgpConfig`].
//!
//! ```toml
//! [bgp]
//! local_as = 65001
//! router_id = "192.0.2.1"
//! table = 100
//! metric = 20
//! multipath = false
//!
//! [[bgp.neighbor]]
//! address = "192.0.2.2"
//! remote_as = 65002
//! import = ["10.0.0.0/8 le 24"]
//! ```
//!
//! Nothing here reads a clock, a socket or the kernel; the only file read
//! is a neighbor's `secret_file`.

use super::liveness::auth::read_secret_file;
use super::units::HumanDuration;
use super::{line_of, parse_prefix, EntryError, Prefix};
use crate::route::Family;
use serde::Deserialize;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// RFC 6793: the 2-byte stand-in for a 4-byte AS. No speaker has it as its
/// own AS.
pub const AS_TRANS: u32 = 23456;
/// RFC 4271 4.2 suggests 90 s.
pub const DEFAULT_HOLD_TIME: Duration = Duration::from_secs(90);
/// Long enough that a peer that keeps sending too much is not reconnected
/// in a tight loop; `guardian bgp reset` ends it early.
pub const DEFAULT_MAX_PREFIXES_IDLE: Duration = Duration::from_secs(300);
/// RFC 4724 suggests the Restart Time be no more than the hold time; a
/// peer advertising more keeps stale routes longer than guardian waits.
pub const DEFAULT_RESTART_TIME_MAX: Duration = Duration::from_secs(120);
/// The Restart Time field of the capability is 12 bits of seconds.
const MAX_RESTART_TIME: u64 = 4095;
/// TCP_MD5SIG_MAXKEYLEN in linux/tcp.h.
pub const TCP_MD5_MAX_KEY_LEN: usize = 80;

/// `[bgp]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct BgpConfig {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// Where the best paths go; one table and metric for all neighbors,
    /// so that selection across neighbors is well defined.
    pub table: u32,
    /// `None`: the family's default, as for a `[[route]]` without one.
    pub metric: Option<u32>,
    /// Equal-cost best paths become one multipath route.
    pub multipath: bool,
    /// In file order.
    pub neighbors: Vec<NeighborConfig>,
}

/// How a neighbor's learned routes are gated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeighborLiveness {
    /// Installed while the session is Established.
    #[default]
    Off,
    /// Each route (each multipath leg) only while a liveness session with
    /// its BGP next hop is Up.
    Nexthop,
}

impl NeighborLiveness {
    pub fn label(self) -> &'static str {
        match self {
            NeighborLiveness::Off => "off",
            NeighborLiveness::Nexthop => "nexthop",
        }
    }
}

/// One `[[bgp.neighbor]]`, validated.
#[derive(Clone, PartialEq)]
pub struct NeighborConfig {
    pub address: IpAddr,
    /// Required for a link-local IPv6 address, which means nothing without it.
    pub interface: Option<String>,
    pub remote_as: u32,
    /// Proposed in our OPEN: zero, or at least 3 s (RFC 4271 4.2).
    pub hold_time: Duration,
    /// Accept the peer's connection on TCP 179; never connect.
    pub passive: bool,
    pub liveness: NeighborLiveness,
    /// false: learn and show, never install (doublezerod's NoInstall).
    pub install: bool,
    /// Empty: accept every prefix (see [`NeighborConfig::accepts`]).
    pub import: Vec<PrefixFilter>,
    /// Beyond it: Cease (subcode 1), then idle for `max_prefixes_idle`.
    pub max_prefixes: Option<u32>,
    pub max_prefixes_idle: Duration,
    /// Advertise graceful restart and act as helper (RFC 4724).
    pub graceful_restart: bool,
    /// Cap on the peer's advertised Restart Time.
    pub restart_time_max: Duration,
    /// The TCP MD5 key (RFC 2385), read from `secret_file`.
    pub md5_key: Option<Vec<u8>>,
}

// Configurations are logged: never show the key.
impl fmt::Debug for NeighborConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeighborConfig")
            .field("address", &self.address)
            .field("interface", &self.interface)
            .field("remote_as", &self.remote_as)
            .field("hold_time", &self.hold_time)
            .field("passive", &self.passive)
            .field("liveness", &self.liveness)
            .field("install", &self.install)
            .field("import", &self.import)
            .field("max_prefixes", &self.max_prefixes)
            .field("max_prefixes_idle", &self.max_prefixes_idle)
            .field("graceful_restart", &self.graceful_restart)
            .field("restart_time_max", &self.restart_time_max)
            .field("md5_key", &self.md5_key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl NeighborConfig {
    /// Whether a learned prefix passes the import filter. With no filter
    /// every prefix does: RFC 8212's default-reject is for speakers that
    /// advertise (a route leak needs a re-advertisement), and guardian
    /// never advertises.
    pub fn accepts(&self, dst: IpAddr, len: u8) -> bool {
        self.import.is_empty() || self.import.iter().any(|f| f.matches(dst, len))
    }

    /// Internal BGP: the peer is in our AS.
    pub fn is_ibgp(&self, local_as: u32) -> bool {
        self.remote_as == local_as
    }

    /// One line for `guardian check-config`.
    pub fn describe(&self) -> String {
        let mut s = format!("neighbor {}", self.address);
        if let Some(dev) = &self.interface {
            let _ = write!(s, "%{dev}");
        }
        let import = if self.import.is_empty() {
            "all".to_owned()
        } else {
            self.import.iter().map(PrefixFilter::to_string).collect::<Vec<_>>().join(",")
        };
        let _ = write!(
            s,
            ": remote_as {}, hold_time {}, {}, liveness {}, install {}, import {import}, max_prefixes {}, \
             graceful_restart {}, md5 {}",
            self.remote_as,
            humantime::format_duration(self.hold_time),
            if self.passive { "passive" } else { "active" },
            self.liveness.label(),
            self.install,
            self.max_prefixes.map_or("none".to_owned(), |n| n.to_string()),
            if self.graceful_restart {
                format!("on (restart_time_max {})", humantime::format_duration(self.restart_time_max))
            } else {
                "off".to_owned()
            },
            if self.md5_key.is_some() { "on" } else { "off" },
        );
        s
    }
}

/// One import entry: "10.0.0.0/8" (exactly that prefix), "10.0.0.0/8 le
/// 24" (it and anything inside it up to /24), "10.0.0.0/8 ge 16 le 24",
/// as in the prefix lists of other routing software.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixFilter {
    pub prefix: Prefix,
    /// Accepted lengths, inclusive: `prefix.len <= ge <= le`.
    pub ge: u8,
    pub le: u8,
}

impl PrefixFilter {
    pub fn matches(&self, dst: IpAddr, len: u8) -> bool {
        (self.ge..=self.le).contains(&len) && self.prefix.contains(dst, len)
    }

    /// Parses one entry; the error says what is wrong with the text.
    pub fn parse(text: &str) -> Result<PrefixFilter, String> {
        let mut words = text.split_whitespace();
        let first = words.next().ok_or_else(|| "an empty filter; write e.g. \"10.0.0.0/8 le 24\"".to_owned())?;
        if !first.contains('/') {
            return Err(format!("{first:?} has no prefix length; write e.g. \"10.0.0.0/8 le 24\""));
        }
        let (addr, len) = parse_prefix(first)?;
        let max = Family::of(&addr).max_prefix();
        let (mut ge, mut le) = (None, None);
        while let Some(word) = words.next() {
            let slot = match word {
                "ge" => &mut ge,
                "le" => &mut le,
                other => return Err(format!("{other:?} in {text:?}: expected `ge N` or `le N` after the prefix")),
            };
            if slot.is_some() {
                return Err(format!("`{word}` twice in {text:?}"));
            }
            let n = words
                .next()
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("`{word}` in {text:?} needs a prefix length 0-{max}"))?;
            *slot = Some(n);
        }
        let (ge, le) = match (ge, le) {
            (None, None) => (len, len),
            (Some(ge), None) => (ge, max),
            (None, Some(le)) => (len, le),
            (Some(ge), Some(le)) => (ge, le),
        };
        if ge < len || le < ge {
            return Err(format!("{text:?} matches nothing: it needs /{len} <= ge <= le"));
        }
        Ok(PrefixFilter { prefix: Prefix { addr, len }, ge, le })
    }
}

impl fmt::Display for PrefixFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        let max = Family::of(&self.prefix.addr).max_prefix();
        match (self.ge == self.prefix.len, self.le == self.prefix.len) {
            (true, true) => Ok(()),
            (true, false) => write!(f, " le {}", self.le),
            (false, _) if self.le == max => write!(f, " ge {}", self.ge),
            (false, _) => write!(f, " ge {} le {}", self.ge, self.le),
        }
    }
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BgpSection {
    local_as: Option<Spanned<i64>>,
    router_id: Option<Spanned<String>>,
    table: Option<Spanned<i64>>,
    metric: Option<Spanned<i64>>,
    #[serde(default)]
    multipath: bool,
    #[serde(default)]
    neighbor: Vec<Spanned<NeighborEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NeighborEntry {
    address: Option<Spanned<String>>,
    interface: Option<Spanned<String>>,
    remote_as: Option<Spanned<i64>>,
    hold_time: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    passive: bool,
    #[serde(default)]
    liveness: NeighborLiveness,
    install: Option<bool>,
    #[serde(default)]
    import: Vec<Spanned<String>>,
    max_prefixes: Option<Spanned<i64>>,
    max_prefixes_idle: Option<Spanned<HumanDuration>>,
    graceful_restart: Option<bool>,
    restart_time_max: Option<Spanned<HumanDuration>>,
    secret_file: Option<Spanned<String>>,
}

// ---- validation ------------------------------------------------------------

/// Validates `[bgp]` and its neighbors; `text` is the file, for the line of
/// the first of two duplicate neighbors.
pub(super) fn validate(section: Spanned<BgpSection>, text: &str) -> Result<BgpConfig, EntryError> {
    let span = section.span();
    let section = section.into_inner();
    let local_as = match &section.local_as {
        None => return Err((span, "bgp.local_as", "missing: the AS guardian speaks as, e.g. 65001".into())),
        Some(n) => as_number(n, "bgp.local_as")?,
    };
    let router_id = match &section.router_id {
        None => {
            let message = "missing: a BGP identifier is required (an IPv4 address of this host, e.g. \"192.0.2.1\")";
            return Err((span, "bgp.router_id", message.into()));
        }
        Some(id) => match id.get_ref().trim().parse::<Ipv4Addr>() {
            // RFC 6286 2.1: a non-zero 4-octet unsigned integer.
            Ok(ip) if !ip.is_unspecified() => ip,
            _ => {
                let message = format!("{:?} is not a non-zero IPv4 address such as \"192.0.2.1\"", id.get_ref());
                return Err((id.span(), "bgp.router_id", message));
            }
        },
    };
    let table = match &section.table {
        None => crate::route::MAIN_TABLE,
        Some(t) => match u32::try_from(*t.get_ref()) {
            Ok(0) => {
                return Err((t.span(), "bgp.table", "table 0 is not a routing table; leave it out for main".into()))
            }
            Ok(255) => {
                return Err((
                    t.span(),
                    "bgp.table",
                    "table 255 is the kernel's local table; use a table of your own".into(),
                ))
            }
            Ok(n) => n,
            Err(_) => return Err((t.span(), "bgp.table", format!("{} is not a table number", t.get_ref()))),
        },
    };
    let metric = match &section.metric {
        None => None,
        Some(m) => {
            Some(u32::try_from(*m.get_ref()).map_err(|_| (m.span(), "bgp.metric", "must be 0-4294967295".into()))?)
        }
    };
    let mut neighbors: Vec<NeighborConfig> = Vec::with_capacity(section.neighbor.len());
    let mut first_line: Vec<usize> = Vec::with_capacity(section.neighbor.len());
    for entry in section.neighbor {
        let entry_span = entry.span();
        let neighbor = neighbor(entry.into_inner(), entry_span.clone())?;
        // One session per peer: two entries for one address (and, for a
        // link-local one, one interface) would both claim its connection.
        if let Some(n) =
            neighbors.iter().position(|o| o.address == neighbor.address && o.interface == neighbor.interface)
        {
            let message = format!(
                "neighbor {} is configured twice (first on line {}); one session per peer",
                neighbor.address, first_line[n]
            );
            return Err((entry_span, "bgp.neighbor.address", message));
        }
        first_line.push(line_of(text, entry_span.start));
        neighbors.push(neighbor);
    }
    Ok(BgpConfig { local_as, router_id, table, metric, multipath: section.multipath, neighbors })
}

fn as_number(n: &Spanned<i64>, key: &'static str) -> Result<u32, EntryError> {
    match u32::try_from(*n.get_ref()) {
        Ok(0) => Err((n.span(), key, "AS 0 is reserved (RFC 7607) and cannot be used in a session".into())),
        Ok(AS_TRANS) => Err((
            n.span(),
            key,
            format!("AS {AS_TRANS} is AS_TRANS (RFC 6793), the 2-byte stand-in for 4-byte ASes, never a real AS"),
        )),
        Ok(asn) => Ok(asn),
        Err(_) => Err((n.span(), key, format!("AS {} is out of range 1-4294967295", n.get_ref()))),
    }
}

fn neighbor(e: NeighborEntry, span: std::ops::Range<usize>) -> Result<NeighborConfig, EntryError> {
    let Some(address_text) = &e.address else {
        return Err((span, "bgp.neighbor.address", "missing: the peer's address, e.g. \"192.0.2.2\"".into()));
    };
    let address: IpAddr = address_text.get_ref().trim().parse().map_err(|_| {
        (address_text.span(), "bgp.neighbor.address", format!("invalid address {:?}", address_text.get_ref()))
    })?;
    if address.is_unspecified() || address.is_multicast() || address.is_loopback() {
        let message = format!("{address} cannot be a BGP neighbor (unspecified, multicast or loopback)");
        return Err((address_text.span(), "bgp.neighbor.address", message));
    }
    let link_local = matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local());
    let interface = match &e.interface {
        None if link_local => {
            let message = format!(
                "neighbor {address} is link-local: name the `interface` it is reached on, e.g. interface = \"eth0\""
            );
            return Err((address_text.span(), "bgp.neighbor.interface", message));
        }
        None => None,
        Some(d) => {
            let name = d.get_ref();
            // IFNAMSIZ is 16 including the terminating NUL.
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                return Err((d.span(), "bgp.neighbor.interface", format!("{name:?} is not a valid interface name")));
            }
            Some(name.clone())
        }
    };
    let remote_as = match &e.remote_as {
        None => {
            let message = format!("missing: neighbor {address} needs the peer's AS, e.g. remote_as = 65002");
            return Err((address_text.span(), "bgp.neighbor.remote_as", message));
        }
        Some(n) => as_number(n, "bgp.neighbor.remote_as")?,
    };
    let hold_time = match &e.hold_time {
        None => DEFAULT_HOLD_TIME,
        Some(h) => {
            let d = h.get_ref().0;
            let key = "bgp.neighbor.hold_time";
            if d.subsec_nanos() != 0 || d.as_secs() > u64::from(u16::MAX) {
                return Err((h.span(), key, "must be whole seconds, at most 65535s".into()));
            }
            // RFC 4271 4.2: zero (no keepalives) or at least three seconds.
            if (1..3).contains(&d.as_secs()) {
                return Err((h.span(), key, format!("must be 0s or at least 3s (RFC 4271 4.2), got {}", d.as_secs())));
            }
            d
        }
    };
    let mut import = Vec::with_capacity(e.import.len());
    for entry in &e.import {
        let filter = PrefixFilter::parse(entry.get_ref()).map_err(|m| (entry.span(), "bgp.neighbor.import", m))?;
        import.push(filter);
    }
    let max_prefixes = match &e.max_prefixes {
        None => None,
        Some(n) => match u32::try_from(*n.get_ref()) {
            Ok(n @ 1..) => Some(n),
            _ => {
                let message = format!("must be 1-4294967295 (got {}); leave it out for no limit", n.get_ref());
                return Err((n.span(), "bgp.neighbor.max_prefixes", message));
            }
        },
    };
    let max_prefixes_idle = e.max_prefixes_idle.as_ref().map_or(DEFAULT_MAX_PREFIXES_IDLE, |d| d.get_ref().0);
    let restart_time_max = match &e.restart_time_max {
        None => DEFAULT_RESTART_TIME_MAX,
        Some(d) if d.get_ref().0.as_secs() > MAX_RESTART_TIME => {
            let message = format!("at most {MAX_RESTART_TIME}s, the largest Restart Time a peer can advertise");
            return Err((d.span(), "bgp.neighbor.restart_time_max", message));
        }
        Some(d) => d.get_ref().0,
    };
    let md5_key = match &e.secret_file {
        None => None,
        Some(file) => {
            let key = "bgp.neighbor.secret_file";
            let secret = read_secret_file(Path::new(file.get_ref()), "open or reset the BGP session")
                .map_err(|m| (file.span(), key, m))?;
            if secret.is_empty() || secret.len() > TCP_MD5_MAX_KEY_LEN {
                let message = format!("a TCP MD5 key is 1-{TCP_MD5_MAX_KEY_LEN} bytes (got {})", secret.len());
                return Err((file.span(), key, message));
            }
            Some(secret)
        }
    };
    Ok(NeighborConfig {
        address,
        interface,
        remote_as,
        hold_time,
        passive: e.passive,
        liveness: e.liveness,
        install: e.install.unwrap_or(true),
        import,
        max_prefixes,
        max_prefixes_idle,
        // Being a helper costs nothing and keeps a restarting peer's routes.
        graceful_restart: e.graceful_restart.unwrap_or(true),
        restart_time_max,
        md5_key,
    })
}

#[cfg(test)]
mod tests;
