use super::*;
use crate::config::Config;

/// Names as on a host with FRR installed (its rt_protos.d names 196
/// `static`) and guardian's package (201 `guardian`); the host's own files
/// play no part.
fn frr() -> Protocols {
    let mut p = Protocols::built_in();
    p.add("186 bgp\n196 static\n201 guardian\n");
    p
}

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml_with(text, "test.toml", &frr()).map_err(|e| e.to_string())
}

fn guards(text: &str) -> Vec<GuardConfig> {
    parse(text).unwrap_or_else(|e| panic!("{e}")).guards
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

fn prefix(text: &str) -> Prefix {
    let (addr, len) = parse_prefix(text).unwrap();
    Prefix { addr, len }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

// ---- parsing ----------------------------------------------------------------

#[test]
fn the_issue_example_parses_to_what_it_says() {
    let g = guards(
        r#"
[[guard]]
protocol = "bird"
tables = [254]
prefixes = ["10.0.0.0/8"]
owner = ["bird"]
owner_unit = "bird.service"
mode = "audit"
unknown_deleter = "accept"
kernel_cause_grace = "3s"
"#,
    );
    let expected = GuardConfig {
        name: "bird".into(),
        protocol: 12,
        tables: Some(vec![254]),
        prefixes: vec![prefix("10.0.0.0/8")],
        owner: vec!["bird".into()],
        owner_unit: Some("bird.service".into()),
        mode: GuardMode::Audit,
        unknown_deleter: UnknownDeleter::Accept,
        kernel_cause_grace: Duration::from_secs(3),
    };
    assert_eq!(g, vec![expected]);
}

#[test]
fn defaults_repair_every_table_and_destination_with_a_ten_second_grace() {
    let g = guards("[[guard]]\nprotocol = 186\nowner = [\"doublezerod\"]\n");
    assert_eq!(g.len(), 1);
    let g = &g[0];
    assert_eq!(g.name, "bgp", "named as rt_protos names the protocol");
    assert_eq!(g.protocol, 186);
    assert_eq!(g.tables, None);
    assert!(g.prefixes.is_empty());
    assert_eq!(g.owner_unit, None);
    assert_eq!(g.mode, GuardMode::Repair);
    assert_eq!(g.unknown_deleter, UnknownDeleter::Repair);
    assert_eq!(g.kernel_cause_grace, Duration::from_secs(10));
    assert_eq!(g.kernel_cause_grace, DEFAULT_KERNEL_CAUSE_GRACE);
}

#[test]
fn a_file_without_guards_has_none_and_no_warnings() {
    let c = parse("").unwrap();
    assert!(c.guards.is_empty() && c.warnings.is_empty());
}

#[test]
fn an_unnamed_protocol_names_its_guard_by_number() {
    let g = guards("[[guard]]\nprotocol = 77\nowner_unit = \"x.service\"\n");
    assert_eq!((g[0].name.as_str(), g[0].protocol), ("77", 77));
}

#[test]
fn a_name_is_taken_as_written() {
    let g = guards("[[guard]]\nname = \"frr-bgp\"\nprotocol = \"bgp\"\nowner = [\"zebra\"]\n");
    assert_eq!(g[0].name, "frr-bgp");
    fails(
        "[[guard]]\nname = \"\"\nprotocol = 12\nowner = [\"bird\"]\n",
        &["line 2", "`guard.name`", "not a guard name"],
    );
    fails("[[guard]]\nname = \"two words\"\nprotocol = 12\nowner = [\"bird\"]\n", &["`guard.name`"]);
}

#[test]
fn kernel_cause_grace_may_be_zero_and_is_a_duration() {
    let g = guards("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nkernel_cause_grace = \"0s\"\n");
    assert_eq!(g[0].kernel_cause_grace, Duration::ZERO);
    fails("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nkernel_cause_grace = \"soon\"\n", &["line 4", "duration"]);
}

#[test]
fn tables_are_sorted_without_duplicates() {
    let g = guards("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\ntables = [254, 100, 254]\n");
    assert_eq!(g[0].tables, Some(vec![100, 254]));
}

#[test]
fn empty_lists_and_table_zero_are_refused() {
    fails(
        "[[guard]]\nprotocol = 12\nowner = [\"bird\"]\ntables = []\n",
        &["line 4", "`guard.tables`", "leave `tables` out"],
    );
    fails(
        "[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nprefixes = []\n",
        &["line 4", "`guard.prefixes`", "leave `prefixes` out"],
    );
    fails("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\ntables = [254,\n 0]\n", &["line 5", "table 0"]);
}

#[test]
fn mode_and_unknown_deleter_take_only_their_words() {
    fails("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nmode = \"fix\"\n", &["line 4", "repair", "audit"]);
    fails("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nunknown_deleter = \"ignore\"\n", &["line 4", "accept"]);
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    fails("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nowners = [\"x\"]\n", &["line 4", "owners"]);
}

#[test]
fn protocol_is_required() {
    fails("[[guard]]\nowner = [\"bird\"]\n", &["protocol"]);
}

#[test]
fn guards_may_follow_routes() {
    let c = parse(
        "[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"eth0\"\n\n[[guard]]\nprotocol = 12\nowner = [\"bird\"]\n\n\
         [[route]]\ndst = \"10.9.1.0/24\"\ndev = \"eth0\"\n",
    )
    .unwrap();
    assert_eq!((c.routes.specs.len(), c.guards.len()), (2, 1));
    let c = parse("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\n\n[[route]]\ndst = \"10.9.0.0/24\"\ndev = \"eth0\"\n")
        .unwrap();
    assert_eq!((c.routes.specs.len(), c.guards.len()), (1, 1));
}

// ---- protocols ----------------------------------------------------------------

#[test]
fn protocols_are_numbers_or_rt_protos_names_and_zero_to_four_are_allowed() {
    for (written, number) in
        [("\"kernel\"", 2), ("\"boot\"", 3), ("0", 0), ("4", 4), ("\"0xc\"", 12), ("\"ospf\"", 188)]
    {
        let g = guards(&format!("[[guard]]\nprotocol = {written}\nowner = [\"x\"]\n"));
        assert_eq!(g[0].protocol, number, "{written}");
    }
    fails("[[guard]]\nprotocol = \"nosuch\"\nowner = [\"x\"]\n", &["line 2", "`guard.protocol`", "rt_protos"]);
    fails("[[guard]]\nprotocol = 256\nowner = [\"x\"]\n", &["line 2", "out of range"]);
}

#[test]
fn a_name_two_numbers_share_is_a_warning_naming_both() {
    let c = parse("[[guard]]\nowner = [\"zebra\"]\nprotocol = \"static\"\n").unwrap();
    assert_eq!(c.guards[0].protocol, 4, "the lowest, as ip takes it");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = &c.warnings[0];
    for f in ["line 3", "`guard.protocol`", "4", "196", "FRR staticd"] {
        assert!(w.contains(f), "{f:?} missing from: {w}");
    }
    let c = parse("[[guard]]\nowner = [\"zebra\"]\nprotocol = 196\n").unwrap();
    assert!(c.warnings.is_empty(), "a number says which: {:?}", c.warnings);
    assert_eq!(c.guards[0].name, "static");
}

#[test]
fn guardians_own_route_protocol_cannot_be_guarded() {
    fails("[[guard]]\nprotocol = \"guardian\"\nowner = [\"x\"]\n", &["line 2", "`guard.protocol`", "route_protocol"]);
    fails(
        "[daemon]\nroute_protocol = 250\n\n[[guard]]\nprotocol = 250\nowner = [\"x\"]\n",
        &["line 5", "route_protocol"],
    );
    assert_eq!(guards("[daemon]\nroute_protocol = 250\n\n[[guard]]\nprotocol = 201\nowner = [\"x\"]\n").len(), 1);
}

// ---- owners -----------------------------------------------------------------

#[test]
fn a_guard_needs_an_owner_or_an_owner_unit() {
    fails("[[guard]]\nprotocol = 12\n", &["line 2", "`guard`", "owner_unit"]);
    fails("[[guard]]\nprotocol = 12\nowner = []\n", &["owner_unit"]);
    let g = guards("[[guard]]\nprotocol = 12\nowner_unit = \"bird.service\"\n");
    assert!(g[0].owner.is_empty());
    assert_eq!(g[0].owner_unit.as_deref(), Some("bird.service"));
}

#[test]
fn owner_names_are_comm_names_of_at_most_15_bytes() {
    let g = guards("[[guard]]\nprotocol = 186\nowner = [\"doublezerod\", \"abcdefghijklmno\"]\n");
    assert_eq!(g[0].owner, ["doublezerod", "abcdefghijklmno"]);
    fails(
        "[[guard]]\nprotocol = 186\nowner = [\n  \"ok\",\n  \"abcdefghijklmnop\",\n]\n",
        &["line 5", "`guard.owner`", "truncates", "15 characters"],
    );
    fails("[[guard]]\nprotocol = 186\nowner = [\"\"]\n", &["line 3", "`guard.owner`"]);
}

#[test]
fn owner_unit_is_one_path_component() {
    fails("[[guard]]\nprotocol = 12\nowner_unit = \"system.slice/bird.service\"\n", &["line 3", "`guard.owner_unit`"]);
    fails("[[guard]]\nprotocol = 12\nowner_unit = \"\"\n", &["line 3", "`guard.owner_unit`"]);
}

// ---- prefixes -----------------------------------------------------------------

#[test]
fn prefixes_parse_like_route_destinations() {
    let g = guards(
        "[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nprefixes = [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.1\"]\n",
    );
    let shown: Vec<String> = g[0].prefixes.iter().map(Prefix::to_string).collect();
    assert_eq!(shown, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"]);
    fails(
        "[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nprefixes = [\n  \"10.0.0.0/8\",\n  \"10.1.2.3/16\",\n]\n",
        &["line 6", "`guard.prefixes`", "host bits"],
    );
    fails("[[guard]]\nprotocol = 12\nowner = [\"bird\"]\nprefixes = [\"nowhere\"]\n", &["line 4", "invalid prefix"]);
}

// ---- between guards -------------------------------------------------------------

#[test]
fn two_unnamed_guards_on_one_protocol_are_told_to_take_names() {
    let text = "[[guard]]\nprotocol = 12\nowner = [\"bird\"]\ntables = [100]\n\n\
                [[guard]]\nprotocol = \"bird\"\nowner = [\"bird\"]\ntables = [200]\n";
    fails(text, &["line 7", "line 2", "give each a `name`"]);
    let named = text.replace("[[guard]]\nprotocol = \"bird\"", "[[guard]]\nname = \"bird-200\"\nprotocol = \"bird\"");
    let g = guards(&named);
    assert_eq!((g[0].name.as_str(), g[1].name.as_str()), ("bird", "bird-200"));
}

#[test]
fn guard_names_are_unique() {
    fails(
        "[[guard]]\nname = \"x\"\nprotocol = 12\nowner = [\"bird\"]\n\n[[guard]]\nname = \"x\"\nprotocol = 186\nowner = [\"zebra\"]\n",
        &["line 8", "`guard.name`", "\"x\"", "line 3", "unique"],
    );
    // A name given that another guard has by default.
    fails(
        "[[guard]]\nprotocol = 12\nowner = [\"bird\"]\n\n[[guard]]\nname = \"bird\"\nprotocol = 186\nowner = [\"zebra\"]\n",
        &["line 7", "\"bird\"", "line 2", "unique"],
    );
}

const BIRD_A: &str = "[[guard]]\nname = \"a\"\nprotocol = 12\nowner = [\"bird\"]\n";
const BIRD_B: &str = "\n[[guard]]\nname = \"b\"\nprotocol = 12\nowner = [\"bird\"]\n";

/// Guard `a` with `a_extra`, guard `b` (from line 7) with `b_extra`.
fn pair(a_extra: &str, b_extra: &str) -> String {
    format!("{BIRD_A}{a_extra}{BIRD_B}{b_extra}")
}

#[test]
fn guards_that_could_select_one_route_are_an_error_naming_both() {
    let both = ["line 8", "guard \"b\"", "guard \"a\"", "line 3", "same route"];
    fails(&pair("", ""), &both);
    fails(&pair("tables = [254]\n", ""), &["table 254"]);
    fails(&pair("tables = [100, 254]\n", "tables = [254, 300]\n"), &["table 254"]);
    fails(&pair("prefixes = [\"10.0.0.0/8\"]\n", "prefixes = [\"10.1.0.0/16\"]\n"), &["10.0.0.0/8 and 10.1.0.0/16"]);
    fails(&pair("prefixes = [\"10.1.0.0/16\"]\n", "prefixes = [\"10.0.0.0/8\"]\n"), &["10.1.0.0/16 and 10.0.0.0/8"]);
    fails(&pair("prefixes = [\"2001:db8::/32\"]\n", ""), &["2001:db8::/32"]);
    fails(&pair("prefixes = [\"0.0.0.0/0\"]\n", "prefixes = [\"192.0.2.0/24\"]\n"), &["0.0.0.0/0"]);
    fails(
        &pair("tables = [100]\nprefixes = [\"10.0.0.0/8\"]\n", "tables = [100]\nprefixes = [\"10.0.0.0/8\"]\n"),
        &["table 100", "10.0.0.0/8"],
    );
}

#[test]
fn guards_apart_by_protocol_table_prefix_or_family_coexist() {
    let apart = [
        ("", "protocol = 186\n"),
        ("tables = [100]\n", "tables = [200]\n"),
        ("prefixes = [\"10.0.0.0/8\"]\n", "prefixes = [\"11.0.0.0/8\"]\n"),
        ("prefixes = [\"10.0.0.0/8\"]\n", "prefixes = [\"::/0\"]\n"),
        ("prefixes = [\"10.0.0.0/9\"]\n", "prefixes = [\"10.128.0.0/9\"]\n"),
        ("tables = [254]\nprefixes = [\"10.0.0.0/8\"]\n", "prefixes = [\"192.0.2.0/24\"]\n"),
    ];
    for (a, b) in apart {
        // A second `protocol` would be a duplicate key: swap the line instead.
        let text = if b.starts_with("protocol") {
            format!("{BIRD_A}{a}{}", BIRD_B.replace("protocol = 12\n", b))
        } else {
            pair(a, b)
        };
        assert_eq!(guards(&text).len(), 2, "{text}");
    }
}

// ---- selects -------------------------------------------------------------------

fn selector(tables: Option<Vec<u32>>, prefixes: &[&str]) -> GuardConfig {
    GuardConfig {
        name: "t".into(),
        protocol: 12,
        tables,
        prefixes: prefixes.iter().map(|p| prefix(p)).collect(),
        owner: vec!["bird".into()],
        owner_unit: None,
        mode: GuardMode::Repair,
        unknown_deleter: UnknownDeleter::Repair,
        kernel_cause_grace: DEFAULT_KERNEL_CAUSE_GRACE,
    }
}

#[test]
fn selects_only_its_protocol() {
    let g = selector(None, &[]);
    assert!(g.selects(254, 12, ip("10.0.0.0"), 8));
    assert!(!g.selects(254, 186, ip("10.0.0.0"), 8));
}

#[test]
fn selects_its_tables_or_every_table() {
    assert!(selector(None, &[]).selects(12345, 12, ip("10.0.0.0"), 8));
    let g = selector(Some(vec![100, 254]), &[]);
    assert!(g.selects(100, 12, ip("10.0.0.0"), 8));
    assert!(g.selects(254, 12, ip("10.0.0.0"), 8));
    assert!(!g.selects(255, 12, ip("10.0.0.0"), 8));
}

#[test]
fn selects_ipv4_destinations_inside_its_prefixes() {
    let g = selector(None, &["10.0.0.0/8", "192.0.2.0/24"]);
    assert!(g.selects(254, 12, ip("10.0.0.0"), 8), "the prefix itself");
    assert!(g.selects(254, 12, ip("10.9.0.0"), 24));
    assert!(g.selects(254, 12, ip("192.0.2.7"), 32));
    assert!(!g.selects(254, 12, ip("10.0.0.0"), 7), "wider than the prefix");
    assert!(!g.selects(254, 12, ip("11.0.0.0"), 8));
    assert!(!g.selects(254, 12, ip("0.0.0.0"), 0), "the default route lies inside no /8");
    assert!(!g.selects(254, 12, ip("::a00:0"), 104), "another family");
}

#[test]
fn selects_ipv6_destinations_inside_its_prefixes() {
    let g = selector(None, &["2001:db8::/32"]);
    assert!(g.selects(254, 12, ip("2001:db8:1::"), 48));
    assert!(g.selects(254, 12, ip("2001:db8::1"), 128));
    assert!(!g.selects(254, 12, ip("2001:db9::"), 48));
    assert!(!g.selects(254, 12, ip("2001::"), 16));
    assert!(!g.selects(254, 12, ip("::"), 0));
    assert!(!g.selects(254, 12, ip("10.0.0.0"), 8), "another family");
}

#[test]
fn the_default_route_is_selected_only_by_a_slash_zero() {
    let v4 = selector(None, &["0.0.0.0/0"]);
    assert!(v4.selects(254, 12, ip("0.0.0.0"), 0));
    assert!(v4.selects(254, 12, ip("203.0.113.0"), 24), "a /0 holds every destination of its family");
    assert!(!v4.selects(254, 12, ip("::"), 0));
    let v6 = selector(None, &["::/0"]);
    assert!(v6.selects(254, 12, ip("::"), 0));
    assert!(!v6.selects(254, 12, ip("0.0.0.0"), 0));
    assert!(selector(None, &[]).selects(254, 12, ip("0.0.0.0"), 0), "no prefixes: every destination");
    assert!(selector(None, &[]).selects(254, 12, ip("::"), 0));
}

// ---- check-config -----------------------------------------------------------

#[test]
fn describe_names_every_setting() {
    let g = guards(
        "[[guard]]\nprotocol = 12\nowner = [\"bird\", \"birdc\"]\nowner_unit = \"bird.service\"\ntables = [254]\n\
         prefixes = [\"10.0.0.0/8\", \"2001:db8::/32\"]\nmode = \"audit\"\nkernel_cause_grace = \"1m 30s\"\n",
    );
    assert_eq!(
        g[0].describe(&frr()),
        "guard \"bird\": protocol 12 (bird), tables 254, prefixes 10.0.0.0/8,2001:db8::/32, owner bird,birdc, \
         owner_unit bird.service, mode audit, unknown_deleter repair, kernel_cause_grace 1m 30s"
    );
    let g = guards("[[guard]]\nprotocol = 77\nowner_unit = \"x.service\"\n");
    assert_eq!(
        g[0].describe(&frr()),
        "guard \"77\": protocol 77, tables every, prefixes every, owner none, owner_unit x.service, mode repair, \
         unknown_deleter repair, kernel_cause_grace 10s"
    );
}

/// The commented `[[guard]]` of the packaged sample, uncommented, is valid
/// and says what its comments say.
#[test]
fn the_packaged_sample_guard_is_valid_once_uncommented() {
    let sample = include_str!("../../../../packaging/guardian.toml");
    let start = sample.find("# [[guard]]").expect("the sample shows a guard");
    let text: String = sample[start..].lines().map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(""))).collect();
    let g = guards(&text);
    assert_eq!(g.len(), 1, "{text}");
    assert_eq!((g[0].protocol, g[0].mode, g[0].tables.as_deref()), (12, GuardMode::Audit, Some(&[254][..])));
    assert_eq!(g[0].kernel_cause_grace, DEFAULT_KERNEL_CAUSE_GRACE);
}
