//! Running external commands with a deadline (a hung command fails the test
//! instead of hanging it), and [`Exited`], what a guard says when its
//! process ended on its own.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command printed, with its exit status.
#[derive(Debug, Clone)]
pub struct Output {
    /// The process id it had (an attribution test names its deleter by it).
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code; panics when the process was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| panic!("process ended by a signal: {self:?}"))
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout parsed as JSON; panics with the output when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts that neither stream looks like a Rust panic.
    pub fn assert_no_panic(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(
                !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
                "output looks like a panic: {self:?}"
            );
        }
    }
}

/// Default deadline for short commands (`ip`, `nft`, `birdc`).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `cmd` (stdin closed, stdout/stderr captured) and waits at most
/// `timeout`; kills it and panics when it takes longer.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
    wait_output(child, timeout, &desc)
}

/// Runs `cmd` and panics (with its output) unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let desc = format!("{cmd:?}");
    let out = run(cmd, CMD_TIMEOUT);
    assert!(out.success(), "{desc} failed: {out:?}");
    out
}

/// Waits for a child started with piped stdout/stderr, with a deadline.
pub fn wait_output(mut child: Child, timeout: Duration, desc: &str) -> Output {
    let pid = child.id();
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{desc} did not finish within {timeout:?}");
            }
            Err(e) => panic!("waiting for {desc}: {e}"),
        }
    };
    let join = |h: Option<thread::JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    Output { pid, status, stdout: join(stdout), stderr: join(stderr) }
}

fn reader(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A guarded process (a guardian, a BIRD) that ended although nobody
/// stopped it, with the end of what it logged. An error, so a caller that
/// polls (a benchmark holding daemons for a minute) can pass it on with `?`.
#[derive(Debug)]
pub struct Exited {
    /// e.g. `guardian gt-1234-0-a pid 4321`.
    pub what: String,
    pub status: ExitStatus,
    /// Its last log lines, one per line, indented.
    pub log_tail: String,
}

impl std::fmt::Display for Exited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exited unexpectedly ({}); its log ends with:\n{}", self.what, self.status, self.log_tail)
    }
}

impl std::error::Error for Exited {}
