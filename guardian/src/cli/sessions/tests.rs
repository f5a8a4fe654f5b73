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
