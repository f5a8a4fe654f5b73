use super::*;
use crate::bgp::message::{OpenParams, HEADER_LEN};
use std::net::Ipv4Addr;

fn config(passive: bool) -> SessionConfig {
    SessionConfig {
        local: Local::example(),
        passive,
        max_prefixes_idle: Duration::from_secs(300),
        retry_min: Duration::from_secs(5),
        retry_max: Duration::from_secs(120),
    }
}

/// The peer's OPEN: AS 65002, hold 30 s, graceful restart for IPv4 when
/// `gr` (and the F bit set).
fn peer_open(asn: u32, gr: bool) -> Vec<u8> {
    let p = OpenParams {
        local_as: asn,
        hold_time: 30,
        router_id: Ipv4Addr::new(192, 0, 2, 2),
        families: vec![Family::V4, Family::V6],
        graceful_restart: false,
    };
    let mut open = match message::open(&p) {
        netgauze_bgp_pkt::BgpMessage::Open(o) => o,
        _ => unreachable!(),
    };
    if gr {
        use netgauze_bgp_pkt::capabilities::{BgpCapability, GracefulRestartAddressFamily, GracefulRestartCapability};
        use netgauze_bgp_pkt::open::BgpOpenMessageParameter;
        let mut caps: Vec<BgpCapability> = open.capabilities().into_iter().cloned().collect();
        let af = GracefulRestartAddressFamily::new(true, message::address_type(Family::V4));
        caps.push(BgpCapability::GracefulRestartCapability(GracefulRestartCapability::new(false, false, 90, [af])));
        open = netgauze_bgp_pkt::open::BgpOpenMessage::new(
            open.my_as(),
            open.hold_time(),
            open.bgp_id(),
            [BgpOpenMessageParameter::Capabilities(caps.into())],
        );
    }
    message::encode(&netgauze_bgp_pkt::BgpMessage::Open(open))
}

fn sent(actions: &[Action]) -> Vec<&[u8]> {
    actions.iter().filter_map(|a| if let Action::Send(b) = a { Some(b.as_slice()) } else { None }).collect()
}

/// Code and subcode of the NOTIFICATION among the actions.
fn notified(actions: &[Action]) -> Option<(u8, u8)> {
    sent(actions).into_iter().find(|b| b[18] == 3).map(|b| (b[HEADER_LEN], b[HEADER_LEN + 1]))
}

fn went_down(actions: &[Action]) -> Option<(DownReason, bool)> {
    actions.iter().find_map(|a| match a {
        Action::SessionDown { reason, graceful } => Some((reason.clone(), *graceful)),
        _ => None,
    })
}

struct Run {
    s: Session,
    t0: Instant,
}

impl Run {
    fn new(passive: bool) -> Run {
        Run { s: Session::new(config(passive)), t0: Instant::now() }
    }

    fn at(&mut self, secs: u64, event: Event<'_>) -> Vec<Action> {
        self.s.handle(event, self.t0 + Duration::from_secs(secs))
    }

    fn established(gr: bool) -> Run {
        let mut r = Run::new(false);
        assert_eq!(r.at(0, Event::ManualStart), vec![Action::Connect]);
        let out = r.at(0, Event::TcpConnectionConfirmed);
        assert_eq!(sent(&out)[0][18], 1, "our OPEN");
        assert_eq!(r.s.state(), State::OpenSent);
        let out = r.at(0, Event::Message(&peer_open(65002, gr)));
        assert_eq!(sent(&out), vec![message::keepalive().as_slice()]);
        assert_eq!(r.s.state(), State::OpenConfirm);
        let out = r.at(0, Event::Message(&message::keepalive()));
        assert_eq!(r.s.state(), State::Established);
        assert!(out.iter().any(|a| matches!(a, Action::SessionUp(_))));
        r
    }
}

#[test]
fn a_session_comes_up_and_sends_end_of_rib_for_each_family() {
    let mut r = Run::new(false);
    r.at(0, Event::ManualStart);
    r.at(0, Event::TcpConnectionConfirmed);
    r.at(0, Event::Message(&peer_open(65002, false)));
    let out = r.at(0, Event::Message(&message::keepalive()));
    let eors: Vec<&[u8]> = sent(&out);
    assert_eq!(eors, vec![message::end_of_rib(Family::V4).as_slice(), message::end_of_rib(Family::V6).as_slice()]);
    let Some(Action::SessionUp(neg)) = out.last() else { panic!("{out:?}") };
    assert_eq!((neg.peer_as, neg.hold_time), (65002, Duration::from_secs(30)));
}

#[test]
fn a_passive_neighbor_never_connects_and_waits_in_active() {
    let mut r = Run::new(true);
    assert!(r.at(0, Event::ManualStart).is_empty());
    assert_eq!(r.s.state(), State::Active);
    assert_eq!(r.s.next_deadline(), None);
    r.at(1, Event::TcpConnectionConfirmed);
    assert_eq!(r.s.state(), State::OpenSent);
}

#[test]
fn connect_retry_backs_off_exponentially_up_to_the_cap() {
    let mut r = Run::new(false);
    r.at(0, Event::ManualStart);
    let mut delays = Vec::new();
    let mut now = r.t0;
    for _ in 0..8 {
        let next = r.s.next_deadline().unwrap();
        delays.push((next - now).as_secs());
        now = next;
        let out = r.s.handle(Event::Timer, now);
        assert!(out.contains(&Action::Connect), "{out:?}");
    }
    assert_eq!(delays, vec![5, 5, 10, 20, 40, 80, 120, 120]);
}

#[test]
fn a_failed_connection_waits_in_active_for_connect_retry() {
    let mut r = Run::new(false);
    r.at(0, Event::ManualStart);
    assert!(r.at(1, Event::TcpConnectionFails).is_empty());
    assert_eq!(r.s.state(), State::Active);
    let next = r.s.next_deadline().unwrap();
    assert_eq!(r.s.handle(Event::Timer, next), vec![Action::Connect]);
    assert_eq!(r.s.state(), State::Connect);
}

#[test]
fn keepalives_go_out_every_third_of_the_negotiated_hold_time() {
    let mut r = Run::established(false);
    assert_eq!(r.s.next_deadline(), Some(r.t0 + Duration::from_secs(10)));
    assert_eq!(r.at(10, Event::Timer), vec![Action::Send(message::keepalive())]);
    assert_eq!(r.s.next_deadline(), Some(r.t0 + Duration::from_secs(20)));
}

#[test]
fn hold_timer_expiry_sends_code_4_and_goes_down() {
    let mut r = Run::established(false);
    r.at(25, Event::Message(&message::keepalive()));
    assert!(notified(&r.at(50, Event::Timer)).is_none(), "the keepalive at 25 s restarted the hold timer");
    let out = r.at(55, Event::Timer);
    assert_eq!(notified(&out), Some((4, 0)));
    assert!(out.contains(&Action::Close));
    assert_eq!(went_down(&out), Some((DownReason::HoldTimerExpired, false)));
    assert_eq!(r.s.state(), State::Idle);
    assert_eq!(r.s.last_error(), Some(&DownReason::HoldTimerExpired));
}

#[test]
fn an_idle_session_restarts_by_itself_after_the_back_off() {
    let mut r = Run::established(false);
    r.at(55, Event::Timer);
    let next = r.s.next_deadline().expect("a restart is scheduled");
    assert!(next > r.t0 + Duration::from_secs(55));
    assert_eq!(r.s.handle(Event::Timer, next), vec![Action::Connect]);
}

#[test]
fn a_peer_open_with_the_wrong_as_gets_bad_peer_as() {
    let mut r = Run::new(false);
    r.at(0, Event::ManualStart);
    r.at(0, Event::TcpConnectionConfirmed);
    let out = r.at(0, Event::Message(&peer_open(65003, false)));
    assert_eq!(notified(&out), Some((2, 2)));
    assert_eq!(r.s.state(), State::Idle);
    assert!(went_down(&out).is_none(), "it never was up");
}

#[test]
fn an_update_before_established_is_an_fsm_error_naming_the_state() {
    let mut r = Run::new(false);
    r.at(0, Event::ManualStart);
    r.at(0, Event::TcpConnectionConfirmed);
    assert_eq!(notified(&r.at(0, Event::Message(&message::end_of_rib(Family::V4)))), Some((5, 1)));
    let mut r = Run::new(false);
    r.at(0, Event::ManualStart);
    r.at(0, Event::TcpConnectionConfirmed);
    r.at(0, Event::Message(&peer_open(65002, false)));
    assert_eq!(notified(&r.at(0, Event::Message(&message::end_of_rib(Family::V4)))), Some((5, 2)));
}

#[test]
fn an_open_in_established_is_an_fsm_error() {
    let mut r = Run::established(false);
    let out = r.at(1, Event::Message(&peer_open(65002, false)));
    assert_eq!(notified(&out), Some((5, 3)));
    assert!(went_down(&out).is_some());
}

#[test]
fn updates_reach_the_rib_and_restart_the_hold_timer() {
    let mut r = Run::established(false);
    let out = r.at(20, Event::Message(&message::end_of_rib(Family::V4)));
    let Some(Action::Update(u)) = out.first() else { panic!("{out:?}") };
    assert_eq!(u.end_of_rib, Some(Family::V4));
    r.at(30, Event::Timer);
    assert!(notified(&r.at(45, Event::Timer)).is_none(), "hold restarted at 20 s");
}

#[test]
fn a_malformed_update_that_needs_a_reset_gets_its_notification() {
    let mut r = Run::established(false);
    // An NLRI of 33 bits.
    let mut bad = vec![0xff; 16];
    bad.extend_from_slice(&[0, 29, 2, 0, 0, 0, 0, 33, 10, 0, 0, 0, 0]);
    let out = r.at(1, Event::Message(&bad));
    assert_eq!(notified(&out), Some((3, 10)));
    assert_eq!(went_down(&out), Some((DownReason::NotificationSent { code: 3, subcode: 10 }, false)));
}

#[test]
fn a_received_notification_takes_the_session_down_without_graceful_restart() {
    let mut r = Run::established(true);
    let out = r.at(1, Event::Message(&[&[0xff; 16][..], &[0, 21, 3, 6, 2]].concat()));
    assert_eq!(went_down(&out), Some((DownReason::NotificationReceived { code: 6, subcode: 2 }, false)));
    assert!(notified(&out).is_none(), "no answer to a NOTIFICATION");
}

#[test]
fn a_lost_connection_is_graceful_only_when_the_peer_does_graceful_restart() {
    let mut r = Run::established(true);
    assert_eq!(went_down(&r.at(1, Event::TcpConnectionFails)), Some((DownReason::ConnectionLost, true)));
    let mut r = Run::established(false);
    assert_eq!(went_down(&r.at(1, Event::TcpConnectionFails)), Some((DownReason::ConnectionLost, false)));
}

#[test]
fn max_prefixes_sends_cease_1_and_stays_idle_for_max_prefixes_idle() {
    let mut r = Run::established(false);
    let out = r.at(1, Event::MaxPrefixesExceeded);
    assert_eq!(notified(&out), Some((6, 1)));
    assert_eq!(went_down(&out), Some((DownReason::MaxPrefixes, false)));
    assert_eq!(r.s.next_deadline(), Some(r.t0 + Duration::from_secs(301)));
    assert!(r.at(300, Event::Timer).is_empty());
    assert_eq!(r.at(301, Event::Timer), vec![Action::Connect]);
}

#[test]
fn manual_stop_sends_cease_2_and_stays_down() {
    let mut r = Run::established(false);
    let out = r.at(1, Event::ManualStop);
    assert_eq!(notified(&out), Some((6, 2)));
    assert_eq!(r.s.state(), State::Idle);
    assert_eq!(r.s.next_deadline(), None, "no restart after a stop");
}

#[test]
fn admin_reset_sends_cease_4_and_starts_again_at_once() {
    let mut r = Run::established(false);
    let out = r.at(1, Event::AdminReset);
    assert_eq!(notified(&out), Some((6, 4)));
    assert_eq!(r.s.next_deadline(), Some(r.t0 + Duration::from_secs(1)));
    assert_eq!(r.at(1, Event::Timer), vec![Action::Connect]);
}

#[test]
fn a_framing_error_sends_the_header_notification() {
    let mut r = Run::established(false);
    let n = message::frame(&[&[0u8; 16][..], &[0, 19, 4]].concat()).unwrap_err();
    assert_eq!(notified(&r.at(1, Event::FramingError(n))), Some((1, 1)));
}

#[test]
fn a_zero_hold_time_means_no_keepalives_and_no_hold_timer() {
    let mut r = Run::new(false);
    r.s.config.local.hold_time = 0;
    r.at(0, Event::ManualStart);
    r.at(0, Event::TcpConnectionConfirmed);
    r.at(0, Event::Message(&peer_open(65002, false)));
    r.at(0, Event::Message(&message::keepalive()));
    assert_eq!(r.s.state(), State::Established);
    assert_eq!(r.s.next_deadline(), None);
}
