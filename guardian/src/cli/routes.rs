use super::{block_on, print_json, Failure};
use crate::control::client;
use crate::messages::api::RouteInfo;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let routes: Vec<RouteInfo> = block_on(client::call(socket, "GET", "/v1/routes"))?;
    if args.json {
        return print_json(&routes);
    }
    print!("{}", table(&routes));
    Ok(())
}

/// The routes as a table; the OWNER column only when a route has an owner.
fn table(routes: &[RouteInfo]) -> String {
    let owners = routes.iter().any(|r| r.owner.is_some());
    let mut out = format!(
        "{:<24} {:<18} {:<10} {:>6} {:>6}  {:<9} {:>10}  {:<16} {}ERROR\n",
        "DST",
        "VIA",
        "DEV",
        "TABLE",
        "METRIC",
        "STATE",
        "REINSTALLS",
        "SOURCE",
        if owners { format!("{:<12} ", "OWNER") } else { String::new() }
    );
    for r in routes {
        let owner = match owners {
            true => format!("{:<12} ", r.owner.as_deref().unwrap_or("-")),
            false => String::new(),
        };
        let line = format!(
            "{:<24} {:<18} {:<10} {:>6} {:>6}  {:<9} {:>10}  {:<16} {owner}{}",
            r.dst,
            r.via.as_deref().unwrap_or("-"),
            r.dev.as_deref().unwrap_or("-"),
            r.table,
            r.metric,
            r.state,
            r.reinstalls,
            r.source,
            r.last_error.as_deref().unwrap_or("")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(source: &str, owner: Option<&str>) -> RouteInfo {
        RouteInfo {
            dst: "10.9.1.0/24".into(),
            via: Some("192.0.2.2".into()),
            dev: Some("veth0".into()),
            table: 100,
            src: None,
            metric: 0,
            family: "ipv4".into(),
            state: "installed".into(),
            reinstalls: 2,
            last_error: None,
            source: source.into(),
            owner: owner.map(str::to_owned),
        }
    }

    #[test]
    fn each_route_shows_its_source_and_an_owner_column_only_when_one_has_an_owner() {
        let own = table(&[route("config", None)]);
        let lines: Vec<&str> = own.lines().collect();
        assert!(lines[0].contains("SOURCE") && !lines[0].contains("OWNER"), "{own}");
        assert!(lines[1].ends_with("config"), "{own}");
        let guarded = table(&[route("config", None), route("guard:bird", Some("bird"))]);
        let lines: Vec<&str> = guarded.lines().collect();
        assert!(lines[0].contains("OWNER"), "{guarded}");
        fn tail(line: &str) -> Vec<&str> {
            line.split_whitespace().rev().take(2).collect()
        }
        assert_eq!(tail(lines[1]), ["-", "config"], "{guarded}");
        assert_eq!(tail(lines[2]), ["bird", "guard:bird"], "{guarded}");
    }
}
