use super::Failure;
use crate::config::{Config, Protocols};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file to validate
    path: PathBuf,
}

pub fn execute(args: Args) -> Result<(), Failure> {
    let config = Config::load(&args.path).map_err(|e| Failure::new(2, e))?;
    let routes = &config.routes;
    // The secret was read and checked; say which key, never the secret.
    let auth = match &config.liveness.auth {
        Some(key) => format!(", authentication {} key id {}", key.auth_type().name(), key.key_id()),
        None => String::new(),
    };
    println!(
        "{}: valid, {} routes ({} with liveness, profile {}{auth}; {} excluded by liveness.exclude), {} guards",
        args.path.display(),
        routes.specs.len(),
        // A multipath route gated leg by leg has an entry per leg.
        routes.liveness.iter().filter(|l| l.key.leg.is_none_or(|n| n == 0)).count(),
        config.liveness.profile.label(),
        routes.excluded,
        config.guards.len()
    );
    for guard in &config.guards {
        println!("  {}", guard.describe(Protocols::system()));
    }
    if let Some(bgp) = &config.bgp {
        let metric = bgp.metric.map_or("default".to_owned(), |m| m.to_string());
        println!(
            "  bgp: local_as {}, router_id {}, table {}, metric {metric}, multipath {}, {} neighbors",
            bgp.local_as,
            bgp.router_id,
            bgp.table,
            bgp.multipath,
            bgp.neighbors.len()
        );
        for neighbor in &bgp.neighbors {
            println!("    {}", neighbor.describe());
        }
    }
    // Valid, so exit 0; but said where a script's eye would not miss it.
    for warning in &config.warnings {
        eprintln!("{}: warning: {warning}", args.path.display());
    }
    Ok(())
}
