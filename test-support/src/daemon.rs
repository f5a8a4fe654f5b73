//! The real `guardian` binary, run inside a namespace and driven only
//! through its contract: command line, JSON logs on stderr, control
//! socket.
//!
//! [`Daemon`] is a guard: dropping it sends SIGTERM, then SIGKILL after a
//! deadline, and waits for the process, also when the test panicked.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cmd::{self, Exited, Output};
use crate::config::Config;
use crate::logs::{self, Logs};
use crate::netns::Netns;
use crate::tempdir::TempDir;
use crate::wait;

/// How long Drop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Deadline for one CLI command (a reconcile of a million routes included).
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// Log lines an error message quotes.
const TAIL: usize = 20;

/// Path of the `guardian` binary: env `GUARDIAN_BIN` when set (`cargo
/// xtask test` sets it), else the binary next to this test executable's
/// profile folder (`<target>/<profile>/deps/<test-exe>` ->
/// `<target>/<profile>/guardian`). Panics when it does not exist.
pub fn guardian_bin() -> PathBuf {
    let path = match std::env::var_os("GUARDIAN_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let exe = std::env::current_exe().expect("current_exe");
            let deps = exe.parent().expect("test executable has a parent folder");
            let profile = if deps.file_name().is_some_and(|n| n == "deps") {
                deps.parent().expect("deps has a parent folder")
            } else {
                deps
            };
            profile.join("guardian")
        }
    };
    assert!(
        path.is_file(),
        "guardian binary not found at {}: build it first: cargo xtask test (or cargo build -p guardian)",
        path.display()
    );
    path
}

/// A `guardian` CLI command (no daemon needed): `guardian <args>` with the
/// environment cleaned of `GUARDIAN_SOCKET` and `RUST_LOG`.
pub fn guardian_cmd(args: &[&str]) -> Command {
    cli_cmd(&guardian_bin(), args)
}

fn cli_cmd(bin: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
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
    bin: Option<PathBuf>,
    dir: Option<Arc<TempDir>>,
    config: Option<String>,
    config_path: Option<PathBuf>,
    socket: Option<PathBuf>,
    wrapper: Vec<String>,
    run_args: Vec<String>,
    log_format: &'static str,
    env: Vec<(String, String)>,
    journal_stream: bool,
    echo: bool,
}

impl<'a> DaemonBuilder<'a> {
    /// The binary to run. Default: [`guardian_bin`].
    pub fn bin(mut self, bin: &Path) -> Self {
        self.bin = Some(bin.to_owned());
        self
    }

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

    /// Pass `--config <path>` as is (a generated file, a missing one).
    pub fn config_path(mut self, path: &Path) -> Self {
        self.config_path = Some(path.to_owned());
        self
    }

    /// Control socket path. Default: `<dir>/guardian.sock`.
    pub fn socket(mut self, path: &Path) -> Self {
        self.socket = Some(path.to_owned());
        self
    }

    /// Programs to put between the namespace and the binary (they must
    /// exec it), e.g. `["setpriv", "--bounding-set=-net_admin", ...]`.
    pub fn wrapper(mut self, args: &[&str]) -> Self {
        self.wrapper = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// More `guardian run` arguments after `--config` (e.g.
    /// `["--attribution", "netlink"]`).
    pub fn run_args(mut self, args: &[&str]) -> Self {
        self.run_args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `--log-format` (default `json`; with `text`, log lines are kept as
    /// JSON strings).
    pub fn log_format(mut self, format: &'static str) -> Self {
        self.log_format = format;
        self
    }

    /// An environment variable for the daemon.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Makes the daemon's stderr look like systemd's journal stream: a pipe
    /// the harness reads as usual, named by `JOURNAL_STREAM` (its device
    /// and inode), as systemd names the socket it gives a service.
    pub fn journal_stream(mut self) -> Self {
        self.journal_stream = true;
        self
    }

    /// Keep the log lines without echoing them to stderr (the default
    /// echoes each, so a failing test shows what the daemon said).
    pub fn quiet(mut self) -> Self {
        self.echo = false;
        self
    }

    fn command(self) -> (Command, Launch) {
        let bin = self.bin.unwrap_or_else(guardian_bin);
        let dir = self.dir.unwrap_or_else(|| Arc::new(TempDir::new("d")));
        let socket = self.socket.unwrap_or_else(|| dir.path().join("guardian.sock"));
        let config_path = match (self.config, self.config_path) {
            (_, Some(p)) => Some(p),
            (Some(text), None) => Some(dir.write("guardian.toml", &text)),
            (None, None) => None,
        };
        let mut c = match self.wrapper.split_first() {
            None => self.ns.exec(&bin),
            Some((program, args)) => {
                let mut c = self.ns.exec(program);
                c.args(args).arg(&bin);
                c
            }
        };
        c.arg("--log-format").arg(self.log_format).arg("--control-socket").arg(&socket).arg("run");
        if let Some(p) = &config_path {
            c.arg("--config").arg(p);
        }
        c.args(&self.run_args)
            .env("RUST_LOG", "info")
            .env_remove("GUARDIAN_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let tag = self.echo.then(|| self.ns.name().to_owned());
        (c, Launch { bin, dir, socket, config_path, tag })
    }

    /// Starts the daemon (does not wait for readiness).
    pub fn spawn(self) -> Daemon {
        let journal_stream = self.journal_stream;
        let (mut c, launch) = self.command();
        let journal = journal_stream.then(|| {
            let (read, write) = journal_pipe();
            c.env("JOURNAL_STREAM", &write.1).stderr(Stdio::from(write.0));
            read
        });
        let started = Instant::now();
        let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        // The command holds our copy of the pipe's write end: let it go, so
        // the reader sees the end of the stream when the daemon exits.
        drop(c);
        let pid = child.id() as i32;
        let tag = launch.tag.map(|ns| format!("guardian {ns} pid {pid}"));
        let (logs, reader) = match journal {
            Some(read) => Logs::collect_echo(read, tag.clone()),
            None => Logs::collect_echo(child.stderr.take().expect("piped stderr"), tag.clone()),
        };
        // stdout is not part of the contract for `run`; echo it all the same.
        let stdout = child.stdout.take().expect("piped stdout");
        let (_, _) = Logs::collect_echo(stdout, tag.map(|t| format!("{t} stdout")));
        Daemon {
            child: Mutex::new(child),
            pid,
            started,
            logs,
            reader: Some(reader),
            bin: launch.bin,
            socket: launch.socket,
            config_path: launch.config_path,
            dir: launch.dir,
        }
    }

    /// Starts the daemon and waits (at most `timeout`) for it to exit, for
    /// the start-up error tests. Panics when it is still running then.
    pub fn run_to_exit(self, timeout: Duration) -> Output {
        let (mut c, _launch) = self.command();
        let desc = format!("{c:?}");
        let child = c.spawn().unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
        let out = cmd::wait_output(child, timeout, &desc);
        eprintln!("[{desc}] exit {:?}\n--- stdout\n{}--- stderr\n{}", out.status, out.stdout, out.stderr);
        out
    }
}

/// What [`DaemonBuilder::command`] settled.
struct Launch {
    bin: PathBuf,
    dir: Arc<TempDir>,
    socket: PathBuf,
    config_path: Option<PathBuf>,
    /// The namespace's name when lines are echoed.
    tag: Option<String>,
}

pub struct Daemon {
    child: Mutex<Child>,
    pid: i32,
    started: Instant,
    logs: Arc<Logs>,
    reader: Option<JoinHandle<()>>,
    bin: PathBuf,
    socket: PathBuf,
    config_path: Option<PathBuf>,
    dir: Arc<TempDir>,
}

impl Daemon {
    pub fn builder(ns: &Netns) -> DaemonBuilder<'_> {
        DaemonBuilder {
            ns,
            bin: None,
            dir: None,
            config: None,
            config_path: None,
            socket: None,
            wrapper: Vec::new(),
            run_args: Vec::new(),
            log_format: "json",
            env: Vec::new(),
            journal_stream: false,
            echo: true,
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

    /// When the process was started (for "ready after" figures).
    pub fn started(&self) -> Instant {
        self.started
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
    /// Each poll starts a process: the pause doubles from 5 ms to 50 ms, so
    /// polling does not compete with the daemon's start (or a big initial
    /// sync) for the CPU, and a benchmark's "ready after" is within 50 ms.
    /// Panics at the deadline or when the daemon exits first, with the end
    /// of its log.
    pub fn wait_ready(&self, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if self.logs.closed() || self.try_status().is_some() {
                panic!(
                    "daemon exited ({:?}) before it was ready; its log ends with:\n{}",
                    self.try_status(),
                    self.tail()
                );
            }
            let out = self.cli(&["status", "--json"]);
            let last = if !out.success() {
                format!("status: {out:?}")
            } else {
                match serde_json::from_str::<Value>(&out.stdout) {
                    Ok(v) if v.get("ready") == Some(&Value::Bool(true)) => return v,
                    Ok(v) => format!("status: {v}"),
                    Err(e) => format!("status output is not JSON ({e}): {out:?}"),
                }
            };
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for daemon ready (status --json: ready == true); \
                     last state: {last}; its log ends with:\n{}",
                    self.tail()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// `guardian --control-socket <sock> <args>` (run outside the namespace:
    /// the socket is a path on the shared filesystem), whatever its exit
    /// status.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut c = cli_cmd(&self.bin, &[]);
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

    /// `GET path` on the control socket (HTTP/1.0, one request per
    /// connection), parsed as JSON: the control API without a CLI process
    /// per request (a benchmark polling 10,000 sessions).
    pub fn api_get(&self, path: &str) -> std::io::Result<Value> {
        let fail = |what: String| std::io::Error::other(format!("GET {path} on {}: {what}", self.socket.display()));
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(CLI_TIMEOUT))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: guardian\r\n\r\n")?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| fail("no HTTP header".into()))?;
        let head = String::from_utf8_lossy(&response[..split]);
        let status = head.lines().next().unwrap_or_default();
        if !status.contains(" 200") {
            return Err(fail(format!("answered {status}")));
        }
        serde_json::from_slice(&response[split + 4..]).map_err(|e| fail(format!("answered no JSON ({e})")))
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
        self.child.lock().unwrap_or_else(|e| e.into_inner()).try_wait().ok().flatten()
    }

    /// `Err` when the daemon has exited, with the end of its log.
    pub fn check_alive(&self) -> Result<(), Exited> {
        match self.try_status() {
            None => Ok(()),
            Some(status) => Err(Exited { what: format!("guardian pid {}", self.pid), status, log_tail: self.tail() }),
        }
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

    /// SIGTERM, and its exit status once it has exited; `None` when it was
    /// still running after `timeout` (it is then killed).
    pub fn stop(&self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.try_status() {
            return Some(status);
        }
        // SAFETY: our unreaped child (try_status above did not reap it).
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Resident memory (VmRSS) in bytes, from /proc/PID/status.
    pub fn rss_bytes(&self) -> u64 {
        proc_status_kib(self.pid, "VmRSS") * 1024
    }

    /// Peak resident memory (VmHWM) in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        proc_status_kib(self.pid, "VmHWM") * 1024
    }

    fn tail(&self) -> String {
        self.logs.tail(TAIL)
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

/// A pipe for [`DaemonBuilder::journal_stream`]: its read end, and its
/// write end with the `DEVICE:INODE` that names it.
fn journal_pipe() -> (std::fs::File, (std::os::fd::OwnedFd, String)) {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::MetadataExt;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array with two new descriptors.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by no one else.
    let (read, write) = unsafe { (std::fs::File::from_raw_fd(fds[0]), std::os::fd::OwnedFd::from_raw_fd(fds[1])) };
    let meta = read.metadata().expect("fstat of the pipe");
    (read, (write, format!("{}:{}", meta.dev(), meta.ino())))
}

/// Predicate for [`Daemon::wait_log`]: the message is `msg`.
pub fn msg(m: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v| logs::is(v, m)
}

/// A `/proc/PID/status` field in KiB; panics when there is none (the
/// process is gone).
pub(crate) fn proc_status_kib(pid: i32, key: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {path}"))
}
