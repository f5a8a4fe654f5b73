use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn wire_microseconds_round_trip_and_saturate() {
    assert_eq!(from_wire_us(250_000), 250 * MS);
    assert_eq!(to_wire_us(250 * MS), 250_000);
    assert_eq!(to_wire_us(Duration::ZERO), 0);
    assert_eq!(to_wire_us(Duration::from_nanos(1)), 1, "non-zero never becomes the special 0");
    assert_eq!(to_wire_us(Duration::from_secs(100_000)), u32::MAX);
}

#[test]
fn peer_intervals_are_clamped_to_floor_and_ceiling() {
    let (floor, ceil) = (50 * MS, Duration::from_secs(3));
    assert_eq!(clamp_peer_interval(MS, floor, ceil), floor);
    assert_eq!(clamp_peer_interval(300 * MS, floor, ceil), 300 * MS);
    assert_eq!(clamp_peer_interval(Duration::from_secs(60), floor, ceil), ceil);
    // A misconfiguration does not panic (Ord::clamp would).
    assert_eq!(clamp_peer_interval(MS, ceil, floor), floor);
}

#[test]
fn tx_and_rx_intervals_take_the_slower_side() {
    assert_eq!(tx_interval(100 * MS, 300 * MS), 300 * MS);
    assert_eq!(tx_interval(300 * MS, 100 * MS), 300 * MS);
    assert_eq!(rx_interval(100 * MS, 300 * MS), 300 * MS);
    assert_eq!(rx_interval(300 * MS, 100 * MS), 300 * MS);
    assert_eq!(detection_time(3, 300 * MS), 900 * MS);
    assert_eq!(detection_time(255, Duration::MAX), Duration::MAX);
}

fn draws(profile: Profile, nominal: Duration, mult: u8) -> (Duration, Duration) {
    let mut rng = Rng::with_seed(7);
    let (mut min, mut max) = (Duration::MAX, Duration::ZERO);
    for _ in 0..20_000 {
        let d = jittered(profile, nominal, mult, &mut rng);
        min = min.min(d);
        max = max.max(d);
    }
    (min, max)
}

#[test]
fn doublezero_jitter_stays_within_ten_percent_both_ways() {
    let (min, max) = draws(Profile::DoubleZero, Duration::from_secs(1), 3);
    assert!(min >= 900 * MS && max <= 1100 * MS, "{min:?}..{max:?}");
    // Both sides of nominal are used.
    assert!(min < 910 * MS && max > 1090 * MS, "{min:?}..{max:?}");
}

#[test]
fn bfd_jitter_only_shortens_by_up_to_a_quarter() {
    let (min, max) = draws(Profile::Bfd, Duration::from_secs(1), 3);
    assert!(min >= 750 * MS && max <= 1000 * MS, "{min:?}..{max:?}");
    assert!(min < 760 * MS && max > 990 * MS, "{min:?}..{max:?}");
}

#[test]
fn bfd_jitter_with_detect_mult_one_is_75_to_90_percent() {
    let (min, max) = draws(Profile::Bfd, Duration::from_secs(1), 1);
    assert!(min >= 750 * MS && max <= 900 * MS, "{min:?}..{max:?}");
    assert!(min < 760 * MS && max > 890 * MS, "{min:?}..{max:?}");
}

#[test]
fn jitter_is_deterministic_for_a_seed() {
    let mut a = Rng::with_seed(42);
    let mut b = Rng::with_seed(42);
    for _ in 0..100 {
        assert_eq!(
            jittered(Profile::DoubleZero, Duration::from_secs(1), 3, &mut a),
            jittered(Profile::DoubleZero, Duration::from_secs(1), 3, &mut b)
        );
    }
}

#[test]
fn backoff_doubles_after_each_transmit_up_to_the_cap() {
    let (base, max) = (Duration::from_secs(1), Duration::from_secs(10));
    let mut b = Backoff::new();
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(b.interval(base, max).as_secs());
        b.after_transmit(base, max);
    }
    assert_eq!(seen, [1, 2, 4, 8, 10, 10, 10]);
    b.reset();
    assert_eq!(b.interval(base, max), base);
}

#[test]
fn backoff_never_goes_below_the_base_interval() {
    let (base, max) = (Duration::from_secs(5), Duration::from_secs(2));
    let mut b = Backoff::new();
    b.after_transmit(base, max);
    assert_eq!(b.interval(base, max), base);
}

#[test]
fn backoff_factor_stops_growing_at_the_cap() {
    let mut b = Backoff::new();
    for _ in 0..1_000 {
        b.after_transmit(MS, Duration::from_secs(60));
    }
    assert_eq!(b.interval(MS, Duration::from_secs(60)), Duration::from_secs(60));
}

#[test]
fn startup_detection_uses_the_slow_rate_plus_a_handshake() {
    // bfd: 1 s slow rate even when configured faster; 3 x 1 s + 3 x 1 s.
    assert_eq!(startup_detection_time(Profile::Bfd, 100 * MS, 100 * MS, 3), Duration::from_secs(6));
    // doublezero: the configured interval; 3 x 1 s + 3 x 1.1 s.
    assert_eq!(
        startup_detection_time(Profile::DoubleZero, Duration::from_secs(1), Duration::from_secs(1), 3),
        6300 * MS
    );
    // A slower required RX dominates.
    assert_eq!(startup_detection_time(Profile::Bfd, 100 * MS, Duration::from_secs(2), 3), Duration::from_secs(12));
}
