//! Unit tests of the timing rules of the session: intervals,
//! clamping, pacing, backoff, jitter and the `bfd` Poll sequence.

use std::time::Duration;

use super::{
    assert_within, bring_up, fast_bfd, fast_peer, from_peer, rx, start, transition, transmit_gaps, with_intervals,
    BOTH, LOCAL, MS, SEC,
};
use crate::liveness::packet::{Profile, State};
use crate::liveness::session::{Input, SessionConfig, Timer};

// --- intervals ---

#[test]
fn tx_interval_is_the_larger_of_local_desired_tx_and_peer_required_rx() {
    for profile in BOTH {
        let cfg = SessionConfig { desired_min_tx: 300 * MS, ..SessionConfig::new(profile) };
        let (mut session, _, t0) = start(cfg);
        // Up, so that bfd's slow start-up rate is out of the way.
        rx(&mut session, with_intervals(from_peer(State::Down, 0), SEC, 500 * MS), t0);
        rx(&mut session, with_intervals(from_peer(State::Up, LOCAL), SEC, 500 * MS), t0 + MS);
        assert_eq!(session.tx_interval(), 500 * MS, "{profile:?}");
        rx(&mut session, with_intervals(from_peer(State::Up, LOCAL), SEC, 100 * MS), t0 + 2 * MS);
        assert_eq!(session.tx_interval(), 300 * MS, "{profile:?}");
    }
}

#[test]
fn peer_intervals_are_clamped_to_floor_and_ceiling() {
    for profile in BOTH {
        let cfg = SessionConfig { desired_min_tx: 10 * MS, required_min_rx: 10 * MS, ..SessionConfig::new(profile) };
        let (mut session, _, t0) = start(cfg);
        // Peer desired TX below the floor (50 ms) and above the ceiling (3 s).
        rx(&mut session, with_intervals(from_peer(State::Down, 0), MS, SEC), t0);
        assert_eq!(session.rx_interval(), 50 * MS, "{profile:?}");
        rx(&mut session, with_intervals(from_peer(State::Down, 0), 60 * SEC, SEC), t0);
        assert_eq!(session.rx_interval(), 3 * SEC, "{profile:?}");
    }
    // Peer required RX: floor and ceiling in doublezero; in bfd only the
    // floor (sending faster than the peer asks breaks RFC 5880 6.8.7).
    for (profile, tx) in [(Profile::DoubleZero, 3 * SEC), (Profile::Bfd, 60 * SEC)] {
        let cfg = SessionConfig { desired_min_tx: 10 * MS, required_min_rx: 10 * MS, ..SessionConfig::new(profile) };
        let (mut session, _, t0) = start(cfg);
        rx(&mut session, with_intervals(from_peer(State::Down, 0), SEC, 60 * SEC), t0);
        assert_eq!(session.tx_interval(), tx, "{profile:?}");
    }
    let cfg = SessionConfig { desired_min_tx: 10 * MS, ..SessionConfig::new(Profile::DoubleZero) };
    let (mut session, _, t0) = start(cfg);
    rx(&mut session, with_intervals(from_peer(State::Down, 0), SEC, MS), t0);
    assert_eq!(session.tx_interval(), 50 * MS);
}

#[test]
fn no_periodic_transmit_when_the_peer_requires_rx_of_zero() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        // Long after our first packet: the state change goes out at once...
        let out = rx(&mut session, with_intervals(from_peer(State::Down, 0), SEC, Duration::ZERO), t0 + 5 * SEC);
        assert!(out.send.is_some(), "{profile:?}");
        // ...and nothing periodic follows.
        assert_eq!(out.deadline(Timer::Transmit), None, "{profile:?}");
        // A non-zero required RX brings periodic transmission back.
        let out = rx(&mut session, from_peer(State::Down, LOCAL), t0 + 6 * SEC);
        assert!(out.deadline(Timer::Transmit).is_some());
    }
}

#[test]
fn no_periodic_transmit_when_peer_requires_zero_but_a_paced_state_change_still_goes_out() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    let out = rx(&mut session, with_intervals(from_peer(State::Down, 0), SEC, Duration::ZERO), t0 + 100 * MS);
    assert_eq!(out.send, None, "paced");
    let at = out.deadline(Timer::Transmit).expect("the state change is scheduled");
    assert_eq!(at, t0 + SEC);
    let out = session.process(Input::TimerExpired(Timer::Transmit), at);
    assert_eq!(out.send.map(|p| p.state), Some(State::Init));
    assert_eq!(out.deadline(Timer::Transmit), None);
}

// --- pacing ---

#[test]
fn state_change_is_sent_at_once_when_a_tx_interval_has_passed() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        let out = rx(&mut session, from_peer(State::Down, 0), t0 + SEC);
        assert_eq!(out.send.map(|p| p.state), Some(State::Init), "{profile:?}");
        assert_eq!(session.last_tx(), Some(t0 + SEC));
    }
}

#[test]
fn state_change_waits_until_last_tx_plus_tx_interval() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        let out = rx(&mut session, from_peer(State::Down, 0), t0 + 100 * MS);
        assert_eq!(out.send, None, "{profile:?}");
        let at = out.deadline(Timer::Transmit).unwrap();
        assert!(at <= t0 + SEC && at >= t0 + 750 * MS, "{profile:?}: {:?}", at - t0);
        let out = session.process(Input::TimerExpired(Timer::Transmit), at);
        assert_eq!(out.send.map(|p| p.state), Some(State::Init));
    }
}

#[test]
fn a_peer_flipping_our_state_cannot_drive_our_send_rate() {
    for profile in BOTH {
        let (mut session, _, t0) = start(SessionConfig::new(profile));
        let mut sent = 1;
        let mut now = t0;
        let end = t0 + 10 * SEC;
        let mut flip = false;
        while now < end {
            now += 10 * MS;
            if session.deadline(Timer::Transmit).is_some_and(|at| at <= now) {
                let at = session.deadline(Timer::Transmit).unwrap();
                sent += usize::from(session.process(Input::TimerExpired(Timer::Transmit), at).send.is_some());
            }
            // AdminDown takes Init down; Down takes Down to Init: a flip on
            // every packet, 100 packets a second.
            let state = if flip { State::AdminDown } else { State::Down };
            flip = !flip;
            sent += usize::from(rx(&mut session, from_peer(state, LOCAL), now).send.is_some());
        }
        // At most one packet per TX interval (less jitter), plus the first.
        let bound = match profile {
            Profile::DoubleZero => 10_000 / 900 + 1,
            Profile::Bfd => 10_000 / 750 + 1,
        };
        assert!(sent <= bound, "{profile:?}: {sent} packets in 10 s");
    }
}

// --- backoff and jitter ---

#[test]
fn doublezero_backoff_doubles_while_down_up_to_the_cap_and_resets_on_transition() {
    let cfg = SessionConfig { backoff_max: 8 * SEC, ..SessionConfig::new(Profile::DoubleZero) };
    let (mut session, _, _) = start(cfg);
    let gaps = transmit_gaps(&mut session, 6);
    for (gap, nominal) in gaps.iter().zip([1, 2, 4, 8, 8, 8]) {
        let nominal = nominal * SEC;
        assert!(*gap >= nominal * 9 / 10 && *gap <= nominal * 11 / 10, "{gaps:?}");
    }
    assert_eq!(session.tx_interval(), 8 * SEC);
    let last = session.last_tx().unwrap();
    rx(&mut session, from_peer(State::Down, 0), last + MS);
    assert_eq!(session.tx_interval(), SEC, "reset by Down -> Init");
}

#[test]
fn doublezero_backoff_restarts_from_the_base_after_going_down_again() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let at = session.deadline(Timer::Detect).unwrap();
    let out = session.process(Input::TimerExpired(Timer::Detect), at);
    assert_eq!(session.state(), State::Down);
    assert!(out.send.is_some(), "the Down goes out at once");
    // Then 1 s, 2 s, 4 s again (+/-10 %).
    let gaps = transmit_gaps(&mut session, 3);
    for (gap, nominal) in gaps.iter().zip([1, 2, 4]) {
        let nominal = nominal * SEC;
        assert!(*gap >= nominal * 9 / 10 && *gap <= nominal * 11 / 10, "{gaps:?}");
    }
}

#[test]
fn bfd_does_not_back_off_while_down() {
    let (mut session, _, _) = start(SessionConfig::new(Profile::Bfd));
    assert_within(&transmit_gaps(&mut session, 50), 750 * MS, SEC);
}

#[test]
fn doublezero_jitter_is_within_ten_percent_both_ways() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let gaps = transmit_gaps(&mut session, 2_000);
    assert_within(&gaps, 900 * MS, 1100 * MS);
    assert!(gaps.iter().any(|g| *g < 950 * MS) && gaps.iter().any(|g| *g > 1050 * MS));
}

#[test]
fn bfd_jitter_shortens_each_interval_by_up_to_a_quarter() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::Bfd));
    bring_up(&mut session, t0);
    let gaps = transmit_gaps(&mut session, 2_000);
    assert_within(&gaps, 750 * MS, SEC);
    assert!(gaps.iter().any(|g| *g < 800 * MS) && gaps.iter().any(|g| *g > 950 * MS));
}

#[test]
fn bfd_jitter_with_detect_mult_one_keeps_intervals_between_75_and_90_percent() {
    let (mut session, _, t0) = start(SessionConfig { detect_mult: 1, ..SessionConfig::new(Profile::Bfd) });
    bring_up(&mut session, t0);
    let gaps = transmit_gaps(&mut session, 2_000);
    assert_within(&gaps, 750 * MS, 900 * MS);
}

// --- bfd slow start-up rate and Poll sequences (RFC 5880 6.5, 6.8.3) ---

#[test]
fn bfd_advertises_at_least_one_second_while_not_up() {
    let (session, out, _) = start(fast_bfd());
    let sent = out.send.unwrap();
    assert_eq!((sent.desired_min_tx_us, sent.required_min_rx_us), (1_000_000, 100_000));
    assert_eq!(session.tx_interval(), SEC);
    assert!(!sent.poll);
}

#[test]
fn bfd_reaching_up_polls_for_the_configured_rate() {
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    let out = rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    let sent = out.send.expect("state change, paced interval passed");
    assert_eq!(sent.state, State::Up);
    assert!(sent.poll && !sent.final_);
    assert_eq!(sent.desired_min_tx_us, 100_000);
    assert!(session.polling());
    // P stays set on periodic packets until a Final arrives.
    let at = session.deadline(Timer::Transmit).unwrap();
    assert!(session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap().poll);
    let mut fin = fast_peer(State::Up, LOCAL);
    fin.final_ = true;
    rx(&mut session, fin, at + MS);
    assert!(!session.polling());
    let at = session.deadline(Timer::Transmit).unwrap();
    assert!(!session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap().poll);
}

#[test]
fn bfd_faster_rate_is_used_as_soon_as_it_is_advertised() {
    // RFC 5880 6.8.3 holds back only a slower TX. The peer shortens its
    // detection time on seeing our 100 ms, so we must not keep sending at
    // 1 s while waiting for a Final that may be lost.
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    let out = rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    assert!(session.polling());
    assert_eq!(session.tx_interval(), 100 * MS);
    let next = out.deadline(Timer::Transmit).unwrap();
    assert!(next <= t0 + 2 * SEC + 100 * MS);
}

#[test]
fn bfd_slower_rate_is_used_only_after_the_final() {
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    let mut fin = fast_peer(State::Up, LOCAL);
    fin.final_ = true;
    rx(&mut session, fin, t0 + 2 * SEC + MS);
    let slower = SessionConfig { desired_min_tx: 500 * MS, ..fast_bfd() };
    session.process(Input::Reconfigure(slower), t0 + 3 * SEC);
    assert!(session.polling());
    assert_eq!(session.tx_interval(), 100 * MS, "held until the Final");
    let at = session.deadline(Timer::Transmit).unwrap();
    let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
    assert!(sent.poll);
    assert_eq!(sent.desired_min_tx_us, 500_000, "the new value is advertised at once");
    rx(&mut session, fin, at + MS);
    assert_eq!(session.tx_interval(), 500 * MS);
    assert!(!session.polling());
}

#[test]
fn bfd_reduced_required_rx_keeps_the_old_detection_time_until_the_final() {
    let cfg = SessionConfig { required_min_rx: SEC, ..fast_bfd() };
    let (mut session, _, t0) = start(cfg);
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    let mut fin = fast_peer(State::Up, LOCAL);
    fin.final_ = true;
    rx(&mut session, fin, t0 + 2 * SEC + MS);
    assert_eq!(session.detection_time(), 3 * SEC);
    session.process(Input::Reconfigure(fast_bfd()), t0 + 3 * SEC);
    assert_eq!(session.detection_time(), 3 * SEC, "the peer may still send at 1 s");
    rx(&mut session, fin, t0 + 3 * SEC + MS);
    assert_eq!(session.detection_time(), 300 * MS);
}

#[test]
fn bfd_increased_required_rx_lengthens_detection_at_once() {
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    let mut fin = fast_peer(State::Up, LOCAL);
    fin.final_ = true;
    rx(&mut session, fin, t0 + 2 * SEC + MS);
    assert_eq!(session.detection_time(), 300 * MS);
    session.process(Input::Reconfigure(SessionConfig { required_min_rx: SEC, ..fast_bfd() }), t0 + 3 * SEC);
    assert_eq!(session.detection_time(), 3 * SEC);
}

#[test]
fn bfd_change_during_a_poll_waits_for_its_final_then_polls_again() {
    let (mut session, _, t0) = start(fast_bfd());
    rx(&mut session, fast_peer(State::Down, 0), t0 + SEC);
    rx(&mut session, fast_peer(State::Up, LOCAL), t0 + 2 * SEC);
    assert!(session.polling());
    session.process(Input::Reconfigure(SessionConfig { desired_min_tx: 200 * MS, ..fast_bfd() }), t0 + 2 * SEC);
    let at = session.deadline(Timer::Transmit).unwrap();
    let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
    assert_eq!(sent.desired_min_tx_us, 100_000, "one Poll sequence at a time");
    let mut fin = fast_peer(State::Up, LOCAL);
    fin.final_ = true;
    rx(&mut session, fin, at + MS);
    assert!(session.polling(), "the waiting change starts its own");
    let at = session.deadline(Timer::Transmit).unwrap();
    let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
    assert!(sent.poll);
    assert_eq!(sent.desired_min_tx_us, 200_000);
}

#[test]
fn bfd_poll_is_answered_with_a_final_at_once_regardless_of_pacing() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::Bfd));
    bring_up(&mut session, t0);
    let last_tx = session.last_tx();
    let next_tx = session.deadline(Timer::Transmit);
    let mut poll = from_peer(State::Up, LOCAL);
    poll.poll = true;
    let out = rx(&mut session, poll, last_tx.unwrap() + MS);
    let sent = out.send.expect("a Final, now");
    assert!(sent.final_ && !sent.poll);
    assert_eq!(sent.state, State::Up);
    // The periodic schedule is not disturbed by the Final.
    assert_eq!((session.last_tx(), out.deadline(Timer::Transmit)), (last_tx, next_tx));
}

#[test]
fn bfd_final_answering_a_poll_carries_a_state_change() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::Bfd));
    let mut poll = from_peer(State::Down, 0);
    poll.poll = true;
    let out = rx(&mut session, poll, t0 + MS);
    assert_eq!(transition(&out).1, State::Init);
    let sent = out.send.unwrap();
    assert!(sent.final_);
    assert_eq!(sent.state, State::Init);
}

#[test]
fn doublezero_parameter_change_applies_at_once() {
    let (mut session, _, t0) = start(SessionConfig::new(Profile::DoubleZero));
    bring_up(&mut session, t0);
    let cfg = SessionConfig { desired_min_tx: 2 * SEC, ..SessionConfig::new(Profile::DoubleZero) };
    let out = session.process(Input::Reconfigure(cfg), t0 + 100 * MS);
    assert_eq!(session.tx_interval(), 2 * SEC);
    assert!(!session.polling());
    let at = out.deadline(Timer::Transmit).unwrap();
    let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
    assert_eq!(sent.desired_min_tx_us, 2_000_000);
}
