use super::*;
use crate::attribution::{Attribution, ProcessInfo};
use crate::config::{GuardConfig, GuardMode, UnknownDeleter};
use std::time::Duration;

fn guard(mode: GuardMode, unknown: UnknownDeleter) -> GuardConfig {
    GuardConfig {
        name: "bird".into(),
        protocol: 12,
        tables: None,
        prefixes: Vec::new(),
        owner: vec!["bird".into()],
        owner_unit: Some("bird.service".into()),
        mode,
        unknown_deleter: unknown,
        kernel_cause_grace: Duration::from_secs(10),
    }
}

fn process(comm: &str, cgroup: &str) -> Deleter {
    let process = ProcessInfo {
        pid: 10,
        tgid: 10,
        ptgid: 1,
        uid: 0,
        gid: 0,
        comm: comm.into(),
        cmdline: None,
        cgroup: Some(cgroup.into()),
    };
    Deleter { attribution: Attribution::Ebpf, who: Who::Process { process, exact: true } }
}

const REQ: Option<Requester> = Some(Requester { port_id: 4242, seq: 1 });
const REPAIR: (GuardMode, UnknownDeleter) = (GuardMode::Repair, UnknownDeleter::Repair);

fn verdict(g: (GuardMode, UnknownDeleter), cause: Cause, req: Option<Requester>, d: Option<&Deleter>) -> Verdict {
    decide(&guard(g.0, g.1), &cause, req, d, None)
}

#[test]
fn the_owner_is_known_by_its_name_or_its_unit() {
    let by_name = process("bird", "/user.slice/session-1.scope");
    let by_unit = process("bird-helper", "/system.slice/bird.service");
    assert_eq!(verdict(REPAIR, Cause::Deleted, REQ, Some(&by_name)), Verdict::Owner);
    assert_eq!(verdict(REPAIR, Cause::Replaced, REQ, Some(&by_unit)), Verdict::Owner);
    let zebra_thread = process("zebra_dplane", "/");
    let g = guard(GuardMode::Repair, UnknownDeleter::Repair);
    let zebra = GuardConfig { owner: vec!["zebra".into()], owner_unit: None, ..g };
    assert_eq!(decide(&zebra, &Cause::Deleted, REQ, Some(&zebra_thread), Some("zebra")), Verdict::Owner);
}

#[test]
fn anyone_else_is_a_stranger_repaired_or_in_audit_only_reported() {
    let ip = process("ip", "/user.slice/session-1.scope");
    assert_eq!(verdict(REPAIR, Cause::Deleted, REQ, Some(&ip)), Verdict::Repaired);
    let audit = (GuardMode::Audit, UnknownDeleter::Repair);
    assert_eq!(verdict(audit, Cause::Deleted, REQ, Some(&ip)), Verdict::WouldRepair);
    let bird = process("bird", "/");
    assert_eq!(verdict(audit, Cause::Deleted, REQ, Some(&bird)), Verdict::Owner);
    // A unit name is matched whole, not as a suffix.
    let other = process("ip", "/system.slice/notbird.service");
    assert_eq!(verdict(REPAIR, Cause::Deleted, REQ, Some(&other)), Verdict::Repaired);
}

#[test]
fn the_kernel_s_doing_is_its_own_verdict() {
    let kernel = Deleter { attribution: Attribution::NetlinkPortid, who: Who::Kernel };
    assert_eq!(verdict(REPAIR, Cause::Deleted, REQ, Some(&kernel)), Verdict::Kernel);
    assert_eq!(verdict(REPAIR, Cause::LinkDown { dev: "veth0".into() }, None, None), Verdict::Kernel);
    // Whoever set the link down (eBPF names them) did not delete the route.
    let ip = process("ip", "/");
    assert_eq!(verdict(REPAIR, Cause::LinkDown { dev: "veth0".into() }, REQ, Some(&ip)), Verdict::Kernel);
    let port0 = Some(Requester { port_id: 0, seq: 0 });
    assert_eq!(verdict(REPAIR, Cause::Deleted, port0, None), Verdict::Kernel);
    // ...but an ioctl caller eBPF named is a process like any other.
    let route = process("route", "/");
    assert_eq!(verdict(REPAIR, Cause::Deleted, port0, Some(&route)), Verdict::Repaired);
}

#[test]
fn an_unknown_deleter_is_decided_by_the_guard_s_setting() {
    let exited = Deleter { attribution: Attribution::NetlinkPortid, who: Who::Exited };
    assert_eq!(verdict(REPAIR, Cause::Deleted, REQ, Some(&exited)), Verdict::Repaired);
    assert_eq!(verdict(REPAIR, Cause::Deleted, None, None), Verdict::Repaired);
    let accept = (GuardMode::Repair, UnknownDeleter::Accept);
    assert_eq!(verdict(accept, Cause::Deleted, REQ, Some(&exited)), Verdict::Accepted);
    assert_eq!(verdict(accept, Cause::Deleted, None, None), Verdict::Accepted);
}

#[test]
fn a_unit_is_the_last_component_of_the_cgroup_path() {
    assert_eq!(unit_of("/system.slice/bird.service"), "bird.service");
    assert_eq!(unit_of("/system.slice/bird.service/"), "bird.service");
    assert_eq!(unit_of("/"), "");
}
