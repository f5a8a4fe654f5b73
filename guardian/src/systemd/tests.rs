use super::*;

fn receive(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = socket.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn notifications_reach_a_path_socket() {
    let dir = std::env::temp_dir().join(format!("guardian-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixDatagram::bind(&path).unwrap();
    let n = Notifier::new(path.to_str().unwrap()).unwrap();
    n.ready();
    assert_eq!(receive(&listener), "READY=1");
    n.status("3/3 routes\ninstalled");
    assert_eq!(receive(&listener), "STATUS=3/3 routes installed");
    n.reloading();
    let reloading = receive(&listener);
    assert!(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{reloading}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_at_sign_names_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("guardian-notify-test-{}", std::process::id());
    let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    Notifier::new(&format!("@{name}")).unwrap().stopping();
    assert_eq!(receive(&listener), "STOPPING=1");
}
