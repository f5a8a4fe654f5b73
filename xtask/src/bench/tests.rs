use super::*;

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<f64> = (1..=200).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), 100.0);
    assert_eq!(percentile(&v, 99.0), 198.0);
    assert_eq!(percentile(&[3.0], 99.0), 3.0);
    assert_eq!(median(&[5.0, 1.0, 3.0, 2.0, 4.0]), 3.0);
    assert_eq!(median(&[4.0, 1.0]), 2.5);
}

#[test]
fn durations_as_guardian_logs_them() {
    assert_eq!(parse_duration_secs("1.5ms"), Some(0.0015));
    assert_eq!(parse_duration_secs("2s"), Some(2.0));
    assert_eq!(parse_duration_secs("1m 30s"), Some(90.0));
    assert!((parse_duration_secs("850µs").unwrap() - 0.00085).abs() < 1e-12);
    assert_eq!(parse_duration_secs("soon"), None);
}

#[test]
fn count_labels() {
    assert_eq!(count_label(1_000), "1k");
    assert_eq!(count_label(100_000), "100k");
    assert_eq!(count_label(1_000_000), "1M");
    assert_eq!(count_label(1_234), "1234");
}

#[test]
fn rfc3339_timestamps_as_tracing_writes_them() {
    let t = parse_rfc3339("2024-03-01T00:00:01.5Z").unwrap();
    assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64(), 1_709_251_201.5);
    let u = parse_rfc3339("2024-03-01T01:00:01.5+01:00").unwrap();
    assert_eq!(t, u);
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
    assert_eq!(parse_rfc3339("soon"), None);
}
