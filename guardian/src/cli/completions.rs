//! `guardian completions SHELL`: the shell completion script on stdout
//! (clap_complete). The Debian package ships the same scripts.

use super::{Cli, Failure};
use clap::CommandFactory;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "guardian", &mut out);
    out
}

pub fn execute(args: Args) -> Result<(), Failure> {
    std::io::stdout()
        .write_all(&script(args.shell))
        .map_err(|e| Failure::new(1, format!("cannot write the completion script: {e}")))
}

#[cfg(test)]
mod tests;
