use super::*;
use crate::logging::capture::Buffer;
use crate::messages::Cause;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The line `log_reinstalled` writes, through the daemon's JSON format
/// (see logging.rs), without its timestamp.
fn json_line(r: &Repaired, deleter: Option<&Deleter>) -> Value {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || log_reinstalled(r, deleter));
    let text = buffer.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    let mut line: Value = serde_json::from_str(&text).unwrap();
    line.as_object_mut().unwrap().remove("timestamp");
    line
}

fn text_line(r: &Repaired, deleter: Option<&Deleter>) -> String {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber =
        tracing_subscriber::fmt().without_time().with_ansi(false).with_writer(move || writer.clone()).finish();
    tracing::subscriber::with_default(subscriber, || log_reinstalled(r, deleter));
    let text = buffer.text();
    text.trim_end().to_owned()
}

const ROUTE: &str = "10.9.0.0/24 via 192.0.2.2 dev veth0 table 100";

fn repaired(cause: Cause) -> Repaired {
    Repaired::example(ROUTE, cause, Duration::from_micros(1200), Instant::now())
}

fn ip_route_del(attribution: Attribution, exact: bool) -> Deleter {
    crate::attribution::deleter::example_ip_route_del(attribution, exact)
}

#[test]
fn a_named_deleter_as_a_json_line() {
    assert_eq!(
        json_line(&repaired(Cause::Deleted), Some(&ip_route_del(Attribution::Ebpf, true))),
        json!({
            "level": "WARN",
            "target": "guardian::attribution",
            "message": "route reinstalled",
            "route": ROUTE,
            "family": "ipv4",
            "noticed": "event",
            "missing_for": "1.2ms",
            "cause": "deleted",
            "deleted_by.pid": 30343,
            "deleted_by.ppid": 30300,
            "deleted_by.comm": "ip",
            "deleted_by.cmdline": "ip route del 10.9.0.0/24 table 100",
            "deleted_by.uid": 0,
            "deleted_by.cgroup": "/system.slice/foo.service",
            "attribution": "ebpf"
        })
    );
}

#[test]
fn a_guessed_deleter_says_so() {
    let line = json_line(&repaired(Cause::Deleted), Some(&ip_route_del(Attribution::NetlinkPortid, false)));
    assert_eq!((&line["deleted_by.exact"], &line["attribution"]), (&json!(false), &json!("netlink-portid")));
}

#[test]
fn an_exited_or_kernel_deleter_is_one_field_and_none_is_no_field() {
    let exited = Deleter { attribution: Attribution::NetlinkPortid, who: Who::Exited };
    let kernel = Deleter { attribution: Attribution::NetlinkPortid, who: Who::Kernel };
    let fields = |line: Value| -> Vec<String> {
        let mut keys: Vec<String> =
            line.as_object().unwrap().keys().filter(|k| k.starts_with("deleted_by")).cloned().collect();
        keys.push(format!("{}/{}", line["deleted_by"], line["attribution"]));
        keys
    };
    assert_eq!(
        fields(json_line(&repaired(Cause::Deleted), Some(&exited))),
        ["deleted_by", "\"exited\"/\"netlink-portid\""]
    );
    assert_eq!(
        fields(json_line(&repaired(Cause::Deleted), Some(&kernel))),
        ["deleted_by", "\"kernel\"/\"netlink-portid\""]
    );
    let link_down = json_line(&repaired(Cause::LinkDown { dev: "veth0".into() }), Some(&kernel));
    assert_eq!((&link_down["cause"], &link_down["dev"]), (&json!("link_down"), &json!("veth0")));
    assert_eq!(fields(json_line(&repaired(Cause::Deleted), None)), ["null/\"none\""]);
}

#[test]
fn the_text_line_quotes_what_a_process_chose() {
    let mut deleter = ip_route_del(Attribution::Ebpf, true);
    let Who::Process { process, .. } = &mut deleter.who else { unreachable!() };
    process.comm = "x attribution=none".into();
    process.cmdline = Some("evil\nWARN forged line".into());
    let line = text_line(&repaired(Cause::Deleted), Some(&deleter));
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains(r#"deleted_by.comm="x attribution=none""#), "{line}");
    assert!(line.contains(r#"deleted_by.cmdline="evil\nWARN forged line""#), "{line}");
    assert!(line.ends_with("attribution=ebpf"), "{line}");
}

#[test]
fn the_text_line_without_a_deleter() {
    assert_eq!(
        text_line(&repaired(Cause::Deleted), None),
        " WARN guardian::attribution: route reinstalled route=10.9.0.0/24 via 192.0.2.2 dev veth0 table 100 \
         family=ipv4 noticed=event missing_for=1.2ms cause=deleted attribution=none"
    );
}

#[test]
fn a_guarded_route_s_line_names_its_guard_and_owner() {
    let mut r = repaired(Cause::Deleted);
    r.guard = Some(crate::messages::GuardTag { guard: "bird".into(), owner: "bird".into() });
    let line = json_line(&r, Some(&ip_route_del(Attribution::Ebpf, true)));
    assert_eq!((&line["guard"], &line["owner"]), (&json!("bird"), &json!("bird")));
    assert!(json_line(&repaired(Cause::Deleted), None).get("guard").is_none(), "own routes carry no guard");
}
