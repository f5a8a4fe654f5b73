use super::*;

#[test]
fn addresses_are_distinct_and_in_their_halves() {
    assert_eq!(addr_a(0), Ipv4Addr::new(10, 200, 0, 1));
    assert_eq!(addr_b(0), Ipv4Addr::new(10, 200, 128, 1));
    assert_eq!(addr_a(9_999), Ipv4Addr::new(10, 200, 39, 16));
    assert_eq!(Side::A.peer(3), Side::B.local(3));
    assert_eq!(Side::A.dst(257), Ipv4Addr::new(198, 18, 1, 1));
    assert_eq!(Side::B.dst(0), Ipv4Addr::new(198, 19, 0, 0));
}

#[test]
fn the_series_the_bench_reads_add_up_over_their_other_labels() {
    let m = metrics::parse(
        "# HELP x\nguardian_liveness_sessions{state=\"up\"} 3\n\
         guardian_liveness_transitions_total{from=\"up\",to=\"down\",reason=\"timeout\"} 2\n\
         guardian_liveness_transitions_total{from=\"up\",to=\"down\",reason=\"remote_down\"} 1\n\
         guardian_liveness_transitions_total{from=\"init\",to=\"up\",reason=\"handshake\"} 7\n",
    );
    assert_eq!(sum_of(&m, UP), 3.0);
    assert_eq!(sum_of(&m, FROM_UP), 3.0);
    assert_eq!(sum_of(&m, SENT), 0.0);
}
