use super::{block_on, print_json, Failure};
use crate::control::client;
use crate::messages::api::CycleReport;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let report: CycleReport = block_on(client::call(socket, "POST", "/v1/reconcile"))?;
    if args.json {
        return print_json(&report);
    }
    println!(
        "checked {} routes: {} missing, {} repaired, {} failed, in {:.1} ms",
        report.checked,
        report.missing,
        report.repaired,
        report.failed,
        report.duration_seconds * 1e3
    );
    Ok(())
}
