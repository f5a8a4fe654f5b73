//! Throw-away system users and groups (`useradd`, `groupadd`), removed in
//! `Drop`, for tests of who may use the control socket.

use std::process::Command;
use std::sync::Mutex;

use crate::cmd;

/// groupadd and useradd lock /etc/group and /etc/passwd and give up after a
/// while: tests running side by side take turns.
static ACCOUNTS: Mutex<()> = Mutex::new(());

fn locked<T>(f: impl FnOnce() -> T) -> T {
    let _turn = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// A system group `gt<pid><tag>`; `groupdel` on drop.
pub struct TempGroup {
    pub name: String,
    pub gid: u32,
}

impl TempGroup {
    pub fn new(tag: &str) -> TempGroup {
        let name = format!("gt{}{tag}", std::process::id());
        locked(|| {
            let _ = Command::new("groupdel").arg(&name).output();
            cmd::run_ok(Command::new("groupadd").args(["--system", &name]));
        });
        let gid = id_of("group", &name);
        TempGroup { name, gid }
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        locked(|| Command::new("groupdel").arg(&self.name).output()).ok();
    }
}

/// A system user `gt<pid><tag>` without a home, in `groups`; `userdel` on
/// drop. Its primary group is the shared `nogroup`-like one useradd picks
/// with `--no-user-group`.
pub struct TempUser {
    pub name: String,
    pub uid: u32,
}

impl TempUser {
    pub fn new(tag: &str, groups: &[&TempGroup]) -> TempUser {
        let name = format!("gt{}{tag}", std::process::id());
        let mut c = Command::new("useradd");
        c.args(["--system", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin"]);
        let list: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        if !list.is_empty() {
            c.args(["--groups", &list.join(",")]);
        }
        locked(|| {
            let _ = Command::new("userdel").arg(&name).output();
            cmd::run_ok(c.arg(&name));
        });
        let uid = id_of("passwd", &name);
        TempUser { name, uid }
    }

    /// `setpriv` arguments that run a program as this user with its groups
    /// (put before the program).
    pub fn setpriv(&self) -> Vec<String> {
        ["setpriv", "--reuid", &self.name, "--regid", &primary_gid(&self.name).to_string(), "--init-groups"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        locked(|| Command::new("userdel").arg(&self.name).output()).ok();
    }
}

/// The id `getent DATABASE NAME` gives (third field).
fn id_of(database: &str, name: &str) -> u32 {
    let out = cmd::run_ok(Command::new("getent").args([database, name]));
    out.stdout
        .split(':')
        .nth(2)
        .and_then(|f| f.trim().parse().ok())
        .unwrap_or_else(|| panic!("getent {database} {name}: {out:?}"))
}

fn primary_gid(user: &str) -> u32 {
    let out = cmd::run_ok(Command::new("getent").args(["passwd", user]));
    out.stdout
        .split(':')
        .nth(3)
        .and_then(|f| f.trim().parse().ok())
        .unwrap_or_else(|| panic!("getent passwd {user}: {out:?}"))
}
