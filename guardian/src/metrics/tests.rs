//! What guardian exports, against what is shipped and documented beside it:
//! the alert rules, the Grafana dashboard and the README's table.

use super::liveness::PeerLabels;
use super::Metrics;
use std::collections::BTreeSet;
use std::path::Path;

/// The encoding of a fresh registry with every family touched.
fn every_family() -> String {
    let metrics = Metrics::new();
    metrics.touch_every_family();
    metrics.encode()
}

/// Every sample name a scrape of guardian can hold (`guardian_*_total`,
/// `..._bucket`, `process_*`, ...), read off the `# TYPE` lines of
/// [`every_family`].
fn exported_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in every_family().lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let Some((family, kind)) = rest.split_once(' ') else { continue };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "info" => &["_info"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|suffix| format!("{family}{suffix}")));
    }
    names
}

#[test]
fn every_registered_family_is_touched_and_so_checked() {
    // Each `register("name", ...)` call in the metrics sources is one family;
    // one left out of `touch_every_family` would escape the checks below.
    let sources =
        [include_str!("mod.rs"), include_str!("liveness.rs"), include_str!("guard.rs"), include_str!("bgp.rs")];
    let registered: usize = sources.iter().map(|s| s.matches(".register(").count()).sum();
    let text = every_family();
    let described = text.lines().filter(|l| l.starts_with("# TYPE guardian_")).count();
    assert_eq!(described, registered, "a family has no series in touch_every_family:\n{text}");
}

fn repository_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// Every metric-like name in `text`: a `guardian_` or `process_` word (the
/// rest of a query, its functions, labels and `up`, is Prometheus's own).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    for prefix in ["guardian_", "process_"] {
        for (at, _) in text.match_indices(prefix) {
            if at > 0 && word(bytes[at - 1]) {
                continue;
            }
            let end = text[at..].bytes().position(|b| !word(b)).map_or(text.len(), |n| at + n);
            found.insert(text[at..end].to_owned());
        }
    }
    found
}

fn unknown(names: &BTreeSet<String>) -> Vec<&String> {
    let exported = exported_names();
    names.iter().filter(|n| !exported.contains(*n)).collect()
}

#[test]
fn exported_names_are_read_off_the_registry() {
    let names = exported_names();
    for name in [
        "guardian_route_reinstalls_total",
        "guardian_attribution_drops_total",
        "guardian_reconcile_duration_seconds_bucket",
        "guardian_build_info",
        "guardian_liveness_peer_state",
        "guardian_liveness_route_withdraws_total",
        "guardian_bgp_session_state",
        "guardian_bgp_prefixes",
        "guardian_bgp_notifications_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "process_virtual_memory_bytes",
    ] {
        assert!(names.contains(name), "{name} is not among {names:?}");
    }
    // The drop figure is a counter now, not a gauge.
    assert!(!names.contains("guardian_attribution_drops"), "{names:?}");
}

#[test]
fn alert_rules_use_only_exported_metrics() {
    let rules = repository_file("packaging/prometheus/guardian.rules.yml");
    let names = metric_names(&rules);
    assert!(names.len() >= 8, "the rules name only {names:?}");
    assert_eq!(unknown(&names), Vec::<&String>::new(), "the rules name metrics guardian does not export");
    // Written for a fleet: each guardian_ expression keeps the instance.
    for line in rules.lines().filter(|l| l.trim_start().starts_with("expr:") && l.contains("guardian_")) {
        assert!(line.contains("instance"), "not grouped by instance: {line}");
    }
}

#[test]
fn dashboard_queries_use_only_exported_metrics() {
    let text = repository_file("packaging/grafana/guardian.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("a target has an expr").to_owned());
        }
    }
    assert!(exprs.len() >= 15, "{exprs:?}");
    for expr in &exprs {
        assert!(!metric_names(expr).is_empty(), "a query with no guardian metric: {expr}");
    }
    // The whole file, template variables included.
    let names = metric_names(&text);
    assert_eq!(unknown(&names), Vec::<&String>::new(), "the dashboard names metrics guardian does not export");
}

#[test]
fn the_readme_table_lists_every_metric() {
    let readme = repository_file("README.md");
    let text = every_family();
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()) {
        let kind = text.lines().find_map(|l| l.strip_prefix(&format!("# TYPE {family} "))).unwrap_or("");
        let shown = match kind {
            "counter" => format!("`{family}_total`"),
            "info" => format!("`{family}_info`"),
            _ => format!("`{family}`"),
        };
        assert!(readme.contains(&shown), "the README's metrics table lacks {shown}");
    }
}

#[test]
fn a_peer_has_one_series_per_state_and_only_its_current_one_is_1() {
    let metrics = Metrics::new();
    let peer = PeerLabels { peer: "192.0.2.2".into(), local: "192.0.2.1".into(), interface: "va".into() };
    metrics.liveness.set_peer_state(&peer, "down");
    metrics.liveness.set_peer_state(&peer, "up");
    let text = metrics.encode();
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("guardian_liveness_peer_state{")).collect();
    assert_eq!(series.len(), 4, "{series:?}");
    for line in &series {
        let expected = if line.contains("state=\"up\"") { " 1" } else { " 0" };
        assert!(line.ends_with(expected), "{line}");
    }
    metrics.liveness.remove_peer(&peer);
    assert!(!metrics.encode().contains("guardian_liveness_peer_state{"), "removed with its session");
}

#[test]
fn metric_names_are_whole_words() {
    let names = metric_names("sum(rate(guardian_a_total[5m])) / my_guardian_b + process_c{job=\"guardian\"}");
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["guardian_a_total", "process_c"]);
}
