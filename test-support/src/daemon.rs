//! The `guardian` daemon under test, run inside a namespace, and its CLI.
//!
//! [`Daemon`] is a guard: dropping it sends SIGTERM, then SIGKILL after a
//! deadline, and waits for the process, also when the test panicked.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bin::guardian_bin;
use crate::cmd::{self, Output};
use crate::config::Config;
use crate::logs::{self, Logs};
use crate::netns::Netns;
use crate::tempdir::TempDir;
use crate::wait;

/// How long Drop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Deadline for one CLI command (a reconcile of 10,000 routes included).
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// A `guardian` CLI command (no daemon needed): `guardian <args>` with the
/// environment cleaned of `GUARDIAN_SOCKET` and `RUST_LOG`.
pub fn guardian_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(guardian_bin());
    c.args(args).env_remove("GUARDIAN_SOCKET").env_remove("RUST_LOG");
    c
}

/// Runs `guardian <args>` with a deadline.
pub fn guardian(args: &[&str]) -> Output {
    cmd::run(&mut guardian_cmd(args), CLI_TIMEOUT)
}

/// How to start a daemon; see [`Daemon::builder`].
pub struct DaemonBuilder<'a> {
    ns: &'a Netns,
    dir: Option<Arc<TempDir>>,
    config: Option<String>,
    config_path: Option<PathBuf>,
    socket: Option<PathBuf>,
    wrapper: Vec<String>,
    log_format: &'static str,
}

impl<'a> DaemonBuilder<'a> {
    /// Work folder (config file, control socket); shared with an earlier
    /// daemon for restart tests. Default: a new one.
    pub fn dir(mut self, dir: Arc<TempDir>) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Configuration written to `<dir>/guardian.toml` and passed with
    /// `--config`. Without it (and without [`Self::config_path`]) the daemon
    /// runs its embedded default.
    pub fn config(self, config: &Config) -> Self {
        self.config_text(&config.to_toml())
    }

    pub fn config_text(mut self, text: &str) -> Self {
        self.config = Some(text.to_owned());
        self
    }

    /// Pass `--config <path>` as is (e.g. a missing file).
    pub fn config_path(mut self, path: &Path) -> Self {
        self.config_path = Some(path.to_owned());
        self
    }

    /// Control socket path. Default: `<dir>/guardian.sock`.
    pub fn socket(mut self, path: &Path) -> Self {
        self.socket = Some(path.to_owned());
        self
    }

    /// Programs to put between `nsenter --net=NS --` and the binary (they must
    /// exec it), e.g. `["setpriv", "--bounding-set=-net_admin", ...]`.
    pub fn wrapper(mut self, args: &[&str]) -> Self {
        self.wrapper = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `--log-format` (default `json`; with `text`, log lines are kept as
    /// JSON strings).
    pub fn log_format(mut self, format: &'static str) -> Self {
        self.log_format = format;
        self
    }

    fn command(self) -> (Command, Arc<TempDir>, PathBuf, Option<PathBuf>) {
        let dir = self.dir.unwrap_or_else(|| Arc::new(TempDir::new("d")));
        let socket = self.socket.unwrap_or_else(|| dir.path().join("guardian.sock"));
        let config_path = match (self.config, self.config_path) {
            (_, Some(p)) => Some(p),
            (Some(text), None) => Some(dir.write("guardian.toml", &text)),
            (None, None) => None,
        };
        let mut c = match self.wrapper.split_first() {
            None => self.ns.exec(guardian_bin()),
            Some((program, args)) => {
                let mut c = self.ns.exec(program);
                c.args(args).arg(guardian_bin());
                c
            }
        };
        c.arg("--log-format").arg(self.log_format).arg("--control-socket").arg(&socket).arg("run");
        if let Some(p) = &config_path {
            c.arg("--config").arg(p);
        }
        c.env("RUST_LOG", "info")
            .env_remove("GUARDIAN_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        (c, dir, socket, config_path)
    }

    /// Starts the daemon (does not wait for readiness).
    pub fn spawn(self) -> Daemon {
        let ns_name = self.ns.name().to_owned();
        let (mut c, dir, socket, config_path) = self.command();
        let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        let pid = child.id() as i32;
        let stderr = child.stderr.take().expect("piped stderr");
        let (logs, reader) = Logs::collect(stderr, format!("guardian {ns_name} pid {pid}"));
        // stdout is not part of the contract for `run`; echo it all the same.
        let stdout = child.stdout.take().expect("piped stdout");
        let (_, _) = Logs::collect(stdout, format!("guardian {ns_name} pid {pid} stdout"));
        Daemon { child: Mutex::new(child), pid, logs, reader: Some(reader), socket, config_path, dir }
    }

    /// Starts the daemon and waits (at most `timeout`) for it to exit, for
    /// the start-up error tests. Panics when it is still running then.
    pub fn run_to_exit(self, timeout: Duration) -> Output {
        let (mut c, _dir, _, _) = self.command();
        let desc = format!("{c:?}");
        let child = c.spawn().unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
        let out = cmd::wait_output(child, timeout, &desc);
        eprintln!("[{desc}] exit {:?}\n--- stdout\n{}--- stderr\n{}", out.status, out.stdout, out.stderr);
        out
    }
}

pub struct Daemon {
    child: Mutex<Child>,
    pid: i32,
    logs: Arc<Logs>,
    reader: Option<JoinHandle<()>>,
    socket: PathBuf,
    config_path: Option<PathBuf>,
    dir: Arc<TempDir>,
}

impl Daemon {
    pub fn builder(ns: &Netns) -> DaemonBuilder<'_> {
        DaemonBuilder {
            ns,
            dir: None,
            config: None,
            config_path: None,
            socket: None,
            wrapper: Vec::new(),
            log_format: "json",
        }
    }

    /// Starts a daemon with `config` in `ns` and waits until it is ready.
    pub fn start(ns: &Netns, config: &Config) -> Daemon {
        let d = Daemon::builder(ns).config(config).spawn();
        d.wait_ready(wait::LONG);
        d
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The work folder, to start another daemon with the same config file
    /// and control socket path.
    pub fn dir(&self) -> Arc<TempDir> {
        Arc::clone(&self.dir)
    }

    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Mark for [`Self::wait_log_from`]: lines from now on.
    pub fn log_mark(&self) -> usize {
        self.logs.len()
    }

    /// Waits for a log line matching `pred` (among all lines so far and
    /// those to come). Panics at the deadline or when the daemon exits first.
    pub fn wait_log(&self, what: &str, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        self.wait_log_from(0, what, pred, timeout)
    }

    /// Like [`Self::wait_log`], among lines from `mark` on.
    pub fn wait_log_from(&self, mark: usize, what: &str, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        wait::until(&format!("log line: {what}"), timeout, || {
            let closed = self.logs.closed();
            if let Some(v) = self.logs.find_from(mark, &pred) {
                return Ok(v);
            }
            if closed {
                panic!("daemon exited ({:?}) before logging {what}", self.try_status());
            }
            Err(format!("{} lines logged", self.logs.len()))
        })
    }

    /// Polls `status --json` until `ready` is true; returns that status.
    pub fn wait_ready(&self, timeout: Duration) -> Value {
        wait::until("daemon ready (status --json: ready == true)", timeout, || {
            if self.logs.closed() {
                panic!("daemon exited ({:?}) before it was ready", self.try_status());
            }
            let out = self.cli(&["status", "--json"]);
            if !out.success() {
                return Err(format!("status: {out:?}"));
            }
            let v: Value =
                serde_json::from_str(&out.stdout).map_err(|e| format!("status output is not JSON ({e}): {out:?}"))?;
            if v.get("ready") == Some(&Value::Bool(true)) {
                Ok(v)
            } else {
                Err(format!("status: {v}"))
            }
        })
    }

    /// `guardian --control-socket <sock> <args>` (run outside the namespace:
    /// the socket is a path on the shared filesystem).
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut c = guardian_cmd(&[]);
        c.arg("--control-socket").arg(&self.socket).args(args);
        cmd::run(&mut c, CLI_TIMEOUT)
    }

    /// `cli(args)`, asserting success and JSON output.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(out.success(), "guardian {args:?} failed: {out:?}");
        out.assert_no_panic();
        out.json()
    }

    pub fn status(&self) -> Value {
        self.cli_json(&["status", "--json"])
    }

    /// `guardian reconcile --json`.
    pub fn reconcile(&self) -> Value {
        self.cli_json(&["reconcile", "--json"])
    }

    /// `guardian routes --json`.
    pub fn routes(&self) -> Value {
        self.cli_json(&["routes", "--json"])
    }

    /// Overwrites the config file the daemon was started with (then
    /// [`Self::sighup`] to reload).
    pub fn write_config(&self, config: &Config) {
        self.write_config_text(&config.to_toml());
    }

    pub fn write_config_text(&self, text: &str) {
        let p = self.config_path.as_ref().expect("daemon was started without --config");
        std::fs::write(p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn signal(&self, sig: libc::c_int) {
        if self.try_status().is_some() {
            panic!("cannot signal daemon {}: it has exited", self.pid);
        }
        // SAFETY: kill(2) on our own child's pid, which is not yet reaped
        // (try_status above did not reap it), so it cannot be reused.
        let rc = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(rc, 0, "kill {} {sig}: {}", self.pid, std::io::Error::last_os_error());
    }

    pub fn sighup(&self) {
        self.signal(libc::SIGHUP);
    }

    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    pub fn sigkill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Exit status when the daemon has exited (reaps it), else None.
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.child.lock().unwrap().try_wait().ok().flatten()
    }

    /// Waits for the daemon to exit; panics at the deadline.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let status = wait::until("daemon exit", timeout, || self.try_status().ok_or_else(|| "running".to_owned()));
        // Let the reader thread drain the last lines.
        wait::until("daemon log stream closed", timeout, || {
            if self.logs.closed() {
                Ok(())
            } else {
                Err("stderr still open".into())
            }
        });
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Ok(None) = child.try_wait() {
            // SAFETY: our unreaped child.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            // In case a test left it stopped (SIGSTOP), let it see the SIGTERM.
            // SAFETY: as above.
            unsafe { libc::kill(self.pid, libc::SIGCONT) };
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = child.try_wait() {
                eprintln!("daemon {} ignored SIGTERM for {STOP_GRACE:?}; SIGKILL", self.pid);
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

/// Predicate for [`Daemon::wait_log`]: the message is `msg`.
pub fn msg(m: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v| logs::is(v, m)
}
