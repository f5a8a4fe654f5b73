use super::{block_on, print_json, Failure};
use crate::attribution::{Deletion, Who};
use crate::control::client;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
    /// At most this many, newest first
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let path = match args.limit {
        Some(n) => format!("/v1/deletions?limit={n}"),
        None => "/v1/deletions".to_owned(),
    };
    let deletions: Vec<Deletion> = block_on(client::call(socket, "GET", &path))?;
    if args.json {
        return print_json(&deletions);
    }
    println!(
        "{:<27} {:<40} {:<10} {:<7} {:<15} {:<24} DELETED BY",
        "TIME", "ROUTE", "CAUSE", "NOTICED", "ATTRIBUTION", "GUARD: VERDICT"
    );
    for d in &deletions {
        let time = humantime::format_rfc3339_micros(d.time).to_string();
        let cause = match d.cause.link() {
            Some(dev) => format!("{} {dev}", d.cause.label()),
            None => d.cause.label().to_owned(),
        };
        // Own routes are always repaired; a guard says what it decided.
        let verdict = match &d.guard {
            Some(g) => format!("{}: {}", g.name, g.verdict.label()),
            None => "-".to_owned(),
        };
        let line = format!(
            "{:<27} {:<40} {:<10} {:<7} {:<15} {:<24} {}",
            time,
            d.route,
            cause,
            d.noticed.label(),
            d.attribution.label(),
            verdict,
            describe(d.deleted_by.as_ref())
        );
        println!("{}", line.trim_end());
    }
    Ok(())
}

fn describe(who: Option<&Who>) -> String {
    match who {
        None => "-".to_owned(),
        Some(Who::Kernel) => "kernel".to_owned(),
        Some(Who::Exited) => "exited".to_owned(),
        Some(Who::Process { process, exact }) => {
            let guess = if *exact { "" } else { " (guessed)" };
            let cmdline = process.cmdline.as_deref().unwrap_or("");
            format!("pid {} {} uid {}{guess}: {cmdline}", process.tgid, process.comm, process.uid)
        }
    }
}
