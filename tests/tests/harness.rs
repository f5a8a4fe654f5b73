//! Tests of the harness itself (no daemon needed): namespaces are created
//! and removed (also when a test panics), routes are read back, the monitor
//! and the in-namespace HTTP client work.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use guardian_tests::ip::{self, Family};
use guardian_tests::monitor::Monitor;
use guardian_tests::netns::{self, Netns};
use guardian_tests::{metrics, require_netns, Config, Daemon};

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn netns_is_created_and_removed_on_drop() {
    require_netns!();
    let ns = Netns::new();
    let name = ns.name().to_owned();
    assert!(netns_exists(&name), "{name} should exist");
    let lo = ns.ip(&["-j", "link", "show", "lo"]).stdout;
    assert!(lo.contains("\"UP\""), "lo should be up: {lo}");
    drop(ns);
    assert!(!netns_exists(&name), "{name} should be gone");
}

#[test]
fn netns_is_removed_when_the_test_panics() {
    require_netns!();
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let ns = Netns::with_link();
        tx.send(ns.name().to_owned()).unwrap();
        panic!("deliberate panic inside a test body");
    });
    assert!(result.is_err());
    let name = rx.recv().unwrap();
    assert!(!netns_exists(&name), "{name} should have been removed during unwinding");
}

#[test]
fn veth_between_namespaces_carries_traffic() {
    require_netns!();
    let a = Netns::new();
    let b = Netns::new();
    a.veth_to("x0", &b, "x1");
    a.addr_add("x0", "203.0.113.1/24");
    b.addr_add("x1", "203.0.113.2/24");
    let out = a.ip_try(&["link", "show", "x1"]);
    assert!(!out.success(), "x1 must be in the other namespace");
    let listener = b.run_in(|| TcpListener::bind("203.0.113.2:8080").unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
    });
    let (code, body) = metrics::http_get(&a, "203.0.113.2:8080", "/metrics").unwrap();
    server.join().unwrap();
    assert_eq!((code, body.as_str()), (200, "ok"));
}

#[test]
fn routes_are_read_back_with_protocol_and_normalized_prefixes() {
    require_netns!();
    let ns = Netns::with_link();
    ns.ip(&["route", "add", "10.9.0.0/24", "via", netns::GW4, "table", "100", "proto", "201"]);
    ns.ip(&["route", "add", "10.9.1.1", "dev", netns::DEV, "table", "100"]);
    ns.ip(&["-6", "route", "add", "2001:db8:9::/64", "via", netns::GW6, "table", "100", "proto", "201"]);
    let v4 = ip::routes(&ns, Family::V4, "100");
    assert_eq!(v4.len(), 2, "{v4:?}");
    let r = ip::find(&ns, "10.9.0.0/24", "100").expect("10.9.0.0/24");
    assert_eq!(r.gateway.as_deref(), Some(netns::GW4));
    assert_eq!(r.dev.as_deref(), Some(netns::DEV));
    assert_eq!(r.protocol, "201");
    let host = ip::find(&ns, "10.9.1.1/32", "100").expect("host route");
    assert_ne!(host.protocol, "201");
    let r6 = ip::find(&ns, "2001:db8:9::/64", "100").expect("v6 route");
    assert_eq!(r6.gateway.as_deref(), Some(netns::GW6));
    assert_eq!(r6.metric, 1024);
    assert_eq!(
        ip::dsts_with_protocol(&ns, Family::V4, "100", "201").into_iter().collect::<Vec<_>>(),
        vec!["10.9.0.0/24".to_owned()]
    );
    assert!(ip::find(&ns, "10.9.0.0/24", "main").is_none());
}

#[test]
fn monitor_sees_route_changes_in_order() {
    require_netns!();
    let ns = Netns::with_link();
    let mon = Monitor::start(&ns);
    let mark = mon.sync(&ns);
    ns.ip(&["route", "add", "10.9.0.0/24", "via", netns::GW4]);
    ns.ip(&["route", "del", "10.9.0.0/24"]);
    mon.sync(&ns);
    let seen = mon.mentioning(mark, "10.9.0.0/24");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[1].starts_with("Deleted"), "{seen:?}");
}

#[test]
fn daemon_is_stopped_and_its_files_removed_when_the_test_panics() {
    require_netns!();
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let ns = Netns::with_link();
        let d = Daemon::start(&ns, &Config::new());
        tx.send((d.pid(), d.dir().path().to_owned(), ns.name().to_owned())).unwrap();
        panic!("deliberate panic with a running daemon");
    }));
    assert!(result.is_err());
    let (pid, dir, ns) = rx.recv().expect("the daemon did not start (see its log above)");
    // SAFETY: signal 0 only checks existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "daemon {pid} still running");
    assert!(!dir.exists(), "{} not removed", dir.display());
    assert!(!netns_exists(&ns), "{ns} not removed");
}
