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
    let routes = &config.routes;
    println!(
        "{}: valid, {} routes ({} with liveness, profile {}; {} excluded by liveness.exclude)",
        args.path.display(),
        routes.specs.len(),
        routes.liveness.len(),
        config.liveness.profile.label(),
        routes.excluded
    );
    Ok(())
}
