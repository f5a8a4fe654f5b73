//! A stand-in for the service manager's notification socket: a datagram
//! socket the test binds and names in the daemon's `NOTIFY_SOCKET`, and
//! the notifications read from it (READY=1, STATUS=..., WATCHDOG=1, ...).

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tempdir::TempDir;
use crate::wait;

/// One datagram: its `KEY=VALUE` lines, in order.
pub type Notification = Vec<String>;

pub struct NotifySocket {
    /// What `NOTIFY_SOCKET` is set to: a path, or `@name` (abstract).
    name: String,
    received: Arc<Mutex<Vec<Notification>>>,
    _dir: Option<TempDir>,
}

impl NotifySocket {
    /// A socket at a path in a new temporary folder.
    pub fn path() -> NotifySocket {
        let dir = TempDir::new("notify");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        // A daemon under another user (as the unit runs it) may send too.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).expect("chmod the notify socket");
        NotifySocket::start(socket, path.display().to_string(), Some(dir))
    }

    /// A socket in the abstract namespace (`NOTIFY_SOCKET=@...`) of `ns`'s
    /// network namespace: abstract names belong to one, so it is bound
    /// where the daemon runs.
    pub fn abstract_name(ns: &crate::netns::Netns) -> NotifySocket {
        use std::os::linux::net::SocketAddrExt;
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("guardian-tests-{}-{n}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("an abstract name");
        let socket = ns.run_in(move || UnixDatagram::bind_addr(&addr));
        let socket = socket.unwrap_or_else(|e| panic!("bind @{name}: {e}"));
        NotifySocket::start(socket, format!("@{name}"), None)
    }

    fn start(socket: UnixDatagram, name: String, dir: Option<TempDir>) -> NotifySocket {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        // Ends with the test process; a short timeout lets it notice nothing.
        socket.set_read_timeout(Some(Duration::from_millis(200))).expect("set_read_timeout");
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        eprintln!("[notify] {}", text.replace('\n', " | "));
                        let lines = text.lines().map(str::to_owned).collect();
                        sink.lock().unwrap().push(lines);
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        if Arc::strong_count(&sink) == 1 {
                            return;
                        }
                    }
                    Err(e) => panic!("notify socket: {e}"),
                }
            }
        });
        NotifySocket { name, received, _dir: dir }
    }

    /// The value for the daemon's `NOTIFY_SOCKET`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every notification so far.
    pub fn received(&self) -> Vec<Notification> {
        self.received.lock().unwrap().clone()
    }

    /// Notifications received so far: a mark for [`Self::wait_from`].
    pub fn mark(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits for a notification from `mark` on with the line `line`
    /// (`READY=1`; a prefix when it ends with `*`: `STATUS=3/3 routes*`);
    /// returns its index and the whole notification.
    pub fn wait_from(&self, mark: usize, line: &str, timeout: Duration) -> (usize, Notification) {
        wait::until(&format!("notification {line}"), timeout, || {
            let all = self.received.lock().unwrap();
            all.iter()
                .enumerate()
                .skip(mark)
                .find(|(_, n)| n.iter().any(|l| matches(l, line)))
                .map(|(i, n)| (i, n.clone()))
                .ok_or_else(|| format!("{} notifications: {:?}", all.len(), &all[mark.min(all.len())..]))
        })
    }

    /// How many notifications from `mark` on carry `line`.
    pub fn count_from(&self, mark: usize, line: &str) -> usize {
        self.received.lock().unwrap().iter().skip(mark).filter(|n| n.iter().any(|l| matches(l, line))).count()
    }
}

fn matches(got: &str, want: &str) -> bool {
    match want.strip_suffix('*') {
        Some(prefix) => got.starts_with(prefix),
        None => got == want,
    }
}

/// The value of `KEY=` in a notification, if it has one.
pub fn field<'a>(n: &'a Notification, key: &str) -> Option<&'a str> {
    n.iter().find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}
