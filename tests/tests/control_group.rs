//! `daemon.control_socket_group`: members of the group read the daemon's
//! state without root; changing it (reconcile, admin-down/up, reload, bgp reset)
//! stays with root and the daemon's own user; others cannot connect.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::sync::Arc;

use guardian_tests::cmd::{self, Output};
use guardian_tests::daemon::guardian_bin;
use guardian_tests::daemon::CLI_TIMEOUT;
use guardian_tests::netns::{Netns, DEV, GW4};
use guardian_tests::tempdir::TempDir;
use guardian_tests::users::{TempGroup, TempUser};
use guardian_tests::{require_netns, require_tool, Config, Daemon, RouteSpec};

/// `guardian --control-socket SOCK ARGS` as `user`.
fn cli_as(user: &TempUser, d: &Daemon, args: &[&str]) -> Output {
    let setpriv = user.setpriv();
    let mut c = Command::new(&setpriv[0]);
    c.args(&setpriv[1..]).arg(guardian_bin()).arg("--control-socket").arg(d.socket()).args(args);
    c.env_remove("GUARDIAN_SOCKET").env_remove("RUST_LOG");
    cmd::run(&mut c, CLI_TIMEOUT)
}

#[test]
fn members_of_the_socket_group_read_but_do_not_steer_and_others_cannot_connect() {
    require_netns!();
    require_tool!("setpriv");
    require_tool!("useradd");
    let group = TempGroup::new("c");
    let member = TempUser::new("m", &[&group]);
    let outsider = TempUser::new("o", &[]);
    let ns = Netns::with_link();
    // The folder must let others reach the socket, as /run/guardian does.
    let dir = Arc::new(TempDir::new("grp"));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = RouteSpec::new("10.9.0.0/24").via(GW4).dev(DEV);
    let config = Config::new().daemon("control_socket_group", &format!("\"{}\"", group.name)).route(spec);
    let d = Daemon::builder(&ns).dir(dir).config(&config).spawn();
    d.wait_ready(guardian_tests::wait::LONG);

    let meta = std::fs::metadata(d.socket()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o660, "socket mode");
    assert_eq!(meta.gid(), group.gid, "socket group");

    let reads =
        [&["status", "--json"][..], &["routes", "--json"], &["sessions", "--json"], &["deletions", "--json"], &["bgp"]];
    for read in reads {
        let out = cli_as(&member, &d, read);
        out.assert_no_panic();
        assert!(out.success(), "a member runs {read:?}: {out:?}");
    }
    assert_eq!(cli_as(&member, &d, &["status", "--json"]).json()["ready"], true);

    let writes =
        [&["reconcile"][..], &["reload"], &["admin-down", "192.0.2.2"], &["admin-up", "192.0.2.2"], &["bgp", "reset"]];
    for write in writes {
        let out = cli_as(&member, &d, write);
        out.assert_no_panic();
        assert_eq!(out.code(), 3, "a member may not run {write:?}: {out:?}");
        assert!(out.stderr.contains("only root or guardian's own user"), "{out:?}");
    }
    // Root may (the daemon's own user, here root too).
    assert!(d.cli(&["reconcile"]).success());

    let out = cli_as(&outsider, &d, &["status"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("permission denied") && out.stderr.contains("control_socket_group"), "{out:?}");
}

#[test]
fn without_the_key_the_socket_is_the_owners_alone() {
    require_netns!();
    let ns = Netns::with_link();
    let d = Daemon::start(&ns, &Config::new());
    let meta = std::fs::metadata(d.socket()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "socket mode");
}

#[test]
fn a_group_that_does_not_exist_is_a_configuration_error() {
    require_netns!();
    let ns = Netns::with_link();
    let config = Config::new().daemon("control_socket_group", "\"gt-no-such-group\"");
    let out = Daemon::builder(&ns).config(&config).run_to_exit(guardian_tests::wait::SHORT);
    out.assert_no_panic();
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("no group \"gt-no-such-group\"") && out.stderr.contains("groupadd"), "{out:?}");
}
