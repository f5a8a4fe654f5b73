//! The pure parts: key addresses, `struct tcp_md5sig`, how `interface` is
//! applied, listen errors. The kernel's side is `netns_tests.rs`.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An IPv4 peer's key on an IPv6 socket is its IPv4-mapped address; an
/// IPv6 peer has none on an IPv4 socket; a mapped peer is the IPv4 one.
#[test]
fn a_key_address_is_of_the_socket_family_with_ipv4_peers_mapped_on_ipv6_sockets() {
    for (ipv6_socket, peer, expected) in [
        (true, "192.0.2.2", Some("[::ffff:192.0.2.2]:0")),
        (false, "192.0.2.2", Some("192.0.2.2:0")),
        (true, "2001:db8::2", Some("[2001:db8::2]:0")),
        (true, "fe80::2", Some("[fe80::2]:0")),
        (false, "2001:db8::2", None),
        (false, "::ffff:192.0.2.2", Some("192.0.2.2:0")),
        (true, "::ffff:192.0.2.2", Some("[::ffff:192.0.2.2]:0")),
    ] {
        assert_eq!(key_address(ipv6_socket, ip(peer)), expected.map(sa), "{peer} on an IPv6 socket: {ipv6_socket}");
    }
}

#[test]
fn md5sig_carries_the_key_and_its_length_and_zeroes_the_rest() {
    let sig = TcpMd5Sig::new(sa("192.0.2.2:0"), Some(b"secret")).unwrap();
    assert_eq!(sig.keylen, 6);
    assert_eq!(&sig.key[..6], b"secret");
    assert!(sig.key[6..].iter().all(|&b| b == 0));
    assert_eq!((sig.flags, sig.prefixlen, sig.ifindex), (0, 0, 0));
    assert_eq!(SockAddr::from(sa("192.0.2.2:0")).len(), 16, "sockaddr_in");
}

#[test]
fn md5sig_without_a_key_removes_it() {
    let sig = TcpMd5Sig::new(sa("[2001:db8::2]:0"), None).unwrap();
    assert_eq!(sig.keylen, 0);
    assert!(sig.key.iter().all(|&b| b == 0));
}

#[test]
fn md5sig_takes_keys_of_1_to_80_bytes() {
    let longest = [7u8; TCP_MD5_MAX_KEY_LEN];
    let sig = TcpMd5Sig::new(sa("192.0.2.2:0"), Some(&longest)).unwrap();
    assert_eq!((sig.keylen, sig.key), (80, longest));
    for bad in [&[][..], &[7u8; TCP_MD5_MAX_KEY_LEN + 1][..]] {
        let err = TcpMd5Sig::new(sa("192.0.2.2:0"), Some(bad)).err().expect("rejected");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("1-80 bytes"), "{err}");
    }
}

#[test]
fn an_ipv4_mapped_peer_is_named_by_its_ipv4_address_and_others_as_they_are() {
    for (addr, expected) in [
        ("[::ffff:192.0.2.1]:40000", "192.0.2.1:40000"),
        ("192.0.2.1:40000", "192.0.2.1:40000"),
        ("[2001:db8::1]:40000", "[2001:db8::1]:40000"),
        ("[fe80::1%3]:179", "[fe80::1%3]:179"),
    ] {
        assert_eq!(canonical(sa(addr)), sa(expected), "{addr}");
    }
    let SocketAddr::V6(scoped) = canonical(sa("[fe80::1%3]:179")) else { panic!("IPv6") };
    assert_eq!(scoped.scope_id(), 3, "the scope id is kept");
}

#[test]
fn a_link_local_peer_is_reached_through_its_scope_id_and_others_through_the_device() {
    assert_eq!(binding(sa("[fe80::2]:179"), Some("eth0")).unwrap(), Binding::ScopeId("eth0"));
    assert_eq!(binding(sa("[2001:db8::2]:179"), Some("eth0")).unwrap(), Binding::Device("eth0"));
    assert_eq!(binding(sa("192.0.2.2:179"), Some("eth0")).unwrap(), Binding::Device("eth0"));
    assert_eq!(binding(sa("192.0.2.2:179"), None).unwrap(), Binding::None);
    assert_eq!(binding(sa("[fe80::2%3]:179"), None).unwrap(), Binding::None);
}

#[test]
fn a_link_local_peer_without_an_interface_is_refused() {
    let err = binding(sa("[fe80::2]:179"), None).unwrap_err();
    assert!(matches!(err, NetError::LinkLocalWithoutInterface { .. }), "{err:?}");
    assert!(err.to_string().contains("name the interface"), "{err}");
}

#[test]
fn a_privileged_port_error_names_the_capability_and_the_unit_setting() {
    let err = listen_error(sa("[::]:179"), io::Error::from_raw_os_error(libc::EACCES));
    assert!(matches!(err, NetError::PortPrivileged { port: 179 }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"), "{text}");
}

#[test]
fn a_taken_port_is_in_use_and_other_failures_keep_the_system_error() {
    let err = listen_error(sa("[::]:179"), io::Error::from_raw_os_error(libc::EADDRINUSE));
    assert!(matches!(err, NetError::PortInUse { port: 179 }), "{err:?}");
    let err = listen_error(sa("[::]:179"), io::Error::from_raw_os_error(libc::ENOBUFS));
    assert!(matches!(&err, NetError::Listen { source, .. } if source.raw_os_error() == Some(libc::ENOBUFS)));
}

#[test]
fn the_listener_falls_back_to_ipv4_only_when_the_host_has_no_ipv6() {
    assert!(ipv6_unavailable(&io::Error::from_raw_os_error(libc::EAFNOSUPPORT)));
    assert!(ipv6_unavailable(&io::Error::from_raw_os_error(libc::EADDRNOTAVAIL)));
    assert!(!ipv6_unavailable(&io::Error::from_raw_os_error(libc::EADDRINUSE)));
    assert!(!ipv6_unavailable(&io::Error::from_raw_os_error(libc::EACCES)));
}

#[test]
fn a_connect_timeout_with_a_key_says_a_key_mismatch_looks_the_same() {
    let peer = sa("192.0.2.2:179");
    let timeout = Duration::from_secs(5);
    let with = NetError::ConnectTimeout { peer, timeout, md5: true }.to_string();
    let without = NetError::ConnectTimeout { peer, timeout, md5: false }.to_string();
    assert!(with.contains("TCP MD5 key"), "{with}");
    assert!(!without.contains("MD5"), "{without}");
}
