//! The `[liveness]` section and the per-route `liveness` / `no_uninstall`
//! keys (docs/liveness.md), validated into [`LivenessConfig`]
//! and a side table of [`LivenessRoute`]s.
//!
//! The side table holds only the routes that have liveness, so
//! [`RouteSpec`] (a million of them in memory) does not grow by a byte.

use super::units::HumanDuration;
use super::{parse_prefix, EntryError, RouteEntry};
use crate::messages::GateKey;
use crate::route::{Addr, DevId, DevNames, Family, Nexthop, RouteKey, RouteSpec};
use auth::AuthKey;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

/// The timer queue's bound when none is configured: this many entries per
/// session, and never fewer than [`MIN_DEFAULT_QUEUE_BOUND`] (docs/liveness.md).
pub const QUEUE_ENTRIES_PER_SESSION: usize = 4;
pub const MIN_DEFAULT_QUEUE_BOUND: usize = 10_240;

/// Which wire format a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// RFC 5880 / 5881 single-hop BFD, UDP port 3784.
    Bfd,
    /// The DoubleZero client's 40-byte route-liveness packet, UDP port 44880.
    DoubleZero,
}

impl Profile {
    pub fn label(self) -> &'static str {
        match self {
            Profile::Bfd => "bfd",
            Profile::DoubleZero => "doublezero",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Profile::Bfd => 3784,
            Profile::DoubleZero => 44880,
        }
    }
}

/// The `[liveness]` section, validated. Compared on reload (SIGHUP) so the
/// daemon can tell what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessConfig {
    /// The wire format every session speaks.
    pub profile: Profile,
    /// The UDP port control packets are received on (and sent to).
    pub port: u16,
    /// Local desired minimum TX interval.
    pub desired_tx: Duration,
    /// Local required minimum RX interval.
    pub required_rx: Duration,
    /// 1-255.
    pub detect_multiplier: u8,
    /// Peer intervals are clamped to [min_tx_floor, max_tx_ceil].
    pub min_tx_floor: Duration,
    pub max_tx_ceil: Duration,
    /// The cap of the TX interval's doubling while a session is Down.
    pub backoff_max: Duration,
    /// The timer queue bound as configured; `None` means the default, which
    /// depends on the number of sessions: see [`LivenessConfig::queue_bound`].
    pub queue_bound: Option<usize>,
    pub mode: LivenessMode,
    /// Keep (never withdraw) the routes of a peer that says it is passive.
    pub honour_peer_passive: bool,
    /// Per-peer metrics (state, detection time): one series per session,
    /// off by default for cardinality's sake.
    pub per_peer_metrics: bool,
    /// Routes whose destination lies inside one of these never reach the
    /// kernel and are never tracked (they are not in [`super::RouteSet`]).
    pub exclude: Vec<Prefix>,
    /// `[liveness.auth]`: `bfd` authentication with this key (RFC 5880 6.7).
    pub auth: Option<AuthKey>,
}

impl LivenessConfig {
    /// The timer queue bound for `sessions` sessions: the configured one,
    /// else 4 per session and at least 10,240.
    pub fn queue_bound(&self, sessions: usize) -> usize {
        self.queue_bound
            .unwrap_or_else(|| sessions.saturating_mul(QUEUE_ENTRIES_PER_SESSION).max(MIN_DEFAULT_QUEUE_BOUND))
    }

    /// Whether a route with this identity is excluded.
    pub fn excludes(&self, key: &RouteKey) -> bool {
        self.exclude.iter().any(|p| p.covers(key))
    }
}

impl Default for LivenessConfig {
    /// The configuration of a file without `[liveness]`.
    fn default() -> Self {
        validate(LivenessSection::default()).expect("the default liveness section is valid")
    }
}

/// What liveness does to a route whose session is not Up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LivenessMode {
    /// Install on Up; withdraw on Down, Init and AdminDown.
    Active,
    /// Install at registration and never withdraw; sessions still run and
    /// are observed.
    Passive,
}

impl LivenessMode {
    pub fn label(self) -> &'static str {
        match self {
            LivenessMode::Active => "active",
            LivenessMode::Passive => "passive",
        }
    }
}

/// An IPv4 or IPv6 prefix, host bits zero (as `exclude` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// Whether the route's destination lies inside this prefix: same family,
    /// at least as long, and the same leading `len` bits.
    pub fn covers(&self, key: &RouteKey) -> bool {
        self.contains_bits(key.family, key.dst, key.dst_len)
    }

    /// Whether the destination `dst/dst_len` lies inside this prefix (the
    /// same test as [`Prefix::covers`], for a destination not in a key).
    pub fn contains(&self, dst: IpAddr, dst_len: u8) -> bool {
        self.contains_bits(Family::of(&dst), Addr::from_ip(&dst), dst_len)
    }

    /// Whether some destination lies inside both: one contains the other.
    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.contains(other.addr, other.len) || other.contains(self.addr, self.len)
    }

    fn contains_bits(&self, family: Family, dst: Addr, dst_len: u8) -> bool {
        if dst_len < self.len || family != Family::of(&self.addr) {
            return false;
        }
        let bits = |a: Addr| u128::from_be_bytes(a.0);
        // IPv4 sits in the first four bytes of an `Addr`, so the same mask works.
        let mask = if self.len == 0 { 0 } else { u128::MAX << (128 - u32::from(self.len)) };
        bits(dst) & mask == bits(Addr::from_ip(&self.addr)) & mask
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// What a route's session probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LivenessTarget {
    /// The route's gateway (`via`): classic BFD for a BGP next hop.
    Nexthop,
    /// The destination itself (a /32 or /128): the DoubleZero per-peer model.
    Destination,
}

impl LivenessTarget {
    pub fn label(self) -> &'static str {
        match self {
            LivenessTarget::Nexthop => "nexthop",
            LivenessTarget::Destination => "destination",
        }
    }
}

/// A configured route that has liveness. Its other attributes are those of
/// the [`RouteSpec`] with the same `key` in the same [`super::RouteSet`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LivenessRoute {
    /// The route, or for a multipath route with `liveness = "nexthop"` one
    /// of its legs: each leg follows its own next hop's session.
    pub key: GateKey,
    pub target: LivenessTarget,
    /// The address the session talks to: the gateway for `Nexthop`, the
    /// destination for `Destination`.
    pub peer: IpAddr,
    /// The route's device, which probes are pinned to. A name rather than a
    /// [`DevId`], so two configurations compare equal without their name
    /// tables; one allocation per distinct name.
    pub dev: Option<Arc<str>>,
    /// The route's preferred source, the session's local address; `None`
    /// when the route has none or it is not of the peer's family (an IPv4
    /// route via an IPv6 next hop probes over IPv6).
    pub src: Option<IpAddr>,
    /// Keep the route installed whatever the session's state.
    pub no_uninstall: bool,
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct LivenessSection {
    #[serde(deserialize_with = "profile")]
    profile: Profile,
    port: Option<Spanned<i64>>,
    desired_tx: Spanned<HumanDuration>,
    required_rx: Spanned<HumanDuration>,
    detect_multiplier: Spanned<i64>,
    min_tx_floor: Spanned<HumanDuration>,
    max_tx_ceil: Spanned<HumanDuration>,
    backoff_max: Spanned<HumanDuration>,
    queue_bound: Option<Spanned<i64>>,
    mode: LivenessMode,
    honour_peer_passive: bool,
    per_peer_metrics: bool,
    exclude: Vec<Spanned<String>>,
    auth: Option<Spanned<auth::AuthSection>>,
}

/// A default value: its empty span tells validation it was not written, so
/// an error names a key that is in the file.
fn default<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn secs(s: u64) -> Spanned<HumanDuration> {
    default(HumanDuration(Duration::from_secs(s)))
}

impl Default for LivenessSection {
    fn default() -> Self {
        LivenessSection {
            // Speaks to BIRD, FRR and other guardians.
            profile: Profile::Bfd,
            // The profile's own: 3784 (RFC 5881) or 44880.
            port: None,
            // RFC 5880's conservative one-second rate; detection after 3 s.
            desired_tx: secs(1),
            required_rx: secs(1),
            detect_multiplier: default(3),
            // A peer may not ask for more than 20 packets a second...
            min_tx_floor: default(HumanDuration(Duration::from_millis(50))),
            // ...nor for fewer than one every 3 s.
            max_tx_ceil: secs(3),
            // A peer that is gone gets a packet a minute at most.
            backoff_max: secs(60),
            // 4 per session, at least 10,240 (LivenessConfig::queue_bound).
            queue_bound: None,
            // Withdraw routes whose session is not Up.
            mode: LivenessMode::Active,
            // A peer that says it is passive does not want its routes withdrawn.
            honour_peer_passive: true,
            per_peer_metrics: false,
            exclude: Vec::new(),
            // No authentication: BIRD's and FRR's default too.
            auth: None,
        }
    }
}

fn profile<'de, D: Deserializer<'de>>(d: D) -> Result<Profile, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_str() {
        "bfd" => Ok(Profile::Bfd),
        "doublezero" => Ok(Profile::DoubleZero),
        _ => Err(de::Error::custom(format!(
            "unknown liveness profile {text:?}; use \"bfd\" (RFC 5880, port 3784) or \"doublezero\" (port 44880)"
        ))),
    }
}

/// The per-route `liveness` key as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum TargetName {
    Off,
    Nexthop,
    Destination,
}

// ---- validation ------------------------------------------------------------

/// Intervals travel on the wire as 32-bit microsecond counts (about 71
/// minutes at most); a round hour is the largest accepted.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Below this a floor no longer protects anything (see the error).
const MIN_FLOOR: Duration = Duration::from_millis(1);

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `value` of `key` as an error message shows it, marking a default.
fn shown<T>(key: &str, value: &Spanned<T>, text: String) -> String {
    if value.span().is_empty() {
        format!("{key} ({text}, the default)")
    } else {
        format!("{key} ({text})")
    }
}

/// The span and key an error between two keys names: the first if it was
/// written, else the second (an empty span when neither was: the caller
/// then names no line).
fn blame<A, B>(a: (&'static str, &Spanned<A>), b: (&'static str, &Spanned<B>)) -> (Range<usize>, &'static str) {
    if !a.1.span().is_empty() || b.1.span().is_empty() {
        (a.1.span(), a.0)
    } else {
        (b.1.span(), b.0)
    }
}

pub(super) fn validate(s: LivenessSection) -> Result<LivenessConfig, EntryError> {
    let port = match &s.port {
        None => s.profile.default_port(),
        Some(p) => u16::try_from(*p.get_ref())
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| (p.span(), "liveness.port", format!("must be a UDP port, 1-65535 (got {})", p.get_ref())))?,
    };
    let multiplier = *s.detect_multiplier.get_ref();
    let detect_multiplier = u8::try_from(multiplier).ok().filter(|m| *m != 0).ok_or_else(|| {
        (
            s.detect_multiplier.span(),
            "liveness.detect_multiplier",
            format!("must be 1-255 (got {multiplier}): a session goes Down after this many intervals without a packet"),
        )
    })?;

    let floor = s.min_tx_floor.get_ref().0;
    let ceil = s.max_tx_ceil.get_ref().0;
    if floor < MIN_FLOOR {
        return Err((
            s.min_tx_floor.span(),
            "liveness.min_tx_floor",
            format!(
                "must be at least 1ms (got {}): peer intervals are clamped to this floor, and below 1ms a peer \
                 could make guardian send as fast as the CPU allows and declare a session Down after a mere \
                 scheduling delay, so sessions would flap",
                show(floor)
            ),
        ));
    }
    if ceil > MAX_INTERVAL {
        return Err((
            s.max_tx_ceil.span(),
            "liveness.max_tx_ceil",
            format!(
                "must be at most 1h (got {}): intervals travel as 32-bit microsecond counts (~71 minutes)",
                show(ceil)
            ),
        ));
    }
    if floor > ceil {
        let (span, key) = blame(("liveness.max_tx_ceil", &s.max_tx_ceil), ("liveness.min_tx_floor", &s.min_tx_floor));
        let message = format!(
            "{} is above {}",
            shown("min_tx_floor", &s.min_tx_floor, show(floor)),
            shown("max_tx_ceil", &s.max_tx_ceil, show(ceil))
        );
        return Err((span, key, message));
    }
    for (key, name, value) in
        [("liveness.desired_tx", "desired_tx", &s.desired_tx), ("liveness.required_rx", "required_rx", &s.required_rx)]
    {
        let d = value.get_ref().0;
        let bound = if d < floor {
            ("liveness.min_tx_floor", &s.min_tx_floor)
        } else if d > ceil {
            ("liveness.max_tx_ceil", &s.max_tx_ceil)
        } else {
            continue;
        };
        let (span, key) = blame((key, value), bound);
        let message = format!(
            "{} must lie within [min_tx_floor, max_tx_ceil] = [{}, {}]",
            shown(name, value, show(d)),
            show(floor),
            show(ceil)
        );
        return Err((span, key, message));
    }
    let desired_tx = s.desired_tx.get_ref().0;
    let backoff_max = s.backoff_max.get_ref().0;
    if backoff_max < desired_tx {
        let (span, key) = blame(("liveness.backoff_max", &s.backoff_max), ("liveness.desired_tx", &s.desired_tx));
        let message = format!(
            "{} must be at least {}: while Down the TX interval doubles from it up to this cap",
            shown("backoff_max", &s.backoff_max, show(backoff_max)),
            shown("desired_tx", &s.desired_tx, show(desired_tx)),
        );
        return Err((span, key, message));
    }
    let queue_bound = match &s.queue_bound {
        None => None,
        Some(q) => Some(usize::try_from(*q.get_ref()).ok().filter(|q| *q != 0).ok_or_else(|| {
            (
                q.span(),
                "liveness.queue_bound",
                format!(
                    "must be at least 1 (got {}); leave it out for the default, 4 per session and at least 10240",
                    q.get_ref()
                ),
            )
        })?),
    };
    let mut exclude = Vec::with_capacity(s.exclude.len());
    for entry in &s.exclude {
        let (addr, len) = parse_prefix(entry.get_ref()).map_err(|m| (entry.span(), "liveness.exclude", m))?;
        exclude.push(Prefix { addr, len });
    }
    Ok(LivenessConfig {
        profile: s.profile,
        port,
        desired_tx,
        required_rx: s.required_rx.get_ref().0,
        detect_multiplier,
        min_tx_floor: floor,
        max_tx_ceil: ceil,
        backoff_max,
        queue_bound,
        mode: s.mode,
        honour_peer_passive: s.honour_peer_passive,
        per_peer_metrics: s.per_peer_metrics,
        exclude,
        auth: s.auth.as_ref().map(|a| auth::validate(a, s.profile)).transpose()?,
    })
}

/// Device names shared by the [`LivenessRoute`]s of one file: one `Arc` per
/// [`DevId`], made when a liveness route first uses it.
#[derive(Default)]
pub(super) struct SharedDevs(Vec<Option<Arc<str>>>);

impl SharedDevs {
    fn get(&mut self, id: DevId, devs: &DevNames) -> Arc<str> {
        let i = id.index();
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        self.0[i].get_or_insert_with(|| Arc::from(devs.name(id))).clone()
    }
}

/// The route's liveness entries: none for `liveness = "off"` (the
/// default), one per leg for a multipath route with `liveness = "nexthop"`
/// (each leg follows its own next hop), else one.
pub(super) fn route_liveness(
    entry: &RouteEntry,
    spec: &RouteSpec,
    legs: Option<&[Nexthop]>,
    devs: &DevNames,
    shared: &mut SharedDevs,
) -> Result<Vec<LivenessRoute>, EntryError> {
    let no_uninstall = entry.no_uninstall.as_ref().map(|n| (*n.get_ref(), n.span()));
    let written = entry.liveness.as_ref().map(|t| (*t.get_ref(), t.span()));
    let (target, span) = match written {
        None | Some((TargetName::Off, _)) => {
            if let Some((true, span)) = no_uninstall {
                return Err((
                    span,
                    "route.no_uninstall",
                    "only applies to a route with `liveness = \"nexthop\"` or `\"destination\"`; this one has none"
                        .into(),
                ));
            }
            return Ok(Vec::new());
        }
        Some((TargetName::Nexthop, span)) => (LivenessTarget::Nexthop, span),
        Some((TargetName::Destination, span)) => (LivenessTarget::Destination, span),
    };
    let key = &spec.key;
    let no_uninstall = no_uninstall.is_some_and(|(n, _)| n);
    let mut entry = |key: GateKey, peer: IpAddr, dev: Option<DevId>| LivenessRoute {
        key,
        target,
        peer,
        dev: dev.map(|id| shared.get(id, devs)),
        src: spec.src.map(|a| a.to_ip(spec.key.family)).filter(|s| s.is_ipv4() == peer.is_ipv4()),
        no_uninstall,
    };
    match target {
        LivenessTarget::Nexthop => match legs {
            // Legs always name their device, so a link-local gateway is fine.
            Some(legs) => Ok(legs
                .iter()
                .enumerate()
                .map(|(n, leg)| entry(GateKey { route: *key, leg: Some(n as u8) }, leg.via.ip(), Some(leg.dev)))
                .collect()),
            None => {
                let Some(gw) = spec.via else {
                    return Err((
                        span,
                        "route.liveness",
                        "\"nexthop\" probes the route's gateway, and this route has no `via`; add one, or use \
                         \"destination\" on a /32 or /128 route"
                            .into(),
                    ));
                };
                let ip = gw.ip();
                if spec.dev.is_none() && matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()) {
                    return Err((
                        span,
                        "route.liveness",
                        format!("the link-local next hop {ip} is probed on one link: the route needs `dev`"),
                    ));
                }
                Ok(vec![entry((*key).into(), ip, spec.dev)])
            }
        },
        LivenessTarget::Destination => {
            if key.dst_len != key.family.max_prefix() {
                return Err((
                    span,
                    "route.liveness",
                    format!(
                        "\"destination\" probes the destination address itself, so it needs a host route \
                         (/32 or /128); {}/{} is a /{}",
                        key.dst_ip(),
                        key.dst_len,
                        key.dst_len
                    ),
                ));
            }
            // A multipath route probed at its destination is gated whole,
            // its probes sent over whichever leg the kernel picks.
            Ok(vec![entry((*key).into(), key.dst_ip(), spec.dev)])
        }
    }
}

pub mod auth;
#[cfg(test)]
mod tests;
