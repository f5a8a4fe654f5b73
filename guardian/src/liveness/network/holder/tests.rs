use super::*;
use crate::attribution::fakeproc::FakeProc;

/// Two rows of a real /proc/net/udp (BIRD's BFD socket on 3784 = 0x0EC8).
const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
    \x20 68: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 10962 2 0000000000000000 0\n\
    \x20 229: 00000000:0EC8 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 48311 2 0000000000000000 0\n";

#[test]
fn the_socket_bound_to_the_port_is_found_by_its_hex_port() {
    assert_eq!(bound_to(TABLE, 3784), Some((108, 48311)));
    assert_eq!(bound_to(TABLE, 68), Some((0, 10962)));
    assert_eq!(bound_to(TABLE, 44880), None);
    assert_eq!(bound_to("", 3784), None);
}

#[test]
fn the_holder_is_named_when_its_fds_can_be_read() {
    let fake = FakeProc::new();
    fake.write("thread-self/net/udp", TABLE);
    fake.process(4242, 4242, 1, "bird", b"bird\0-f\0", "0::/system.slice/bird.service\n");
    fake.socket_fd(4242, 7, 48311);
    let holder = udp_port_holder(&Procfs::new(fake.root()), Family::V4, 3784).expect("a holder");
    assert_eq!(holder, PortHolder { uid: 108, process: Some((4242, "bird".into())) });
    assert_eq!(holder.to_string(), "bird (pid 4242, uid 108)");
}

#[test]
fn a_holder_whose_fds_are_hidden_is_named_by_its_uid() {
    let fake = FakeProc::new();
    fake.write("thread-self/net/udp6", TABLE);
    let holder = udp_port_holder(&Procfs::new(fake.root()), Family::V6, 3784).expect("a holder");
    assert_eq!(holder, PortHolder { uid: 108, process: None });
    assert!(holder.to_string().starts_with("a process of uid 108"), "{holder}");
}

#[test]
fn no_table_or_no_socket_names_nobody() {
    let fake = FakeProc::new();
    assert_eq!(udp_port_holder(&Procfs::new(fake.root()), Family::V4, 3784), None);
    fake.write("thread-self/net/udp", TABLE);
    assert_eq!(udp_port_holder(&Procfs::new(fake.root()), Family::V4, 3785), None);
}
