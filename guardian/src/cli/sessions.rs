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
fn age(seconds: f64) -> String {
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
mod tests {
    use super::*;

    #[test]
    fn ages_show_the_two_largest_units() {
        assert_eq!(age(0.04), "0.0s");
        assert_eq!(age(12.34), "12.3s");
        assert_eq!(age(245.9), "4m05s");
        assert_eq!(age(7_380.0), "2h03m");
        assert_eq!(age(3.0 * 86_400.0 + 4.0 * 3_600.0 + 59.0), "3d04h");
    }

    #[test]
    fn detection_times_show_milliseconds_below_a_second() {
        assert_eq!(interval(0.3), "300ms");
        assert_eq!(interval(0.9999), "1s");
        assert_eq!(interval(3.0), "3s");
        assert_eq!(interval(1.5), "1.5s");
        assert_eq!(interval(90.05), "90.05s");
    }

    #[test]
    fn grace_and_peer_version_are_shown_beside_state_and_mode() {
        let mut s = SessionInfo {
            profile: "doublezero".into(),
            peer: "192.0.2.2".into(),
            local: "192.0.2.1".into(),
            interface: "va".into(),
            state: "down".into(),
            uptime_seconds: None,
            state_seconds: 1.0,
            last_down_reason: None,
            detect_time_seconds: 3.0,
            tx_interval_seconds: 1.0,
            local_discriminator: 1,
            remote_discriminator: 0,
            remote_state: "down".into(),
            peer_mode: "passive".into(),
            peer_version: Some("0.6.2 stable".into()),
            routes: 2,
            in_grace: true,
        };
        assert_eq!(state(&s), "down (grace)");
        assert_eq!(peer(&s), "passive 0.6.2 stable");
        s.in_grace = false;
        s.peer_version = None;
        assert_eq!(state(&s), "down");
        assert_eq!(peer(&s), "passive");
    }
}
