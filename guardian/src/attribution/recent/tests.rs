use super::*;
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

fn deletion(n: u64, deleter: Option<Deleter>) -> Deletion {
    Deletion {
        time: UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000 + n),
        route: format!("10.9.{n}.0/24 via 192.0.2.2 dev veth0 table 100"),
        noticed: Noticed::Event,
        cause: Cause::Deleted,
        attribution: Attribution::of(deleter.as_ref()),
        deleted_by: deleter.map(|d| d.who),
        guard: None,
    }
}

fn ip_route_del() -> Deleter {
    crate::attribution::deleter::example_ip_route_del(Attribution::NetlinkPortid, true)
}

#[test]
fn the_ring_keeps_the_newest_and_lists_them_first() {
    let mut recent = Recent::new(3);
    for n in 0..5 {
        recent.push(deletion(n, None));
    }
    assert_eq!(recent.len(), 3);
    let routes: Vec<_> = recent.newest(None).map(|d| d.route.split(' ').next().unwrap().to_owned()).collect();
    assert_eq!(routes, ["10.9.4.0/24", "10.9.3.0/24", "10.9.2.0/24"]);
    assert_eq!(recent.newest(Some(1)).count(), 1);
    assert_eq!(recent.newest(Some(10)).count(), 3);
}

#[test]
fn a_repair_becomes_a_deletion_timed_when_it_was_noticed() {
    let repaired = Repaired::example(
        "10.9.0.0/24 dev veth0",
        Cause::Replaced,
        Duration::from_micros(150),
        Instant::now() - Duration::from_secs(60),
    );
    let d = Deletion::new(&repaired, Some(ip_route_del()));
    let age = SystemTime::now().duration_since(d.time).unwrap();
    assert!(age >= Duration::from_secs(60) && age < Duration::from_secs(120), "{age:?}");
    assert_eq!(
        (d.cause, d.attribution, d.route.as_str()),
        (Cause::Replaced, Attribution::NetlinkPortid, "10.9.0.0/24 dev veth0")
    );
    assert!(matches!(d.deleted_by, Some(Who::Process { exact: true, .. })));
}

#[test]
fn a_ring_of_zero_keeps_nothing() {
    let mut recent = Recent::new(0);
    recent.push(deletion(0, None));
    assert!(recent.is_empty());
}

#[test]
fn an_attributed_deletion_as_json() {
    let json = serde_json::to_value(deletion(7, Some(ip_route_del()))).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "time": "2023-11-14T22:13:20.000007Z",
            "route": "10.9.7.0/24 via 192.0.2.2 dev veth0 table 100",
            "noticed": "event",
            "cause": "deleted",
            "attribution": "netlink-portid",
            "deleted_by": {"process": {
                "pid": 30343, "tgid": 30343, "ptgid": 30300, "uid": 0, "gid": 0, "comm": "ip",
                "cmdline": "ip route del 10.9.0.0/24 table 100", "cgroup": "/system.slice/foo.service",
                "exact": true
            }}
        })
    );
}

#[test]
fn exited_kernel_and_unattributed_deletions_as_json() {
    let exited = Deleter { attribution: Attribution::NetlinkPortid, who: Who::Exited };
    let json = serde_json::to_value(deletion(0, Some(exited))).unwrap();
    assert_eq!((&json["attribution"], &json["deleted_by"]), (&"netlink-portid".into(), &"exited".into()));
    let mut link_down = deletion(0, Some(Deleter { attribution: Attribution::NetlinkPortid, who: Who::Kernel }));
    link_down.cause = Cause::LinkDown { dev: "veth0".into() };
    link_down.noticed = Noticed::Scan;
    let json = serde_json::to_value(link_down).unwrap();
    assert_eq!(
        (&json["cause"], &json["dev"], &json["noticed"], &json["deleted_by"]),
        (&"link_down".into(), &"veth0".into(), &"scan".into(), &"kernel".into())
    );
    let json = serde_json::to_value(deletion(0, None)).unwrap();
    assert_eq!((&json["attribution"], &json["deleted_by"]), (&"none".into(), &serde_json::Value::Null));
}

#[test]
fn the_json_reads_back_for_the_command_line_client() {
    let mut link_down = deletion(3, None);
    link_down.cause = Cause::LinkDown { dev: "veth0".into() };
    for d in [deletion(1, Some(ip_route_del())), deletion(2, None), link_down] {
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Deletion>(&text).unwrap(), d);
    }
}

#[test]
fn a_guard_s_verdict_travels_in_the_json_and_own_routes_have_none() {
    let own = serde_json::to_value(deletion(1, None)).unwrap();
    assert!(own.get("guard").is_none() && own.get("verdict").is_none(), "{own}");
    let mut audited = deletion(2, Some(ip_route_del()));
    audited.guard = Some(GuardVerdict { name: "bird".into(), owner: "bird".into(), verdict: Verdict::WouldRepair });
    let json = serde_json::to_value(&audited).unwrap();
    assert_eq!(
        (&json["guard"], &json["owner"], &json["verdict"]),
        (&json!("bird"), &json!("bird"), &json!("would_repair"))
    );
    let back: Deletion = serde_json::from_value(json).unwrap();
    assert_eq!(back, audited);
}
