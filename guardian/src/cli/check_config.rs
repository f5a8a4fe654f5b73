use super::Failure;
use crate::config::Config;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file to validate
    path: PathBuf,
}

pub fn execute(args: Args) -> Result<(), Failure> {
    let config = Config::load(&args.path).map_err(|e| Failure::new(2, e))?;
    println!("{}: valid, {} routes", args.path.display(), config.routes.specs.len());
    Ok(())
}
