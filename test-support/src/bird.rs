//! BIRD 2, the other end of the liveness interop tests and the floor of
//! the liveness benchmark: `bird -f` inside a namespace, with its own
//! configuration, control socket and pid file in a temporary folder, and
//! `birdc` to ask what it sees.
//!
//! [`Bird`] is a guard like [`crate::Daemon`]: dropping it sends SIGTERM,
//! then SIGKILL after a deadline, and waits for the process, also when the
//! test panicked. Its stderr (its log, with `log stderr all;` in the
//! configuration) is kept, and echoed to the test's stderr unless
//! [`BirdBuilder::quiet`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cmd::{self, Exited, Output, CMD_TIMEOUT};
use crate::logs::Logs;
use crate::netns::Netns;
use crate::tempdir::TempDir;
use crate::wait;

/// How long Drop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

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
    child: Mutex<Child>,
    pid: i32,
    socket: PathBuf,
    logs: Arc<Logs>,
    reader: Option<JoinHandle<()>>,
    // Last: the folder goes after the process that uses it.
    _dir: TempDir,
}

/// How to start BIRD; see [`Bird::builder`].
pub struct BirdBuilder<'a> {
    ns: &'a Netns,
    config: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
    echo: bool,
}

impl BirdBuilder<'_> {
    /// An environment variable for BIRD (e.g. `TZ=UTC`, so the timestamps
    /// of a log file it writes are UTC).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// More arguments for `bird` (e.g. `-u bird -g bird`: run as its user).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Keep BIRD's stderr without echoing it to the test's stderr.
    pub fn quiet(mut self) -> Self {
        self.echo = false;
        self
    }

    /// Writes the configuration to `<tmp>/bird.conf`, has `bird -p` check
    /// it, starts `bird -c CONF -s SOCK -P PID -f` in the namespace and
    /// waits until `birdc` answers on its socket. Panics (with BIRD's
    /// words) when it rejects the configuration or exits first.
    pub fn start(self) -> Bird {
        let dir = TempDir::new("bird");
        let conf = dir.write("bird.conf", &self.config);
        let check = cmd::run(Command::new("bird").arg("-p").arg("-c").arg(&conf), CMD_TIMEOUT);
        assert!(check.success(), "BIRD rejects {}: {}", conf.display(), check.stderr.trim());
        if self.args.iter().any(|a| a == "-u") {
            // BIRD as its own user writes its pid file and socket here too.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let socket = dir.path().join("bird.ctl");
        let pidfile = dir.path().join("bird.pid");
        let mut c = self.ns.exec("bird");
        c.arg("-c").arg(&conf).arg("-s").arg(&socket).arg("-P").arg(&pidfile).arg("-f").args(&self.args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        let pid = child.id() as i32;
        let tag = self.echo.then(|| format!("bird {} pid {pid}", self.ns.name()));
        let (logs, reader) = Logs::collect_echo(child.stderr.take().expect("piped stderr"), tag.clone());
        let _ = Logs::collect_echo(child.stdout.take().expect("piped stdout"), tag.map(|t| format!("{t} stdout")));
        let bird = Bird { child: Mutex::new(child), pid, socket, logs, reader: Some(reader), _dir: dir };
        wait::until("BIRD answering on its control socket", wait::SHORT, || {
            if let Err(exited) = bird.check_alive() {
                panic!("BIRD did not get ready: {exited}");
            }
            let out = bird.birdc(&["show", "status"]);
            if out.stdout.contains("Daemon is up and running") {
                Ok(())
            } else {
                Err(format!("{out:?}"))
            }
        });
        bird
    }
}

impl Bird {
    /// [`Bird::builder`]`(ns, config).start()`.
    pub fn start(ns: &Netns, config: &str) -> Bird {
        Bird::builder(ns, config).start()
    }

    /// BIRD in `ns` with `config` (the text of `bird.conf`; `log stderr
    /// all;` makes its log lines [`Bird::logs`]).
    pub fn builder<'a>(ns: &'a Netns, config: &str) -> BirdBuilder<'a> {
        BirdBuilder { ns, config: config.to_owned(), env: Vec::new(), args: Vec::new(), echo: true }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Replaces `bird.conf` with `config` and has BIRD take it (`birdc
    /// configure`); panics with birdc's words when BIRD refuses it.
    pub fn configure(&self, config: &str) {
        self._dir.write("bird.conf", config);
        let out = self.birdc(&["configure"]);
        assert!(
            out.success() && out.stdout.contains("Reconfigured"),
            "birdc configure: {} {}",
            out.stdout.trim(),
            out.stderr.trim()
        );
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// BIRD's stderr lines so far (JSON strings).
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
            .lines_from(mark)
            .iter()
            .filter_map(Value::as_str)
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// `birdc -s <socket> <args>` (run outside the namespace: the socket is
    /// a path on the shared filesystem), whatever its exit status.
    pub fn birdc(&self, args: &[&str]) -> Output {
        cmd::run(Command::new("birdc").arg("-s").arg(&self.socket).args(args), CMD_TIMEOUT)
    }

    /// `birdc show bfd sessions`, parsed; `Err` with birdc's words when it
    /// could not ask (a BIRD busy with 1,000 sessions may answer late).
    pub fn try_bfd_sessions(&self) -> std::io::Result<Vec<BfdSession>> {
        let out = self.birdc(&["show", "bfd", "sessions"]);
        if !out.success() || out.stdout.contains("Unable to connect") {
            return Err(std::io::Error::other(format!("birdc show bfd sessions: {out:?}")));
        }
        Ok(parse_bfd_sessions(&out.stdout))
    }

    /// `birdc show bfd sessions`, parsed; panics when birdc fails.
    pub fn bfd_sessions(&self) -> Vec<BfdSession> {
        self.try_bfd_sessions().unwrap_or_else(|e| panic!("{e}"))
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

    /// Resident memory (VmRSS) in bytes, from /proc/PID/status.
    pub fn rss_bytes(&self) -> u64 {
        crate::daemon::proc_status_kib(self.pid, "VmRSS") * 1024
    }

    /// Peak resident memory (VmHWM) in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        crate::daemon::proc_status_kib(self.pid, "VmHWM") * 1024
    }

    /// Exit status when BIRD has exited (reaps it), else None.
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).try_wait().ok().flatten()
    }

    /// `Err` when BIRD has exited, with the end of its log.
    pub fn check_alive(&self) -> Result<(), Exited> {
        match self.try_status() {
            None => Ok(()),
            Some(status) => {
                Err(Exited { what: format!("bird pid {}", self.pid), status, log_tail: self.logs.tail(20) })
            }
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Ok(None) = child.try_wait() {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = child.try_wait() {
                eprintln!("bird {} ignored SIGTERM for {STOP_GRACE:?}; SIGKILL", self.pid);
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests;
