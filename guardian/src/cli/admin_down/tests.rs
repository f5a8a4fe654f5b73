use super::*;

#[test]
fn summary_counts_sessions_in_one_line() {
    let one = AdminReport { peer: "192.0.2.2".into(), sessions: 1 };
    assert_eq!(summary(&one, "down"), "peer 192.0.2.2: 1 session set admin down");
    let two = AdminReport { peer: "2001:db8::2".into(), sessions: 2 };
    assert_eq!(summary(&two, "up"), "peer 2001:db8::2: 2 sessions set admin up");
}
