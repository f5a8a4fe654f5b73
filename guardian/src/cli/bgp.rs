//! `guardian bgp`: the BGP neighbors, their sessions and prefixes;
//! `guardian bgp reset [NEIGHBOR]` closes sessions so that they start again.

use super::sessions::age;
use super::{block_on, print_json, Failure};
use crate::bgp::handle::{BgpView, NeighborView};
use crate::control::client;
use crate::messages::api::BgpResetReport;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Close a neighbor's session (every neighbor's without one) and start it again, also out of a max_prefixes idle
    Reset {
        /// The neighbor's address, as in its [[bgp.neighbor]]
        neighbor: Option<IpAddr>,
    },
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    match args.action {
        Some(Action::Reset { neighbor }) => reset(neighbor, socket),
        None => {
            let view: BgpView = block_on(client::call(socket, "GET", "/v1/bgp"))?;
            if args.json {
                return print_json(&view);
            }
            print!("{}", table(&view));
            Ok(())
        }
    }
}

/// Exits 2 when the daemon has no `[bgp]`, 1 for an address no neighbor has.
fn reset(neighbor: Option<IpAddr>, socket: &Path) -> Result<(), Failure> {
    let path = match neighbor {
        Some(addr) => format!("/v1/bgp/reset/{addr}"),
        None => "/v1/bgp/reset".to_owned(),
    };
    let report: BgpResetReport = block_on(client::call(socket, "POST", &path))?;
    println!("{}", summary(&report));
    Ok(())
}

/// The settings on one line, then one line a neighbor; a daemon without
/// `[bgp]` says so instead (and `guardian bgp` still exits 0).
fn table(view: &BgpView) -> String {
    if !view.enabled {
        return "BGP is not configured (no [bgp] section)\n".to_owned();
    }
    let shown = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let mut out = format!(
        "local AS {}, router id {}, table {}\n",
        shown(view.local_as.map(|n| n.to_string())),
        shown(view.router_id.map(|id| id.to_string())),
        view.table.map_or_else(|| "main".to_owned(), |t| t.to_string()),
    );
    out.push_str(&format!(
        "{:<28} {:>10}  {:<12} {:>8} {:>9} {:>9} {:>10} {:>7} {:>10}  LAST ERROR\n",
        "NEIGHBOR", "AS", "STATE", "UPTIME", "RECEIVED", "ACCEPTED", "INSTALLED", "STALE", "UNRESOLVED"
    ));
    for n in &view.neighbors {
        let line = format!(
            "{:<28} {:>10}  {:<12} {:>8} {:>9} {:>9} {:>10} {:>7} {:>10}  {}",
            neighbor(n),
            n.remote_as,
            n.state,
            shown(n.uptime_seconds.filter(|_| n.state == "established").map(|s| age(s as f64))),
            n.prefixes_received,
            n.prefixes_accepted,
            if n.install { n.prefixes_installed.to_string() } else { "off".to_owned() },
            n.prefixes_stale,
            n.prefixes_unresolvable,
            last_error(n),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The address, with `%interface` when the neighbor names one.
fn neighbor(n: &NeighborView) -> String {
    match &n.interface {
        Some(dev) => format!("{}%{dev}", n.address),
        None => n.address.to_string(),
    }
}

/// Why the session last failed, and when an idle one starts again.
fn last_error(n: &NeighborView) -> String {
    let restart = n.idle_for_seconds.map(|s| format!("starts again in {}", age(s as f64)));
    match (n.last_error.as_deref(), restart) {
        (Some(e), Some(r)) => format!("{e}; {r}"),
        (Some(e), None) => e.to_owned(),
        (None, Some(r)) => r,
        (None, None) => "-".to_owned(),
    }
}

/// "1 BGP neighbor reset (192.0.2.2)", "3 BGP neighbors reset".
fn summary(r: &BgpResetReport) -> String {
    let plural = if r.neighbors == 1 { "" } else { "s" };
    match r.neighbor {
        Some(addr) => format!("{} BGP neighbor{plural} reset ({addr})", r.neighbors),
        None => format!("{} BGP neighbor{plural} reset", r.neighbors),
    }
}

#[cfg(test)]
mod tests;
