//! BIRD 2 in the bench: `bird -f` with N BFD neighbors, `birdc show bfd sessions`, its log.

use super::*;

// ---------------------------------------------------------------- BIRD

/// A `bird -f` process in a namespace, with its control socket and log in
/// the bench folder (log timestamps in UTC, to the microsecond).
pub(super) struct Bird {
    pub(super) child: Option<Child>,
    pub(super) pid: i32,
    pub(super) ctl: PathBuf,
    pub(super) log: PathBuf,
    pub(super) stderr: PathBuf,
}

impl Bird {
    pub(super) fn start(ctx: &Ctx, pair: &Pair, side: Side, tag: &str, auth: Auth) -> Result<Bird> {
        let stem = ctx.dir.join(format!("liveness-{tag}-bird-{}", side.dev()));
        let conf = stem.with_extension("conf");
        let ctl = stem.with_extension("ctl");
        let log = stem.with_extension("log");
        let stderr = stem.with_extension("stderr");
        for p in [&ctl, &log] {
            let _ = std::fs::remove_file(p);
        }
        write_bird_config(&conf, &log, side, pair.n, auth)?;
        let check = Command::new("bird").arg("-p").arg("-c").arg(&conf).output().context("running bird -p")?;
        if !check.status.success() {
            bail!("BIRD rejects {}: {}", conf.display(), String::from_utf8_lossy(&check.stderr).trim());
        }
        let mut cmd = pair.ns(side).command("bird")?;
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&ctl)
            .arg("-P")
            .arg(stem.with_extension("pid"))
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?);
        let child = cmd.spawn().context("starting bird")?;
        let pid = child.id() as i32;
        cleanup::add_pid(pid);
        let mut bird = Bird { child: Some(child), pid, ctl, log, stderr };
        let t = Instant::now();
        while bird.sessions().is_err() {
            bird.check_alive()?;
            if t.elapsed() > Duration::from_secs(10) {
                bail!("bird in {} did not open its control socket within 10 s", pair.ns(side).name());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(bird)
    }

    /// `birdc show bfd sessions`: (peer, state, interval s, timeout s).
    pub(super) fn sessions(&self) -> Result<Vec<(String, String, f64, f64)>> {
        let mut cmd = Command::new("birdc");
        cmd.arg("-s").arg(&self.ctl).args(["show", "bfd", "sessions"]);
        let out = daemon::run_with_timeout(cmd, Duration::from_secs(30)).context("running birdc")?;
        if !out.status.success() {
            bail!("birdc: {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Unable to connect") {
            bail!("birdc: {}", text.trim());
        }
        Ok(text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.len() < 6 || f[0].parse::<std::net::IpAddr>().is_err() {
                    return None;
                }
                Some((f[0].to_owned(), f[2].to_owned(), f[4].parse().ok()?, f[5].parse().ok()?))
            })
            .collect())
    }

    /// Sessions Up at the fast rate.
    pub(super) fn fast_up(&self) -> Result<usize> {
        Ok(self
            .sessions()?
            .iter()
            .filter(|(_, state, interval, timeout)| {
                state == "Up"
                    && *interval * 1e3 <= f64::from(INTERVAL_MS) + 0.5
                    && (*timeout * 1e3 - BOUND_MS).abs() < 0.5
            })
            .count())
    }

    pub(super) fn check_alive(&mut self) -> Result<()> {
        let child = self.child.as_mut().context("bird was already stopped")?;
        if let Some(status) = child.try_wait()? {
            cleanup::forget_pid(self.pid);
            self.child = None;
            let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            bail!("bird exited unexpectedly ({status}): {}", err.trim());
        }
        Ok(())
    }

    /// Log lines from byte `from` on, and the new end.
    pub(super) fn log_from(&self, from: u64) -> (Vec<String>, u64) {
        let Ok(bytes) = std::fs::read(&self.log) else { return (Vec::new(), from) };
        let start = (from as usize).min(bytes.len());
        // Only whole lines: stop at the last newline.
        let tail = &bytes[start..];
        let cut = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(&tail[..cut]);
        (text.lines().map(str::to_owned).collect(), start as u64 + cut as u64)
    }

    pub(super) fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    pub(super) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: plain syscall on our unreaped child.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            let t = Instant::now();
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if t.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            cleanup::forget_pid(self.pid);
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            cleanup::forget_pid(self.pid);
        }
    }
}

pub(super) fn write_bird_config(path: &Path, log: &Path, side: Side, n: u32, auth: Auth) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    // BIRD 2 takes authentication only inside an interface block.
    let auth = match auth {
        Auth::Off => String::new(),
        Auth::MeticulousSha1 => {
            format!(" authentication meticulous keyed sha1; password \"{AUTH_SECRET}\" {{ id 1; }};")
        }
    };
    write!(
        out,
        "# generated by `cargo xtask bench --only liveness`: {n} BFD sessions\n\
         router id {};\n\
         timeformat log \"%F %T.%6f\";\n\
         log \"{}\" all;\n\
         debug protocols {{ states, events }};\n\
         protocol device {{ }}\n\
         protocol bfd {{\n  \
           interface \"*\" {{ min rx interval {INTERVAL_MS} ms; min tx interval {INTERVAL_MS} ms; multiplier {MULTIPLIER};{auth} }};\n",
        side.local(0),
        log.display()
    )?;
    for i in 0..n {
        writeln!(out, "  neighbor {} dev \"{}\" local {};", side.peer(i), side.dev(), side.local(i))?;
    }
    writeln!(out, "}}")?;
    out.flush()?;
    Ok(())
}

pub(super) fn wait_birds_up(pair: &Pair, birds: &mut [&mut Bird; 2]) -> Result<Duration> {
    let t = Instant::now();
    let timeout = Duration::from_secs(60 + u64::from(pair.n) / 200);
    loop {
        let mut counts = Vec::new();
        for b in birds.iter_mut() {
            b.check_alive()?;
            counts.push(b.fast_up().unwrap_or(0));
        }
        if counts.iter().all(|c| *c >= pair.n as usize) {
            return Ok(t.elapsed());
        }
        if t.elapsed() > timeout {
            bail!("after {timeout:?}, BIRD has {counts:?} of {} sessions Up at 100 ms", pair.n);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
