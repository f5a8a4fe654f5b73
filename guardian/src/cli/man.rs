//! `guardian man DIR` (hidden): writes the man pages, `guardian.1` and one
//! `guardian-SUBCOMMAND.1` per visible subcommand, nested ones included
//! (`guardian-bgp-reset.1`), with clap_mangen, into DIR.
//! `cargo xtask man` runs it into `target/man`; the pages are not committed.

use super::{Cli, Failure};
use clap::CommandFactory;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder to write the pages into (created if missing)
    dir: PathBuf,
}

/// Every page as (file name, roff text): each visible subcommand's own
/// (nested ones first), then `guardian.1`, as `clap_mangen::generate_to`
/// would write them.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    fn add(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            add(sub.clone(), pages);
        }
        pages.push(render(cmd));
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    add(cmd, &mut pages);
    pages
}

fn render(cmd: clap::Command) -> (String, Vec<u8>) {
    let man = clap_mangen::Man::new(cmd);
    let mut text = Vec::new();
    man.render(&mut text).expect("writing to a Vec cannot fail");
    (man.get_filename(), text)
}

pub fn execute(args: Args) -> Result<(), Failure> {
    let fail = |what: &str, e: std::io::Error| Failure::new(1, format!("cannot write {what}: {e}"));
    std::fs::create_dir_all(&args.dir).map_err(|e| fail(&args.dir.display().to_string(), e))?;
    for (name, text) in pages() {
        let path = args.dir.join(&name);
        std::fs::write(&path, text).map_err(|e| fail(&path.display().to_string(), e))?;
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
