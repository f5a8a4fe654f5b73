use super::*;
use crate::config::{Config, Protocols};
use std::os::unix::fs::PermissionsExt;

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml_with(text, "test.toml", &Protocols::built_in()).map_err(|e| e.to_string())
}

fn bgp(text: &str) -> BgpConfig {
    parse(text).unwrap_or_else(|e| panic!("{e}")).bgp.expect("[bgp] present")
}

/// Asserts `text` fails with one line holding every needle.
#[track_caller]
fn fails(text: &str, needles: &[&str]) {
    let e = parse(text).expect_err(text);
    for n in needles {
        assert!(e.contains(n), "{n:?} not in {e:?}");
    }
    assert!(!e.contains('\n'), "one line: {e}");
}

const HEAD: &str = "[bgp]\nlocal_as = 65001\nrouter_id = \"192.0.2.1\"\n";

fn with_neighbor(lines: &str) -> String {
    format!("{HEAD}\n[[bgp.neighbor]]\n{lines}\n")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn no_bgp_section_means_no_bgp() {
    assert!(parse("").unwrap().bgp.is_none());
}

#[test]
fn the_issue_example_parses_with_every_key() {
    let dir = std::env::temp_dir().join(format!("guardian-bgp-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("peer.secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        r#"
[bgp]
local_as = 65001
router_id = "192.0.2.1"
table = 100
metric = 20
multipath = false

[[bgp.neighbor]]
address = "192.0.2.2"
interface = "veth0"
remote_as = 65002
hold_time = "90s"
passive = false
liveness = "nexthop"
install = true
import = ["10.0.0.0/8 le 24"]
max_prefixes = 1000000
max_prefixes_idle = "5m"
graceful_restart = true
restart_time_max = "120s"
secret_file = "{}"
"#,
        secret.display()
    );
    let b = bgp(&text);
    assert_eq!(
        (b.local_as, b.router_id, b.table, b.metric, b.multipath),
        (65001, "192.0.2.1".parse().unwrap(), 100, Some(20), false)
    );
    let n = &b.neighbors[0];
    assert_eq!(n.address, ip("192.0.2.2"));
    assert_eq!(n.interface.as_deref(), Some("veth0"));
    assert_eq!(n.remote_as, 65002);
    assert_eq!(n.hold_time, Duration::from_secs(90));
    assert_eq!(n.liveness, NeighborLiveness::Nexthop);
    assert_eq!(n.max_prefixes, Some(1_000_000));
    assert_eq!(n.max_prefixes_idle, Duration::from_secs(300));
    assert_eq!(n.md5_key.as_deref(), Some(&b"s3cret"[..]), "the trailing newline is not part of the key");
    assert!(!format!("{n:?}").contains("s3cret"), "Debug hides the key");
    assert!(n.describe().contains("import 10.0.0.0/8 le 24"), "{}", n.describe());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn defaults_accept_all_and_act_as_graceful_restart_helper() {
    let b = bgp(&with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002"));
    assert_eq!((b.table, b.metric, b.multipath), (crate::route::MAIN_TABLE, None, false));
    let n = &b.neighbors[0];
    assert!(n.import.is_empty());
    assert!(n.accepts(ip("203.0.113.0"), 24));
    assert!(n.install && n.graceful_restart && !n.passive);
    assert_eq!((n.hold_time, n.restart_time_max, n.max_prefixes), (DEFAULT_HOLD_TIME, DEFAULT_RESTART_TIME_MAX, None));
}

#[test]
fn as_zero_is_refused_with_key_and_line() {
    fails("[bgp]\nlocal_as = 0\nrouter_id = \"192.0.2.1\"\n", &["line 2", "`bgp.local_as`", "AS 0"]);
    fails(&with_neighbor("address = \"192.0.2.2\"\nremote_as = 0"), &["line 7", "`bgp.neighbor.remote_as`", "AS 0"]);
}

#[test]
fn as_trans_and_out_of_range_ases_are_refused() {
    fails("[bgp]\nlocal_as = 23456\nrouter_id = \"192.0.2.1\"\n", &["`bgp.local_as`", "AS_TRANS"]);
    fails("[bgp]\nlocal_as = 4294967296\nrouter_id = \"192.0.2.1\"\n", &["`bgp.local_as`", "out of range"]);
}

#[test]
fn four_byte_ases_are_accepted() {
    assert_eq!(bgp("[bgp]\nlocal_as = 4200000000\nrouter_id = \"192.0.2.1\"\n").local_as, 4_200_000_000);
}

#[test]
fn router_id_missing_when_bgp_present_is_an_error() {
    fails("[bgp]\nlocal_as = 65001\n", &["line 1", "`bgp.router_id`", "missing"]);
    fails("[bgp]\nlocal_as = 65001\nrouter_id = \"0.0.0.0\"\n", &["line 3", "`bgp.router_id`", "non-zero"]);
    fails("[bgp]\nlocal_as = 65001\nrouter_id = \"2001:db8::1\"\n", &["`bgp.router_id`"]);
}

#[test]
fn neighbor_without_remote_as_is_an_error() {
    fails(&with_neighbor("address = \"192.0.2.2\""), &["line 6", "`bgp.neighbor.remote_as`", "missing"]);
}

#[test]
fn neighbor_without_address_is_an_error() {
    fails(&with_neighbor("remote_as = 65002"), &["`bgp.neighbor.address`", "missing"]);
}

#[test]
fn the_same_neighbor_twice_names_both_lines() {
    let text = format!(
        "{HEAD}\n[[bgp.neighbor]]\naddress = \"192.0.2.2\"\nremote_as = 65002\n\n[[bgp.neighbor]]\naddress = \"192.0.2.2\"\nremote_as = 65003\n"
    );
    fails(&text, &["line 9", "`bgp.neighbor.address`", "192.0.2.2", "line 5", "twice"]);
}

#[test]
fn one_link_local_address_on_two_interfaces_is_two_neighbors() {
    let text = format!(
        "{HEAD}\n[[bgp.neighbor]]\naddress = \"fe80::1\"\ninterface = \"eth0\"\nremote_as = 65002\n\n\
         [[bgp.neighbor]]\naddress = \"fe80::1\"\ninterface = \"eth1\"\nremote_as = 65002\n"
    );
    assert_eq!(bgp(&text).neighbors.len(), 2);
}

#[test]
fn link_local_neighbor_without_interface_is_an_error() {
    fails(
        &with_neighbor("address = \"fe80::2\"\nremote_as = 65002"),
        &["line 6", "`bgp.neighbor.interface`", "link-local"],
    );
    let global = bgp(&with_neighbor("address = \"2001:db8::2\"\nremote_as = 65002"));
    assert_eq!(global.neighbors[0].interface, None);
}

#[test]
fn hold_time_of_one_or_two_seconds_is_refused() {
    for bad in ["1s", "2s"] {
        let text = with_neighbor(&format!("address = \"192.0.2.2\"\nremote_as = 65002\nhold_time = \"{bad}\""));
        fails(&text, &["line 8", "`bgp.neighbor.hold_time`", "at least 3s"]);
    }
    fails(&with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002\nhold_time = \"3500ms\""), &["whole seconds"]);
    for good in ["0s", "3s", "240s"] {
        let text = with_neighbor(&format!("address = \"192.0.2.2\"\nremote_as = 65002\nhold_time = \"{good}\""));
        bgp(&text);
    }
}

#[test]
fn import_filters_follow_prefix_list_rules() {
    let f = PrefixFilter::parse("10.0.0.0/8 le 24").unwrap();
    assert!(f.matches(ip("10.0.0.0"), 8) && f.matches(ip("10.1.2.0"), 24));
    assert!(!f.matches(ip("10.1.2.0"), 25) && !f.matches(ip("11.0.0.0"), 8));
    let exact = PrefixFilter::parse("10.0.0.0/8").unwrap();
    assert!(exact.matches(ip("10.0.0.0"), 8) && !exact.matches(ip("10.1.0.0"), 16));
    let ge = PrefixFilter::parse("2001:db8::/32 ge 48").unwrap();
    assert!(ge.matches(ip("2001:db8:1::"), 48) && ge.matches(ip("2001:db8::1"), 128));
    assert!(!ge.matches(ip("2001:db8::"), 32));
    let both = PrefixFilter::parse("10.0.0.0/8 ge 16 le 24").unwrap();
    assert_eq!((both.ge, both.le), (16, 24));
    for text in ["10.0.0.0/8 le 24", "10.0.0.0/8", "2001:db8::/32 ge 48", "10.0.0.0/8 ge 16 le 24"] {
        assert_eq!(PrefixFilter::parse(text).unwrap().to_string(), text);
    }
}

#[test]
fn bad_import_filters_name_the_key_and_line() {
    for bad in [
        "10.0.0.0/8 le",
        "10.0.0.0/8 lt 24",
        "10.0.0.0/8 le 33",
        "10.0.0.0/8 le 4",
        "10.0.0.1/8",
        "10.0.0.0",
        "",
        "10.0.0.0/8 le 24 le 24",
    ] {
        let text = with_neighbor(&format!("address = \"192.0.2.2\"\nremote_as = 65002\nimport = [\"{bad}\"]"));
        fails(&text, &["line 8", "`bgp.neighbor.import`"]);
    }
}

#[test]
fn a_filter_decides_what_a_neighbor_accepts() {
    let b = bgp(&with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002\nimport = [\"10.0.0.0/8 le 24\"]"));
    assert!(b.neighbors[0].accepts(ip("10.9.0.0"), 16));
    assert!(!b.neighbors[0].accepts(ip("192.168.0.0"), 16));
}

#[test]
fn restart_time_max_beyond_the_field_is_refused() {
    fails(
        &with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002\nrestart_time_max = \"2h\""),
        &["`bgp.neighbor.restart_time_max`", "4095"],
    );
}

#[test]
fn max_prefixes_zero_is_refused() {
    fails(
        &with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002\nmax_prefixes = 0"),
        &["`bgp.neighbor.max_prefixes`"],
    );
}

#[test]
fn a_secret_file_others_can_read_is_refused() {
    let dir = std::env::temp_dir().join(format!("guardian-bgp-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("open.secret");
    std::fs::write(&secret, "x").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text =
        with_neighbor(&format!("address = \"192.0.2.2\"\nremote_as = 65002\nsecret_file = \"{}\"", secret.display()));
    fails(&text, &["line 8", "`bgp.neighbor.secret_file`", "chmod 600"]);
    fails(&with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002\nsecret_file = \"relative\""), &["absolute"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_keys_are_refused() {
    fails(&with_neighbor("address = \"192.0.2.2\"\nremote_as = 65002\nmultihop = 2"), &["line 8", "multihop"]);
}

#[test]
fn a_valid_bgp_section_gives_no_warning() {
    let c = crate::config::Config::from_toml(
        "[bgp]\nlocal_as = 65001\nrouter_id = \"192.0.2.1\"\n\n[[bgp.neighbor]]\naddress = \"192.0.2.2\"\nremote_as = 65002\n",
        "t.toml",
    )
    .expect("valid");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.bgp.expect("the section").neighbors.len(), 1);
    assert!(crate::config::Config::from_toml("", "t.toml").unwrap().warnings.is_empty());
}
