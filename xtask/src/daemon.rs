//! A `guardian run` process inside a namespace, driven only through the
//! contract: its command line, its JSON logs on stderr, its control socket.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cleanup;
use crate::netns::Netns;

/// How often readiness and log lines are polled.
const POLL: Duration = Duration::from_millis(10);
/// The longest a single `guardian status|routes|reconcile` call may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Daemon {
    bin: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
    pid: i32,
    started: Instant,
    logs: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Daemon {
    /// Starts `guardian --control-socket S --log-format json run --config C`
    /// inside `ns` (RUST_LOG=info, whatever the caller's environment says).
    pub fn start(bin: &Path, ns: &Netns, config: &Path, socket: &Path) -> Result<Daemon> {
        Daemon::start_with(bin, ns, config, socket, &[])
    }

    /// Like `start`, with more arguments after `run --config C` (e.g. `--attribution ebpf`).
    pub fn start_with(bin: &Path, ns: &Netns, config: &Path, socket: &Path, run_args: &[&str]) -> Result<Daemon> {
        let mut cmd = ns.command(bin)?;
        cmd.arg("--control-socket")
            .arg(socket)
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .args(run_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id() as i32;
        cleanup::add_pid(pid);
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&logs);
        let reader = std::thread::Builder::new().name("guardian-stderr".into()).spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        })?;
        Ok(Daemon {
            bin: bin.to_owned(),
            socket: socket.to_owned(),
            child: Some(child),
            pid,
            started,
            logs,
            reader: Some(reader),
        })
    }

    /// `guardian --control-socket S args...` (from the host namespace: the
    /// control socket is a path, reachable from any network namespace).
    pub fn cli(&self, args: &[&str]) -> Result<Output> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--control-socket").arg(&self.socket).args(args);
        run_with_timeout(cmd, CLI_TIMEOUT).with_context(|| format!("running `guardian {}`", args.join(" ")))
    }

    /// Like `cli`, but requires exit 0 and returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.cli(args)?;
        if !out.status.success() {
            bail!(
                "`guardian {}` exited with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `guardian <args> --json` and parses its output.
    pub fn cli_json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.cli_ok(&all)?;
        serde_json::from_str(&text).with_context(|| format!("`guardian {}` printed no JSON: {text}", all.join(" ")))
    }

    /// `GET path` on the control socket (HTTP/1.0, one request per
    /// connection), parsed as JSON: for endpoints of the control API the
    /// command line does not show yet (e.g. `/v1/sessions`).
    pub fn api_get(&self, path: &str) -> Result<Value> {
        use std::io::Write;
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        stream.set_read_timeout(Some(CLI_TIMEOUT))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: guardian\r\n\r\n")?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).with_context(|| format!("reading the answer to GET {path}"))?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").context("no HTTP header in the answer")?;
        let head = String::from_utf8_lossy(&response[..split]);
        let status = head.lines().next().unwrap_or_default();
        if !status.contains(" 200") {
            bail!("GET {path} on the control socket answered {status}");
        }
        serde_json::from_slice(&response[split + 4..]).with_context(|| format!("GET {path} answered no JSON"))
    }

    /// Polls `status --json` until `"ready": true`; returns the time since start.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let deadline = Instant::now() + timeout;
        let mut last: String;
        loop {
            self.check_alive()?;
            match self.cli(&["status", "--json"]) {
                Ok(out) if out.status.success() => match serde_json::from_slice::<Value>(&out.stdout) {
                    Ok(v) if v["ready"] == Value::Bool(true) => return Ok(self.started.elapsed()),
                    Ok(v) => last = format!("status says {v}"),
                    Err(e) => last = format!("status printed no JSON ({e})"),
                },
                Ok(out) => last = String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() >= deadline {
                bail!(
                    "guardian was not ready within {timeout:?} (last: {last}); its log ends with:\n{}",
                    self.log_tail(20)
                );
            }
            // Each poll is a process start: poll less often as the wait grows
            // (1% of the elapsed time, at most 50 ms), so that polling does not
            // compete with a big initial sync for the CPU.
            let elapsed = self.started.elapsed();
            std::thread::sleep((elapsed / 100).clamp(POLL, Duration::from_millis(50)));
        }
    }

    /// Fails (with the log tail) if the daemon has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        let child = self.child.as_mut().context("guardian was already stopped")?;
        if let Some(status) = child.try_wait()? {
            cleanup::forget_pid(self.pid);
            self.child = None;
            bail!("guardian exited unexpectedly ({status}); its log ends with:\n{}", self.log_tail(20));
        }
        Ok(())
    }

    /// Waits for a JSON log line whose `message` is `message` and for which
    /// `accept` holds; returns it.
    pub fn wait_log(&mut self, message: &str, accept: impl Fn(&Value) -> bool, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        loop {
            let lines: Vec<String> = {
                let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
                let new = logs[seen..].to_vec();
                seen = logs.len();
                new
            };
            for line in lines {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if field(&v, "message").and_then(Value::as_str) == Some(message) && accept(&v) {
                        return Ok(v);
                    }
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "guardian logged no `{message}` line within {timeout:?}; its log ends with:\n{}",
                    self.log_tail(20)
                );
            }
            self.check_alive()?;
            std::thread::sleep(POLL);
        }
    }

    /// The first log line (so far) whose `message` is `message`.
    pub fn find_log(&self, message: &str) -> Option<Value> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| field(v, "message").and_then(Value::as_str) == Some(message))
    }

    /// The daemon's process id (in the host's pid namespace).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// How many stderr lines have been read so far.
    pub fn log_len(&self) -> usize {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The raw stderr lines from index `start` on (see `log_len`).
    pub fn log_lines_from(&self, start: usize) -> Vec<String> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.get(start..).map(<[String]>::to_vec).unwrap_or_default()
    }

    pub fn log_tail(&self, n: usize) -> String {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let start = logs.len().saturating_sub(n);
        if logs.is_empty() {
            return "    (nothing on stderr)".into();
        }
        logs[start..].iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
    }

    /// Resident memory (VmRSS) in bytes, from /proc/PID/status.
    pub fn rss_bytes(&self) -> Result<u64> {
        proc_status_kib(self.pid, "VmRSS").map(|kib| kib * 1024)
    }

    /// Peak resident memory (VmHWM) in bytes.
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        proc_status_kib(self.pid, "VmHWM").map(|kib| kib * 1024)
    }

    /// SIGTERM, then waits up to `timeout` (SIGKILL after that).
    pub fn stop(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("guardian was already stopped");
        };
        // SAFETY: plain syscall; the child has not been reaped yet.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let status = child.wait()?;
                cleanup::forget_pid(self.pid);
                self.join_reader();
                bail!("guardian did not stop within {timeout:?} of SIGTERM (killed: {status})");
            }
            std::thread::sleep(POLL);
        };
        cleanup::forget_pid(self.pid);
        self.join_reader();
        Ok(status)
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            cleanup::forget_pid(self.pid);
        }
        self.join_reader();
    }
}

/// A field of a JSON log line: flattened (the contract) or under "fields"
/// (tracing-subscriber's default), so a formatting slip does not hide it.
pub fn field<'a>(line: &'a Value, key: &str) -> Option<&'a Value> {
    line.get(key).or_else(|| line.get("fields")?.get(key))
}

fn proc_status_kib(pid: i32, key: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in {path}"))
}

/// Runs `cmd` to completion, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("no answer within {timeout:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    Ok(Output { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() })
}
