//! Interval negotiation, jitter and backoff: the arithmetic behind a
//! session's two timers (transmit and detection).
//!
//! Pure functions of their arguments; the random draws come from the
//! caller's [`fastrand::Rng`] (seeded per session, so tests are
//! deterministic). The rules are those of `docs/liveness.md` ("Timers") for the
//! `doublezero` profile and RFC 5880 section 6.8 for `bfd`.

use std::time::Duration;

use fastrand::Rng;

use super::packet::Profile;

/// RFC 5880 6.8.3: while a `bfd` session is not Up, bfd.DesiredMinTxInterval
/// is at least one second.
pub const BFD_SLOW_TX: Duration = Duration::from_secs(1);

/// RFC 5880 6.8.1: the initial bfd.RemoteMinRxInterval, before the peer has
/// said anything (1 µs: no constraint on our transmit rate).
pub const REMOTE_MIN_RX_INITIAL: Duration = Duration::from_micros(1);

/// A wire interval field (microseconds) as a [`Duration`].
pub fn from_wire_us(us: u32) -> Duration {
    Duration::from_micros(u64::from(us))
}

/// A [`Duration`] as a wire interval field (microseconds): saturates at
/// `u32::MAX` (about 71 minutes), and rounds a non-zero value below 1 µs up
/// to 1 µs, because 0 means something else on the wire (RFC 5880 6.8.18: a
/// required min RX of 0 asks the peer to send nothing).
pub fn to_wire_us(d: Duration) -> u32 {
    match u32::try_from(d.as_micros()) {
        Ok(0) if !d.is_zero() => 1,
        Ok(us) => us,
        Err(_) => u32::MAX,
    }
}

/// Clamps a peer's interval to `[floor, ceil]`. Never panics: with a
/// misconfigured `floor > ceil` (which config validation rejects), `ceil`
/// wins.
pub fn clamp_peer_interval(d: Duration, floor: Duration, ceil: Duration) -> Duration {
    d.max(floor).min(ceil)
}

/// The nominal transmit interval: max(local desired min TX, peer required
/// min RX) (`docs/liveness.md` "Timers"; RFC 5880 6.8.2 and 6.8.7).
pub fn tx_interval(local_desired_tx: Duration, remote_required_rx: Duration) -> Duration {
    local_desired_tx.max(remote_required_rx)
}

/// The interval at which we expect the peer's packets: max(peer desired min
/// TX, local required min RX) (`docs/liveness.md` "Timers"; RFC 5880 6.8.4).
pub fn rx_interval(remote_desired_tx: Duration, local_required_rx: Duration) -> Duration {
    remote_desired_tx.max(local_required_rx)
}

/// Detect multiplier x RX interval, saturating. Which multiplier is the
/// caller's business: the local one in `doublezero`, the remote one in `bfd`.
pub fn detection_time(detect_mult: u8, rx_interval: Duration) -> Duration {
    rx_interval.saturating_mul(u32::from(detect_mult))
}

/// The inclusive range a jittered transmit interval is drawn from.
///
/// - `doublezero`: nominal +/-10 % (`docs/liveness.md`).
/// - `bfd`: reduced by 0-25 %, never lengthened (RFC 5880 6.8.7); with a
///   local detect multiplier of 1, 75-90 % of nominal, so that the peer's
///   detection time (1 x our interval) cannot pass before our next packet.
///   `docs/liveness.md` words the mult-1 case as "0-10 %"; we follow the RFC's
///   75-90 %, which is what a mult-1 peer needs.
pub fn jitter_bounds(profile: Profile, nominal: Duration, local_detect_mult: u8) -> (Duration, Duration) {
    let percent = |p: u32| nominal.saturating_mul(p) / 100;
    match profile {
        Profile::DoubleZero => (percent(90), percent(110)),
        Profile::Bfd if local_detect_mult == 1 => (percent(75), percent(90)),
        Profile::Bfd => (percent(75), nominal),
    }
}

/// One jittered transmit interval, drawn uniformly from [`jitter_bounds`].
pub fn jittered(profile: Profile, nominal: Duration, local_detect_mult: u8, rng: &mut Rng) -> Duration {
    let (lo, hi) = jitter_bounds(profile, nominal, local_detect_mult);
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(nanos(lo)..=nanos(hi)))
}

/// `doublezero` transmit backoff while Down: the interval doubles after each
/// transmit, up to `backoff_max`, and resets on any state transition.
///
/// Kept as a factor of the base interval (as doublezerod does), so a change
/// of the base (the peer's required RX) takes effect at once. The cap is
/// never below the base: backoff slows a session down, it never makes it
/// send faster than negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    factor: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

impl Backoff {
    pub const fn new() -> Backoff {
        Backoff { factor: 1 }
    }

    /// The nominal (unjittered) interval for the next transmit.
    pub fn interval(&self, base: Duration, backoff_max: Duration) -> Duration {
        base.saturating_mul(self.factor).min(backoff_max.max(base))
    }

    /// Called after each transmit while Down: doubles the factor until the
    /// interval reaches the cap (and stops there, so it cannot overflow).
    pub fn after_transmit(&mut self, base: Duration, backoff_max: Duration) {
        if self.interval(base, backoff_max) < backoff_max.max(base) {
            self.factor = self.factor.saturating_mul(2);
        }
    }

    pub fn reset(&mut self) {
        self.factor = 1;
    }
}

/// The slow start-up TX interval a session begins with: at least 1 s in
/// `bfd` (RFC 5880 6.8.3), the configured interval in `doublezero`.
pub fn startup_tx_interval(profile: Profile, desired_min_tx: Duration) -> Duration {
    match profile {
        Profile::Bfd => desired_min_tx.max(BFD_SLOW_TX),
        Profile::DoubleZero => desired_min_tx,
    }
}

/// How long a restarted daemon keeps a route adopted from the kernel before
/// withdrawing it, if its session has not come Up (`docs/liveness.md`, "On
/// restart"): a full detection time at the slow start-up rate, plus the time
/// a healthy peer needs to finish the handshake.
///
/// The peer's parameters are unknown until its first packet, so this
/// assumes the peer is configured like us (the usual case: the same fleet
/// config), with the peer's slow rate equal to ours:
///
/// - detection: `detect_mult` x max(start-up TX, required RX), what
///   [`detection_time`] gives once the peer's first packet arrives;
/// - margin: three paced transmits at the longest jittered interval. After a
///   restart the handshake takes three packets in turn (our Down, the
///   peer's Init, our Up; or the peer first drops from Up to Down on our
///   Down), and each side may wait up to one TX interval before sending
///   (state changes are paced by the last TX + TX interval). The detection
///   part alone is not enough: with detect mult 1 it is one interval, less
///   than the handshake.
pub fn startup_detection_time(
    profile: Profile,
    desired_min_tx: Duration,
    required_min_rx: Duration,
    detect_mult: u8,
) -> Duration {
    let slow_tx = startup_tx_interval(profile, desired_min_tx).max(required_min_rx);
    let detect = detection_time(detect_mult.max(1), rx_interval(slow_tx, required_min_rx));
    let (_, longest) = jitter_bounds(profile, slow_tx, detect_mult);
    detect.saturating_add(longest.saturating_mul(3))
}

#[cfg(test)]
mod tests;
