//! The configuration file: parsing (serde + toml, unknown keys rejected) and
//! validation into the compact route set the daemon works with.
//!
//! Every error names the key and the line, because the person reading it is
//! an operator with the file open in an editor.

mod bgp;
mod guard;
mod liveness;
mod protocols;
mod units;

pub use bgp::{BgpConfig, NeighborConfig, NeighborLiveness, PrefixFilter, AS_TRANS, TCP_MD5_MAX_KEY_LEN};
pub use guard::{GuardConfig, GuardMode, UnknownDeleter, DEFAULT_KERNEL_CAUSE_GRACE, MAX_COMM_LEN};
pub use liveness::auth::{AuthKey, AuthType, KeyError};
pub use liveness::{
    LivenessConfig, LivenessMode, LivenessRoute, LivenessTarget, Prefix, Profile, MIN_DEFAULT_QUEUE_BOUND,
    QUEUE_ENTRIES_PER_SESSION,
};
pub use protocols::Protocols;

use crate::route::{Addr, DevNames, Family, Gateway, Nexthop, RouteKey, RouteSpec, IPV6_DEFAULT_METRIC, MAIN_TABLE};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

pub const DEFAULT_CONTROL_SOCKET: &str = "/run/guardian/guardian.sock";
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9469";
pub const DEFAULT_ROUTE_PROTOCOL: u8 = 201;
/// The most next hops one `[[route]]` may list (`nexthops`).
pub const MAX_NEXTHOPS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from: a path, or "embedded default".
    pub origin: String,
    pub daemon: DaemonConfig,
    pub reconcile: ReconcileConfig,
    pub attribution: AttributionConfig,
    pub liveness: LivenessConfig,
    pub routes: RouteSet,
    /// `[[guard]]`s, in file order: other daemons' routes kept in place.
    pub guards: Vec<GuardConfig>,
    /// `[bgp]`, when present: routes learned from BGP neighbors.
    pub bgp: Option<BgpConfig>,
    /// Things valid but probably not meant (a protocol name that two
    /// numbers share), each "line N: `key`: ...". Config code logs
    /// nothing: the daemon logs each at WARN on start and reload, and
    /// `guardian check-config` prints them.
    pub warnings: Vec<String>,
}

/// How guardian finds out who deleted a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AttributionMode {
    /// eBPF where the kernel allows it, else the netlink port id.
    Auto,
    /// eBPF or nothing: guardian does not start without it.
    Ebpf,
    /// The port id in the kernel's delete notification, resolved through /proc.
    Netlink,
    Off,
}

impl AttributionMode {
    pub fn label(self) -> &'static str {
        match self {
            AttributionMode::Auto => "auto",
            AttributionMode::Ebpf => "ebpf",
            AttributionMode::Netlink => "netlink",
            AttributionMode::Off => "off",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttributionConfig {
    pub mode: AttributionMode,
    /// The eBPF ring buffer, in bytes (a power of two, at least one page).
    pub ring_buffer_size: u64,
    /// Report deletions in every network namespace, not only guardian's own.
    pub all_netns: bool,
    /// Process names that may appear as the `deleter` metric label; any
    /// other process is `other`, since a process can choose its own name.
    pub deleter_labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    pub control_socket: PathBuf,
    /// The group the control socket is given (mode 0660), so its members
    /// run the read-only commands; `None`: mode 0600, owner only.
    pub control_socket_group: Option<String>,
    /// `None` when metrics are off.
    pub metrics_listen: Option<SocketAddr>,
    pub route_protocol: u8,
    pub netlink_rcvbuf: u64,
    pub withdraw_on_exit: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileConfig {
    /// Zero disables the periodic scan.
    pub interval: Duration,
    /// The rate net: more repairs of one route than this within
    /// `damping_window` back off, whoever deleted it (docs/reconcile.md).
    pub max_repairs_per_route: u32,
    pub damping_window: Duration,
    pub damping_max_backoff: Duration,
    /// A fight: the same deleter took the route again within this long of
    /// guardian putting it back...
    pub fight_window: Duration,
    /// ...this many times in a row.
    pub fight_rounds: u32,
}

/// The configured routes with the device names they refer to.
#[derive(Debug, Clone, Default)]
pub struct RouteSet {
    pub specs: Vec<RouteSpec>,
    pub devs: DevNames,
    /// The routes that have liveness (a side table, so `RouteSpec` stays
    /// small), in file order; each has a `RouteSpec` with the same key.
    pub liveness: Vec<LivenessRoute>,
    /// The next hops of the multipath routes (`nexthops`), by identity; each
    /// has a `RouteSpec` with the same key and neither `via` nor `dev`.
    pub multipath: HashMap<RouteKey, Arc<[Nexthop]>>,
    /// Routes left out because `liveness.exclude` covers their destination:
    /// they are in neither `specs` nor `liveness`. Config code logs nothing;
    /// the daemon is to say so in one line at start-up.
    pub excluded: usize,
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    daemon: DaemonSection,
    #[serde(default)]
    reconcile: ReconcileSection,
    #[serde(default)]
    attribution: AttributionSection,
    #[serde(default)]
    liveness: liveness::LivenessSection,
    #[serde(default, rename = "route")]
    routes: Vec<RouteEntry>,
    #[serde(default, rename = "guard")]
    guards: Vec<guard::GuardEntry>,
    bgp: Option<Spanned<bgp::BgpSection>>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DaemonSection {
    control_socket: PathBuf,
    control_socket_group: Option<Spanned<String>>,
    metrics_listen: Spanned<String>,
    route_protocol: Spanned<units::ProtocolText>,
    #[serde(deserialize_with = "units::size")]
    netlink_rcvbuf: u64,
    withdraw_on_exit: bool,
}

impl Default for DaemonSection {
    fn default() -> Self {
        DaemonSection {
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            control_socket_group: None,
            metrics_listen: Spanned::new(0..0, DEFAULT_METRICS_LISTEN.to_owned()),
            route_protocol: Spanned::new(0..0, units::ProtocolText(DEFAULT_ROUTE_PROTOCOL.to_string())),
            // Big enough for a flush of ~10k routes between two reads.
            netlink_rcvbuf: 8 << 20,
            // Routes stay when the daemon stops: a restart must not blackhole.
            withdraw_on_exit: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ReconcileSection {
    #[serde(deserialize_with = "units::duration")]
    interval: Duration,
    max_repairs_per_route: Spanned<u32>,
    #[serde(deserialize_with = "units::duration")]
    damping_window: Duration,
    #[serde(deserialize_with = "units::duration")]
    damping_max_backoff: Duration,
    fight_window: Spanned<units::HumanDuration>,
    fight_rounds: Spanned<u32>,
}

impl Default for ReconcileSection {
    fn default() -> Self {
        ReconcileSection {
            interval: Duration::from_secs(30),
            // A net for what fight detection cannot see (no attribution):
            // loose enough that bad luck (a route of many deleted at random,
            // a few times a minute) never reaches it.
            max_repairs_per_route: Spanned::new(0..0, 30),
            damping_window: Duration::from_secs(60),
            damping_max_backoff: Duration::from_secs(300),
            // A deleter reacting to guardian's repair (a script on `ip
            // monitor`, a daemon re-applying its state) deletes within
            // milliseconds; a random deletion of a route repaired seconds
            // ago is not one.
            fight_window: Spanned::new(0..0, units::HumanDuration(Duration::from_secs(1))),
            fight_rounds: Spanned::new(0..0, 3),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct AttributionSection {
    mode: AttributionMode,
    #[serde(deserialize_with = "units::size")]
    ring_buffer_size: u64,
    all_netns: bool,
    deleter_labels: Vec<String>,
}

impl Default for AttributionSection {
    fn default() -> Self {
        AttributionSection {
            mode: AttributionMode::Auto,
            // A flush of 10,000 routes fits several times over (attribution.md).
            ring_buffer_size: 16 << 20,
            all_netns: false,
            deleter_labels: crate::attribution::deleter::DEFAULT_LABELLED.map(String::from).to_vec(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    dst: Spanned<String>,
    via: Option<Spanned<String>>,
    dev: Option<Spanned<String>>,
    table: Option<Spanned<u32>>,
    src: Option<Spanned<String>>,
    metric: Option<u32>,
    liveness: Option<Spanned<liveness::TargetName>>,
    no_uninstall: Option<Spanned<bool>>,
    nexthops: Option<Spanned<Vec<NexthopEntry>>>,
}

/// One entry of `nexthops = [{ via = "...", dev = "...", weight = 1 }, ...]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NexthopEntry {
    via: Option<Spanned<String>>,
    dev: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
}

// ---- parsing and validation ------------------------------------------------

/// guardian's own route protocol. Routes carrying it are guardian's: it
/// adopts them and withdraws the stale ones. So it must be a number no other
/// routing software claims: not the kernel's and manual routes' 0-4, and not
/// one this system's rt_protos names for anything but guardian (bgp 186 is
/// FRR's and doublezerod's, bird 12 BIRD's, static 196 FRR staticd's).
fn own_protocol(written: &str, protocols: &Protocols) -> Result<u8, String> {
    let n = protocols::resolve(written, protocols)?.number;
    let name = protocols.name(n);
    if n <= 4 {
        return Err(format!(
            "route protocol {n} ({}) is used by the kernel and by manually added routes; guardian withdraws \
             stale routes of its own protocol, so it would delete theirs: keep the default {DEFAULT_ROUTE_PROTOCOL}",
            name.unwrap_or("unspec")
        ));
    }
    match name {
        Some(name) if name != "guardian" => Err(format!(
            "route protocol {n} is {name:?} in this system's rt_protos: other routing software installs routes \
             with it, and guardian withdraws stale routes of its own protocol, so it would delete theirs; keep \
             the default {DEFAULT_ROUTE_PROTOCOL} (a protocol of guardian's own)"
        )),
        _ => Ok(n),
    }
}

impl Config {
    /// The configuration used when `guardian run` is given no file: no
    /// routes, reconciliation on, metrics and control socket at their defaults.
    pub fn embedded_default() -> Config {
        Config::from_toml("", "embedded default").expect("the embedded default configuration is valid")
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// Parses a file, naming route protocols as this system's rt_protos do.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        Config::from_toml_with(text, origin, Protocols::system())
    }

    /// Parses a file with the given protocol names.
    pub fn from_toml_with(text: &str, origin: &str, protocols: &Protocols) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: origin.to_owned(), message };
        let at = |span: std::ops::Range<usize>, key: &str, message: String| {
            invalid(format!("line {}: `{key}`: {message}", line_of(text, span.start)))
        };
        let (file, chunks) = match split_routes(text) {
            Some((header_end, chunks)) => {
                let header = &text[..header_end];
                let file: File = toml::from_str(header).map_err(|e| invalid(describe_toml_error(text, 0, &e)))?;
                (file, chunks)
            }
            None => {
                let file: File = toml::from_str(text).map_err(|e| invalid(describe_toml_error(text, 0, &e)))?;
                (file, Vec::new())
            }
        };

        let d = file.daemon;
        let metrics_listen = match d.metrics_listen.get_ref().trim() {
            "" | "off" => None,
            addr => Some(addr.parse::<SocketAddr>().map_err(|_| {
                at(
                    d.metrics_listen.span(),
                    "daemon.metrics_listen",
                    format!("{addr:?} is not an address:port such as \"127.0.0.1:9469\" (or \"off\")"),
                )
            })?),
        };
        if d.control_socket.as_os_str().is_empty() {
            return Err(invalid("`daemon.control_socket` must be a path, e.g. \"/run/guardian/guardian.sock\"".into()));
        }
        if d.netlink_rcvbuf < 4096 {
            return Err(invalid("`daemon.netlink_rcvbuf` must be at least 4KiB".into()));
        }
        let route_protocol = own_protocol(&d.route_protocol.get_ref().0, protocols)
            .map_err(|e| at(d.route_protocol.span(), "daemon.route_protocol", e))?;
        let control_socket_group = match d.control_socket_group {
            None => None,
            Some(group) => {
                let name = group.get_ref();
                // What groupadd accepts: no empty name, no separators.
                if name.is_empty() || name.len() > 32 || name.contains([':', ',', '/', ' ', '\n']) {
                    let message = format!("{name:?} is not a group name, e.g. \"guardian-ctl\"");
                    return Err(at(group.span(), "daemon.control_socket_group", message));
                }
                Some(name.clone())
            }
        };
        let daemon = DaemonConfig {
            control_socket: d.control_socket,
            control_socket_group,
            metrics_listen,
            route_protocol,
            netlink_rcvbuf: d.netlink_rcvbuf,
            withdraw_on_exit: d.withdraw_on_exit,
        };

        let mut warnings = Vec::new();
        let guards = guard::validate(file.guards, route_protocol, protocols, text, &mut warnings)
            .map_err(|(span, key, message)| at(span, key, message))?;

        let bgp = match file.bgp {
            None => None,
            Some(section) => Some(bgp::validate(section, text).map_err(|(span, key, message)| at(span, key, message))?),
        };

        let r = file.reconcile;
        if *r.max_repairs_per_route.get_ref() == 0 {
            let span = r.max_repairs_per_route.span();
            return Err(at(span, "reconcile.max_repairs_per_route", "must be at least 1".into()));
        }
        if !(1..=100).contains(r.fight_rounds.get_ref()) {
            return Err(at(r.fight_rounds.span(), "reconcile.fight_rounds", "must be from 1 to 100".into()));
        }
        let fight_window = r.fight_window.get_ref().0;
        if fight_window.is_zero() || fight_window > Duration::from_secs(60) {
            let message = format!("must be more than 0s and at most 1m (got {fight_window:?}), e.g. \"1s\"");
            return Err(at(r.fight_window.span(), "reconcile.fight_window", message));
        }
        let reconcile = ReconcileConfig {
            interval: r.interval,
            max_repairs_per_route: *r.max_repairs_per_route.get_ref(),
            damping_window: r.damping_window,
            damping_max_backoff: r.damping_max_backoff.max(Duration::from_secs(1)),
            fight_window,
            fight_rounds: *r.fight_rounds.get_ref(),
        };

        let a = file.attribution;
        let page = 4096;
        if a.ring_buffer_size < page || !a.ring_buffer_size.is_power_of_two() {
            return Err(invalid(format!(
                "`attribution.ring_buffer_size` must be a power of two of at least 4KiB (got {} bytes), e.g. \"16MiB\"",
                a.ring_buffer_size
            )));
        }
        if let Err(e) = crate::attribution::DeleterLabels::new(a.deleter_labels.iter().cloned()) {
            return Err(invalid(format!("`attribution.deleter_labels`: {e}")));
        }
        let attribution = AttributionConfig {
            mode: a.mode,
            ring_buffer_size: a.ring_buffer_size,
            all_netns: a.all_netns,
            deleter_labels: a.deleter_labels,
        };

        let liveness = liveness::validate(file.liveness).map_err(|(span, key, message)| {
            // A key left at its default has no line of its own.
            if span.is_empty() {
                invalid(format!("`{key}`: {message}"))
            } else {
                at(span, key, message)
            }
        })?;

        // Sized once: growing by doubling would leave freed holes in the
        // heap that a million-route daemon keeps as resident memory.
        let count = file.routes.len() + chunks.iter().map(|c| c.routes).sum::<usize>();
        let mut routes = RouteSet { specs: Vec::with_capacity(count), ..RouteSet::default() };
        let mut shared_devs = liveness::SharedDevs::default();
        // Identity -> offset of its first definition, to name both lines of a
        // duplicate. Lines are counted only for an error: counting them for
        // every route would make a million-route file take minutes.
        let mut seen: HashMap<RouteKey, usize> = HashMap::with_capacity(count);
        let mut add = |entry: RouteEntry, base: usize| -> Result<(), ConfigError> {
            let shift = |span: std::ops::Range<usize>| span.start + base..span.end + base;
            let offset = base + entry.dst.span().start;
            let (spec, legs) =
                route_spec(&entry, &mut routes.devs).map_err(|(span, key, msg)| at(shift(span), key, msg))?;
            let live = liveness::route_liveness(&entry, &spec, legs.as_deref(), &routes.devs, &mut shared_devs)
                .map_err(|(span, key, msg)| at(shift(span), key, msg))?;
            if let Some(first) = seen.insert(spec.key, offset) {
                return Err(invalid(format!(
                    "line {}: duplicate route: {} has the same identity (family, table, prefix, tos, metric) as the route on line {}",
                    line_of(text, offset),
                    entry.dst.get_ref(),
                    line_of(text, first)
                )));
            }
            // Excluded routes are validated like the others (a typo is still
            // an error), then left out.
            if liveness.excludes(&spec.key) {
                routes.excluded += 1;
                return Ok(());
            }
            routes.specs.push(spec);
            routes.liveness.extend(live);
            if let Some(legs) = legs {
                routes.multipath.insert(spec.key, legs);
            }
            Ok(())
        };
        for entry in file.routes {
            add(entry, 0)?;
        }
        for chunk in chunks {
            let part: RouteChunk = toml::from_str(&text[chunk.text.clone()])
                .map_err(|e| invalid(describe_toml_error(text, chunk.text.start, &e)))?;
            for entry in part.route {
                add(entry, chunk.text.start)?;
            }
        }
        // `liveness` grew by doubling (its length is not known in advance)
        // and `specs` was sized before exclusion: give the slack back.
        if routes.excluded > 0 {
            routes.specs.shrink_to_fit();
        }
        routes.liveness.shrink_to_fit();
        Ok(Config {
            origin: origin.to_owned(),
            daemon,
            reconcile,
            attribution,
            liveness,
            routes,
            guards,
            bgp,
            warnings,
        })
    }
}

type EntryError = (std::ops::Range<usize>, &'static str, String);

/// A route's spec and, for a multipath route, its next hops.
type SpecAndLegs = (RouteSpec, Option<Arc<[Nexthop]>>);

fn route_spec(entry: &RouteEntry, devs: &mut DevNames) -> Result<SpecAndLegs, EntryError> {
    let (dst, dst_len) = parse_prefix(entry.dst.get_ref()).map_err(|m| (entry.dst.span(), "route.dst", m))?;
    let family = Family::of(&dst);
    let via = match &entry.via {
        None => None,
        Some(v) => {
            let ip = parse_address(v, "route.via", "gateway")?;
            if family == Family::V6 && ip.is_ipv4() {
                return Err((
                    v.span(),
                    "route.via",
                    format!(
                        "an IPv6 route ({}) cannot use an IPv4 gateway ({ip}); the kernel only supports the reverse",
                        entry.dst.get_ref()
                    ),
                ));
            }
            Some(Gateway::from_ip(&ip))
        }
    };
    let src = match &entry.src {
        None => None,
        Some(s) => {
            let ip = parse_address(s, "route.src", "source")?;
            if Family::of(&ip) != family {
                return Err((s.span(), "route.src", format!("source {ip} is not of the route's address family")));
            }
            Some(Addr::from_ip(&ip))
        }
    };
    let dev = match &entry.dev {
        None => None,
        Some(d) => Some(device(d, "route.dev", devs)?),
    };
    let legs = match &entry.nexthops {
        None => None,
        Some(hops) => {
            let both = match (&entry.via, &entry.dev) {
                (Some(v), _) => Some((v.span(), "route.via")),
                (None, Some(d)) => Some((d.span(), "route.dev")),
                (None, None) => None,
            };
            if let Some((span, key)) = both {
                let what = &key["route.".len()..];
                return Err((
                    span,
                    key,
                    format!(
                        "`{what}` and `nexthops` exclude each other: a multipath route names the gateway and \
                         device of each next hop inside `nexthops`"
                    ),
                ));
            }
            Some(nexthops(hops, family, devs)?)
        }
    };
    if via.is_none() && dev.is_none() && legs.is_none() {
        return Err((entry.dst.span(), "route", "a route needs `via`, `dev` or both, or `nexthops`".into()));
    }
    let table = match &entry.table {
        None => MAIN_TABLE,
        Some(t) if *t.get_ref() == 0 => {
            return Err((t.span(), "route.table", "table 0 is not a routing table; leave it out for main".into()))
        }
        Some(t) if *t.get_ref() == 255 => {
            return Err((
                t.span(),
                "route.table",
                "table 255 is the kernel's local table; use a table of your own".into(),
            ))
        }
        Some(t) => *t.get_ref(),
    };
    let metric = entry.metric.unwrap_or(match family {
        Family::V4 => 0,
        // The kernel stores an IPv6 route without a metric as 1024; using the
        // same number keeps the identity equal to what the kernel reports.
        Family::V6 => IPV6_DEFAULT_METRIC,
    });
    let metric = if family == Family::V6 && metric == 0 { IPV6_DEFAULT_METRIC } else { metric };
    let key = RouteKey { family, table, dst: Addr::from_ip(&dst), dst_len, tos: 0, metric };
    Ok((RouteSpec { key, via, dev, src }, legs))
}

/// An interface name, interned.
fn device(d: &Spanned<String>, key: &'static str, devs: &mut DevNames) -> Result<crate::route::DevId, EntryError> {
    let name = d.get_ref();
    // IFNAMSIZ is 16 including the terminating NUL.
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
        return Err((d.span(), key, format!("{name:?} is not a valid interface name")));
    }
    Ok(devs.intern(name))
}

/// The legs of a multipath route: at least two, each with a gateway of the
/// route's family and a device (guardian compares the kernel's route leg by
/// leg, device included, so it cannot leave the device to the kernel), a
/// weight of 1-256, no two alike.
fn nexthops(
    hops: &Spanned<Vec<NexthopEntry>>,
    family: Family,
    devs: &mut DevNames,
) -> Result<Arc<[Nexthop]>, EntryError> {
    const KEY: &str = "route.nexthops";
    let list = hops.get_ref();
    if list.len() < 2 {
        return Err((
            hops.span(),
            KEY,
            format!(
                "a multipath route needs at least two next hops (got {}); for one, write `via` and `dev` on the \
                 route itself",
                list.len()
            ),
        ));
    }
    if list.len() > MAX_NEXTHOPS {
        return Err((hops.span(), KEY, format!("at most {MAX_NEXTHOPS} next hops (got {})", list.len())));
    }
    let mut legs: Vec<Nexthop> = Vec::with_capacity(list.len());
    for (n, hop) in list.iter().enumerate() {
        let Some(via) = &hop.via else {
            return Err((hops.span(), "route.nexthops.via", format!("next hop {} has no `via` (its gateway)", n + 1)));
        };
        let ip = parse_address(via, "route.nexthops.via", "gateway")?;
        if Family::of(&ip) != family {
            return Err((
                via.span(),
                "route.nexthops.via",
                format!("gateway {ip} is not of the route's address family"),
            ));
        }
        let Some(dev) = &hop.dev else {
            return Err((
                via.span(),
                "route.nexthops.dev",
                format!(
                    "next hop {ip} has no `dev`: guardian compares each next hop of the kernel's route, device \
                     included, so name the device, e.g. {{ via = \"{ip}\", dev = \"eth0\" }}"
                ),
            ));
        };
        let dev_id = device(dev, "route.nexthops.dev", devs)?;
        let weight = match &hop.weight {
            None => 1,
            Some(w) => match u16::try_from(*w.get_ref()) {
                Ok(w @ 1..=256) => w,
                _ => {
                    let message = format!("must be 1-256 (got {})", w.get_ref());
                    return Err((w.span(), "route.nexthops.weight", message));
                }
            },
        };
        let leg = Nexthop { via: Gateway::from_ip(&ip), dev: dev_id, weight };
        if legs.iter().any(|l| (l.via, l.dev) == (leg.via, leg.dev)) {
            return Err((via.span(), "route.nexthops", format!("next hop {ip} dev {} is listed twice", dev.get_ref())));
        }
        legs.push(leg);
    }
    Ok(legs.into())
}

fn parse_address(field: &Spanned<String>, key: &'static str, what: &str) -> Result<IpAddr, EntryError> {
    let text = field.get_ref();
    text.trim().parse().map_err(|_| (field.span(), key, format!("invalid {what} address {text:?}")))
}

/// Parses "10.9.0.0/24" (a bare address is a host route). Host bits must be
/// zero, as the kernel refuses such a prefix.
fn parse_prefix(text: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("invalid prefix {text:?}; write e.g. \"10.9.0.0/24\" or \"2001:db8::/64\"");
    let (addr, len) = match text.trim().split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text.trim(), None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = Family::of(&ip).max_prefix();
    let len = match len {
        None => max,
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(bad)?,
    };
    let host_bits_set = match ip {
        IpAddr::V4(v4) => len < 32 && (u32::from(v4) << len) != 0,
        IpAddr::V6(v6) => len < 128 && (u128::from(v6) << len) != 0,
    };
    if host_bits_set {
        return Err(format!("invalid prefix {text:?}: host bits are set after /{len}"));
    }
    Ok((ip, len))
}

/// Routes parsed per chunk: toml builds a whole document in memory (about
/// 2 KB per route), so a million-route file parsed at once peaks above
/// 2 GiB and spends much of its time faulting in fresh pages.
const ROUTES_PER_CHUNK: usize = 4096;

/// A slice of the file holding `routes` whole `[[route]]` tables.
struct Chunk {
    text: std::ops::Range<usize>,
    routes: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteChunk {
    route: Vec<RouteEntry>,
}

/// Splits a file whose routes all follow its other tables into the part
/// before the first `[[route]]` and chunks of routes, each a valid document
/// of its own. `None` (parse the file whole) for any layout where a split
/// could cut through something: another table after the routes, a header
/// with a comment, multi-line strings.
fn split_routes(text: &str) -> Option<(usize, Vec<Chunk>)> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return None;
    }
    let mut headers = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == "[[route]]" {
            headers.push(offset);
        } else if trimmed.starts_with('[') && !headers.is_empty() {
            return None;
        }
        offset += line.len();
    }
    let first = *headers.first()?;
    let mut chunks = Vec::with_capacity(headers.len() / ROUTES_PER_CHUNK + 1);
    for (n, start) in headers.iter().enumerate().step_by(ROUTES_PER_CHUNK) {
        let end = headers.get(n + ROUTES_PER_CHUNK).copied().unwrap_or(text.len());
        chunks.push(Chunk { text: *start..end, routes: (headers.len() - n).min(ROUTES_PER_CHUNK) });
    }
    Some((first, chunks))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// toml's own message spans several lines with a caret diagram; an operator
/// wants one line that names the line and the key.
fn describe_toml_error(text: &str, base: usize, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let span = span.start + base..span.end + base;
            let line = line_of(text, span.start);
            // The whole line names the key even where toml's message does not.
            let line_start = text[..span.start.min(text.len())].rfind('\n').map_or(0, |n| n + 1);
            let snippet = text[line_start..].lines().next().unwrap_or("").trim();
            if snippet.is_empty() {
                format!("line {line}: {message}")
            } else {
                format!("line {line}: {message} (at `{snippet}`)")
            }
        }
        None => message,
    }
}

#[cfg(test)]
mod tests;
