use super::{block_on, print_json, Failure};
use crate::control::client;
use crate::messages::api::SessionInfo;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's JSON answer
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, socket: &Path) -> Result<(), Failure> {
    let sessions: Vec<SessionInfo> = block_on(client::call(socket, "GET", "/v1/sessions"))?;
    if args.json {
        return print_json(&sessions);
    }
    println!(
        "{:<28} {:<28} {:<12} {:<16} {:>8}  {:<12} {:>7}  {:<24} {:>6}",
        "PEER", "LOCAL", "INTERFACE", "STATE", "UP FOR", "LAST DOWN", "DETECT", "PEER MODE/VERSION", "ROUTES"
    );
    for s in &sessions {
        println!(
            "{:<28} {:<28} {:<12} {:<16} {:>8}  {:<12} {:>7}  {:<24} {:>6}",
            s.peer,
            s.local,
            s.interface,
            state(s),
            s.uptime_seconds.map_or_else(|| "-".to_owned(), age),
            s.last_down_reason.as_deref().unwrap_or("-"),
            interval(s.detect_time_seconds),
            peer(s),
            s.routes
        );
    }
    Ok(())
}

/// The state, marked while the start-up grace keeps its routes in place.
fn state(s: &SessionInfo) -> String {
    if s.in_grace {
        format!("{} (grace)", s.state)
    } else {
        s.state.clone()
    }
}

fn peer(s: &SessionInfo) -> String {
    match &s.peer_version {
        Some(v) => format!("{} {v}", s.peer_mode),
        None => s.peer_mode.clone(),
    }
}

/// How long a session has been Up: seconds with a tenth below a minute,
/// then the two largest units ("4m05s", "2h03m", "3d04h").
pub(super) fn age(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let s = seconds as u64;
    let (d, h, m) = (s / 86_400, s / 3_600 % 24, s / 60 % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{m}m{:02}s", s % 60)
    }
}

/// A detection time: milliseconds below a second ("300ms"), else seconds
/// to the millisecond without trailing zeros ("3s", "1.5s").
fn interval(seconds: f64) -> String {
    let ms = (seconds * 1e3).round() as u64;
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let text = format!("{}.{:03}", ms / 1_000, ms % 1_000);
    format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests;
