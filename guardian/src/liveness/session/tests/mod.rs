//! Unit tests of [`super`] (the session): one per transition and rule. The
//! timing rules (intervals, pacing, backoff, jitter, Poll sequences) are in
//! [`timing`], the authentication sequence numbers in [`auth`], the
//! two-session simulator in [`sim`].

use std::time::{Duration, Instant};

use super::{DropReason, Input, Output, Reason, RouteAction, Session, SessionConfig, Timer, Transition};
use crate::liveness::packet::{Control, Diag, Profile, SenderVersion, State};

mod auth;
mod sim;
mod timing;

pub(super) const MS: Duration = Duration::from_millis(1);
pub(super) const SEC: Duration = Duration::from_secs(1);
pub(super) const LOCAL: u32 = 0x1111_1111;
pub(super) const PEER: u32 = 0x2222_2222;
pub(super) const BOTH: [Profile; 2] = [Profile::DoubleZero, Profile::Bfd];

pub(super) fn start(cfg: SessionConfig) -> (Session, Output, Instant) {
    let t0 = Instant::now();
    let (session, out) = Session::new(cfg, LOCAL, 7, t0);
    (session, out, t0)
}

/// A packet from the peer: 1 s / 1 s / 3 unless changed.
pub(super) fn from_peer(state: State, your: u32) -> Control {
    Control::new(state, PEER, your)
}

pub(super) fn with_intervals(mut packet: Control, desired_tx: Duration, required_rx: Duration) -> Control {
    packet.desired_min_tx_us = desired_tx.as_micros() as u32;
    packet.required_min_rx_us = required_rx.as_micros() as u32;
    packet
}

pub(super) fn rx(session: &mut Session, packet: Control, at: Instant) -> Output {
    session.process(Input::Received(&packet), at)
}

/// Down -(peer Down)-> Init -(peer Up, echoing us)-> Up, in both profiles.
pub(super) fn bring_up(session: &mut Session, at: Instant) -> Output {
    rx(session, from_peer(State::Down, 0), at);
    assert_eq!(session.state(), State::Init);
    let out = rx(session, from_peer(State::Up, LOCAL), at + 10 * MS);
    assert_eq!(session.state(), State::Up);
    out
}

pub(super) fn transition(out: &Output) -> (State, State, Reason) {
    let Transition { from, to, reason } = out.transition.expect("a transition");
    (from, to, reason)
}

/// Fires the transmit timer until `count` packets went out; the gaps
/// between them.
pub(super) fn transmit_gaps(session: &mut Session, count: usize) -> Vec<Duration> {
    let mut last = session.last_tx().expect("sent at creation");
    let mut gaps = Vec::new();
    while gaps.len() < count {
        let at = session.deadline(Timer::Transmit).expect("periodic transmit");
        let out = session.process(Input::TimerExpired(Timer::Transmit), at);
        assert!(out.send.is_some());
        gaps.push(at - last);
        last = at;
    }
    gaps
}

pub(super) fn assert_within(gaps: &[Duration], lo: Duration, hi: Duration) {
    let (min, max) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(*min >= lo && *max <= hi, "gaps {min:?}..{max:?} outside {lo:?}..{hi:?}");
}

pub(super) fn fast_bfd() -> SessionConfig {
    SessionConfig { desired_min_tx: 100 * MS, required_min_rx: 100 * MS, ..SessionConfig::new(Profile::Bfd) }
}

/// A peer configured like `fast_bfd`, Up: it advertises 100 ms.
pub(super) fn fast_peer(state: State, your: u32) -> Control {
    with_intervals(from_peer(state, your), 100 * MS, 100 * MS)
}

// --- creation, discriminators, detection arming ---

#[test]
fn new_session_starts_down_and_sends_at_once() {
    for profile in BOTH {
        let (session, out, t0) = start(SessionConfig::new(profile));
        assert_eq!(session.state(), State::Down);
        let sent = out.send.expect("sends at once");
        assert_eq!((sent.state, sent.my_discriminator, sent.your_discriminator), (State::Down, LOCAL, 0));
        assert!(out.deadline(Timer::Transmit).is_some_and(|at| at > t0));
        assert_eq!(out.transition, None);
    }
}

#[test]
fn detection_is_armed_only_after_the_first_valid_packet() {
    for profile in BOTH {
        let (mut session, out, t0) = start(SessionConfig::new(profile));
        assert_eq!(out.deadline(Timer::Detect), None);
        let at = session.deadline(Timer::Transmit).unwrap();
        let out = session.process(Input::TimerExpired(Timer::Transmit), at);
        assert_eq!(out.deadline(Timer::Detect), None, "{profile:?}: our own sending arms nothing");
        let out = rx(&mut session, from_peer(State::Down, 0), t0 + 5 * SEC);
        assert_eq!(out.deadline(Timer::Detect), Some(t0 + 5 * SEC + session.detection_time()));
    }
}

#[test]
fn packet_for_another_discriminator_is_dropped() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        let out = rx(&mut session, from_peer(State::Down, 0xdead), t0 + MS);
        assert_eq!(out.dropped, Some(DropReason::UnknownDiscriminator));
        assert_eq!((session.state(), session.remote_discriminator()), (State::Down, 0));
        assert_eq!(out.deadline(Timer::Detect), None);
    }
}

#[test]
fn packets_with_zero_discriminator_or_detect_mult_are_dropped() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        let mut packet = from_peer(State::Down, 0);
        packet.my_discriminator = 0;
        assert_eq!(rx(&mut session, packet, t0).dropped, Some(DropReason::ZeroMyDiscriminator));
        let mut packet = from_peer(State::Down, 0);
        packet.detect_mult = 0;
        assert_eq!(rx(&mut session, packet, t0).dropped, Some(DropReason::ZeroDetectMult));
    }
}

#[test]
fn locally_admin_down_session_ignores_received_packets() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        session.process(Input::AdminDown, t0 + MS);
        let out = rx(&mut session, from_peer(State::Up, LOCAL), t0 + 2 * MS);
        assert_eq!(out.dropped, Some(DropReason::LocalAdminDown));
        assert_eq!(out.transition, None);
        assert_eq!((session.state(), session.remote_discriminator()), (State::AdminDown, 0));
        assert_eq!(out.deadline(Timer::Detect), None);
    }
}

#[test]
fn remote_discriminator_is_learned_from_every_accepted_packet() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        rx(&mut session, from_peer(State::Down, 0), t0);
        assert_eq!(session.remote_discriminator(), PEER);
        let mut packet = from_peer(State::Down, LOCAL);
        packet.my_discriminator = 0x3333;
        let out = rx(&mut session, packet, t0 + MS);
        assert_eq!(session.remote_discriminator(), 0x3333);
        // Outside Up a new discriminator is part of the handshake, no
        // restart "kept up".
        assert!(!out.peer_restarted, "{profile:?}");
    }
}

#[test]
fn a_peer_restart_that_takes_the_session_down_is_not_reported_as_kept_up() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        bring_up(&mut session, t0);
        // Long past the doublezero stale-Down window: a real Down.
        let mut packet = from_peer(State::AdminDown, 0);
        packet.my_discriminator = 0x3333;
        let out = rx(&mut session, packet, t0 + 60 * SEC);
        assert_eq!(transition(&out).1, State::Down, "{profile:?}");
        assert!(!out.peer_restarted, "{profile:?}");
    }
}

#[test]
fn peer_restart_while_up_is_adopted_without_going_down() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        bring_up(&mut session, t0);
        let mut packet = from_peer(State::Up, LOCAL);
        packet.my_discriminator = 0x3333;
        let out = rx(&mut session, packet, t0 + SEC);
        assert_eq!(out.transition, None, "{profile:?}");
        assert_eq!(out.routes, None);
        assert!(out.peer_restarted);
        assert_eq!((session.state(), session.remote_discriminator()), (State::Up, 0x3333));
    }
}

// --- the doublezero state table (docs/liveness.md) ---

#[test]
fn doublezero_down_goes_init_when_the_peer_does_not_echo_us() {
    for peer_state in [State::Down, State::Init, State::Up] {
        let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
        let out = rx(&mut session, from_peer(peer_state, 0), t0 + MS);
        assert_eq!(transition(&out), (State::Down, State::Init, Reason::Handshake), "peer {peer_state:?}");
    }
}

#[test]
fn doublezero_down_goes_up_when_the_peer_echoes_us_in_init_or_up() {
    for peer_state in [State::Init, State::Up] {
        let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
        let out = rx(&mut session, from_peer(peer_state, LOCAL), t0 + MS);
        assert_eq!(transition(&out), (State::Down, State::Up, Reason::Handshake));
        assert_eq!(out.routes, Some(RouteAction::Install));
    }
    // An echoing Down is still Down: Init.
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    let out = rx(&mut session, from_peer(State::Down, LOCAL), t0 + MS);
    assert_eq!(transition(&out).1, State::Init);
}

#[test]
fn doublezero_init_goes_up_only_on_echo() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    rx(&mut session, from_peer(State::Down, 0), t0);
    let out = rx(&mut session, from_peer(State::Up, 0), t0 + MS);
    assert_eq!((out.transition, session.state()), (None, State::Init));
    let out = rx(&mut session, from_peer(State::Init, LOCAL), t0 + 2 * MS);
    assert_eq!(transition(&out), (State::Init, State::Up, Reason::Handshake));
}

#[test]
fn doublezero_peer_admin_down_takes_the_session_down_as_remote_admin() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let out = rx(&mut session, from_peer(State::AdminDown, LOCAL), t0 + 100 * MS);
    assert_eq!(transition(&out), (State::Up, State::Down, Reason::RemoteAdmin));
    assert_eq!(out.routes, Some(RouteAction::Withdraw));
    assert_eq!(session.last_down_reason(), Some(Reason::RemoteAdmin));
    // From Init too; while Down nothing happens.
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    rx(&mut session, from_peer(State::Down, 0), t0);
    let out = rx(&mut session, from_peer(State::AdminDown, 0), t0 + MS);
    assert_eq!(transition(&out), (State::Init, State::Down, Reason::RemoteAdmin));
    let out = rx(&mut session, from_peer(State::AdminDown, 0), t0 + 2 * MS);
    assert_eq!((out.transition, out.dropped), (None, None));
}

#[test]
fn doublezero_peer_down_after_stable_up_withdraws_the_route() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let up_at = session.up_since().unwrap();
    let detection = session.detection_time();
    let out = rx(&mut session, from_peer(State::Down, LOCAL), up_at + detection);
    assert_eq!(transition(&out), (State::Up, State::Down, Reason::RemoteDown));
    assert_eq!(out.routes, Some(RouteAction::Withdraw));
    assert_eq!(session.up_since(), None);
}

#[test]
fn doublezero_stale_peer_down_within_one_detection_time_of_up_is_ignored() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let up_at = session.up_since().unwrap();
    let detect_before = session.deadline(Timer::Detect);
    // From the peer's previous incarnation: another discriminator.
    let mut stale = from_peer(State::Down, LOCAL);
    stale.my_discriminator = 0x0bad;
    let detection = session.detection_time();
    let out = rx(&mut session, stale, up_at + detection - MS);
    assert_eq!(out.dropped, Some(DropReason::StaleDown));
    assert_eq!((out.transition, out.routes), (None, None));
    assert_eq!((session.state(), session.remote_discriminator()), (State::Up, PEER));
    assert_eq!(session.deadline(Timer::Detect), detect_before, "not a sign of life");
}

#[test]
fn doublezero_peer_down_while_init_takes_the_session_down() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    rx(&mut session, from_peer(State::Init, 0), t0);
    assert_eq!(session.state(), State::Init);
    let out = rx(&mut session, from_peer(State::Down, LOCAL), t0 + MS);
    assert_eq!(transition(&out), (State::Init, State::Down, Reason::RemoteDown));
    assert_eq!(out.routes, None, "nothing was installed");
}

// --- the bfd state table (RFC 5880 6.8.6) ---

fn bfd_in(state: State) -> (Session, Instant) {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::Bfd));
    match state {
        State::Down => {}
        State::Init => {
            rx(&mut session, from_peer(State::Down, 0), t0);
        }
        State::Up => {
            bring_up(&mut session, t0);
        }
        State::AdminDown => {
            session.process(Input::AdminDown, t0);
        }
    }
    assert_eq!(session.state(), state);
    (session, t0 + 100 * MS)
}

#[test]
fn bfd_down_and_peer_down_goes_init() {
    let (mut session, t) = bfd_in(State::Down);
    assert_eq!(
        transition(&rx(&mut session, from_peer(State::Down, 0), t)),
        (State::Down, State::Init, Reason::Handshake)
    );
}

#[test]
fn bfd_down_and_peer_init_goes_up() {
    let (mut session, t) = bfd_in(State::Down);
    let out = rx(&mut session, from_peer(State::Init, LOCAL), t);
    assert_eq!(transition(&out), (State::Down, State::Up, Reason::Handshake));
    assert_eq!(out.routes, Some(RouteAction::Install));
}

#[test]
fn bfd_down_and_peer_up_stays_down() {
    let (mut session, t) = bfd_in(State::Down);
    let out = rx(&mut session, from_peer(State::Up, LOCAL), t);
    assert_eq!((out.transition, out.dropped, session.state()), (None, None, State::Down));
}

#[test]
fn bfd_init_and_peer_init_or_up_goes_up() {
    for peer_state in [State::Init, State::Up] {
        let (mut session, t) = bfd_in(State::Init);
        let out = rx(&mut session, from_peer(peer_state, LOCAL), t);
        assert_eq!(transition(&out), (State::Init, State::Up, Reason::Handshake));
    }
}

#[test]
fn bfd_init_and_peer_down_stays_init() {
    // RFC 5880 6.8.6 and its diagram: DOWN is a self-loop on Init.
    let (mut session, t) = bfd_in(State::Init);
    let out = rx(&mut session, from_peer(State::Down, LOCAL), t);
    assert_eq!((out.transition, session.state()), (None, State::Init));
}

#[test]
fn bfd_up_and_peer_down_goes_down_with_diag_3() {
    let (mut session, t) = bfd_in(State::Up);
    let out = rx(&mut session, from_peer(State::Down, LOCAL), t + 3 * SEC);
    assert_eq!(transition(&out), (State::Up, State::Down, Reason::RemoteDown));
    assert_eq!(session.local_diag(), Diag::NeighborSignaledSessionDown);
    assert_eq!(out.routes, Some(RouteAction::Withdraw));
}

#[test]
fn bfd_up_and_peer_down_is_not_treated_as_stale() {
    // The stale-Down window is a doublezero rule; RFC 5880 has none.
    let (mut session, t) = bfd_in(State::Up);
    let out = rx(&mut session, from_peer(State::Down, LOCAL), t);
    assert_eq!(transition(&out).2, Reason::RemoteDown);
}

#[test]
fn bfd_peer_admin_down_takes_init_or_up_down_with_diag_3_and_leaves_down_alone() {
    for state in [State::Init, State::Up] {
        let (mut session, t) = bfd_in(state);
        let out = rx(&mut session, from_peer(State::AdminDown, LOCAL), t);
        assert_eq!(transition(&out), (state, State::Down, Reason::RemoteAdmin));
        assert_eq!(session.local_diag(), Diag::NeighborSignaledSessionDown);
    }
    let (mut session, t) = bfd_in(State::Down);
    let out = rx(&mut session, from_peer(State::AdminDown, 0), t);
    assert_eq!((out.transition, out.dropped), (None, None));
}

#[test]
fn bfd_init_or_up_with_zero_your_discriminator_is_discarded() {
    for peer_state in [State::Init, State::Up] {
        let (mut session, t) = bfd_in(State::Down);
        let out = rx(&mut session, from_peer(peer_state, 0), t);
        assert_eq!(out.dropped, Some(DropReason::ZeroYourDiscriminator));
        assert_eq!(session.remote_discriminator(), 0);
    }
}

#[test]
fn bfd_diagnostic_codes_are_1_on_timeout_3_on_remote_down_7_on_admin_down() {
    let (mut session, _) = bfd_in(State::Up);
    let at = session.deadline(Timer::Detect).unwrap();
    let out = session.process(Input::TimerExpired(Timer::Detect), at);
    assert_eq!(out.send.map(|p| p.diag), Some(Diag::ControlDetectionTimeExpired));

    let out = {
        let (mut session, t) = bfd_in(State::Up);
        rx(&mut session, from_peer(State::Down, LOCAL), t + 5 * SEC)
    };
    assert_eq!(out.send.map(|p| p.diag), Some(Diag::NeighborSignaledSessionDown));

    let (mut session, t3) = bfd_in(State::Up);
    let out = session.process(Input::AdminDown, t3 + 5 * SEC);
    let sent = out.send.expect("paced interval has passed");
    assert_eq!((sent.state, sent.diag), (State::AdminDown, Diag::AdministrativelyDown));
}

// --- detection ---

#[test]
fn detection_expiry_in_up_goes_down_as_timeout_and_withdraws() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        bring_up(&mut session, t0);
        let at = session.deadline(Timer::Detect).unwrap();
        let out = session.process(Input::TimerExpired(Timer::Detect), at);
        assert_eq!(transition(&out), (State::Up, State::Down, Reason::Timeout), "{profile:?}");
        assert_eq!(out.routes, Some(RouteAction::Withdraw));
        assert_eq!(out.deadline(Timer::Detect), None);
        assert_eq!(session.last_down_reason(), Some(Reason::Timeout));
    }
}

#[test]
fn detection_expiry_in_init_goes_down_as_timeout() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        rx(&mut session, from_peer(State::Down, 0), t0);
        let at = session.deadline(Timer::Detect).unwrap();
        let out = session.process(Input::TimerExpired(Timer::Detect), at);
        assert_eq!(transition(&out), (State::Init, State::Down, Reason::Timeout));
        assert_eq!(out.routes, None);
    }
}

#[test]
fn bfd_detection_expiry_forgets_the_peer_discriminator_and_doublezero_keeps_it() {
    for (profile, kept) in [(Profile::Bfd, 0), (Profile::DoubleZero, PEER)] {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        bring_up(&mut session, t0);
        let at = session.deadline(Timer::Detect).unwrap();
        let out = session.process(Input::TimerExpired(Timer::Detect), at + 5 * SEC);
        assert_eq!(session.remote_discriminator(), kept, "{profile:?}");
        assert_eq!(out.send.map(|p| p.your_discriminator), Some(kept));
    }
}

#[test]
fn stale_timer_expiries_are_ignored() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        bring_up(&mut session, t0);
        let tx_at = session.deadline(Timer::Transmit).unwrap();
        let detect_at = session.deadline(Timer::Detect).unwrap();
        let out = session.process(Input::TimerExpired(Timer::Transmit), tx_at - MS);
        assert_eq!(out.send, None);
        let out = session.process(Input::TimerExpired(Timer::Detect), detect_at - MS);
        assert_eq!((out.transition, session.state()), (None, State::Up));
        assert_eq!(out.timers, [(Timer::Transmit, Some(tx_at)), (Timer::Detect, Some(detect_at))]);
    }
}

#[test]
fn detection_uses_the_remote_mult_in_bfd_and_the_local_one_in_doublezero() {
    for (profile, mult) in [(Profile::Bfd, 5), (Profile::DoubleZero, 3)] {
        let (mut session, _, t0) = start(SessionConfig { required_min_rx: 200 * MS, ..SessionConfig::new(profile) });
        let mut packet = with_intervals(from_peer(State::Down, 0), 400 * MS, SEC);
        packet.detect_mult = 5;
        rx(&mut session, packet, t0);
        // RX interval = max(peer desired TX 400 ms, local required RX 200 ms).
        assert_eq!(session.rx_interval(), 400 * MS);
        assert_eq!(session.detection_time(), 400 * MS * mult, "{profile:?}");
    }
}

// --- administrative control ---

#[test]
fn doublezero_admin_down_withdraws_sends_one_packet_then_stops() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let out = session.process(Input::AdminDown, t0 + 5 * SEC);
    assert_eq!(transition(&out), (State::Up, State::AdminDown, Reason::AdminDown));
    assert_eq!(out.routes, Some(RouteAction::Withdraw));
    assert_eq!(out.send.map(|p| p.state), Some(State::AdminDown));
    assert_eq!(out.timers, [(Timer::Transmit, None), (Timer::Detect, None)]);
}

#[test]
fn doublezero_admin_down_soon_after_a_packet_still_sends_exactly_one() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let last = session.last_tx().unwrap();
    let out = session.process(Input::AdminDown, last + MS);
    assert_eq!(out.send, None, "paced");
    let at = out.deadline(Timer::Transmit).unwrap();
    let out = session.process(Input::TimerExpired(Timer::Transmit), at);
    assert_eq!(out.send.map(|p| p.state), Some(State::AdminDown));
    assert_eq!(out.deadline(Timer::Transmit), None);
}

#[test]
fn bfd_admin_down_keeps_sending_admin_down_at_the_slow_rate() {
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    let out = session.process(Input::AdminDown, t0 + 3 * SEC);
    assert_eq!(out.routes, Some(RouteAction::Withdraw));
    assert_eq!(session.tx_interval(), SEC);
    let gaps = transmit_gaps(&mut session, 20);
    assert_within(&gaps[1..], 750 * MS, SEC);
    let at = session.deadline(Timer::Transmit).unwrap();
    let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
    assert_eq!((sent.state, sent.diag), (State::AdminDown, Diag::AdministrativelyDown));
}

#[test]
fn bfd_admin_down_poll_ends_on_the_peers_final() {
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    session.process(Input::AdminDown, t0 + 3 * SEC);
    assert!(session.polling(), "slowing to 1 s polls");
    let mut last = from_peer(State::Down, LOCAL);
    last.final_ = true;
    let out = rx(&mut session, last, t0 + 3 * SEC + 10 * MS);
    assert_eq!(out.dropped, Some(DropReason::LocalAdminDown), "still ignored otherwise");
    assert!(!session.polling(), "the Final ended the Poll");
    let at = session.deadline(Timer::Transmit).unwrap();
    let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
    assert!(!sent.poll, "AdminDown packets no longer ask for a Final");
}

#[test]
fn admin_up_returns_to_down_and_starts_over() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        bring_up(&mut session, t0);
        session.process(Input::AdminDown, t0 + 5 * SEC);
        let out = session.process(Input::AdminUp, t0 + 10 * SEC);
        assert_eq!(transition(&out), (State::AdminDown, State::Down, Reason::AdminUp));
        assert_eq!(out.routes, None);
        let sent = out.send.expect("sends again");
        assert_eq!((sent.state, sent.your_discriminator), (State::Down, 0));
        assert!(out.deadline(Timer::Transmit).is_some());
        // Coming back is no way down: the last reason for one stays.
        assert_eq!(session.last_down_reason(), Some(Reason::AdminDown), "{profile:?}");
        // AdminUp when not AdminDown does nothing.
        assert_eq!(session.process(Input::AdminUp, t0 + 11 * SEC).transition, None);
    }
}

// --- route actions (docs/liveness.md "Route policy") ---

#[test]
fn active_session_installs_on_up_and_withdraws_on_leaving_up() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        assert_eq!(bring_up(&mut session, t0).routes, Some(RouteAction::Install));
        let at = session.deadline(Timer::Detect).unwrap();
        assert_eq!(session.process(Input::TimerExpired(Timer::Detect), at).routes, Some(RouteAction::Withdraw));
    }
}

#[test]
fn init_and_down_transitions_touch_no_routes() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    assert_eq!(rx(&mut session, from_peer(State::Down, 0), t0).routes, None);
    assert_eq!(rx(&mut session, from_peer(State::Down, LOCAL), t0 + MS).routes, None);
}

#[test]
fn admin_down_withdraws_even_from_init() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    rx(&mut session, from_peer(State::Down, 0), t0);
    assert_eq!(session.process(Input::AdminDown, t0 + MS).routes, Some(RouteAction::Withdraw));
}

#[test]
fn global_passive_session_never_touches_routes_and_says_so() {
    let cfg = SessionConfig { passive: true, ..SessionConfig::new(Profile::DoubleZero) };
    let (mut session, out, t0) = start(cfg);
    assert!(out.send.unwrap().passive, "advertised in doublezero packets");
    assert_eq!(bring_up(&mut session, t0).routes, None);
    let at = session.deadline(Timer::Detect).unwrap();
    let out = session.process(Input::TimerExpired(Timer::Detect), at);
    assert_eq!((out.transition.map(|t| t.to), out.routes), (Some(State::Down), None));
    assert_eq!(session.process(Input::AdminDown, at + SEC).routes, None);
}

fn passive_peer_session(honour: bool) -> (Session, Instant) {
    let cfg = SessionConfig { honour_peer_passive: honour, ..SessionConfig::new(Profile::DoubleZero) };
    let (mut session, _, t0) = start(cfg);
    let mut packet = from_peer(State::Up, LOCAL);
    packet.passive = true;
    packet.sender_version = Some(SenderVersion { major: 0, minor: 6, patch: 9, channel: 0 });
    let out = rx(&mut session, packet, t0);
    assert_eq!(out.routes, Some(RouteAction::Install), "installed on Up either way");
    assert!(session.peer_passive());
    assert_eq!(session.peer_version().map(|v| v.minor), Some(6));
    (session, t0)
}

#[test]
fn peer_advertised_passive_keeps_routes_on_down_when_honoured() {
    let (mut session, _) = passive_peer_session(true);
    let at = session.deadline(Timer::Detect).unwrap();
    let out = session.process(Input::TimerExpired(Timer::Detect), at);
    assert_eq!((out.transition.map(|t| t.to), out.routes), (Some(State::Down), None));
}

#[test]
fn peer_advertised_passive_is_ignored_when_not_honoured() {
    let (mut session, _) = passive_peer_session(false);
    let at = session.deadline(Timer::Detect).unwrap();
    let out = session.process(Input::TimerExpired(Timer::Detect), at);
    assert_eq!(out.routes, Some(RouteAction::Withdraw));
}

// --- restart grace ---

#[test]
fn startup_detection_time_is_at_the_slow_rate_plus_a_handshake() {
    let (session, _, _) = start(fast_bfd());
    assert_eq!(session.startup_detection_time(), 6 * SEC);
    let (session, _, _) = start(SessionConfig::new(Profile::DoubleZero));
    assert_eq!(session.startup_detection_time(), 6300 * MS);
}
