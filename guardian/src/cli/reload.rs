use super::{block_on, print_json, Failure};
use crate::control::client;
use crate::messages::api::ReloadReport;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
}

/// Asks the daemon to re-read its configuration file and waits until the
/// new one is applied: exit 0, or 2 with the file's error (the daemon keeps
/// the old configuration).
pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let report: ReloadReport = block_on(client::call(socket, "POST", "/v1/reload"))?;
    if args.json {
        return print_json(&report);
    }
    println!("{}", summary(&report));
    Ok(())
}

/// "reloaded /etc/guardian/guardian.toml: 1 route added, 0 removed, 0 changed, 3 unchanged".
fn summary(r: &ReloadReport) -> String {
    let plural = if r.added == 1 { "" } else { "s" };
    let mut line = format!(
        "reloaded {}: {} route{plural} added, {} removed, {} changed, {} unchanged",
        r.config, r.added, r.removed, r.changed, r.unchanged
    );
    if r.shadowed > 0 {
        line.push_str(&format!(", {} held by another source", r.shadowed));
    }
    line
}

#[cfg(test)]
mod tests;
