//! Under systemd, each log line reaches the journal with its level's
//! priority: guardian prefixes `<N>` when `JOURNAL_STREAM` names its stderr,
//! and only then.

use guardian_tests::ip;
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::wait::{LONG, SHORT};
use guardian_tests::{require_netns, Config, Daemon, RouteSpec};
use serde_json::Value;

/// A text log line (kept by the harness as a JSON string) containing `needle`.
fn text_line<'a>(needle: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| v.as_str().is_some_and(|line| line.contains(needle))
}

/// Starts `builder`'s daemon guarding one route, deletes the route with
/// `ip route del`, and returns the `guardian starting` and `route
/// reinstalled` lines as written.
fn start_and_repair(ns: &Netns, builder: impl FnOnce(&Config) -> Daemon) -> (String, String) {
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let d = builder(&Config::new().route(spec.clone()));
    d.wait_ready(LONG);
    ip::wait_installed(ns, &spec, SHORT);
    let mark = d.log_mark();
    ns.ip(&["route", "del", &spec.dst]);
    let repair = d.wait_log_from(mark, "route reinstalled", text_line("route reinstalled"), SHORT);
    let starting = d.wait_log("guardian starting", text_line("guardian starting"), SHORT);
    let text = |v: Value| v.as_str().expect("a text line").to_owned();
    (text(starting), text(repair))
}

/// [`start_and_repair`] with stderr as the journal's stream, logging in `format`.
fn under_the_journal(format: &'static str) -> (String, String) {
    let ns = Netns::with_link();
    start_and_repair(&ns, |config| Daemon::builder(&ns).config(config).log_format(format).journal_stream().spawn())
}

#[test]
fn under_the_journal_each_line_starts_with_its_syslog_priority() {
    require_netns!();
    let (starting, repair) = under_the_journal("text");
    assert!(repair.starts_with("<4>"), "a repair is a warning, priority 4: {repair}");
    assert!(starting.starts_with("<6>"), "guardian starting is info, priority 6: {starting}");
    // The structured fields stay in the text.
    for field in ["WARN", "route reinstalled", "10.9.0.0/24", "noticed=event", "cause=deleted"] {
        assert!(repair.contains(field), "no {field} in {repair}");
    }
}

#[test]
fn under_the_journal_json_lines_are_prefixed_and_whole() {
    require_netns!();
    let (_, repair) = under_the_journal("json");
    let json = repair.strip_prefix("<4>").unwrap_or_else(|| panic!("no <4> before the JSON: {repair}"));
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON after the prefix ({e}): {json}"));
    assert_eq!(v["level"], "WARN", "{v}");
    assert_eq!(v["noticed"], "event", "{v}");
}

#[test]
fn elsewhere_lines_have_no_prefix_even_with_an_inherited_journal_stream() {
    require_netns!();
    let ns = Netns::with_link();
    // Not the journal at all.
    let (starting, repair) =
        start_and_repair(&ns, |config| Daemon::builder(&ns).config(config).log_format("text").spawn());
    for line in [&starting, &repair] {
        assert!(!line.starts_with('<'), "prefixed without a journal: {line}");
    }
    assert!(repair.contains("WARN"), "{repair}");
    drop(ns);

    // JOURNAL_STREAM inherited from a parent whose stderr was the journal,
    // while this stderr goes elsewhere (a pipe here): no prefix either.
    let ns = Netns::with_link();
    let (starting, repair) = start_and_repair(&ns, |config| {
        Daemon::builder(&ns).config(config).log_format("text").env("JOURNAL_STREAM", "8:4242").spawn()
    });
    for line in [&starting, &repair] {
        assert!(!line.starts_with('<'), "prefixed although JOURNAL_STREAM names another file: {line}");
    }
}
