use super::*;
use crate::attribution::fakeproc::FakeProc;

#[test]
fn reads_ids_names_command_line_and_cgroup() {
    let fake = FakeProc::new();
    fake.process(4242, 4242, 17, "ip", b"ip\0route\0del\x0010.9.0.0/24\0", "0::/system.slice/foo.service\n");
    let info = Procfs::new(fake.root()).process(4242).unwrap();
    assert_eq!(
        info,
        ProcessInfo {
            pid: 4242,
            tgid: 4242,
            ptgid: 17,
            uid: 1000,
            gid: 100,
            comm: "ip".into(),
            cmdline: Some("ip route del 10.9.0.0/24".into()),
            cgroup: Some("/system.slice/foo.service".into()),
        }
    );
}

#[test]
fn a_missing_process_is_gone() {
    let fake = FakeProc::new();
    assert!(matches!(Procfs::new(fake.root()).process(7), Err(ProcessError::Gone(7))));
}

#[test]
fn a_zombie_has_no_command_line_and_a_v1_host_no_cgroup() {
    let fake = FakeProc::new();
    fake.process(9, 9, 1, "dhclient", b"", "1:name=systemd:/\n");
    let info = Procfs::new(fake.root()).process(9).unwrap();
    assert_eq!((info.cmdline, info.cgroup), (None, None));
}

#[test]
fn the_cgroup_v2_line_is_found_on_a_hybrid_host() {
    assert_eq!(cgroup_v2_path("4:memory:/x\n0::/init.scope\n").as_deref(), Some("/init.scope"));
}

#[test]
fn a_long_command_line_is_cut_at_a_character_boundary() {
    let mut raw = b"x".to_vec();
    raw.extend("é".repeat(CMDLINE_MAX).as_bytes());
    let text = cmdline_text(&raw).unwrap();
    assert!(text.ends_with('…'));
    assert!(text.len() <= CMDLINE_MAX + '…'.len_utf8());
}

#[test]
fn a_missing_status_field_is_an_error_naming_it() {
    let fake = FakeProc::new();
    fake.process(5, 5, 1, "x", b"x\0", "0::/\n");
    fake.write("5/status", "Name:\tx\nTgid:\t5\n");
    let err = Procfs::new(fake.root()).process(5).unwrap_err();
    assert!(matches!(err, ProcessError::Field { field: "PPid", .. }), "{err}");
}

#[test]
fn pid_namespace_is_compared_by_link_then_by_nstgid() {
    let fake = FakeProc::new();
    fake.process(10, 10, 1, "a", b"a\0", "0::/\n");
    fake.process(11, 11, 1, "b", b"b\0", "0::/\n");
    fake.symlink("self/ns/pid", "pid:[4026531836]");
    fake.symlink("10/ns/pid", "pid:[4026531836]");
    fake.symlink("11/ns/pid", "pid:[4026532999]");
    let procfs = Procfs::new(fake.root());
    assert!(procfs.same_pid_namespace(10));
    assert!(!procfs.same_pid_namespace(11));
    // Links unreadable (another user's process): NStgid decides.
    fake.process(12, 12, 1, "c", b"c\0", "0::/\n");
    fake.process(13, 13, 1, "d", b"d\0", "0::/\n");
    fake.write("13/status", FakeProc::status(13, 13, 1).replace("NStgid:\t13", "NStgid:\t13\t1"));
    assert!(procfs.same_pid_namespace(12));
    assert!(!procfs.same_pid_namespace(13));
    assert!(!procfs.same_pid_namespace(99));
}

#[test]
fn the_real_proc_describes_this_process() {
    let me = std::process::id();
    let info = Procfs::default().process(me).unwrap();
    assert_eq!(info.tgid, me);
    assert!(info.cmdline.is_some());
    assert!(Procfs::default().same_pid_namespace(me));
}
