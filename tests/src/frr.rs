//! FRR's zebra and staticd in a namespace, as a real route owner for the
//! guard tests: static routes go through staticd to zebra, which installs
//! them (protocol `static`, 196 with FRR's rt_protos, metric 20, through a
//! nexthop object). Each run has its own folder for sockets and pid files.

use crate::netns::Netns;
use crate::tempdir::TempDir;
use crate::{cmd, wait};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const DAEMONS: &str = "/usr/lib/frr";
const STOP_GRACE: Duration = Duration::from_secs(10);

pub struct Frr {
    zebra: Child,
    staticd: Child,
    dir: TempDir,
}

impl Frr {
    /// zebra, then staticd with `routes` (`ip route 10.8.1.0/24 192.0.2.2`
    /// lines), in `ns`; returns once staticd answers on its vty.
    pub fn start(ns: &Netns, routes: &[&str]) -> Frr {
        let dir = TempDir::new("frr");
        // The daemons drop to the frr user, which must write its sockets here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let zebra_conf = dir.write("zebra.conf", "hostname guardian-test\n");
        let static_conf = dir.write("staticd.conf", &routes.join("\n"));
        let zebra = spawn(ns, &dir, "zebra", &zebra_conf);
        wait::until("zebra's API socket", wait::SHORT, || match dir.path().join("zserv.api").exists() {
            true => Ok(()),
            false => Err("not yet".into()),
        });
        let staticd = spawn(ns, &dir, "staticd", &static_conf);
        let frr = Frr { zebra, staticd, dir };
        wait::until("staticd answering", wait::SHORT, || {
            let out = frr.vtysh(ns, &["show running-config"]);
            match out.success() && out.stdout.contains("ip route") != routes.is_empty() {
                true => Ok(()),
                false => Err(format!("{out:?}")),
            }
        });
        frr
    }

    pub fn zebra_pid(&self) -> u32 {
        self.zebra.id()
    }

    /// `vtysh -c ...` against these daemons.
    pub fn vtysh(&self, ns: &Netns, commands: &[&str]) -> cmd::Output {
        let mut c = ns.exec("vtysh");
        c.arg("--vty_socket").arg(self.dir.path());
        for command in commands {
            c.arg("-c").arg(command);
        }
        cmd::run(&mut c, wait::SHORT)
    }

    /// `configure terminal` then `line`.
    pub fn configure(&self, ns: &Netns, line: &str) {
        let out = self.vtysh(ns, &["configure terminal", line]);
        assert!(out.success(), "vtysh {line}: {out:?}");
    }
}

fn spawn(ns: &Netns, dir: &TempDir, daemon: &str, conf: &std::path::Path) -> Child {
    let mut c = ns.exec(format!("{DAEMONS}/{daemon}"));
    c.arg("-f").arg(conf);
    c.arg("-i").arg(dir.path().join(format!("{daemon}.pid")));
    c.arg("-z").arg(dir.path().join("zserv.api"));
    c.arg("--vty_socket").arg(dir.path());
    c.args(["-u", "frr", "-g", "frr"]);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c.spawn().unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"))
}

impl Drop for Frr {
    fn drop(&mut self) {
        for child in [&mut self.staticd, &mut self.zebra] {
            stop(child);
        }
    }
}

/// SIGTERM (zebra then takes its routes out), SIGKILL after the grace.
fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
