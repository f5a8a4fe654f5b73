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
    println!(
        "{:<24} {:<18} {:<10} {:>6} {:>6}  {:<9} {:>10}  ERROR",
        "DST", "VIA", "DEV", "TABLE", "METRIC", "STATE", "REINSTALLS"
    );
    for r in &routes {
        let line = format!(
            "{:<24} {:<18} {:<10} {:>6} {:>6}  {:<9} {:>10}  {}",
            r.dst,
            r.via.as_deref().unwrap_or("-"),
            r.dev.as_deref().unwrap_or("-"),
            r.table,
            r.metric,
            r.state,
            r.reinstalls,
            r.last_error.as_deref().unwrap_or("")
        );
        println!("{}", line.trim_end());
    }
    Ok(())
}
