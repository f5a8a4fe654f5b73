//! Building guardian configuration files (TOML) for tests.

use std::fmt::Write;

/// One `[[route]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: String,
    pub via: Option<String>,
    pub dev: Option<String>,
    pub table: Option<u32>,
    pub src: Option<String>,
    pub metric: Option<u32>,
    /// `liveness = "off" | "nexthop" | "destination"`; unset: not written.
    pub liveness: Option<String>,
    /// `no_uninstall = true|false`; unset: not written.
    pub no_uninstall: Option<bool>,
    /// `nexthops = [{ via, dev, weight }, ...]` (a multipath route); empty: not written.
    pub nexthops: Vec<(String, String, Option<u16>)>,
}

impl RouteSpec {
    pub fn new(dst: &str) -> RouteSpec {
        RouteSpec {
            dst: dst.to_owned(),
            via: None,
            dev: None,
            table: None,
            src: None,
            metric: None,
            liveness: None,
            no_uninstall: None,
            nexthops: Vec::new(),
        }
    }
    pub fn via(mut self, via: &str) -> Self {
        self.via = Some(via.to_owned());
        self
    }
    pub fn dev(mut self, dev: &str) -> Self {
        self.dev = Some(dev.to_owned());
        self
    }
    pub fn table(mut self, table: u32) -> Self {
        self.table = Some(table);
        self
    }
    pub fn src(mut self, src: &str) -> Self {
        self.src = Some(src.to_owned());
        self
    }
    pub fn metric(mut self, metric: u32) -> Self {
        self.metric = Some(metric);
        self
    }
    /// The route's liveness target: `"off"`, `"nexthop"` or `"destination"`.
    pub fn liveness(mut self, target: &str) -> Self {
        self.liveness = Some(target.to_owned());
        self
    }
    /// One more next hop of a multipath route (`weight` unset: not written).
    pub fn nexthop(mut self, via: &str, dev: &str, weight: Option<u16>) -> Self {
        self.nexthops.push((via.to_owned(), dev.to_owned(), weight));
        self
    }
    pub fn no_uninstall(mut self, keep: bool) -> Self {
        self.no_uninstall = Some(keep);
        self
    }

    /// The table as `ip route show table` takes it.
    pub fn table_arg(&self) -> String {
        self.table.map_or_else(|| "main".to_owned(), |t| t.to_string())
    }
}

/// A configuration file: `[daemon]`, `[reconcile]`, `[attribution]` and
/// `[liveness]` keys (values written as TOML literals, e.g. `"\"4KiB\""`
/// or `"201"`) and routes.
#[derive(Debug, Clone, Default)]
pub struct Config {
    daemon: Vec<(String, String)>,
    reconcile: Vec<(String, String)>,
    attribution: Vec<(String, String)>,
    liveness: Vec<(String, String)>,
    liveness_auth: Vec<(String, String)>,
    pub routes: Vec<RouteSpec>,
    guards: Vec<Vec<(String, String)>>,
    /// TOML written as is after everything else (`[bgp]` and its neighbors).
    extra: Vec<String>,
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// TOML text appended as is, e.g. a `[bgp]` section.
    pub fn text(mut self, toml: &str) -> Self {
        self.extra.push(toml.to_owned());
        self
    }

    /// `[daemon] key = value` (value is a TOML literal).
    pub fn daemon(mut self, key: &str, value: &str) -> Self {
        self.daemon.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `[reconcile] key = value` (value is a TOML literal).
    pub fn reconcile(mut self, key: &str, value: &str) -> Self {
        self.reconcile.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `[attribution] key = value` (value is a TOML literal).
    pub fn attribution(mut self, key: &str, value: &str) -> Self {
        self.attribution.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `[liveness] key = value` (value is a TOML literal, e.g. `"\"100ms\""`).
    /// Setting a key again replaces its value, so a test can start from a
    /// shared base configuration and override one key.
    pub fn liveness(mut self, key: &str, value: &str) -> Self {
        match self.liveness.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.liveness.push((key.to_owned(), value.to_owned())),
        }
        self
    }

    /// `[liveness.auth] key = value` (value is a TOML literal).
    pub fn liveness_auth(mut self, key: &str, value: &str) -> Self {
        self.liveness_auth.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn route(mut self, route: RouteSpec) -> Self {
        self.routes.push(route);
        self
    }

    /// A `[[guard]]` with these keys (values written as TOML literals,
    /// e.g. `("owner", "[\"bird\"]")`).
    pub fn guard(mut self, keys: &[(&str, &str)]) -> Self {
        self.guards.push(keys.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        self
    }

    pub fn routes(mut self, routes: impl IntoIterator<Item = RouteSpec>) -> Self {
        self.routes.extend(routes);
        self
    }

    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for (section, keys) in [
            ("daemon", &self.daemon),
            ("reconcile", &self.reconcile),
            ("attribution", &self.attribution),
            ("liveness", &self.liveness),
            ("liveness.auth", &self.liveness_auth),
        ] {
            if !keys.is_empty() {
                let _ = writeln!(s, "[{section}]");
                for (k, v) in keys {
                    let _ = writeln!(s, "{k} = {v}");
                }
                s.push('\n');
            }
        }
        for guard in &self.guards {
            s.push_str("[[guard]]\n");
            for (k, v) in guard {
                let _ = writeln!(s, "{k} = {v}");
            }
            s.push('\n');
        }
        for r in &self.routes {
            s.push_str("[[route]]\n");
            let _ = writeln!(s, "dst = \"{}\"", r.dst);
            if let Some(v) = &r.via {
                let _ = writeln!(s, "via = \"{v}\"");
            }
            if let Some(v) = &r.dev {
                let _ = writeln!(s, "dev = \"{v}\"");
            }
            if let Some(v) = r.table {
                let _ = writeln!(s, "table = {v}");
            }
            if let Some(v) = &r.src {
                let _ = writeln!(s, "src = \"{v}\"");
            }
            if let Some(v) = r.metric {
                let _ = writeln!(s, "metric = {v}");
            }
            if let Some(v) = &r.liveness {
                let _ = writeln!(s, "liveness = \"{v}\"");
            }
            if let Some(v) = r.no_uninstall {
                let _ = writeln!(s, "no_uninstall = {v}");
            }
            if !r.nexthops.is_empty() {
                let hops: Vec<String> = r
                    .nexthops
                    .iter()
                    .map(|(via, dev, weight)| match weight {
                        Some(w) => format!("{{ via = \"{via}\", dev = \"{dev}\", weight = {w} }}"),
                        None => format!("{{ via = \"{via}\", dev = \"{dev}\" }}"),
                    })
                    .collect();
                let _ = writeln!(s, "nexthops = [{}]", hops.join(", "));
            }
        }
        for text in &self.extra {
            s.push('\n');
            s.push_str(text);
            s.push('\n');
        }
        s
    }
}

/// `count` distinct IPv4 /24 routes via `via` dev `dev` in `table`:
/// 10.100.0.0/24, 10.100.1.0/24, ... (up to 38,400 of them).
pub fn many_routes(count: usize, via: &str, dev: &str, table: u32) -> Vec<RouteSpec> {
    assert!(count <= 150 * 256, "many_routes: at most 38,400 routes");
    (0..count)
        .map(|i| {
            let dst = format!("10.{}.{}.0/24", 100 + i / 256, i % 256);
            RouteSpec::new(&dst).via(via).dev(dev).table(table)
        })
        .collect()
}

/// `count` distinct IPv6 /64 routes via `via` dev `dev` in `table`:
/// 2001:db8:1000::/64, 2001:db8:1001::/64, ... (up to 61,440 of them).
pub fn many_routes6(count: usize, via: &str, dev: &str, table: u32) -> Vec<RouteSpec> {
    assert!(count <= 0xf000, "many_routes6: at most 61,440 routes");
    (0..count)
        .map(|i| {
            let dst = format!("2001:db8:{:x}::/64", 0x1000 + i);
            RouteSpec::new(&dst).via(via).dev(dev).table(table)
        })
        .collect()
}
