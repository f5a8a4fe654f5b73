use super::admin_down::summary;
use super::{block_on, Failure};
use crate::control::client;
use crate::messages::api::AdminReport;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The liveness peer whose sessions to bring back from AdminDown
    peer: IpAddr,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let report: AdminReport = block_on(client::call(socket, "POST", &format!("/v1/sessions/{}/admin-up", args.peer)))?;
    println!("{}", summary(&report, "up"));
    Ok(())
}
