use super::*;
use crate::cli::{Cli, Command};
use clap::Parser;

fn established() -> NeighborView {
    NeighborView {
        address: "192.0.2.2".parse().unwrap(),
        interface: None,
        remote_as: 65002,
        passive: false,
        state: "established".into(),
        uptime_seconds: Some(245),
        peer_id: Some("192.0.2.2".parse().unwrap()),
        last_error: None,
        idle_for_seconds: None,
        graceful_restart: false,
        liveness: false,
        install: true,
        prefixes_received: 1200,
        prefixes_accepted: 1000,
        prefixes_filtered: 200,
        prefixes_installed: 998,
        prefixes_stale: 0,
        prefixes_unresolvable: 2,
        updates_received: 31,
    }
}

fn idle_after_max_prefixes() -> NeighborView {
    NeighborView {
        address: "fe80::2".parse().unwrap(),
        interface: Some("eth1".into()),
        remote_as: 4_200_000_000,
        state: "idle".into(),
        // Left from the last Established: not shown while idle.
        uptime_seconds: Some(9),
        peer_id: None,
        last_error: Some("sent NOTIFICATION cease: maximum number of prefixes reached (6/1)".into()),
        idle_for_seconds: Some(290),
        install: false,
        prefixes_received: 0,
        prefixes_accepted: 0,
        prefixes_filtered: 0,
        prefixes_installed: 0,
        prefixes_unresolvable: 0,
        updates_received: 0,
        ..established()
    }
}

fn view(neighbors: Vec<NeighborView>) -> BgpView {
    BgpView {
        enabled: true,
        local_as: Some(65001),
        router_id: Some("192.0.2.1".parse().unwrap()),
        table: Some(100),
        neighbors,
    }
}

/// A table's line as its columns (LAST ERROR split into words too).
fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn the_table_opens_with_the_settings_then_one_line_a_neighbor() {
    let text = table(&view(vec![established()]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "local AS 65001, router id 192.0.2.1, table 100", "{text}");
    assert_eq!(
        columns(lines[1]),
        [
            "NEIGHBOR",
            "AS",
            "STATE",
            "UPTIME",
            "RECEIVED",
            "ACCEPTED",
            "INSTALLED",
            "STALE",
            "UNRESOLVED",
            "LAST",
            "ERROR"
        ],
        "{text}"
    );
    assert_eq!(columns(lines[2]), ["192.0.2.2", "65002", "established", "4m05s", "1200", "1000", "998", "0", "2", "-"]);
    assert_eq!(lines.len(), 3, "{text}");
}

#[test]
fn an_idle_neighbor_shows_no_uptime_and_its_last_error_with_when_it_starts_again() {
    let text = table(&view(vec![established(), idle_after_max_prefixes()]));
    let line = text.lines().nth(3).expect("a second neighbor");
    assert!(line.starts_with("fe80::2%eth1 "), "{text}");
    assert_eq!(columns(line)[..9], ["fe80::2%eth1", "4200000000", "idle", "-", "0", "0", "off", "0", "0"], "{text}");
    assert!(
        line.ends_with("sent NOTIFICATION cease: maximum number of prefixes reached (6/1); starts again in 4m50s"),
        "{text}"
    );
}

#[test]
fn the_columns_line_up_whatever_the_address() {
    let text = table(&view(vec![established(), idle_after_max_prefixes()]));
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let at = |line: &str, word: &str| line.find(word).unwrap_or_else(|| panic!("{word} in {line}"));
    let state = at(lines[0], "STATE");
    assert_eq!(at(lines[1], "established"), state, "{text}");
    assert_eq!(at(lines[2], "idle"), state, "{text}");
}

#[test]
fn without_a_bgp_section_it_says_so_in_one_line() {
    assert_eq!(table(&BgpView::default()), "BGP is not configured (no [bgp] section)\n");
}

#[test]
fn main_is_named_when_no_table_is_set() {
    let mut v = view(Vec::new());
    v.table = None;
    assert_eq!(table(&v).lines().next(), Some("local AS 65001, router id 192.0.2.1, table main"));
}

#[test]
fn the_json_answer_reads_back_as_it_was_sent() {
    for v in [BgpView::default(), view(vec![established(), idle_after_max_prefixes()])] {
        let text = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(serde_json::from_str::<BgpView>(&text).unwrap(), v, "{text}");
    }
    let json = serde_json::to_value(view(vec![idle_after_max_prefixes()])).unwrap();
    assert_eq!(json["neighbors"][0]["address"], "fe80::2");
    assert_eq!(json["neighbors"][0]["interface"], "eth1");
    assert_eq!(json["router_id"], "192.0.2.1");
}

#[test]
fn the_reset_summary_counts_neighbors() {
    let one = BgpResetReport { neighbor: Some("192.0.2.2".parse().unwrap()), neighbors: 1 };
    assert_eq!(summary(&one), "1 BGP neighbor reset (192.0.2.2)");
    let all = BgpResetReport { neighbor: None, neighbors: 3 };
    assert_eq!(summary(&all), "3 BGP neighbors reset");
    let none = BgpResetReport { neighbor: None, neighbors: 0 };
    assert_eq!(summary(&none), "0 BGP neighbors reset");
}

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    let cli = Cli::try_parse_from(["guardian", "bgp"].iter().chain(args))?;
    match cli.command {
        Command::Bgp(args) => Ok(args),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reset_takes_an_optional_neighbor_address_and_show_takes_json() {
    assert!(parse(&["--json"]).unwrap().json);
    assert!(parse(&[]).unwrap().action.is_none());
    assert!(matches!(parse(&["reset"]).unwrap().action, Some(Action::Reset { neighbor: None })));
    let one = parse(&["reset", "2001:db8::2"]).unwrap().action;
    assert!(matches!(one, Some(Action::Reset { neighbor: Some(a) }) if a.to_string() == "2001:db8::2"), "{one:?}");
    assert!(parse(&["reset", "peer-1"]).is_err());
    assert!(parse(&["--json", "reset"]).is_err(), "--json is for the table, not reset");
}
