//! FRR in the bench: zebra and staticd in the foreground inside a
//! namespace, with their configuration, pid files and sockets in a
//! temporary folder; the floor of guard repair (zebra puts back its own
//! route at once when another process deletes it).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use guardian_test_support::tempdir::TempDir;
use guardian_test_support::Netns;

/// Where Debian's `frr` package puts the daemons.
pub(super) const ZEBRA: &str = "/usr/lib/frr/zebra";
const STATICD: &str = "/usr/lib/frr/staticd";
const STOP_GRACE: Duration = Duration::from_secs(5);

/// zebra + staticd; dropping it stops both (SIGTERM, then SIGKILL) and
/// removes the folder.
pub(super) struct Frr {
    // staticd first: it goes before the zebra it talks to.
    children: Vec<Child>,
    _dir: TempDir,
}

impl Frr {
    /// Starts zebra, then staticd with `routes` (lines such as
    /// `ip route 10.0.0.1/32 192.0.2.2 table 100`). The daemons drop to the
    /// `frr` user: the folder is opened to it.
    pub(super) fn start(ns: &Netns, routes: &str) -> Result<Frr> {
        if !Path::new(ZEBRA).exists() || !Path::new(STATICD).exists() {
            bail!("{ZEBRA} or {STATICD} is missing: install FRR (`apt-get install -y frr`)");
        }
        let dir = TempDir::new("frr");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .context("opening the FRR folder to the frr user")?;
        let zebra_conf = dir.write("zebra.conf", "hostname bench\n");
        let staticd_conf = dir.write("staticd.conf", routes);
        let api = dir.path().join("zserv.api");
        let mut frr = Frr { children: Vec::new(), _dir: dir };
        let d = frr._dir.path().to_owned();
        let spawn = |program: &str, conf: &Path, name: &str, extra: &[&str]| -> Result<Child> {
            let mut c = ns.exec(program);
            c.arg("-f").arg(conf).arg("-i").arg(d.join(format!("{name}.pid"))).arg("-z").arg(&api);
            c.arg("--vty_socket").arg(&d).arg("-P").arg("0");
            c.arg("--log").arg(format!("file:{}", d.join(format!("{name}.log")).display()));
            c.args(extra);
            c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            c.spawn().with_context(|| format!("starting {program}"))
        };
        frr.children.push(spawn(ZEBRA, &zebra_conf, "zebra", &["-A", "127.0.0.1"])?);
        // staticd connects to zebra's socket: once it exists.
        let t = Instant::now();
        while !api.exists() {
            if t.elapsed() > Duration::from_secs(20) {
                bail!("zebra did not open {} within 20 s", api.display());
            }
            frr.check_alive()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        frr.children.insert(0, spawn(STATICD, &staticd_conf, "staticd", &[])?);
        Ok(frr)
    }

    pub(super) fn zebra_pid(&self) -> u32 {
        self.children.last().map(Child::id).unwrap_or(0)
    }

    pub(super) fn check_alive(&mut self) -> Result<()> {
        for c in &mut self.children {
            if let Some(status) = c.try_wait()? {
                bail!("FRR daemon pid {} exited: {status}", c.id());
            }
        }
        Ok(())
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for c in &mut self.children {
            if let Ok(None) = c.try_wait() {
                // SAFETY: kill(2) on our own child, not yet reaped.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
                let deadline = Instant::now() + STOP_GRACE;
                while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
