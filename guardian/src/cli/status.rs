use super::{block_on, print_json, Failure};
use crate::control::client;
use crate::messages::api::Status;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let status: Status = block_on(client::call(socket, "GET", "/v1/status"))?;
    if args.json {
        return print_json(&status);
    }
    let r = &status.routes;
    println!(
        "guardian {} (pid {}), up {:.0}s, {}, config: {}",
        status.version,
        status.pid,
        status.uptime_seconds,
        if status.ready { "ready" } else { "initial sync in progress" },
        status.config
    );
    println!(
        "routes: {} desired, {} installed, {} pending, {} failed, {} damped, {} withdrawn (liveness down)",
        r.desired, r.installed, r.pending, r.failed, r.damped, r.withdrawn
    );
    println!("reinstalls: {}, netlink overruns: {}", status.reinstalls, status.overruns);
    println!("deleter attribution: {}", status.attribution);
    if let Some(c) = status.last_reconcile {
        println!(
            "last reconcile: {} checked, {} missing, {} repaired, {} failed, {:.1} ms",
            c.checked,
            c.missing,
            c.repaired,
            c.failed,
            c.duration_seconds * 1e3
        );
    }
    Ok(())
}
