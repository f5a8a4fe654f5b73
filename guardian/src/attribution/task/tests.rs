use super::*;

#[test]
fn link_name_reads_ifla_ifname() {
    let mut body = vec![0u8; 16];
    body.extend_from_slice(&[10, 0, 3, 0]);
    body.extend_from_slice(b"veth0\0\0\0");
    assert_eq!(link_name(&body), Some("veth0"));
    assert_eq!(link_name(&body[..10]), None);
}

#[test]
fn rtentry_gives_destination_and_prefix() {
    let mut rt = vec![0u8; 120];
    rt[8..10].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    rt[12..16].copy_from_slice(&[10, 9, 0, 0]);
    rt[40..42].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    rt[44..48].copy_from_slice(&[255, 255, 255, 0]);
    assert_eq!(rtentry_route(&rt), Some(([10, 9, 0, 0], 24)));
    rt[56..58].copy_from_slice(&0x4u16.to_ne_bytes());
    assert_eq!(rtentry_route(&rt), Some(([10, 9, 0, 0], 32)), "RTF_HOST");
    assert_eq!(rtentry_route(&rt[..40]), None);
    rt[8..10].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
    assert_eq!(rtentry_route(&rt), None);
}

#[test]
fn cgroup_ids_are_directory_inodes() {
    use std::os::unix::fs::MetadataExt;
    let dir = std::env::temp_dir().join(format!("guardian-cgroup-test-{}", std::process::id()));
    let leaf = dir.join("a/b");
    std::fs::create_dir_all(&leaf).unwrap();
    let ino = std::fs::metadata(&leaf).unwrap().ino();
    assert_eq!(find_inode(&dir, ino, 100), Some(leaf.clone()));
    assert_eq!(find_inode(&dir, ino, 1), None, "the walk stops at its budget");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fight_knows_a_deleter_by_name_user_and_cgroup_and_nobody_else() {
    let ip = super::super::deleter::example_ip_route_del(Attribution::Ebpf, true);
    let id = deleter_id(Some(&ip)).expect("a process is a deleter");
    assert_eq!(id, DeleterId { comm: "ip".into(), uid: 0, cgroup: Some("/system.slice/foo.service".into()) });
    // Another run of the same script: another pid, the same deleter.
    let mut again = ip.clone();
    if let Who::Process { process, .. } = &mut again.who {
        process.pid += 1;
        process.tgid += 1;
    }
    assert_eq!(deleter_id(Some(&again)), Some(id));
    for nobody in [Who::Kernel, Who::Exited] {
        assert_eq!(deleter_id(Some(&Deleter { attribution: Attribution::NetlinkPortid, who: nobody })), None);
    }
    assert_eq!(deleter_id(None), None);
}

#[tokio::test]
async fn each_attributed_repair_is_told_back_to_the_reconciler() {
    let metrics = Arc::new(Metrics::new());
    let (feedback_tx, mut feedback) = mpsc::unbounded_channel();
    let attributor =
        Attributor::new(Attribution::None, None, DeleterLabels::default(), metrics).with_feedback(feedback_tx);
    let (repairs_tx, repairs) = mpsc::unbounded_channel();
    let (_queries_tx, queries) = mpsc::channel(1);
    let task = tokio::spawn(attributor.run(repairs, None, queries));
    let lost_at = Instant::now();
    let repaired = Repaired::example("10.9.0.0/24", Cause::Deleted, Duration::from_millis(1), lost_at);
    repairs_tx.send(repaired.clone()).unwrap();
    let deleted = feedback.recv().await.expect("an answer");
    assert_eq!(deleted, Deleted { key: repaired.key, lost_at, deleter: None, label: "unknown".into() });
    drop(repairs_tx);
    task.await.unwrap();
}
