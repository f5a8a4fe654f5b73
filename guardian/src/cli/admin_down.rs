use super::{block_on, Failure};
use crate::control::client;
use crate::messages::api::AdminReport;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The liveness peer whose sessions to set AdminDown (their routes are withdrawn)
    peer: IpAddr,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let report: AdminReport =
        block_on(client::call(socket, "POST", &format!("/v1/sessions/{}/admin-down", args.peer)))?;
    println!("{}", summary(&report, "down"));
    Ok(())
}

/// "peer 192.0.2.2: 1 session set admin down".
pub(super) fn summary(report: &AdminReport, direction: &str) -> String {
    let plural = if report.sessions == 1 { "" } else { "s" };
    format!("peer {}: {} session{plural} set admin {direction}", report.peer, report.sessions)
}

#[cfg(test)]
mod tests;
