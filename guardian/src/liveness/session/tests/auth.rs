//! Authentication sequence numbers in the session (RFC 5880 6.7.3, 6.7.4,
//! 6.8.1). The digest is checked before the session sees a packet
//! (`packet::auth`); what remains here is the numbering: every packet sent
//! is numbered, every one received must be, within a window after the last
//! accepted, strictly increasing in the meticulous variants.

use super::{from_peer, rx, start, LOCAL, MS, SEC};
use crate::liveness::packet::auth::AuthType;
use crate::liveness::packet::{Control, Profile, State};
use crate::liveness::session::{DropReason, Input, Session, SessionConfig, Timer};
use std::time::Instant;

fn authenticated(t: AuthType) -> SessionConfig {
    SessionConfig { auth: Some(t), ..SessionConfig::new(Profile::Bfd) }
}

fn numbered(mut c: Control, seq: u32) -> Control {
    c.auth_present = true;
    c.auth_sequence = Some(seq);
    c
}

/// The peer's Down, numbered `seq`, with Detect Mult 3: a window of 9.
fn down(seq: u32) -> Control {
    numbered(from_peer(State::Down, 0), seq)
}

fn accepted(session: &mut Session, c: Control, at: Instant) -> bool {
    rx(session, c, at).dropped.is_none()
}

#[test]
fn every_packet_sent_is_numbered_one_more_than_the_last() {
    let (mut session, first, t0) = start(authenticated(AuthType::KeyedSha1));
    let mut last = first.send.expect("sent at creation").auth_sequence.expect("numbered");
    let mut at = t0;
    for _ in 0..5 {
        at = session.deadline(Timer::Transmit).expect("periodic");
        let sent = session.process(Input::TimerExpired(Timer::Transmit), at).send.unwrap();
        let seq = sent.auth_sequence.expect("numbered");
        assert_eq!(seq, last.wrapping_add(1));
        last = seq;
    }
    // A Final, sent outside the schedule, takes a number too.
    let mut poll = numbered(from_peer(State::Down, 0), 100);
    poll.poll = true;
    let fin = rx(&mut session, poll, at + MS).send.expect("a Final");
    assert!(fin.final_);
    assert_eq!(fin.auth_sequence, Some(last.wrapping_add(1)));
}

#[test]
fn without_authentication_nothing_is_numbered_or_required() {
    let (mut session, first, t0) = start(SessionConfig::new(Profile::Bfd));
    assert_eq!(first.send.unwrap().auth_sequence, None);
    assert!(accepted(&mut session, from_peer(State::Down, 0), t0 + MS));
}

#[test]
fn a_packet_without_a_sequence_number_is_dropped_when_authentication_is_in_use() {
    let (mut session, _, t0) = start(authenticated(AuthType::MeticulousKeyedSha1));
    let out = rx(&mut session, from_peer(State::Down, 0), t0 + MS);
    assert_eq!(out.dropped, Some(DropReason::AuthMissing));
    assert_eq!(session.state(), State::Down, "never Up with a peer that does not authenticate");
}

#[test]
fn meticulous_refuses_a_repeated_number_and_plain_keyed_accepts_it() {
    for (t, repeat_ok) in [(AuthType::MeticulousKeyedSha1, false), (AuthType::KeyedSha1, true)] {
        let (mut session, _, t0) = start(authenticated(t));
        assert!(accepted(&mut session, down(1000), t0 + MS), "the first number is learned");
        assert_eq!(accepted(&mut session, down(1000), t0 + 2 * MS), repeat_ok, "{t:?}");
        assert!(accepted(&mut session, down(1001), t0 + 3 * MS), "{t:?}");
    }
}

#[test]
fn a_number_behind_the_last_or_beyond_three_detect_mults_is_refused() {
    for t in AuthType::ALL {
        let (mut session, _, t0) = start(authenticated(t));
        assert!(accepted(&mut session, down(1000), t0 + MS));
        let out = rx(&mut session, down(999), t0 + 2 * MS);
        assert_eq!(out.dropped, Some(DropReason::AuthSequence), "{t:?}: a replay");
        assert_eq!(rx(&mut session, down(1010), t0 + 3 * MS).dropped, Some(DropReason::AuthSequence), "{t:?}");
        assert!(accepted(&mut session, down(1009), t0 + 4 * MS), "{t:?}: 3 x Detect Mult 3 ahead");
    }
}

#[test]
fn the_window_wraps_around_32_bits() {
    let (mut session, _, t0) = start(authenticated(AuthType::MeticulousKeyedMd5));
    assert!(accepted(&mut session, down(u32::MAX - 1), t0 + MS));
    assert!(accepted(&mut session, down(2), t0 + 2 * MS));
    assert_eq!(rx(&mut session, down(u32::MAX), t0 + 3 * MS).dropped, Some(DropReason::AuthSequence));
}

#[test]
fn after_twice_the_detection_time_without_a_packet_any_number_is_learned_again() {
    let (mut session, _, t0) = start(authenticated(AuthType::MeticulousKeyedSha1));
    assert!(accepted(&mut session, down(1000), t0 + MS));
    let detect = session.detection_time();
    // A restarted peer numbers from a new random value: refused while the
    // last number is fresh, learned once it is older than 2 x detection.
    assert!(!accepted(&mut session, down(5), t0 + MS + detect));
    assert!(accepted(&mut session, down(5), t0 + MS + 2 * detect + MS));
    assert!(!accepted(&mut session, down(5), t0 + MS + 2 * detect + 2 * MS), "and it is known again");
}

#[test]
fn a_refused_number_neither_moves_the_window_nor_counts_as_a_sign_of_life() {
    let (mut session, _, t0) = start(authenticated(AuthType::MeticulousKeyedSha1));
    assert!(accepted(&mut session, down(1000), t0 + MS));
    let last_rx = session.last_rx();
    assert!(!accepted(&mut session, down(2000), t0 + SEC));
    assert_eq!(session.last_rx(), last_rx);
    assert!(accepted(&mut session, down(1001), t0 + 2 * SEC), "the window did not move to 2000");
}

#[test]
fn the_handshake_completes_when_both_number_their_packets() {
    let (mut session, _, t0) = start(authenticated(AuthType::MeticulousKeyedSha1));
    assert!(accepted(&mut session, down(1), t0 + MS));
    assert_eq!(session.state(), State::Init);
    assert!(accepted(&mut session, numbered(from_peer(State::Up, LOCAL), 2), t0 + 2 * MS));
    assert_eq!(session.state(), State::Up);
}
