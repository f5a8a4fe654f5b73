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
        "{:<24} {:<18} {:<10} {:>6} {:>6}  {:<9} {:>10}  {:<7} {:<16} {}ERROR\n",
        "DST",
        "VIA",
        "DEV",
        "TABLE",
        "METRIC",
        "STATE",
        "REINSTALLS",
        "KIND",
        "SOURCE",
        if owners { format!("{:<12} ", "OWNER") } else { String::new() }
    );
    for r in routes {
        let owner = match owners {
            true => format!("{:<12} ", r.owner.as_deref().unwrap_or("-")),
            false => String::new(),
        };
        let line = format!(
            "{:<24} {:<18} {:<10} {:>6} {:>6}  {:<9} {:>10}  {:<7} {:<16} {owner}{}",
            r.dst,
            match (r.exact_copy, r.nexthops.len(), r.via.as_deref()) {
                (true, _, _) => "(as copied)".to_owned(),
                (false, 0, via) => via.unwrap_or("-").to_owned(),
                (false, n, _) => format!("{} of {n} legs", r.nexthops.iter().filter(|h| h.up).count()),
            },
            r.dev.as_deref().unwrap_or("-"),
            r.table,
            r.metric,
            r.state,
            r.reinstalls,
            if r.kind.is_empty() { "own" } else { &r.kind },
            r.source,
            r.last_error.as_deref().unwrap_or("")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
