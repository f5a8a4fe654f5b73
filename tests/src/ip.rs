//! Reading routes from the kernel with `ip -j route show` inside a namespace.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::config::RouteSpec;
use crate::netns::Netns;
use crate::wait;

/// guardian's default route protocol number.
pub const PROTO_GUARDIAN: &str = "201";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(prefix: &str) -> Family {
        if prefix.contains(':') {
            Family::V6
        } else {
            Family::V4
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

/// One kernel route as `ip -N -j route` shows it (numbers for protocol and
/// scope, whatever /etc/iproute2 names them), with `dst` always in
/// `addr/len` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelRoute {
    pub dst: String,
    pub gateway: Option<String>,
    pub dev: Option<String>,
    pub protocol: String,
    pub metric: u32,
    pub prefsrc: Option<String>,
    /// `unicast`, `blackhole`, ...
    pub kind: String,
}

impl KernelRoute {
    fn from_json(v: &Value, family: Family) -> KernelRoute {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        KernelRoute {
            dst: normalize_dst(&s("dst").unwrap_or_default(), family),
            gateway: s("gateway"),
            dev: s("dev"),
            protocol: match v.get("protocol") {
                Some(Value::String(p)) => p.clone(),
                Some(other) => other.to_string(),
                None => "0".into(),
            },
            metric: v.get("metric").and_then(Value::as_u64).unwrap_or(0) as u32,
            prefsrc: s("prefsrc"),
            kind: s("type").unwrap_or_else(|| "unicast".into()),
        }
    }
}

/// `10.0.0.1` -> `10.0.0.1/32`, `default` -> `0.0.0.0/0`.
pub fn normalize_dst(dst: &str, family: Family) -> String {
    let (all, host) = match family {
        Family::V4 => ("0.0.0.0/0", "/32"),
        Family::V6 => ("::/0", "/128"),
    };
    if dst == "default" {
        all.to_owned()
    } else if dst.contains('/') {
        dst.to_owned()
    } else {
        format!("{dst}{host}")
    }
}

/// All routes of `family` in `table` ("main", "100", ...) of the namespace.
pub fn routes(ns: &Netns, family: Family, table: &str) -> Vec<KernelRoute> {
    let out = ns.ip_try(&["-N", "-j", family.flag(), "route", "show", "table", table]);
    // A table nothing was ever put in does not exist yet: it is empty.
    if !out.success() && out.stderr.contains("table does not exist") {
        return Vec::new();
    }
    assert!(out.success(), "ip route show table {table}: {}", out.stderr.trim());
    let text = out.stdout.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let v: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("ip -j route output is not JSON ({e}): {text}"));
    v.as_array()
        .unwrap_or_else(|| panic!("ip -j route output is not an array: {text}"))
        .iter()
        .map(|r| KernelRoute::from_json(r, family))
        .collect()
}

/// The route with destination `dst` (any length form accepted) in `table`.
pub fn find(ns: &Netns, dst: &str, table: &str) -> Option<KernelRoute> {
    let family = Family::of(dst);
    let dst = normalize_dst(dst, family);
    routes(ns, family, table).into_iter().find(|r| r.dst == dst)
}

/// Destinations of the routes in `table` that carry `protocol`.
pub fn dsts_with_protocol(ns: &Netns, family: Family, table: &str, protocol: &str) -> BTreeSet<String> {
    routes(ns, family, table).into_iter().filter(|r| r.protocol == protocol).map(|r| r.dst).collect()
}

/// The metric the kernel gives a route without one (0 for IPv4, 1024 for IPv6).
pub fn default_metric(family: Family) -> u32 {
    match family {
        Family::V4 => 0,
        Family::V6 => 1024,
    }
}

impl KernelRoute {
    /// True when this kernel route is `spec` as guardian installs it:
    /// same prefix, gateway, device (when configured), preferred source,
    /// metric, type unicast and guardian's protocol.
    pub fn is_installed(&self, spec: &RouteSpec) -> bool {
        let family = Family::of(&spec.dst);
        self.dst == normalize_dst(&spec.dst, family)
            && self.gateway == spec.via
            && (spec.dev.is_none() || self.dev == spec.dev)
            && self.prefsrc == spec.src
            && self.metric == spec.metric.unwrap_or_else(|| default_metric(family))
            && self.kind == "unicast"
            && self.protocol == PROTO_GUARDIAN
    }
}

/// Waits until `spec` is in the kernel exactly as guardian installs it.
pub fn wait_installed(ns: &Netns, spec: &RouteSpec, timeout: Duration) -> KernelRoute {
    let table = spec.table_arg();
    wait::until(&format!("{} installed in table {table}", spec.dst), timeout, || {
        let all = routes(ns, Family::of(&spec.dst), &table);
        all.iter().find(|r| r.is_installed(spec)).cloned().ok_or_else(|| format!("{spec:?} not in {all:?}"))
    })
}

/// Waits until no route with destination `dst` is in `table`.
pub fn wait_absent(ns: &Netns, dst: &str, table: &str, timeout: Duration) {
    wait::until(&format!("{dst} gone from table {table}"), timeout, || match find(ns, dst, table) {
        Some(r) => Err(format!("still there: {r:?}")),
        None => Ok(()),
    })
}

/// Waits until the routes with guardian's protocol in `table` are exactly
/// `specs` (all in that table and family), each with its gateway. On
/// timeout the message says how many are missing/unexpected.
pub fn wait_exact_set(ns: &Netns, family: Family, table: &str, specs: &[RouteSpec], timeout: Duration) {
    let want: BTreeSet<(String, Option<String>)> =
        specs.iter().map(|s| (normalize_dst(&s.dst, family), s.via.clone())).collect();
    wait::until(&format!("the {} configured routes in table {table}", want.len()), timeout, || {
        let have: BTreeSet<(String, Option<String>)> = routes(ns, family, table)
            .into_iter()
            .filter(|r| r.protocol == PROTO_GUARDIAN)
            .map(|r| (r.dst, r.gateway))
            .collect();
        if have == want {
            return Ok(());
        }
        let missing: Vec<_> = want.difference(&have).take(3).collect();
        let extra: Vec<_> = have.difference(&want).take(3).collect();
        Err(format!(
            "{} missing (e.g. {missing:?}), {} unexpected (e.g. {extra:?})",
            want.difference(&have).count(),
            have.difference(&want).count()
        ))
    })
}
