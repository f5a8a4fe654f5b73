//! The `guardian` command line: one file per subcommand.

mod admin_down;
mod admin_up;
mod bgp;
mod check_config;
mod completions;
mod deletions;
mod ebpf_variant;
mod man;
mod reconcile;
mod reload;
mod routes;
mod run;
mod sessions;
mod status;

use crate::config::DEFAULT_CONTROL_SOCKET;
use crate::control::client::ClientError;
use crate::logging::LogFormat;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "guardian",
    version = crate::LONG_VERSION,
    about = "Keeps routes in the kernel and puts them back when something removes them"
)]
pub struct Cli {
    /// The daemon's control socket [default: /run/guardian/guardian.sock, or daemon.control_socket for `run`]
    #[arg(long, global = true, env = "GUARDIAN_SOCKET", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Log format (logs go to stderr; RUST_LOG filters, default "info")
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon
    Run(run::Args),
    /// Validate a configuration file
    CheckConfig(check_config::Args),
    /// Show the running daemon's state
    Status(status::Args),
    /// List the routes the running daemon keeps
    Routes(routes::Args),
    /// Run a reconcile cycle now
    Reconcile(reconcile::Args),
    /// Make the running daemon re-read its configuration file; exits 2 (and the old one runs on) if it is invalid
    Reload(reload::Args),
    /// List recent deletions of own and guarded routes, who made them, and what guardian did
    Deletions(deletions::Args),
    /// List the liveness sessions and their state
    Sessions(sessions::Args),
    /// Set the liveness sessions with a peer AdminDown (withdraws their routes)
    AdminDown(admin_down::Args),
    /// Bring the liveness sessions with a peer back from AdminDown
    AdminUp(admin_up::Args),
    /// List the BGP neighbors, their sessions and prefixes; `bgp reset [NEIGHBOR]` starts sessions again
    Bgp(bgp::Args),
    /// Print the completion script for bash, zsh or fish
    Completions(completions::Args),
    /// Load the eBPF programs, print the variant this kernel gets, and exit
    #[command(hide = true)]
    EbpfVariant(ebpf_variant::Args),
    /// Write the man pages into a folder (`cargo xtask man`)
    #[command(hide = true)]
    Man(man::Args),
}

/// An error that ends the command: printed as one line, exits with `code`.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl std::fmt::Display) -> Failure {
        Failure { code, message: message.to_string() }
    }
}

impl From<ClientError> for Failure {
    /// The daemon's refusals keep the README's exit codes: a request that
    /// is wrong (400) or a configuration it refuses (422) is 2, a caller
    /// without the right (403) is 3; the rest (unreachable, 404, 409) is 1.
    fn from(e: ClientError) -> Failure {
        let code = match &e {
            ClientError::Status { status: 400 | 422, .. } => 2,
            ClientError::Status { status: 403, .. } => 3,
            _ => 1,
        };
        Failure::new(code, e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Failure {
        Failure::new(1, e)
    }
}

impl Cli {
    pub fn execute(self) -> Result<(), Failure> {
        let socket = self.control_socket.clone();
        let client_socket = || socket.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET));
        match self.command {
            Command::Run(args) => run::execute(args, socket, self.log_format),
            Command::CheckConfig(args) => check_config::execute(args),
            Command::Status(args) => status::execute(args, &client_socket()),
            Command::Routes(args) => routes::execute(args, &client_socket()),
            Command::Reconcile(args) => reconcile::execute(args, &client_socket()),
            Command::Reload(args) => reload::execute(args, &client_socket()),
            Command::Deletions(args) => deletions::execute(args, &client_socket()),
            Command::Sessions(args) => sessions::execute(args, &client_socket()),
            Command::AdminDown(args) => admin_down::execute(args, &client_socket()),
            Command::AdminUp(args) => admin_up::execute(args, &client_socket()),
            Command::Bgp(args) => bgp::execute(args, &client_socket()),
            Command::Completions(args) => completions::execute(args),
            Command::EbpfVariant(args) => ebpf_variant::execute(args),
            Command::Man(args) => man::execute(args),
        }
    }
}

/// Runs one control request on a small runtime.
fn block_on<T>(future: impl std::future::Future<Output = Result<T, ClientError>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, format!("cannot start the runtime: {e}")))?;
    Ok(runtime.block_on(future)?)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
