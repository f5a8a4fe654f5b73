use super::*;

fn process(comm: &str) -> Deleter {
    let process =
        ProcessInfo { pid: 1, tgid: 1, ptgid: 0, uid: 0, gid: 0, comm: comm.into(), cmdline: None, cgroup: None };
    Deleter { attribution: Attribution::Ebpf, who: Who::Process { process, exact: true } }
}

fn who(who: Who) -> Deleter {
    Deleter { attribution: Attribution::NetlinkPortid, who }
}

#[test]
fn no_process_is_kernel_and_an_unnamed_one_unknown() {
    let labels = DeleterLabels::default();
    assert_eq!(labels.label(Some(&who(Who::Kernel))), "kernel");
    assert_eq!(labels.label(Some(&who(Who::Exited))), "unknown");
    assert_eq!(labels.label(None), "unknown");
}

#[test]
fn allow_listed_names_are_labels_and_the_rest_is_other() {
    let labels = DeleterLabels::default();
    assert_eq!(labels.label(Some(&process("ip"))), "ip");
    assert_eq!(labels.label(Some(&process("NetworkManager"))), "NetworkManager");
    assert_eq!(labels.label(Some(&process("python3"))), "other");
    assert_eq!(labels.label(Some(&process("IP"))), "other");
    assert_eq!(labels.label(Some(&process("kernel"))), "other");
}

#[test]
fn systemd_networkd_is_known_by_its_truncated_task_name() {
    assert_eq!(DeleterLabels::default().label(Some(&process("systemd-network"))), "systemd-networkd");
}

#[test]
fn a_thousand_names_give_a_bounded_label_set() {
    let labels = DeleterLabels::default();
    let mut seen: Vec<&str> = (0..1000).map(|i| labels.label(Some(&process(&format!("evil{i}"))))).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["other"]);
}

#[test]
fn the_allow_list_is_configurable_and_checked() {
    let labels = DeleterLabels::new(["kube-proxy"]).unwrap();
    assert_eq!(labels.label(Some(&process("kube-proxy"))), "kube-proxy");
    assert_eq!(labels.label(Some(&process("ip"))), "other");
    assert_eq!(DeleterLabels::new([""]), Err(LabelError::Empty));
    assert_eq!(DeleterLabels::new(["other"]), Err(LabelError::Reserved("other".into())));
    assert_eq!(
        DeleterLabels::new(["systemd-networkd", "systemd-network"]),
        Err(LabelError::Duplicate("systemd-network".into()))
    );
}

#[test]
fn port_owners_become_deleters() {
    assert_eq!(Deleter::from_port_owner(PortOwner::Kernel), Some(who(Who::Kernel)));
    assert_eq!(Deleter::from_port_owner(PortOwner::Exited), Some(who(Who::Exited)));
    assert_eq!(Deleter::from_port_owner(PortOwner::Hidden), None);
    assert_eq!(Attribution::of(None).label(), "none");
    assert_eq!(Attribution::of(Some(&who(Who::Exited))).label(), "netlink-portid");
}
