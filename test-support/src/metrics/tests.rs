use super::*;

#[test]
fn parses_samples_with_and_without_labels() {
    let text = "# HELP x y\n# TYPE a counter\na_total 3\nb{family=\"ipv4\",noticed=\"event\"} 2\nb{family=\"ipv6\",noticed=\"scan\"} 1.5\nc{v=\"a\\\"b\"} +Inf\n";
    let s = parse(text);
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].name, "a_total");
    assert_eq!(s[1].labels["noticed"], "event");
    assert_eq!(s[3].labels["v"], "a\"b");
    assert_eq!(sum(text, "b"), Some(3.5));
    assert_eq!(sum(text, "nope"), None);
}

#[test]
fn reads_chunked_and_plain_responses() {
    let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
    assert_eq!(parse_response(plain).unwrap(), (200, "hello".into()));
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
    assert_eq!(parse_response(chunked).unwrap(), (200, "hello".into()));
}

#[test]
fn a_series_without_labels_is_found_by_its_exact_name() {
    let text = "# HELP x\nguardian_attribution_drops 3\nguardian_attribution_records_total 12\n";
    assert_eq!(sum(text, "guardian_attribution_drops"), Some(3.0));
    assert_eq!(sum(text, "guardian_attribution_records_total"), Some(12.0));
    assert_eq!(sum(text, "guardian_attribution"), None);
}

#[test]
fn labels_select_series_whatever_their_order_and_the_other_labels() {
    let samples = parse(
        "# HELP x\nguardian_liveness_sessions{state=\"up\"} 3\n\
         guardian_liveness_transitions_total{from=\"up\",to=\"down\",reason=\"timeout\"} 2\n\
         guardian_liveness_transitions_total{reason=\"remote_down\",to=\"down\",from=\"up\"} 1\n\
         guardian_liveness_transitions_total{from=\"init\",to=\"up\",reason=\"handshake\"} 7\n",
    );
    assert_eq!(total(&samples, "guardian_liveness_sessions", &[("state", "up")]), Some(3.0));
    assert_eq!(total(&samples, "guardian_liveness_transitions_total", &[("from", "up")]), Some(3.0));
    assert_eq!(total(&samples, "guardian_liveness_transitions_total", &[]), Some(10.0));
    assert_eq!(total(&samples, "guardian_liveness_sessions", &[("state", "down")]), None);
}
