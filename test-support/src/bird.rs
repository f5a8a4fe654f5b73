//! BIRD 2 as the other end of the liveness interop tests: `bird -f` run by
//! the test inside a namespace, with its own configuration, control socket
//! and pid file in a temporary folder, and `birdc` to ask what it sees.
//!
//! [`Bird`] is a guard like [`crate::Daemon`]: dropping it sends SIGTERM,
//! then SIGKILL after a deadline, and waits for the process, also when the
//! test panicked. Its log (`log stderr all;` in the configuration) is
//! echoed to the test's stderr and kept, for assertions on what it logged.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cmd::{self, Output, CMD_TIMEOUT};
use crate::logs::Logs;
use crate::netns::Netns;
use crate::tempdir::TempDir;
use crate::wait;

/// How long Drop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One line of `birdc show bfd sessions`.
#[derive(Debug, Clone, PartialEq)]
pub struct BfdSession {
    pub address: String,
    pub interface: String,
    /// `Up`, `Down`, `Init` or `AdminDown`, as BIRD spells them.
    pub state: String,
    /// BIRD's TX interval and detection timeout, in seconds.
    pub interval: f64,
    pub timeout: f64,
}

/// The sessions in `birdc show bfd sessions` output:
///
/// ```text
/// BIRD 2.0.12 ready.
/// bfd1:
/// IP address                Interface  State      Since         Interval  Timeout
/// 192.0.2.1                 vb         Up         13:47:28.420    0.100    0.300
/// ```
pub fn parse_bfd_sessions(text: &str) -> Vec<BfdSession> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            // Address, interface, state, since (one or more words), interval, timeout.
            if words.len() < 6 || words[0].parse::<std::net::IpAddr>().is_err() {
                return None;
            }
            let n = words.len();
            Some(BfdSession {
                address: words[0].to_owned(),
                interface: words[1].to_owned(),
                state: words[2].to_owned(),
                interval: words[n - 2].parse().ok()?,
                timeout: words[n - 1].parse().ok()?,
            })
        })
        .collect()
}

pub struct Bird {
    child: Child,
    pid: i32,
    socket: PathBuf,
    logs: Arc<Logs>,
    reader: Option<JoinHandle<()>>,
    // Last: the folder goes after the process that uses it.
    _dir: TempDir,
}

impl Bird {
    /// Writes `config` to `<tmp>/bird.conf`, starts `bird -c CONF -s SOCK
    /// -P PID -f` in `ns` and waits until `birdc` answers on its socket.
    /// Panics (with BIRD's log) when BIRD exits first, e.g. on a
    /// configuration error.
    pub fn start(ns: &Netns, config: &str) -> Bird {
        let dir = TempDir::new("bird");
        let conf = dir.write("bird.conf", config);
        let socket = dir.path().join("bird.ctl");
        let pidfile = dir.path().join("bird.pid");
        let mut c = ns.exec("bird");
        c.arg("-c").arg(&conf).arg("-s").arg(&socket).arg("-P").arg(&pidfile).arg("-f");
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        let pid = child.id() as i32;
        let tag = format!("bird {} pid {pid}", ns.name());
        let (logs, reader) = Logs::collect(child.stderr.take().expect("piped stderr"), tag.clone());
        let _ = Logs::collect(child.stdout.take().expect("piped stdout"), format!("{tag} stdout"));
        let mut bird = Bird { child, pid, socket, logs, reader: Some(reader), _dir: dir };
        wait::until("BIRD answering on its control socket", wait::SHORT, || {
            if let Ok(Some(status)) = bird.child.try_wait() {
                panic!("bird exited ({status}) before it was ready; its log: {:?}", bird.logs.snapshot());
            }
            let out = birdc(&bird.socket, &["show", "status"]);
            if out.stdout.contains("Daemon is up and running") {
                Ok(())
            } else {
                Err(format!("{out:?}"))
            }
        });
        bird
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// BIRD's log lines so far (JSON strings).
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Log lines containing `needle`.
    pub fn log_lines_with(&self, needle: &str) -> Vec<String> {
        self.log_lines_from(0, needle)
    }

    /// Log lines from index `mark` on (a `logs().len()` taken earlier)
    /// containing `needle`.
    pub fn log_lines_from(&self, mark: usize, needle: &str) -> Vec<String> {
        self.logs
            .snapshot()
            .iter()
            .skip(mark)
            .filter_map(Value::as_str)
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// `birdc -s <socket> <args>` (run outside the namespace: the socket is
    /// a path on the shared filesystem), whatever its exit status.
    pub fn birdc(&self, args: &[&str]) -> Output {
        birdc(&self.socket, args)
    }

    /// `birdc show bfd sessions`, parsed.
    pub fn bfd_sessions(&self) -> Vec<BfdSession> {
        let out = self.birdc(&["show", "bfd", "sessions"]);
        assert!(out.success(), "birdc show bfd sessions failed: {out:?}");
        parse_bfd_sessions(&out.stdout)
    }

    /// Polls `birdc show bfd sessions` until the session with `address` is
    /// in `state` (BIRD's spelling: `Up`, `Down`, ...) and returns it.
    pub fn wait_bfd_state(&self, address: &str, state: &str, timeout: Duration) -> BfdSession {
        wait::until(&format!("BIRD's BFD session with {address} {state}"), timeout, || {
            let sessions = self.bfd_sessions();
            match sessions.iter().find(|s| s.address == address) {
                Some(s) if s.state == state => Ok(s.clone()),
                _ => Err(format!("{sessions:?}")),
            }
        })
    }
}

fn birdc(socket: &Path, args: &[&str]) -> Output {
    cmd::run(Command::new("birdc").arg("-s").arg(socket).args(args), CMD_TIMEOUT)
}

impl Drop for Bird {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = self.child.try_wait() {
                eprintln!("bird {} ignored SIGTERM for {STOP_GRACE:?}; SIGKILL", self.pid);
                let _ = self.child.kill();
            }
            let _ = self.child.wait();
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfd_sessions_are_parsed_from_birdc_output() {
        let text = "BIRD 2.0.12 ready.\nbfd1:\n\
            IP address                Interface  State      Since         Interval  Timeout\n\
            192.0.2.1                 vb         Up         13:47:28.420    0.100    0.300\n\
            2001:db8::1               vb         Down       2026-11-25      1.000    0.000\n";
        let sessions = parse_bfd_sessions(text);
        assert_eq!(
            sessions,
            vec![
                BfdSession {
                    address: "192.0.2.1".into(),
                    interface: "vb".into(),
                    state: "Up".into(),
                    interval: 0.1,
                    timeout: 0.3
                },
                BfdSession {
                    address: "2001:db8::1".into(),
                    interface: "vb".into(),
                    state: "Down".into(),
                    interval: 1.0,
                    timeout: 0.0
                },
            ]
        );
        assert!(parse_bfd_sessions("BIRD 2.0.12 ready.\nbfd1:\nIP address  Interface  State\n").is_empty());
    }
}
